"""pytest set-up for the whole checkout: the lessons in ``notebooks/`` run under nbval.

nbval runs them in lax mode in this environment's kernel (``--nbval-lax --nbval-current-env``):
only cells marked ``# NBVAL_CHECK_OUTPUT`` are compared, and their stderr (progress bars,
warnings) is not. The options are set here rather than in ``addopts`` so that pytest without
nbval installed says what is missing instead of failing on an unknown option. Fixtures shared by
the unit tests live in ``tests/conftest.py``.
"""

from pathlib import Path

import pytest

try:
    import nbval.plugin as _nbval
except ImportError:  # nbval comes with the test extra; the unit tests run without it
    _nbval = None

if _nbval is not None:
    _transform = _nbval.transform_streams_for_comparison

    def _without_stderr(outputs):
        kept = [o for o in outputs if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
        return _transform(kept)

    _nbval.transform_streams_for_comparison = _without_stderr


def _asks_for_notebooks(config) -> bool:
    """Whether the paths pytest was given (or its testpaths) include a notebook or a folder of them."""
    for arg in config.args:
        path = Path(str(arg).split("::")[0])
        if path.suffix == ".ipynb" or (path.is_dir() and any(path.rglob("*.ipynb"))):
            return True
    return False


def pytest_configure(config):
    if _nbval is None:
        if _asks_for_notebooks(config):
            raise pytest.UsageError(
                "the lessons (notebooks/*.ipynb) are tested with nbval, which is not installed: "
                "install the test extra (`pip install -e '.[test]'`, or `make test`), or run only "
                "the unit tests with `pytest tests`"
            )
        return
    if not config.option.nbval:  # --nbval (strict) given by hand wins
        config.option.nbval_lax = True
    if not config.option.nbval_kernel_name:
        config.option.nbval_current_env = True


def _browser_can_run() -> bool:
    """Whether tests/test_browser.py will run rather than skip: Chromium and Playwright are here."""
    import importlib.util
    import os

    chromium = os.environ.get("SIMLAB_CHROMIUM", "/usr/bin/chromium")
    return (os.path.isfile(chromium) and os.access(chromium, os.X_OK)
            and importlib.util.find_spec("playwright") is not None)


#: The test modules that take minutes, started first so that `make test`'s parallel workers
#: (pytest-xdist, one module per worker at a time) finish together.
LONGEST_FIRST = ("test_browser.py", "test_grading.py")


@pytest.hookimpl(trylast=True)  # after -m / -k have deselected what they deselect
def pytest_collection_modifyitems(config, items):
    """Each lesson runs once: when the browser test runs a lesson (and compares its checked cells
    with the committed outputs, as nbval does), nbval's run of the same lesson is left out. The
    longest test modules go first (:data:`LONGEST_FIRST`), the rest keep their order."""
    items.sort(key=lambda item: LONGEST_FIRST.index(item.path.name) if item.path.name in LONGEST_FIRST
               else len(LONGEST_FIRST))
    in_browser = {item.callspec.params.get("notebook") for item in items
                  if item.get_closest_marker("browser") and hasattr(item, "callspec")}
    if not in_browser or not _browser_can_run():
        return
    twice = [item for item in items if item.path.suffix == ".ipynb" and item.path.name in in_browser]
    if twice:
        config.hook.pytest_deselected(items=twice)
        items[:] = [item for item in items if item not in twice]

"""Test configuration shared by the unit tests and nbval.

Notebooks run under ``--nbval-lax`` (see pyproject.toml): only cells marked
``# NBVAL_CHECK_OUTPUT`` are compared. Their stderr (progress bars, warnings) is not compared.
"""

import matplotlib

matplotlib.use("Agg")  # unit tests draw figures without a screen

try:
    import nbval.plugin as _nbval
except ImportError:  # nbval is a dev dependency; unit tests run without it
    _nbval = None

if _nbval is not None:
    _transform = _nbval.transform_streams_for_comparison

    def _without_stderr(outputs):
        kept = [o for o in outputs if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
        return _transform(kept)

    _nbval.transform_streams_for_comparison = _without_stderr


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "browser: runs the lessons in JupyterLab in headless Chromium (tests/test_browser.py); "
        "deselect with -m 'not browser'",
    )

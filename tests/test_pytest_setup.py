"""The test set-up itself: without nbval, pytest says what is missing; markers are declared."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: Run pytest in a child process in which nbval cannot be imported (as when it is not installed).
WITHOUT_NBVAL = """
import sys

class NoNbval:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "nbval":
            raise ModuleNotFoundError(f"No module named {name!r}")

sys.meta_path.insert(0, NoNbval())
import pytest
sys.exit(pytest.main(sys.argv[1:]))
"""


def pytest_without_nbval(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")  # no plugin found by entry point
    return subprocess.run([sys.executable, "-c", WITHOUT_NBVAL, *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def test_without_nbval_the_notebooks_ask_for_it_by_name():
    done = pytest_without_nbval("notebooks", "--collect-only", "-q")
    assert done.returncode == 4, done.stdout + done.stderr  # pytest's usage error
    assert "nbval, which is not installed" in done.stderr and "pip install -e '.[test]'" in done.stderr
    assert "unrecognized arguments" not in done.stderr


@pytest.mark.slow  # pytest in a new process
def test_without_nbval_the_unit_tests_still_run():
    done = pytest_without_nbval("tests/test_validation.py", "-q", "-k", "whole_number_accepts")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


@pytest.mark.slow  # pytest in a new process
def test_an_undeclared_marker_is_an_error(tmp_path):
    test = tmp_path / "test_marker.py"
    test.write_text("import pytest\n\n@pytest.mark.slowly\ndef test_x():\n    pass\n")
    done = subprocess.run([sys.executable, "-m", "pytest", str(test), "-q", "--rootdir", str(REPO),
                           "-c", str(REPO / "pyproject.toml")], capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "'slowly' not found in `markers` configuration option" in done.stdout + done.stderr

"""``simlab lab``: what ``make lab`` does, for students without make (Windows, macOS).

The command checks that the course extra is installed, fetches the lessons' weights, writes the
student edition of ``./notebooks`` into ``student/`` (keeping a student's notebooks) and starts
JupyterLab there; ``--dry-run`` stops before JupyterLab and prints its command. The weights are
never fetched here: ``simlab.weights.fetch`` is replaced by a recorder.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from simlab.teacher import cli
from simlab.teacher.cli import COURSE_MODULES, COURSE_WEIGHTS, main

try:
    import tomllib
except ImportError:  # Python 3.10
    from pip._vendor import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
#: Two of the lessons: the first is already in student/ (a student's work), the second is new.
KEPT, NEW = "01_feature_extraction.ipynb", "02_similarity_metrics.ipynb"


@pytest.fixture
def fetched(monkeypatch) -> list[str]:
    """The weight files ``simlab lab`` asks for; nothing is downloaded or read from the cache."""
    import simlab.weights

    names: list[str] = []

    def fake_fetch(name, *, quiet=False):
        names.append(name)
        return Path("/nowhere") / name

    monkeypatch.setattr(simlab.weights, "fetch", fake_fetch)
    return names


@pytest.fixture
def kit_folder(tmp_path, monkeypatch) -> Path:
    """A kit's folder as the current folder: notebooks/ with two lessons, student/ with the first
    one, edited by the student."""
    (tmp_path / "notebooks").mkdir()
    for name in (KEPT, NEW):
        shutil.copy2(REPO / "notebooks" / name, tmp_path / "notebooks" / name)
    (tmp_path / "student").mkdir()
    (tmp_path / "student" / KEPT).write_text("a student's own work")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.slow  # seconds: make test runs it, make check does not
def test_lab_dry_run_writes_the_student_edition_and_prints_the_command(kit_folder, fetched, capsys):
    assert main(["lab", "--dry-run", "--no-browser"]) == 0
    out = capsys.readouterr().out
    assert fetched == list(COURSE_WEIGHTS)
    assert (kit_folder / "student" / KEPT).read_text() == "a student's own work"  # --keep
    new = (kit_folder / "student" / NEW).read_text()
    assert "NotImplementedError" in new and "### BEGIN SOLUTION" not in new
    assert f"wrote {Path('student') / NEW}" in out
    expected = [sys.executable, "-m", "jupyter", "lab", "student", "--no-browser"]
    if hasattr(cli.os, "geteuid") and cli.os.geteuid() == 0:
        expected.append("--allow-root")
    assert out.strip().splitlines()[-1] == shlex.join(expected)
    # The printed command runs here: the environment has JupyterLab and `python -m jupyter`.
    done = subprocess.run(expected[:4] + ["--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_lab_dry_run_in_another_folder(tmp_path, fetched, monkeypatch, capsys):
    """--dir names the folder; run again, every lesson is kept and nothing is written."""
    (tmp_path / "notebooks").mkdir()
    shutil.copy2(REPO / "notebooks" / NEW, tmp_path / "notebooks" / NEW)
    monkeypatch.chdir(tmp_path)
    assert main(["lab", "--dry-run", "--dir", "mine"]) == 0
    assert (tmp_path / "mine" / NEW).is_file()
    capsys.readouterr()
    assert main(["lab", "--dry-run", "--dir", "mine"]) == 0
    out = capsys.readouterr().out
    assert "every lesson is there already" in out and "wrote" not in out
    assert shlex.split(out.strip().splitlines()[-1])[:5] == [sys.executable, "-m", "jupyter", "lab", "mine"]
    # Outside the kit's folder (no notebooks/), the edition written before is opened as it is.
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(tmp_path / "mine", elsewhere / "mine")
    monkeypatch.chdir(elsewhere)
    assert main(["lab", "--dry-run", "--dir", "mine"]) == 0
    assert "opening mine as it is" in capsys.readouterr().out


def test_lab_names_the_extra_when_jupyterlab_is_missing(kit_folder, fetched, monkeypatch, capsys):
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name == "jupyterlab" else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    assert main(["lab", "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert "jupyterlab (extra 'course')" in err
    assert 'pip install "simlab[course]"' in err
    assert "-c constraints.txt" in err
    assert fetched == [] and not (kit_folder / "student" / NEW).exists()  # nothing done


def test_lab_names_each_missing_feature_extra(monkeypatch, capsys):
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a, **k: None if name in {"dlib", "faiss"} else object())
    assert main(["lab", "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert "dlib-bin (extra 'faces')" in err and "faiss-cpu (extra 'search')" in err
    assert "jupyterlab" not in err


@pytest.mark.skipif(not hasattr(cli.os, "geteuid"), reason="POSIX only")
@pytest.mark.parametrize(("uid", "allow_root"), [(0, True), (1000, False)])
def test_jupyter_allows_root_only_as_root(monkeypatch, uid, allow_root):
    monkeypatch.setattr(cli.os, "geteuid", lambda: uid)
    cmd = cli._jupyter_command(Path("student"), no_browser=False)
    assert cmd[:5] == [sys.executable, "-m", "jupyter", "lab", "student"]
    assert ("--allow-root" in cmd) is allow_root and "--no-browser" not in cmd


def test_lab_is_what_make_lab_runs():
    """`make lab` calls `simlab lab`, and `make setup` fetches the same weights."""
    makefile = (REPO / "Makefile").read_text()
    fetch = re.search(r"^FETCH\s*:=\s*(.*?)(?<!\\)\n", makefile, re.S | re.M)[1]
    names = fetch.replace("\\\n", " ").split()
    assert names[:3] == ["$(BIN)/simlab", "fetch", "--quiet"]
    assert tuple(names[3:]) == COURSE_WEIGHTS
    recipe = re.search(r"^lab:.*\n((?:\t.*\n)+)", makefile, re.M)[1]
    assert "$(BIN)/simlab lab" in recipe and "jupyter" not in recipe


def test_course_extra_installs_what_simlab_lab_checks():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]

    def names(extra: str) -> set[str]:
        found = set()
        for line in extras[extra]:
            name = re.match(r"[A-Za-z0-9._-]+", line)[0]
            if name == "simlab":
                for sub in re.search(r"\[(.*)\]", line)[1].split(","):
                    found |= names(sub.strip())
            else:
                found.add(name)
        return found

    course = names("course")
    for _, package, extra in COURSE_MODULES:
        assert package.split("[")[0] in names(extra) <= course, (package, extra)
    assert names("student") == course and course <= names("dev")

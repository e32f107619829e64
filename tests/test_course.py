"""``simlab course DIR``: an nbgrader course of the lessons, and the hook that keeps a batch going.

The whole grading round with nbgrader's commands is tests/test_grading.py (slow); these are the
quick checks of what the command writes and refuses.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest

from simlab.teacher.cli import main
from simlab.teacher.course import CELL_TIMEOUT, COURSE_ID, mend_unreadable_submissions, write_course
from simlab.teacher.editions import student_notebook

REPO = Path(__file__).resolve().parents[1]
LESSON = REPO / "notebooks" / "02_similarity_metrics.ipynb"


def test_course_writes_the_config_the_sources_and_the_gradebook(tmp_path, capsys, monkeypatch):
    from nbgrader.api import Gradebook

    course = tmp_path / "course"
    assert main(["course", str(course), str(LESSON)]) == 0
    out = capsys.readouterr().out
    assert f"wrote {course / 'nbgrader_config.py'}" in out and "nbgrader generate_assignment 02_" in out
    source = course / "source" / LESSON.stem / LESSON.name
    assert source.read_bytes() == LESSON.read_bytes()  # the teacher's notebook as it is
    config = (course / "nbgrader_config.py").read_text()
    assert f"c.Execute.timeout = {CELL_TIMEOUT}" in config and "add_missing_cells = True" in config
    assert "mend_unreadable_submissions" in config and "named_regexp" in config
    compile(config, "nbgrader_config.py", "exec")  # Python that nbgrader can run
    # nbgrader's Gradebook runs `alembic`, next to this Python
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id=COURSE_ID) as gb:
        assert [a.name for a in gb.assignments] == [LESSON.stem]


def test_an_existing_course_is_never_overwritten(tmp_path, capsys):
    course = tmp_path / "course"
    write_course(course, [LESSON])
    config = course / "nbgrader_config.py"
    config.write_text("# the teacher's own settings\n")
    assert main(["course", str(course), str(LESSON)]) == 1
    err = capsys.readouterr().err
    assert "already holds a course" in err and str(config) in err and "nothing was changed" in err
    assert config.read_text() == "# the teacher's own settings\n"


def test_a_notebook_nbgrader_refuses_stops_the_course_before_anything_is_written(tmp_path, capsys):
    broken = nbformat.read(LESSON, as_version=4)
    broken.cells[3].source += "\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION"  # not a solution cell
    bad = tmp_path / "bad.ipynb"
    nbformat.write(broken, bad)
    assert main(["course", str(tmp_path / "course"), str(LESSON), str(bad)]) == 1
    assert f"{bad}: nbgrader cannot make a student edition" in capsys.readouterr().err
    assert not (tmp_path / "course").exists()


def test_without_notebooks_the_course_says_where_it_looked(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["course", "course"]) == 1
    assert "holds no lesson" in capsys.readouterr().err


@pytest.mark.parametrize("handed_in", [b"my answers are in my head\n", b"", b"\xff\xfe\x00binary",
                                       b'{"cells": "not a list"}'])
def test_a_file_that_is_not_a_notebook_is_kept_and_replaced_by_the_unanswered_exercises(tmp_path, handed_in):
    release = student_notebook(nbformat.read(LESSON, as_version=4), name=LESSON.name)
    (tmp_path / "release" / LESSON.stem).mkdir(parents=True)
    nbformat.write(release, tmp_path / "release" / LESSON.stem / LESSON.name)
    folders = {s: tmp_path / "submitted" / s / LESSON.stem for s in ("ada", "eve")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    nbformat.write(release, folders["ada"] / LESSON.name)
    (folders["eve"] / LESSON.name).write_bytes(handed_in)
    submitted = [str(folder / LESSON.name) for folder in folders.values()]

    replaced = mend_unreadable_submissions(assignment=LESSON.stem, student="*", notebooks=submitted)

    assert replaced == [folders["eve"] / LESSON.name]
    assert (folders["eve"] / f"{LESSON.name}.not-a-notebook").read_bytes() == handed_in  # nothing lost
    mended = nbformat.read(folders["eve"] / LESSON.name, as_version=4)
    nbformat.validate(mended)
    assert mended.cells[0].source.startswith("**Not graded as handed in:**")
    exercises = [c for c in release.cells if c.metadata.get("nbgrader", {}).get("grade_id")]  # 7 answers,
    # 7 checks and the 2 predictions made in the lesson's body
    assert [c.source for c in mended.cells[1:]] == [c.source for c in exercises] and len(exercises) == 16
    assert nbformat.read(folders["ada"] / LESSON.name, as_version=4) == release  # a notebook is left alone


def test_a_course_that_fails_half_way_leaves_nothing_to_refuse(tmp_path, monkeypatch):
    """nbgrader creates gradebook.db and then fails (no `alembic`, a full disk): what was written
    goes again, so the next `simlab course` in that folder is not refused."""
    import nbgrader.api

    def failing_gradebook(url, course_id):
        Path(url.removeprefix("sqlite:///")).write_bytes(b"half a database")
        raise OSError("no alembic here")

    course = tmp_path / "course"
    with monkeypatch.context() as patch:
        patch.setattr(nbgrader.api, "Gradebook", failing_gradebook)
        with pytest.raises(OSError, match="no alembic"):
            write_course(course, [LESSON])
    assert list(course.iterdir()) == []
    written = write_course(course, [LESSON])
    assert [p.name for p in written] == ["nbgrader_config.py", LESSON.name, "gradebook.db"]

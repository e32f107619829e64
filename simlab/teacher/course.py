"""A ready nbgrader course of the lessons, for grading a class: ``simlab course DIR``.

Run it in the kit's folder (like ``simlab student``); it writes into ``DIR``:

- ``nbgrader_config.py``: the course id, the kit's student edition for released lessons
  (:func:`~simlab.teacher.editions.assignment_preprocessors`), feedback without the hidden tests
  (:func:`feedback_preprocessors`), a time limit per cell, deleted check cells put back, the
  ``zip_collect`` file-name rule and :func:`mend_unreadable_submissions`;
- ``source/<lesson>/<lesson>.ipynb``: the teacher's notebooks as they are (solutions, hidden
  tests and points in each grade cell's nbgrader metadata);
- ``gradebook.db``: nbgrader's gradebook with one assignment per lesson.

From there the teacher runs nbgrader's own commands in ``DIR`` (the README and
``docs/teacher-guide.md`` give the whole round): ``nbgrader generate_assignment``, release (or
hand out ``release/<lesson>/*.ipynb``), ``nbgrader zip_collect`` for a zip of submissions from a
learning platform, ``nbgrader autograde``, ``nbgrader generate_feedback``, ``nbgrader export``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path

import nbformat

from .editions import EditionError, lesson_notebooks, student_notebook

__all__ = ["CELL_TIMEOUT", "COURSE_ID", "feedback_preprocessors", "mend_unreadable_submissions",
           "write_course"]

COURSE_ID = "simlab"
#: Seconds one cell of a submission may run before nbgrader interrupts it (the slowest cell of
#: the lessons takes under a minute on a 2-core laptop).
CELL_TIMEOUT = 300
#: A submission in a zip from a learning platform: ``<student id>_<lesson>.ipynb``, in any folder
#: of the zip (student ids without ``_``), e.g. ``ada.lovelace_02_similarity_metrics.ipynb``.
SUBMISSION_NAME = r".*[/\\](?P<student_id>[^/\\_]+)_(?P<file_id>[^/\\]+\.ipynb)$"

CONFIG = '''\
"""nbgrader's configuration of the simlab course (written by `simlab course`).

Run nbgrader's commands in this folder, e.g. for lesson 02:
    nbgrader generate_assignment 02_similarity_metrics
    nbgrader zip_collect 02_similarity_metrics      (submissions in downloaded/02_.../archive/*.zip)
    nbgrader autograde 02_similarity_metrics
    nbgrader generate_feedback 02_similarity_metrics
    nbgrader export                                  (grades.csv)
"""
from simlab.teacher.course import feedback_preprocessors
from simlab.teacher.editions import assignment_preprocessors

c = get_config()  # noqa: F821 - defined by nbgrader when it reads this file

c.CourseDirectory.course_id = {course_id!r}
# Released lessons are the kit's student edition: solutions and hidden tests removed, a
# predict-first cell set to `name = None` so that "Run All" goes on past it.
c.GenerateAssignment.preprocessors = assignment_preprocessors()

# Feedback shows each cell, its points and its error, but not the hidden tests (they hold the
# right letters, and next year's class gets the same questions).
c.GenerateFeedback.preprocessors = feedback_preprocessors()

# Submissions are untrusted: nbgrader runs each notebook in its own kernel; a cell that runs
# longer than this (an endless loop) is interrupted and marked as failed, and grading goes on.
c.Execute.timeout = {timeout}
# A check cell the student deleted is put back (and graded) instead of being lost.
c.OverwriteCells.add_missing_cells = True
# A submitted file that is not a notebook is kept beside it as <name>.not-a-notebook and graded as
# an empty notebook (no points), with a note at the top of its feedback saying why.
c.Autograde.pre_convert_hook = "simlab.teacher.course.mend_unreadable_submissions"

# `nbgrader zip_collect`: a file <student id>_<lesson>.ipynb anywhere in the zip, e.g.
# ada.lovelace_02_similarity_metrics.ipynb (student ids without "_"). Change the expression to
# your learning platform's names (nbgrader's docs: "Submitting assignments through an LMS").
c.FileNameCollectorPlugin.named_regexp = {pattern!r}
'''


def feedback_preprocessors() -> list[type]:
    """nbgrader's ``GenerateFeedback.preprocessors`` with the hidden tests removed from the feedback.

    The grades are read first (``GetGrades``); then ``ClearHiddenTests`` drops each
    ``### BEGIN HIDDEN TESTS`` region, so a student's feedback HTML shows the visible checks, their
    points and messages, and not the right letters.
    """
    from nbgrader.converters import GenerateFeedback
    from nbgrader.preprocessors import ClearHiddenTests, GetGrades

    chain = list(GenerateFeedback.class_traits()["preprocessors"].default())
    at = chain.index(GetGrades) + 1
    return [*chain[:at], ClearHiddenTests, *chain[at:]]


def write_course(folder: str | Path, sources: Iterable[str | Path] | None = None) -> list[Path]:
    """Write an nbgrader course of the lessons into ``folder``; return the files written.

    Parameters
    ----------
    folder : str or Path
        The course folder (created if missing). A course already there is never overwritten.
    sources : iterable of str or Path, optional
        The teacher's notebooks, by default the lessons in ``./notebooks``
        (:func:`~simlab.teacher.editions.lesson_notebooks`).

    Returns
    -------
    list of Path
        ``nbgrader_config.py``, each ``source/<lesson>/<lesson>.ipynb`` and ``gradebook.db``.

    Raises
    ------
    EditionError
        When there is no notebook to use, a notebook cannot be read or made into a student
        edition (checked before anything is written), or ``folder`` already holds a course
        (its ``nbgrader_config.py``, ``source/<lesson>`` or ``gradebook.db``): the message names it.
    """
    from nbgrader.api import Gradebook

    folder = Path(folder)
    sources = [Path(p) for p in (lesson_notebooks() if sources is None else sources)]
    if not sources:
        raise EditionError("no notebooks for the course: ./notebooks holds no lesson (0*.ipynb); "
                           "run this in the kit's folder or name the notebooks")
    for src in sources:  # every lesson must make a student edition before anything is written
        try:
            student_notebook(nbformat.read(src, as_version=4), name=str(src))
        except (OSError, nbformat.reader.NotJSONError) as e:
            raise EditionError(f"{src}: cannot read the notebook: {e}") from e
    targets = [folder / "nbgrader_config.py", folder / "gradebook.db",
               *(folder / "source" / src.stem for src in sources)]
    existing = [str(t) for t in targets if t.exists()]
    if existing:
        raise EditionError(f"{folder} already holds a course ({', '.join(existing)}); nothing was "
                           "changed. Choose a new folder, or delete these to start the course again")

    gradebook, config = folder / "gradebook.db", folder / "nbgrader_config.py"
    copies = [folder / "source" / src.stem / src.name for src in sources]
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []  # each path is listed before it is made: a failure removes it again
    try:
        written.append(gradebook)
        # nbgrader's Gradebook runs the `alembic` command: find it next to this Python even when
        # the environment is not activated (python -m simlab, .venv/bin/simlab).
        path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
        with _environ(PATH=path), Gradebook(f"sqlite:///{gradebook.resolve()}", course_id=COURSE_ID) as gb:
            for src in sources:
                gb.add_assignment(src.stem)
        written.append(config)
        config.write_text(CONFIG.format(course_id=COURSE_ID, timeout=CELL_TIMEOUT,
                                        pattern=SUBMISSION_NAME), encoding="utf-8")
        for src, copy in zip(sources, copies, strict=True):
            written.append(copy)
            copy.parent.mkdir(parents=True)
            shutil.copy2(src, copy)
    except BaseException:
        for path in reversed(written):  # a half-written course would be refused next time
            path.unlink(missing_ok=True)
            if path in copies and path.parent.is_dir():
                path.parent.rmdir()
        raise
    return [config, *copies, gradebook]


@contextlib.contextmanager
def _environ(**values: str):
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def mend_unreadable_submissions(*, notebooks: Iterable[str], **_) -> list[Path]:
    """nbgrader's pre-convert hook for ``autograde``: replace a submitted file that is not a notebook.

    Each path of ``notebooks`` (``<course>/submitted/<student>/<lesson>/<lesson>.ipynb``) that
    nbformat cannot read or validate is renamed to ``<name>.not-a-notebook`` (kept: nothing is
    lost) and replaced by the exercises of the released lesson (``<course>/release/<lesson>/``),
    unanswered, under a note that says what was wrong: their checks fail, and the student gets
    the points the file earned (none) with the note at the top of the feedback, while the batch
    goes on. Returns the replaced paths. The other keywords nbgrader passes
    (``assignment``, ``student``) are not needed.
    """
    replaced = []
    for path in map(Path, notebooks):
        try:
            nbformat.validate(nbformat.read(path, as_version=4))
            continue
        except Exception as e:  # not JSON, not UTF-8, not nbformat: all the same to the grade
            reason = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
        kept = path.with_name(path.name + ".not-a-notebook")
        path.replace(kept)
        release = path.parents[3] / "release" / path.parent.name / path.name
        note = nbformat.read(release, as_version=4) if release.is_file() else nbformat.v4.new_notebook()
        # Only the exercises' cells, unanswered: the lesson's body would run for nothing.
        note.cells = [nbformat.v4.new_markdown_cell(
            f"**Not graded as handed in:** the file `{path.name}` you handed in is not a Jupyter "
            f"notebook ({reason}), so none of its answers could be run; the checks below failed. "
            f"The file is kept for your teacher as `{kept.name}`."),
            *(cell for cell in note.cells if cell.metadata.get("nbgrader", {}).get("grade_id"))]
        nbformat.write(note, path)
        replaced.append(path)
    return replaced

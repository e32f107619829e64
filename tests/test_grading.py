"""A class graded from start to end with nbgrader's own commands, on a real lesson.

`simlab course` writes the course, ``nbgrader generate_assignment`` releases lesson 02, five
students hand in (the teacher's solutions; the release untouched; half done; hostile: an endless
loop in one answer and a deleted check cell; a file that is not a notebook), the submissions come
back as a learning platform's zip (``nbgrader zip_collect``), and ``nbgrader autograde``,
``generate_feedback`` and ``export`` give the grades. Offline, in ``make test`` (minutes: marked
slow); the time limit per cell is cut to nbgrader's default, 30 s, so the endless loop costs only that.
"""

from __future__ import annotations

import csv
import html
import io
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from simlab.teacher.course import write_course
from simlab.teacher.editions import student_notebook

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
LESSON = "02_similarity_metrics"
CELL_TIMEOUT = 30  # seconds (nbgrader's default); the lesson's slowest cell takes about 6 s


def _nbgrader(course: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` in the course folder, as the teacher does; its output is kept."""
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
               OMP_NUM_THREADS="1")  # one thread per kernel: the other tests run beside it

    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _grade_id(cell) -> str:
    return cell.metadata.get("nbgrader", {}).get("grade_id", "")


def _answered(release, teacher, grade_ids) -> nbformat.NotebookNode:
    """The released notebook with the teacher's answer cells ``grade_ids`` filled in."""
    answers = {_grade_id(c): c.source for c in teacher.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    nb = nbformat.from_dict(release)
    for cell in nb.cells:
        if _grade_id(cell) in grade_ids:
            cell.source = answers[_grade_id(cell)]
    return nb


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """The course after a whole round; yields (course folder, {student: points}, seconds of autograde)."""
    course = tmp_path_factory.mktemp("course")
    write_course(course, [REPO / "notebooks" / f"{LESSON}.ipynb"])
    done = _nbgrader(course, "generate_assignment", LESSON)
    assert done.returncode == 0, done.stderr[-3000:]
    release = nbformat.read(course / "release" / LESSON / f"{LESSON}.ipynb", as_version=4)
    teacher = nbformat.read(REPO / "notebooks" / f"{LESSON}.ipynb", as_version=4)
    answer_ids = [_grade_id(c) for c in release.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert len(answer_ids) == 9  # 7 exercises and the 2 predictions made in the lesson's body

    first_three = [i for i in answer_ids if i[:4] in ("ex1-", "ex2-", "ex3-")]  # exercise 1's prediction too
    hostile = _answered(release, teacher, answer_ids)
    for cell in hostile.cells:
        if _grade_id(cell) == "ex7-answer":
            # An endless loop that sleeps: nbgrader interrupts it as it does a busy one (SIGINT
            # after the time limit), and it leaves the CPU to the tests running beside it.
            cell.source = "import time\n\nwhile True:  # never ends\n    time.sleep(0.5)"
    hostile.cells = [c for c in hostile.cells if _grade_id(c) != "ex6-check"]
    handed_in = {
        "ada": nbformat.writes(_answered(release, teacher, answer_ids)),
        "ben": nbformat.writes(release),
        "cleo": nbformat.writes(_answered(release, teacher, first_three)),
        "dan": nbformat.writes(hostile),
        "eve": "my answers are in my head\n",
    }
    archive = course / "downloaded" / LESSON / "archive"
    archive.mkdir(parents=True)
    with zipfile.ZipFile(archive / "submissions.zip", "w") as z:
        for student, text in handed_in.items():
            z.writestr(f"submissions/{student}_{LESSON}.ipynb", text)
    done = _nbgrader(course, "zip_collect", LESSON)
    assert done.returncode == 0, done.stderr[-3000:]

    start = time.perf_counter()
    done = _nbgrader(course, "autograde", LESSON, f"--Execute.timeout={CELL_TIMEOUT}")
    seconds = time.perf_counter() - start
    assert done.returncode == 0, done.stderr[-5000:]
    done = _nbgrader(course, "generate_feedback", LESSON)
    assert done.returncode == 0, done.stderr[-3000:]
    done = _nbgrader(course, "export")
    assert done.returncode == 0, done.stderr[-3000:]
    rows = list(csv.DictReader(io.StringIO((course / "grades.csv").read_text())))
    points = {row["student_id"]: float(row["raw_score"]) for row in rows}
    print(f"autograde: {seconds:.0f} s for {len(handed_in)} submissions "
          f"({seconds / len(handed_in):.0f} s each); points {points}")
    yield course, points, seconds


def test_each_student_gets_what_the_answers_earned(graded_class):
    _, points, _ = graded_class
    assert points == {
        "ada": 7.0,   # every exercise of lesson 02 answered as the teacher did
        "ben": 0.0,   # the release as handed out
        "cleo": 3.0,  # exercises 1-3 answered
        "dan": 6.0,   # exercise 7 loops (interrupted); the deleted check of exercise 6 put back
        "eve": 0.0,   # not a notebook
    }


def page_text(page: Path) -> str:
    """A feedback page's text: tags removed, HTML entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))


def test_feedback_says_what_went_wrong(graded_class, teacher_answers):
    course, _, _ = graded_class
    feedback = {student: (course / "feedback" / student / LESSON / f"{LESSON}.html")
                for student in ("ada", "ben", "cleo", "dan", "eve")}
    missing = [student for student, page in feedback.items() if not page.is_file()]
    assert not missing, f"no feedback for {missing}"
    assert "Score: 7.0 / 7.0" in feedback["ada"].read_text()
    assert "NotImplementedError" in feedback["ben"].read_text()
    dan = feedback["dan"].read_text()
    assert "CellTimeoutError" in dan and "was missing from the submission" in dan
    assert "Not graded as handed in" in feedback["eve"].read_text()
    # no right answer reaches a student who did not give it (hidden tests are left out; a
    # traceback may quote them, and they hold no answer)
    full_marks = page_text(feedback["ada"])  # no error, so no traceback to quote a cell
    assert "HIDDEN TESTS" not in full_marks and "graded(" not in full_marks
    untouched = page_text(feedback["ben"])
    assert not [line for line in teacher_answers[0] if not line.startswith("graded(") and line in untouched]
    # nothing lost: the file Eve handed in is kept as it was
    kept = course / "submitted" / "eve" / LESSON / f"{LESSON}.ipynb.not-a-notebook"
    assert kept.read_text() == "my answers are in my head\n"


def test_a_visible_check_rebound_by_the_student_earns_nothing(tmp_path):
    """Hidden tests call the kit's own check: an answer cell that replaces check_choice by a
    function that always passes makes the visible check pass, and the grade cell still fails."""
    teacher = nbformat.read(REPO / "notebooks" / f"{LESSON}.ipynb", as_version=4)
    cell = next(c for c in teacher.cells if _grade_id(c) == "ex2-check")
    namespace = {"why_2": "A"}  # a wrong letter
    exec("def check_choice(question, answer):\n    print('Correct')", namespace)
    visible, _, hidden = cell.source.partition("### BEGIN HIDDEN TESTS")
    visible = visible.replace("from simlab.lessons.checks import check_choice\n", "")
    exec(visible, namespace)  # the student's check_choice passes
    with pytest.raises(AssertionError, match="A is not it"):
        exec(hidden, namespace)


def test_the_release_is_the_student_edition(graded_class):
    """nbgrader's generate_assignment, configured by `simlab course`, writes what `simlab student` writes."""
    course, _, _ = graded_class
    release = nbformat.read(course / "release" / LESSON / f"{LESSON}.ipynb", as_version=4)
    edition = student_notebook(nbformat.read(REPO / "notebooks" / f"{LESSON}.ipynb", as_version=4))
    assert [c.source for c in release.cells] == [c.source for c in edition.cells]

"""The student edition: made from the teacher's notebooks by nbgrader's preprocessors, then run.

A fast part checks the generator on a small synthetic notebook and on the lessons' sources; a slow
part generates the edition of every lesson and executes it top to bottom, as a student would
before answering anything.
"""

import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from simlab.teacher.cli import main
from simlab.teacher.editions import EditionError, lesson_notebooks, student_notebook

STUB = "raise NotImplementedError()"


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _is_solution(cell) -> bool:
    return bool(_nbgrader(cell).get("solution"))


def _is_grade(cell) -> bool:
    return bool(_nbgrader(cell).get("grade"))


def _is_prediction(cell) -> bool:
    """A predict-first answer: written in the lesson before the cells that reveal it, checked with
    its exercise at the end (its grade id ends in ``-prediction``)."""
    return _is_solution(cell) and _nbgrader(cell)["grade_id"].endswith("-prediction")


def _solution_lines(source: str) -> list[str]:
    """The non-blank lines between ### BEGIN SOLUTION and ### END SOLUTION."""
    lines, inside = [], False
    for line in source.splitlines():
        if "BEGIN SOLUTION" in line:
            inside = True
        elif "END SOLUTION" in line:
            inside = False
        elif inside and line.strip():
            lines.append(line)
    return lines


def _assert_no_outputs(nb):
    assert "widgets" not in nb.metadata, "saved widget state is left in the student edition"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], cell.source
            assert cell.execution_count is None, cell.source
            assert "execution" not in cell.metadata, cell.source


# --- the generator on a synthetic notebook (fast) ---------------------------------------------


def _meta(grade_id, *, solution=False, grade=False, points=None):
    meta = {"grade": grade, "grade_id": grade_id, "locked": grade and not solution, "schema_version": 3,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


SETUP = "import math\nx = 3"
ANSWER = "def area(r):\n    ### BEGIN SOLUTION\n    return math.pi * r**2\n    ### END SOLUTION\n\nprint(x)"
CHECK = (
    "assert area(0) == 0\n"
    "### BEGIN HIDDEN TESTS\n"
    "assert abs(area(2) - 12.566) < 1e-3  # secret\n"
    "### END HIDDEN TESTS\n"
    "print('ok')"
)


def synthetic_notebook():
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                               "display_name": "Python 3"},
                                "widgets": {"application/vnd.jupyter.widget-state+json": {}}})
    nb.cells = [
        new_markdown_cell("# A lesson"),
        new_code_cell(SETUP, execution_count=1, outputs=[new_output("stream", name="stdout", text="hi\n")]),
        new_code_cell(ANSWER, metadata=_meta("ex1-answer", solution=True), execution_count=2),
        new_code_cell(CHECK, metadata=_meta("ex1-check", grade=True, points=1), execution_count=3,
                      outputs=[new_output("stream", name="stdout", text="ok\n")]),
        new_code_cell("### BEGIN SOLUTION\ny = 42\n### END SOLUTION",
                      metadata=_meta("ex2-answer", solution=True)),
        new_markdown_cell("Why?\n\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION",
                          metadata=_meta("ex3-answer", solution=True, grade=True, points=1)),
    ]
    nb.cells[1].metadata["execution"] = {"iopub.status.idle": "2026-01-01T00:00:00Z"}
    nbformat.validate(nb)
    return nb


def test_synthetic_notebook_becomes_a_student_edition():
    teacher = synthetic_notebook()
    before = nbformat.writes(teacher)
    student = student_notebook(teacher)
    assert nbformat.writes(teacher) == before, "the teacher's notebook was changed"
    nbformat.validate(student)
    md, setup, answer, check, answer2, text = student.cells

    # the solution region is replaced by the stub, indented like the markers; the rest stays
    assert answer.source == "def area(r):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n\nprint(x)"
    assert answer2.source == "# YOUR CODE HERE\nraise NotImplementedError()"
    assert text.source == "Why?\n\nYOUR ANSWER HERE"
    # hidden tests are gone, the visible part of the check stays
    assert check.source == "assert area(0) == 0\nprint('ok')"
    assert "secret" not in nbformat.writes(student) and "HIDDEN" not in nbformat.writes(student)
    # code outside solutions is untouched
    assert md.source == "# A lesson" and setup.source == SETUP
    assert [c.id for c in student.cells] == [c.id for c in teacher.cells]
    _assert_no_outputs(student)
    # nbgrader's locks and checksums: answers cannot be deleted, checks cannot be edited
    assert answer.metadata.deletable is False and "editable" not in answer.metadata
    assert check.metadata.deletable is False and check.metadata.editable is False
    assert all("checksum" in c.metadata.nbgrader for c in (answer, check, answer2, text))
    assert "nbgrader" not in setup.metadata


def test_student_edition_refuses_a_solution_outside_a_solution_cell():
    nb = synthetic_notebook()
    nb.cells[1].source = "### BEGIN SOLUTION\nz = 1\n### END SOLUTION"
    with pytest.raises(EditionError, match=r"lesson\.ipynb: .*non-solution cell"):
        student_notebook(nb, name="lesson.ipynb")


def test_student_edition_refuses_bad_nbgrader_metadata():
    nb = synthetic_notebook()
    nb.cells[5].metadata.nbgrader["grade"] = False  # a written answer must be graded by hand
    with pytest.raises(EditionError, match="Markdown solution cell is not marked as a grade cell"):
        student_notebook(nb, name="lesson.ipynb")


def test_student_edition_refuses_an_unclosed_solution():
    nb = synthetic_notebook()
    nb.cells[4].source = "### BEGIN SOLUTION\ny = 42"
    with pytest.raises(EditionError, match="no end solution statement"):
        student_notebook(nb, name="lesson.ipynb")


def test_command_line_writes_the_edition(tmp_path, capsys):
    src = tmp_path / "teacher" / "lesson.ipynb"
    src.parent.mkdir()
    nbformat.write(synthetic_notebook(), src)
    assert main(["student", str(tmp_path / "out"), str(src)]) == 0
    assert f"wrote {tmp_path / 'out' / 'lesson.ipynb'}" in capsys.readouterr().out
    written = nbformat.read(tmp_path / "out" / "lesson.ipynb", as_version=4)
    assert written.cells[2].source.count(STUB) == 1
    assert nbformat.read(src, as_version=4).cells[2].source == ANSWER  # the source is left alone

    # make lab runs it with --keep: a student's work in the edition is never overwritten
    worked = tmp_path / "out" / "lesson.ipynb"
    worked.write_text(worked.read_text().replace(STUB, "answer = 42"))
    assert main(["student", "--keep", str(tmp_path / "out"), str(src)]) == 0
    assert "kept as it is" in capsys.readouterr().out
    assert "answer = 42" in worked.read_text()

    bad = tmp_path / "teacher" / "bad.ipynb"
    bad.write_text("not a notebook")
    assert main(["student", str(tmp_path / "out2"), str(bad)]) == 1
    assert "bad.ipynb: cannot read the notebook" in capsys.readouterr().err
    assert not (tmp_path / "out2").exists()


# --- the lessons' sources (fast: no execution) ------------------------------------------------

LESSONS = lesson_notebooks(Path(__file__).resolve().parents[1] / "notebooks")


def test_there_are_lessons():
    assert [p.name[:2] for p in LESSONS] == ["01", "02", "03", "04"]


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lesson_exercises_are_nbgrader_cells(path):
    teacher = nbformat.read(path, as_version=4)
    solutions = [c for c in teacher.cells if _is_solution(c) and not _is_prediction(c)]
    checks = [c for c in teacher.cells if _is_grade(c)]
    assert len(solutions) >= 3 and len(checks) == len(solutions)
    for cell in filter(_is_prediction, teacher.cells):  # its exercise's check reads it
        exercise = _nbgrader(cell)["grade_id"].removesuffix("-prediction")
        assert f"{exercise}-check" in [_nbgrader(c)["grade_id"] for c in checks], exercise
    for cell in solutions:
        assert _solution_lines(cell.source), f"{cell.metadata.nbgrader['grade_id']} has no solution region"
    for cell in checks:
        assert "check_" in cell.source and cell.metadata.nbgrader["points"] > 0
    # every BEGIN SOLUTION sits in a solution cell (nbgrader refuses the notebook otherwise)
    assert all(_is_solution(c) for c in teacher.cells if "BEGIN SOLUTION" in c.source)
    # the exercises close the lesson: after the first answer come only answers, checks, text
    first = teacher.cells.index(solutions[0])
    assert all(_is_solution(c) or _is_grade(c) or c.cell_type == "markdown" for c in teacher.cells[first:])

    student = student_notebook(teacher, name=path.name)
    _assert_no_outputs(student)
    text = nbformat.writes(student)
    for before, after in zip(teacher.cells, student.cells, strict=True):
        if _is_prediction(before):  # in the lesson's body: "Run All" goes on past it
            names = re.findall(r"^(\w+)\s*=", before.source, re.M)
            assert STUB not in after.source and names, after.source
            assert all(re.search(rf"^{n} = None\b", after.source, re.M) for n in names), after.source
            # only its check reads it: a lesson cell that used it would fail on the student's None
            readers = [c.source for c in teacher.cells if c is not before and c.cell_type == "code"
                       and any(re.search(rf"\b{n}\b", c.source) for n in names)]
            assert all("check_" in r for r in readers), f"{names} read outside their check: {readers}"
        elif _is_solution(before):
            assert after.source.count(STUB) == 1
            for line in _solution_lines(before.source):
                assert line not in after.source, f"solution line left in the student edition: {line}"
        elif _is_grade(before):  # the visible check stays; the hidden tests (the points) go
            visible, marker, hidden = before.source.partition("### BEGIN HIDDEN TESTS\n")
            assert marker and hidden.rstrip().endswith("### END HIDDEN TESTS"), before.source
            assert after.source == visible.rstrip("\n"), after.source
        else:
            assert after.source == before.source, "a cell outside the solutions was changed"
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text and "graded(" not in text


# The student edition is not executed: the test above shows that its stubs are the only cells that
# differ from the teacher's notebooks (a prediction stub sets None, so "Run All" goes on past it;
# an answer stub raises NotImplementedError, in the Exercises), and tests/test_browser.py runs the
# teacher's notebooks in JupyterLab with their checked outputs compared.


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_the_student_edition_holds_no_answer(path, teacher_answers):
    """No answer line, hidden test or reason of a multiple-choice option in the student edition (a
    reason's end, its explanation: its start may repeat the option the student reads)."""
    lines, reasons = teacher_answers
    text = nbformat.writes(student_notebook(nbformat.read(path, as_version=4), name=path.name))
    assert not [line for line in lines if line in text]
    assert not [reason for reason in reasons if reason[-40:] in text]


def test_the_readme_and_the_guide_count_the_graded_cells():
    """The graded check cells and their points, as the README and the teacher's guide give them."""
    repo = Path(__file__).resolve().parents[1]
    cells = {path.stem: [c for c in nbformat.read(path, as_version=4).cells if _is_grade(c)]
             for path in LESSONS}
    assert all(c.metadata.nbgrader["points"] == 1 for found in cells.values() for c in found)
    count = {stem[:2]: len(found) for stem, found in cells.items()}
    total = sum(count.values())
    readme = " ".join((repo / "README.md").read_text().split())
    assert (f"{total} check cells are graded, 1 point each (lesson 01: {count['01']}, 02: {count['02']}, "
            f"03: {count['03']}, 04: {count['04']})") in readme
    guide = (repo / "docs" / "teacher-guide.md").read_text()
    for stem, found in cells.items():
        assert f"| {stem[:2]} {stem[3:].replace('_', ' ')} | {len(found)} | {len(found)} |" in guide
    assert f"| all | {total} | {total} |" in guide

"""The student edition of the lessons, made with nbgrader's own preprocessors.

The teacher's notebooks in ``notebooks/`` are the source: each exercise's answer sits between
``### BEGIN SOLUTION`` and ``### END SOLUTION`` in a cell with nbgrader metadata, and each check
cell is an nbgrader grade cell. :func:`student_notebook` runs the same chain of preprocessors
that ``nbgrader generate_assignment`` runs (lock cells, replace solutions by a stub that raises
``NotImplementedError``, clear outputs, remove ``### BEGIN HIDDEN TESTS`` regions and mark
schemes, checksums, metadata validation), minus the parts that need an nbgrader course: the
gradebook database and the assignment header/footer. A predict-first cell gets ``name = None``
instead of the stub (:class:`UnansweredPredictions`). ``simlab course`` (:mod:`.course`) puts
the same chain (:func:`assignment_preprocessors`) into an nbgrader course, so that
``nbgrader generate_assignment`` releases this same edition.

Command line (``make student`` calls it)::

    simlab student OUT_DIR [NOTEBOOK ...]      (or python -m simlab student OUT_DIR ...)

writes ``OUT_DIR/<name>.ipynb`` for each lesson (default: ``notebooks/0*.ipynb`` of the current
folder, the kit's checkout: the teacher's notebooks are not part of the installed package). The
lessons find the kit's photos through ``simlab.kit.ASSETS`` (package data), so OUT_DIR can be
any folder.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor  # simlab student / course: the teacher extra

__all__ = ["EditionError", "PredictionNames", "UnansweredPredictions", "assignment_preprocessors",
           "lesson_notebooks", "student_notebook", "write_student_edition"]

#: Where the teacher's lessons are looked for by default: ``notebooks/`` of the current folder.
NOTEBOOKS = Path("notebooks")


class EditionError(ValueError):
    """A source notebook cannot be turned into a student edition; the message names the file."""


def assignment_preprocessors() -> list[type]:
    """nbgrader's ``GenerateAssignment.preprocessors`` with the predict-first stubs of the kit.

    The list ``nbgrader generate_assignment`` runs (include header/footer, lock cells, replace
    solutions by stubs, clear outputs, checksums, save the cells to the gradebook, remove hidden
    tests and mark schemes), with :class:`PredictionNames` before ClearSolutions and
    :class:`UnansweredPredictions` after it. The course's ``nbgrader_config.py`` sets it, so that
    a released lesson is the student edition :func:`student_notebook` writes.
    """
    from nbgrader.converters import GenerateAssignment
    from nbgrader.preprocessors import ClearSolutions

    chain = list(GenerateAssignment.class_traits()["preprocessors"].default())
    at = chain.index(ClearSolutions)
    return [*chain[:at], PredictionNames, ClearSolutions, UnansweredPredictions, *chain[at + 1:]]


def _preprocessors() -> list:
    # nbgrader's chain (assignment_preprocessors) without what needs an nbgrader course:
    # IncludeHeaderFooter (no header configured), InstantiateTests (### AUTOTEST is not used) and
    # SaveCells (the gradebook). Outputs are cleared along with the timestamps nbconvert left.
    from nbgrader.preprocessors import ClearOutput, IncludeHeaderFooter, InstantiateTests, SaveCells

    chain = []
    for step in assignment_preprocessors():
        if step in (IncludeHeaderFooter, InstantiateTests, SaveCells):
            continue
        chain.append(ClearOutput(remove_metadata_fields={"collapsed", "scrolled", "execution"})
                     if step is ClearOutput else step())
    return chain


class PredictionNames(NbGraderPreprocessor):
    """Record the variables each predict-first cell (grade id ``*-prediction``) assigns in its
    solution region, in ``resources["prediction_names"]``, for :class:`UnansweredPredictions`
    (runs before ClearSolutions, which removes them)."""

    def preprocess(self, nb: NotebookNode, resources: dict):
        resources["prediction_names"] = _prediction_names(nb)
        return nb, resources


class UnansweredPredictions(NbGraderPreprocessor):
    """Give each predict-first cell (grade id ``*-prediction``) the variables it asks for, set to
    ``None``, instead of nbgrader's ``raise NotImplementedError()``: such a cell sits in the
    lesson's body, before the cells that reveal its answer, and "Run All" must go on past it to
    the exercises. Its check, at the end, refuses a ``None`` ("write your prediction ... first").
    Runs right after ClearSolutions, with the names :class:`PredictionNames` recorded."""

    def preprocess(self, nb: NotebookNode, resources: dict):
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
            names = resources.get("prediction_names", {}).get(grade_id)
            if names:
                stub = "\n".join(f"{n} = None  # your prediction: replace None before you run on"
                                 for n in names)
                cell.source = cell.source.replace("raise NotImplementedError()", stub)
        return nb, resources


def _prediction_names(nb: NotebookNode) -> dict[str, list[str]]:
    """``{grade id: [variable, ...]}`` assigned in each prediction cell's solution region."""
    found = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and meta.get("grade_id", "").endswith("-prediction"):
            region = cell.source.partition("### BEGIN SOLUTION")[2].partition("### END SOLUTION")[0]
            found[meta["grade_id"]] = re.findall(r"^(\w+)\s*=", region, re.M)
    return found


def student_notebook(nb: NotebookNode, name: str = "notebook") -> NotebookNode:
    """The student edition of the teacher's notebook ``nb`` (which is left unchanged).

    Raises :class:`EditionError` naming ``name`` when nbgrader refuses the notebook (a solution
    region outside a solution cell, unbalanced markers, duplicate grade ids, ...).
    """
    nb = copy.deepcopy(nb)
    resources: dict = {}
    try:
        for pre in _preprocessors():
            nb, resources = pre.preprocess(nb, resources)
    except Exception as e:  # nbgrader raises RuntimeError / ValidationError / ValueError
        reason = str(getattr(e, "message", e))
        cause = e.__context__  # CheckCellMetadata logs the real reason and raises a generic one
        if cause is not None and cause is not e:
            reason += " " + str(getattr(cause, "message", cause)).splitlines()[0]
        raise EditionError(f"{name}: nbgrader cannot make a student edition: {reason}") from e
    # Saved widget state is output too (it would show the teacher's widget values).
    nb.metadata.pop("widgets", None)
    return nb


def lesson_notebooks(folder: str | Path = NOTEBOOKS) -> list[Path]:
    """The lessons in ``folder`` (``0*.ipynb``), in order; by default ``./notebooks``."""
    return sorted(Path(folder).glob("0*.ipynb"))


def write_student_edition(out_dir: str | Path, sources: Iterable[str | Path] | None = None,
                          keep_existing: bool = False) -> list[Path]:
    """Write the student edition of each source notebook into ``out_dir``; return the new paths.

    ``sources`` defaults to the lessons in ``./notebooks`` (:func:`lesson_notebooks`). Every
    notebook is converted before any is written, so a bad source leaves ``out_dir`` as it was.
    With ``keep_existing`` a notebook already in ``out_dir`` (a student's work) is left alone and
    not returned.
    Raises :class:`EditionError` when there is nothing to convert or a source is refused.
    """
    sources = [Path(p) for p in (lesson_notebooks() if sources is None else sources)]
    if not sources:
        raise EditionError(
            f"no notebooks to convert: {NOTEBOOKS.resolve()} holds no lesson (0*.ipynb); run this in "
            "the kit's folder or name the notebooks"
        )
    editions = []
    for src in sources:
        try:
            nb = nbformat.read(src, as_version=4)
        except (OSError, nbformat.reader.NotJSONError) as e:
            raise EditionError(f"{src}: cannot read the notebook: {e}") from e
        editions.append((src.name, student_notebook(nb, name=str(src))))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, nb in editions:
        if keep_existing and (out_dir / filename).exists():
            continue
        nbformat.validate(nb)
        nbformat.write(nb, out_dir / filename)
        written.append(out_dir / filename)
    return written

"""The student edition of the lessons, made with nbgrader's own preprocessors.

The teacher's notebooks in ``notebooks/`` are the source: each exercise's answer sits between
``### BEGIN SOLUTION`` and ``### END SOLUTION`` in a cell with nbgrader metadata, and each check
cell is an nbgrader grade cell. :func:`student_notebook` runs the same chain of preprocessors
that ``nbgrader generate_assignment`` runs (lock cells, replace solutions by a stub that raises
``NotImplementedError``, clear outputs, remove ``### BEGIN HIDDEN TESTS`` regions and mark
schemes, checksums, metadata validation), minus the parts that need an nbgrader course: the
gradebook database and the assignment header/footer. So the source notebooks also go into an
nbgrader course unchanged.

Command line (``make student`` calls it)::

    python -m simlab.editions OUT_DIR [NOTEBOOK ...]

writes ``OUT_DIR/<name>.ipynb`` for each lesson (default: ``notebooks/0*.ipynb``). The lessons
find the kit's photos through ``simlab.images.ASSETS``, so OUT_DIR can be any folder.
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Iterable
from pathlib import Path

import nbformat
from nbformat import NotebookNode

__all__ = ["EditionError", "lesson_notebooks", "main", "student_notebook", "write_student_edition"]

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


class EditionError(ValueError):
    """A source notebook cannot be turned into a student edition; the message names the file."""


def _preprocessors() -> list:
    # The order of nbgrader's GenerateAssignment.preprocessors, without IncludeHeaderFooter (no
    # header configured), InstantiateTests (### AUTOTEST is not used) and SaveCells (gradebook).
    from nbgrader.preprocessors import (
        CheckCellMetadata,
        ClearHiddenTests,
        ClearMarkScheme,
        ClearOutput,
        ClearSolutions,
        ComputeChecksums,
        LockCells,
    )

    return [
        LockCells(),
        ClearSolutions(),
        # also drop the timestamps nbconvert/nbclient left from the teacher's run
        ClearOutput(remove_metadata_fields={"collapsed", "scrolled", "execution"}),
        CheckCellMetadata(),
        ComputeChecksums(),
        ClearHiddenTests(),
        ClearMarkScheme(),
        ComputeChecksums(),
        CheckCellMetadata(),
    ]


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
    """The lessons in ``folder`` (``0*.ipynb``), in order."""
    return sorted(Path(folder).glob("0*.ipynb"))


def write_student_edition(out_dir: str | Path, sources: Iterable[str | Path] | None = None) -> list[Path]:
    """Write the student edition of each source notebook into ``out_dir``; return the new paths.

    ``sources`` defaults to the kit's lessons. Every notebook is converted before any is
    written, so a bad source leaves ``out_dir`` as it was.
    """
    sources = [Path(p) for p in (lesson_notebooks() if sources is None else sources)]
    if not sources:
        raise EditionError("no notebooks to convert")
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
        nbformat.validate(nb)
        nbformat.write(nb, out_dir / filename)
        written.append(out_dir / filename)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simlab.editions",
        description="Write the student edition of the lessons (solutions replaced by stubs, hidden "
        "tests and outputs removed) with nbgrader's preprocessors.",
    )
    parser.add_argument("out_dir", help="folder for the student notebooks, e.g. student")
    parser.add_argument("notebooks", nargs="*", help=f"source notebooks (default: {NOTEBOOKS}/0*.ipynb)")
    args = parser.parse_args(argv)
    try:
        written = write_student_edition(args.out_dir, args.notebooks or None)
    except EditionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

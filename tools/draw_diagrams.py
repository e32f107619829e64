"""Draw the lessons' schematic figures and embed them in the notebooks (``make diagrams``).

The source of every diagram is code: ``tools/diagrams/lessonNN.py`` defines ``FIGURES``, a dict
from a figure's name (``"01-pyramid"``) to a function that returns a matplotlib Figure. A lesson's
markdown shows one as ``![what it shows](attachment:01-pyramid.png)``; this script draws each
figure referenced that way and stores the PNG as the cell's attachment, so the picture travels
with the notebook (student edition, nbgrader release) and needs no file beside it.

    python tools/draw_diagrams.py [NOTEBOOK ...]    (default: notebooks/0*.ipynb)

An ``attachment:`` reference to a name no ``FIGURES`` defines is an error that names the cell.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import re
import sys
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((Path(__file__).parent / "diagrams").glob("lesson*.py"))
REFERENCE = re.compile(r"\(attachment:([\w.-]+)\.png\)")


def figures() -> dict[str, Callable]:
    """Every diagram's drawing function, by name, from ``tools/diagrams/lesson*.py``."""
    found = {}
    for path in SOURCES:
        spec = importlib.util.spec_from_file_location(f"diagrams_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for name, draw in module.FIGURES.items():
            if name in found:
                raise ValueError(f"{path.name}: the figure {name!r} is defined twice")
            found[name] = draw
    return found


def png(figure) -> bytes:
    """The figure as PNG bytes (no time stamp or version, so re-drawing changes nothing)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def attach(path: Path, drawn: dict[str, bytes], draws: dict[str, Callable]) -> list[str]:
    """Embed the figures ``path``'s markdown references; return their names. Drops stale ones."""
    nb = nbformat.read(path, as_version=4)
    used = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        names = REFERENCE.findall(cell.source)
        attachments = {}
        for name in names:
            if name not in draws:
                raise SystemExit(f"{path.name} cell {i}: no diagram named {name!r} in tools/diagrams/")
            if name not in drawn:
                drawn[name] = png(draws[name]())
            attachments[f"{name}.png"] = {"image/png": base64.b64encode(drawn[name]).decode()}
        if attachments:
            cell["attachments"] = attachments
        else:
            cell.pop("attachments", None)
        used += names
    nbformat.write(nb, path)
    return used


def main(paths: list[str]) -> None:
    notebooks = [Path(p) for p in paths] or sorted((ROOT / "notebooks").glob("0*.ipynb"))
    draws, drawn = figures(), {}
    for path in notebooks:
        used = attach(path, drawn, draws)
        sizes = ", ".join(f"{n} {len(drawn[n]) // 1024} KB" for n in used)
        print(f"{path.name}: {sizes or 'no diagrams'}")


if __name__ == "__main__":
    main(sys.argv[1:])

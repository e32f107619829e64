"""The package's shape: the library apart from the course, no import cycle, few entry points.

Read from the source with ``ast`` (nothing is imported), so a function-level import counts as
much as one at the top of a module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import simlab

PACKAGE = Path(simlab.__file__).parent
#: The course's own code; the library never imports it.
COURSE = ("simlab.lessons", "simlab.teacher")
MAX_LINES = 520  # "no module over ~500 lines"


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "assets" in path.parts:  # build_assets.py is a script of the checkout
            continue
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(name: str, path: Path) -> list[tuple[str, list[str]]]:
    """``[(module imported, [names taken from it])]`` of every import statement in the file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            found.append((base, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((a.name, []) for a in node.names)
    return found


def graph() -> dict[str, set[str]]:
    """Module -> the simlab modules it imports (``from . import cluster`` counts as cluster)."""
    mods = modules()
    edges = {}
    for name, path in mods.items():
        targets = set()
        for base, names in imports(name, path):
            for candidate in [f"{base}.{n}" for n in names] + [base]:
                if candidate in mods and candidate != name:
                    targets.add(candidate)
                    break
        edges[name] = targets
    return edges


def test_no_import_cycle_among_the_modules():
    edges = graph()
    edges["simlab"] = set()  # the package imports its entry points; nobody imports it back
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                cycle = path[path.index(nxt):] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])


def test_no_module_imports_another_modules_private_name():
    mods = modules()
    offences = []
    for name, path in mods.items():
        for base, names in imports(name, path):
            if base.startswith("simlab") and base != name:
                offences += [f"{name}: {base}.{n}" for n in names if n.startswith("_")]
    assert not offences


def test_the_library_never_imports_the_course():
    edges = graph()
    library = [m for m in edges if not m.startswith(COURSE) and m not in ("simlab", "simlab.__main__")]
    offences = [f"{m} -> {t}" for m in library for t in edges[m] if t.startswith(COURSE)]
    assert not offences


def test_few_deliberate_entry_points():
    assert len(simlab.__all__) <= 20
    assert sorted(simlab.__all__) == sorted(set(simlab.__all__))
    for name in simlab.__all__:
        assert getattr(simlab, name).__doc__, f"simlab.{name} has no docstring"


@pytest.mark.parametrize("name", sorted(modules()))
def test_modules_stay_small(name):
    lines = len(modules()[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines: split it by concept"

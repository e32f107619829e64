"""The Examples in simlab's docstrings run, and print what they say (numpydoc Examples as doctests);
every public function and class of the library has them."""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil

import pytest

import simlab

MODULES = sorted(m.name for m in pkgutil.walk_packages(simlab.__path__, "simlab.")
                 if m.name != "simlab.__main__")
#: The course's own code (exercise checks, widgets, teacher commands): not held to the library's
#: numpydoc sections, though its examples run too.
COURSE = ("simlab.lessons", "simlab.teacher")
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=FLAGS)  # failures are printed
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} docstring examples failed"


@pytest.mark.parametrize("name", [m for m in MODULES if not m.startswith(COURSE)])
def test_every_public_function_has_numpydoc_sections_and_an_example(name):
    module = importlib.import_module(name)
    missing = []
    for public in getattr(module, "__all__", []):
        obj = getattr(module, public)
        if not (inspect.isfunction(obj) or inspect.isclass(obj)) or obj.__module__ != name:
            continue  # a constant, or a name another module documents
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            continue  # an error or warning: its docstring says when it is raised
        doc = inspect.getdoc(obj) or ""
        wanted = ["Examples"]
        if inspect.isfunction(obj):
            signature = inspect.signature(obj)
            if signature.parameters:
                wanted.append("Parameters")
            if signature.return_annotation not in (None, "None"):  # a function that returns nothing
                wanted.append("Returns")
        lacking = [s for s in wanted if f"{s}\n{'-' * len(s)}" not in doc]
        if lacking:
            missing.append(f"{public}: no {', '.join(lacking)}")
    assert not missing, f"{name}: " + "; ".join(missing)

"""The Examples in simlab's docstrings run, and print what they say (numpydoc Examples as doctests)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import simlab

MODULES = sorted(m.name for m in pkgutil.iter_modules(simlab.__path__, "simlab.")
                 if m.name != "simlab.__main__")
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=FLAGS)  # failures are printed
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} docstring examples failed"

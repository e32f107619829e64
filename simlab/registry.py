"""Objects built once per process and kept: ONNX Runtime sessions, face models, segmenters.

Building one takes from a tenth of a second to several seconds, so each module keeps what it
built. They all keep it here, in named shelves, so that one call forgets them all:
:func:`clear` (tests use it to start as a new process would; a long session can use it to free
memory). A shelf is a plain ``dict``; :func:`once` makes a function remember its results on one.

Examples
--------
>>> from simlab import registry
>>> @registry.once
... def square(x):
...     print("computing")
...     return x * x
>>> square(3)
computing
9
>>> square(3)  # remembered
9
>>> registry.clear()
>>> square(3)  # forgotten: built again
computing
9
"""

from __future__ import annotations

import functools
import threading

__all__ = ["clear", "once", "shelf"]

_SHELVES: dict[str, dict] = {}
_LOCK = threading.RLock()  # re-entrant: a build may itself use a shelf


def shelf(name: str) -> dict:
    """The dict kept under ``name`` (created empty on first use).

    Parameters
    ----------
    name : str
        Usually ``"<module>.<what>"``, e.g. ``"engines.sessions"``.

    Returns
    -------
    dict
        The same object on every call until :func:`clear` empties it (it is emptied in place,
        so a module may hold on to it).

    Examples
    --------
    >>> from simlab.registry import shelf
    >>> shelf("example.things")["a"] = 1
    >>> shelf("example.things")
    {'a': 1}
    """
    with _LOCK:
        return _SHELVES.setdefault(name, {})


def once(function):
    """Decorate ``function`` to build its result once per distinct arguments, kept in a shelf.

    Like :func:`functools.cache` (the arguments must be hashable), but thread-safe (two threads
    asking at once build once) and emptied by :func:`clear`. The shelf is named after the
    function, ``"<module>.<name>"``.

    Parameters
    ----------
    function : callable
        What builds the object.

    Returns
    -------
    callable
        The function, remembering its results.

    Examples
    --------
    >>> from simlab.registry import once
    >>> @once
    ... def model(name):
    ...     return object()
    >>> model("a") is model("a"), model("a") is model("b")
    (True, False)
    """
    kept = shelf(f"{function.__module__}.{function.__qualname__}")

    @functools.wraps(function)
    def remembered(*args, **kwargs):
        key = (args, tuple(sorted(kwargs.items())))
        try:
            return kept[key]
        except KeyError:
            pass
        with _LOCK:
            if key not in kept:
                kept[key] = function(*args, **kwargs)
            return kept[key]

    return remembered


def clear(name: str | None = None) -> None:
    """Forget what was built: every shelf, or only the one called ``name``.

    Parameters
    ----------
    name : str, optional
        A shelf's name; all shelves by default.

    Raises
    ------
    KeyError
        For a ``name`` no shelf has.

    Examples
    --------
    >>> from simlab.registry import clear, shelf
    >>> shelf("example.cleared")["x"] = 1
    >>> clear("example.cleared")
    >>> shelf("example.cleared")
    {}
    """
    with _LOCK:
        if name is not None:
            if name not in _SHELVES:
                raise KeyError(f"no shelf called {name!r}; the shelves are: {', '.join(sorted(_SHELVES))}")
            _SHELVES[name].clear()
            return
        for kept in _SHELVES.values():
            kept.clear()

"""Optional features and the extra that installs each: a missing one is named in the error.

``pip install simlab`` gives the core library; each feature below needs its extra
(``pip install "simlab[faces]"``), and ``simlab[course]`` installs all the lessons need.
"""

from __future__ import annotations

import importlib

__all__ = ["EXTRAS", "require"]

#: Module -> (the package that brings it, its extra, the feature): what each optional import is for.
EXTRAS = {
    "dlib": ("dlib-bin", "faces", "face detection and face identity (simlab.faces, simlab.people)"),
    "faiss": ("faiss-cpu", "search", "nearest-neighbour indexes (simlab.search)"),
    "distributed": ("dask[distributed]", "cluster", "embedding on a Dask cluster (client=...)"),
    "onnxruntime": ("onnxruntime", "fast", "the ONNX Runtime engine (engine='onnx')"),
    "onnx": ("onnx", "fast", "exporting a backbone for ONNX Runtime (engine='onnx')"),
    "ai_edge_litert": ("ai-edge-litert", "segmenter",
                       "the selfie and face segmenters (segment_subject, method='selfie')"),
}


def require(module: str):
    """Import an optional ``module``, or raise an ``ImportError`` naming the extra to install.

    Parameters
    ----------
    module : str
        A key of :data:`EXTRAS` (or a submodule of one, e.g. ``"ai_edge_litert.interpreter"``).

    Returns
    -------
    module
        The imported module.

    Raises
    ------
    ImportError
        When it is not installed: the message names the feature and the ``pip install`` line.

    Examples
    --------
    >>> from simlab.extras import require
    >>> require("faiss").__name__
    'faiss'
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        _, extra, feature = EXTRAS[module.partition(".")[0]]
        raise ImportError(f"{feature} needs the optional package {module.partition('.')[0]!r}: "
                          f"pip install \"simlab[{extra}]\" (or \"simlab[course]\" for every lesson); "
                          f"the import failed with: {e}") from e

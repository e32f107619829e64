"""A backbone up to one stage as an ONNX graph: exported once, named by a key, run by ONNX Runtime.

The ``"onnx"`` engine of :class:`simlab.engines.Embedder` is built from these pieces:

- :func:`export_graph`: the backbone up to the stage, exported with
  ``torch.onnx.export(..., dynamo=False)``: input ``images`` (N, 3, H, W), output ``features``;
- :func:`graph_key`: the graph's name, from everything that decides it (backbone, weights
  fingerprint, stage, input size where the graph needs a fixed one, and the export settings),
  so a change of any of them gives a new file in :func:`onnx_cache_dir`;
- :func:`new_session`: an ONNX Runtime session (CPU, float32) that runs a graph.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path

import torch
from torch import nn
from torchvision.models.feature_extraction import create_feature_extractor

from .backbones import BUILD_LOCK, Stage
from .cache import default_cache_dir

__all__ = ["EXPORT_FORMAT", "OPSET", "export_graph", "graph_key", "new_session", "onnx_available",
           "onnx_cache_dir"]

#: Part of every exported file's key: bump when the export (graph, opset, names) changes.
EXPORT_FORMAT = 1
OPSET = 17


def onnx_available() -> bool:
    """Whether ONNX Runtime and the ``onnx`` package (needed by the export) can be imported.

    Returns
    -------
    bool

    Examples
    --------
    >>> from simlab.onnx_graphs import onnx_available
    >>> onnx_available() in (True, False)
    True
    """
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def onnx_cache_dir(cache_dir="default") -> Path | None:
    """Where exported graphs are kept: ``<embeddings cache root>/onnx``.

    Parameters
    ----------
    cache_dir : "default", str, pathlib.Path or None, optional
        ``"default"`` (:func:`simlab.cache.default_cache_dir`), the root of an embeddings cache,
        or ``None``.

    Returns
    -------
    pathlib.Path or None
        ``None`` for ``cache_dir=None``: graphs are then kept in memory only.

    Examples
    --------
    >>> from simlab.onnx_graphs import onnx_cache_dir
    >>> onnx_cache_dir("/data/cache").as_posix(), onnx_cache_dir(None)
    ('/data/cache/onnx', None)
    """
    if cache_dir is None:
        return None
    if isinstance(cache_dir, str) and cache_dir == "default":
        cache_dir = default_cache_dir()
    return Path(cache_dir).expanduser() / "onnx"


def graph_key(backbone_name: str, stage: Stage, fingerprint: str,
              input_shape: tuple[int, int] | None = None) -> str:
    """The name of an exported graph (its file is ``<key>.onnx``).

    Parameters
    ----------
    backbone_name : str
        A name of :data:`~simlab.backbones.BACKBONES`.
    stage : Stage
        The stage the graph ends at.
    fingerprint : str
        :func:`~simlab.engines.weights_fingerprint` of the model.
    input_shape : tuple of int, optional
        (height, width) of a graph exported for one input size; ``None`` for a graph that takes
        any (convolutional networks).

    Returns
    -------
    str
        ``<backbone>-<stage>-<HxW or any>-<16 hex digits>``, the digits a hash of the export
        format, opset, torch version, backbone, fingerprint, graph node and input size.

    Examples
    --------
    >>> from simlab.backbones import BACKBONES
    >>> from simlab.onnx_graphs import graph_key
    >>> stage3 = BACKBONES["mobilenet_v2"].stages[2]
    >>> graph_key("mobilenet_v2", stage3, "0" * 64, (224, 224))
    'mobilenet_v2-stage3-224x224-...'
    """
    shape = "any" if input_shape is None else f"{input_shape[0]}x{input_shape[1]}"
    text = f"{EXPORT_FORMAT} {OPSET} {torch.__version__} {backbone_name} {fingerprint} {stage.node} {shape}"
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return f"{backbone_name}-{stage.name}-{shape}-{digest}"


def export_graph(model: nn.Module, stage: Stage, input_shape: tuple[int, int] | None = None) -> bytes:
    """Export ``model`` up to ``stage`` as an ONNX graph.

    The graph's input is ``images`` (N, 3, H, W) float32, its output ``features``, the stage's map
    as the model computes it (transformer stages (N, H, W, C)). Tracing holds
    :data:`~simlab.backbones.BUILD_LOCK`: one thread at a time.

    Parameters
    ----------
    model : torch.nn.Module
        A backbone's ``model``.
    stage : Stage
        One of its stages.
    input_shape : tuple of int, optional
        (height, width) for a graph valid for that size only (transformers compute their window
        padding in Python while tracing); ``None``: any height and width.

    Returns
    -------
    bytes
        The graph, as ``onnxruntime.InferenceSession`` takes it.

    Raises
    ------
    Exception
        Whatever the exporter raises for a model it cannot export (many types), and
        ``ImportError`` without the ``onnx`` package.

    Examples
    --------
    >>> from simlab.backbones import load_backbone
    >>> from simlab.onnx_graphs import export_graph
    >>> backbone = load_backbone("mobilenet_v2", weights=None)
    >>> graph = export_graph(backbone.model, backbone.stage("stage1"))
    >>> type(graph)
    <class 'bytes'>
    """
    with BUILD_LOCK:  # tracing, twice: one thread at a time
        truncated = _Truncated(create_feature_extractor(model, {stage.node: "features"}))
        h, w = input_shape if input_shape is not None else (224, 224)  # any size: the graph takes all
        example = torch.zeros(2, 3, h, w)
        axes = {0: "batch"} if input_shape is not None else {0: "batch", 2: "height", 3: "width"}
        buffer = io.BytesIO()
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings about Python values in the graph
            torch.onnx.export(truncated.eval(), (example,), buffer, dynamo=False, opset_version=OPSET,
                              input_names=["images"], output_names=["features"],
                              dynamic_axes={"images": axes, "features": {0: "batch"}})
        return buffer.getvalue()


def new_session(graph, *, threads: int, spinning: bool = True):
    """An ONNX Runtime session (CPU) that runs ``graph``.

    Parameters
    ----------
    graph : bytes or str
        The graph (:func:`export_graph`), or the path of a ``.onnx`` file.
    threads : int
        Threads within a layer (``intra_op_num_threads``); one between layers.
    spinning : bool, optional
        Whether the threads busy-wait between layers: fast when the session runs alone; False
        leaves the cores to other processes (e.g. a DataLoader's workers).

    Returns
    -------
    onnxruntime.InferenceSession

    Raises
    ------
    ImportError
        Without ONNX Runtime.
    Exception
        What ONNX Runtime raises for a damaged graph (many types).

    Examples
    --------
    >>> import numpy as np
    >>> from simlab.backbones import load_backbone
    >>> from simlab.onnx_graphs import export_graph, new_session
    >>> backbone = load_backbone("mobilenet_v2", weights=None)
    >>> session = new_session(export_graph(backbone.model, backbone.stage("stage1")), threads=1)
    >>> session.run(None, {"images": np.zeros((1, 3, 64, 64), np.float32)})[0].shape
    (1, 16, 32, 32)
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


class _Truncated(nn.Module):
    """The traced extractor with one tensor out instead of a dict (what the exporter wants)."""

    def __init__(self, extractor: nn.Module):
        super().__init__()
        self.extractor = extractor

    def forward(self, x):
        return self.extractor(x)["features"]

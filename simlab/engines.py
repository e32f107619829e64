"""Inference engines for pooled embeddings: PyTorch eager, or ONNX Runtime on an exported graph.

The lessons look inside the network with PyTorch (feature maps, hooks, stages). To embed many
photos, only one stage's map is needed, and a graph runtime computes it several times faster on
a CPU: ONNX Runtime loads the whole computation once, fuses convolution + batch norm + activation
into one kernel, pre-packs the weights for the CPU's matrix units and plans memory ahead, where
PyTorch eager dispatches every layer one by one from Python.

An :class:`Embedder` turns preprocessed batches into one stage's feature map (and pooled vectors)
with one engine:

- ``"torch"``: :func:`~simlab.features.extract_features` (PyTorch eager);
- ``"onnx"``: the backbone up to the stage, exported once and run by ONNX Runtime
  (:mod:`simlab.onnx_graphs`). The file is kept in ``<cache root>/onnx/`` (next to the
  embeddings cache), named by its key (:meth:`Embedder.key`); a damaged file is exported again.
- ``"auto"``: ``"onnx"`` when ``onnxruntime`` and ``onnx`` are installed and the export works
  for this model, else ``"torch"``.

Pooling (average, max, GeM, masked average) always happens afterwards in PyTorch on the map, so
it is exactly the same code for both engines. The two engines' vectors agree to about 1e-6 of
their scale (float32 rounding in a different order); the tests hold them to 1e-4.

An ``Embedder`` is picklable (the ONNX graph travels as bytes, the session is rebuilt in the new
process on first use): build it once, send it to a worker process (e.g. a Dask worker), then call
it on uint8 batches there.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
import weakref
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .backbones import Backbone, Stage
from .cache import atomic_write
from .features import extract_features, masked_pool, pool_map
from .onnx_graphs import export_graph, graph_key, new_session, onnx_available, onnx_cache_dir
from .registry import shelf

__all__ = ["ENGINES", "Embedder", "get_embedder", "onnx_available", "resolve_engine", "weights_fingerprint"]

ENGINES = ("auto", "torch", "onnx")

_SESSIONS: dict[str, object] = shelf("engines.sessions")  # key -> onnxruntime.InferenceSession
_GRAPHS: dict[str, bytes] = shelf("engines.graphs")  # key -> exported graph (for cache_dir=None)
_FINGERPRINTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> (versions, fp)
_FAILED: dict[str, str] = shelf("engines.failed")  # keys whose export failed here -> reason
_LOCK = threading.Lock()


def resolve_engine(engine: str) -> str:
    """What ``engine`` means here: ``"torch"`` or ``"onnx"``.

    Parameters
    ----------
    engine : {"auto", "torch", "onnx"}
        ``"auto"`` is ``"onnx"`` when :func:`~simlab.onnx_graphs.onnx_available`, else ``"torch"``.

    Returns
    -------
    str
        ``"torch"`` or ``"onnx"``.

    Raises
    ------
    ValueError
        For an unknown engine.
    ImportError
        For ``"onnx"`` without the packages, saying what to install.

    Examples
    --------
    >>> from simlab.engines import resolve_engine
    >>> resolve_engine("torch"), resolve_engine("auto") in ("onnx", "torch")
    ('torch', True)
    >>> resolve_engine("gpu")
    Traceback (most recent call last):
    ...
    ValueError: engine='gpu': choose one of auto, torch, onnx
    """
    if engine not in ENGINES:
        raise ValueError(f"engine={engine!r}: choose one of {', '.join(ENGINES)}")
    if engine == "torch":
        return "torch"
    if onnx_available():
        return "onnx"
    if engine == "auto":
        return "torch"
    raise ImportError("engine='onnx' needs ONNX Runtime and onnx: pip install \"simlab[fast]\" "
                      "(or use engine='torch')")


def weights_fingerprint(model: nn.Module) -> str:
    """A sha256 over the names, dtypes, shapes and bytes of ``model``'s state dict.

    Two models get the same fingerprint exactly when they hold the same numbers, whether those
    came from a download, a file or a random initialisation (about 15 ms for MobileNetV2).
    Remembered per model until one of its tensors is replaced or changed in place (PyTorch
    counts in-place changes), so repeated calls on an unchanged model cost almost nothing.

    Parameters
    ----------
    model : torch.nn.Module

    Returns
    -------
    str
        64 hex digits.

    Examples
    --------
    >>> import torch
    >>> from simlab.engines import weights_fingerprint
    >>> a, b = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    >>> weights_fingerprint(a) == weights_fingerprint(b)  # two random draws
    False
    >>> _ = b.load_state_dict(a.state_dict())
    >>> weights_fingerprint(a) == weights_fingerprint(b), len(weights_fingerprint(a))
    (True, 64)
    """
    state = model.state_dict(keep_vars=True)
    versions = tuple((name, id(t), t.data_ptr(), t._version) for name, t in state.items())
    known = _FINGERPRINTS.get(model)
    if known is not None and known[0] == versions:
        return known[1]
    digest = hashlib.sha256()
    for name, tensor in state.items():
        t = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name} {t.dtype} {tuple(t.shape)}\n".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy())
    fingerprint = digest.hexdigest()
    _FINGERPRINTS[model] = (versions, fingerprint)
    return fingerprint


def get_embedder(backbone: Backbone, stage: str | None = None, engine: str = "auto", *,
                 cache_dir="default") -> Embedder:
    """The :class:`Embedder` for ``(backbone, stage, engine)``, built once and kept on the backbone.

    A new one is built when the backbone's weights changed since (its fingerprint differs), so
    a fine-tuned model never runs an old exported graph.

    Parameters
    ----------
    backbone, stage, engine, cache_dir
        As for :class:`Embedder`.

    Returns
    -------
    Embedder

    Raises
    ------
    ValueError, ImportError, RuntimeError
        As :class:`Embedder` does.

    Examples
    --------
    >>> from simlab.backbones import load_backbone
    >>> from simlab.engines import get_embedder
    >>> backbone = load_backbone()
    >>> run = get_embedder(backbone, "stage3", "torch")
    >>> run, run is get_embedder(backbone, "stage3", "torch")
    (Embedder(mobilenet_v2, stage3, engine='torch'), True)
    """
    name = backbone.resolve_stage(stage).name
    slot = ("engine", name, engine, str(cache_dir))  # beside extract_features' traced extractors
    return backbone.cached(
        slot,
        lambda: Embedder(backbone, name, engine, cache_dir=cache_dir),
        still_valid=lambda kept: (kept.engine == "torch"
                                  or kept._fingerprint == weights_fingerprint(backbone.model)),
    )


class Embedder:
    """One stage's feature maps, and pooled vectors, of preprocessed batches by one engine.

    Call it with a batch: uint8 Tensor[N, 3, H, W] (pixels after resize and crop; normalised
    here with the backbone's mean and std) or float Tensor[N, 3, H, W] already normalised
    (:meth:`~simlab.backbones.Backbone.preprocess` output). Picklable: the session is rebuilt
    lazily in each process.

    Parameters
    ----------
    backbone : Backbone
        From :func:`~simlab.backbones.load_backbone`.
    stage : str, optional
        A stage name; the deepest by default.
    engine : {"auto", "torch", "onnx"}, optional
        See the module docstring; the attribute ``engine`` says which one runs.
    cache_dir : "default", str, pathlib.Path or None, optional
        Where an exported graph is kept (see :func:`~simlab.onnx_graphs.onnx_cache_dir`).
    threads : int, optional
        Threads ONNX Runtime uses within a layer; ``torch.get_num_threads()`` by default, as
        PyTorch.

    Raises
    ------
    ValueError
        For an unknown engine or stage.
    ImportError
        For ``"onnx"`` without ONNX Runtime.
    RuntimeError
        With the exporter's reason, when ``engine="onnx"`` and the model cannot be exported
        (raised at the first call); ``"auto"`` falls back to ``"torch"`` then, with a warning.

    Examples
    --------
    >>> import torch
    >>> from simlab.backbones import load_backbone
    >>> from simlab.engines import Embedder
    >>> run = Embedder(load_backbone(), "stage3", engine="torch")
    >>> run(torch.zeros(2, 3, 224, 224, dtype=torch.uint8)).shape
    (2, 32)
    """

    def __init__(self, backbone: Backbone, stage: str | None = None, engine: str = "auto", *,
                 cache_dir="default", threads: int | None = None):
        self.backbone = backbone
        self.stage: Stage = backbone.resolve_stage(stage)
        self.requested = engine
        self.engine = resolve_engine(engine)
        self.cache_dir = onnx_cache_dir(cache_dir) if self.engine == "onnx" else None
        self.threads = threads
        self._fingerprint = weights_fingerprint(backbone.model) if self.engine == "onnx" else ""
        self._graphs: dict[tuple, tuple[str, bytes | None]] = {}  # input size -> (key, graph)
        self.spinning = True  # ONNX Runtime's threads busy-wait between layers (fast when alone)

    # --- the public calls -----------------------------------------------------------------------

    def feature_map(self, images: torch.Tensor) -> torch.Tensor:
        """The stage's map of a batch.

        Parameters
        ----------
        images : torch.Tensor
            uint8 pixels or normalised floats, shape (N, 3, H, W).

        Returns
        -------
        torch.Tensor
            float32, shape (N, C, h, w) (transformer maps converted).

        Raises
        ------
        ValueError
            For a batch that is not (N, 3, H, W).

        Examples
        --------
        >>> import torch
        >>> from simlab.backbones import load_backbone
        >>> from simlab.engines import Embedder
        >>> Embedder(load_backbone(), "stage3", "torch").feature_map(torch.zeros(1, 3, 64, 64)).shape
        torch.Size([1, 32, 8, 8])
        """
        batch = self.normalise(images)
        if self.engine == "onnx":
            out = self._onnx_map(batch)
            if out is not None:
                return out
        # no_grad, not inference_mode: see features.extract_features
        return extract_features(self.backbone, batch, [self.stage.name])[self.stage.name]

    def __call__(self, images: torch.Tensor, pool: str = "avg", *,
                 subject_fraction: torch.Tensor | None = None) -> np.ndarray:
        """Pooled vectors of a batch.

        Parameters
        ----------
        images : torch.Tensor
            uint8 pixels or normalised floats, shape (N, 3, H, W).
        pool : {"avg", "max", "gem"}, optional
            As for :func:`~simlab.features.pool_map`.
        subject_fraction : torch.Tensor, optional
            Shape (N, h, w), in [0, 1] (e.g. ``preprocess_mask`` output): the map is then pooled
            by :func:`~simlab.features.masked_pool` instead.

        Returns
        -------
        numpy.ndarray
            float32, shape (N, C).

        Raises
        ------
        ValueError
            For a bad batch, pool or ``subject_fraction`` (see
            :func:`~simlab.features.masked_pool`).

        Examples
        --------
        >>> import torch
        >>> from simlab.backbones import load_backbone
        >>> from simlab.engines import Embedder
        >>> run = Embedder(load_backbone(), "stage3", "torch")
        >>> run(torch.zeros(1, 3, 64, 64), "max", subject_fraction=torch.ones(1, 64, 64)).shape
        (1, 32)
        """
        fmap = self.feature_map(images)
        with torch.no_grad():
            pooled = (pool_map(fmap, pool) if subject_fraction is None
                      else masked_pool(fmap, subject_fraction))
        return pooled.numpy().astype(np.float32)

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 pixels -> floats in [0, 1] -> normalised with the weights' mean and std.

        Parameters
        ----------
        images : torch.Tensor
            Shape (N, 3, H, W): uint8 pixels, or floats (returned as they are).

        Returns
        -------
        torch.Tensor
            float32, shape (N, 3, H, W).

        Raises
        ------
        ValueError
            For a batch that is not (N, 3, H, W).

        Examples
        --------
        >>> import torch
        >>> from simlab.backbones import load_backbone
        >>> from simlab.engines import Embedder
        >>> run = Embedder(load_backbone(), engine="torch")
        >>> run.normalise(torch.zeros(1, 3, 1, 1, dtype=torch.uint8)).flatten()  # -mean / std
        tensor([-2.1179, -2.0357, -1.8044])
        """
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"a batch must be (N, 3, H, W), got {tuple(images.shape)}")
        if images.dtype != torch.uint8:
            return images
        t = self.backbone.transform
        # TF.convert_image_dtype then TF.normalize, in place on one new tensor: the same numbers
        # without two more batch-sized allocations, which cost more than the arithmetic (1-8 ms
        # against 0.4 ms for 16 images of 224 x 224).
        mean = torch.as_tensor(t.mean, dtype=torch.float32).view(-1, 1, 1)
        std = torch.as_tensor(t.std, dtype=torch.float32).view(-1, 1, 1)
        return images.to(torch.float32).div_(255).sub_(mean).div_(std)

    def __repr__(self) -> str:
        return f"Embedder({self.backbone.name}, {self.stage.name}, engine={self.engine!r})"

    # --- pickling: no session, no traced extractors ---------------------------------------------

    def __getstate__(self):
        state = dict(self.__dict__)
        state["backbone"] = self.backbone.without_cache()
        # Ship the graphs themselves: the receiving process may not see this cache folder.
        state["_graphs"] = {size: (key, graph if graph is not None else self._read(key))
                            for size, (key, graph) in self._graphs.items()}
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        for key, graph in self._graphs.values():
            if graph is not None:
                _GRAPHS.setdefault(key, graph)

    # --- ONNX ---------------------------------------------------------------------------------

    def _onnx_map(self, batch: torch.Tensor) -> torch.Tensor | None:
        size = self._graph_size(batch)
        try:
            session = self._session(size)
        except RuntimeError:
            if self.requested == "onnx":
                raise
            return None  # "auto": extract_features instead (warned once in _session)
        # ONNX Runtime wants contiguous float32; torch.from_numpy shares the output's memory.
        out = session.run(None, {"images": batch.contiguous().numpy()})[0]
        fmap = torch.from_numpy(out)
        return fmap.permute(0, 3, 1, 2).contiguous() if self.stage.channels_last else fmap

    def _graph_size(self, batch: torch.Tensor) -> tuple | None:
        """The input size baked into the graph, or None when height and width may vary."""
        if self._dynamic_size():
            return None
        return tuple(batch.shape[-2:])

    def _dynamic_size(self) -> bool:
        # Transformers (swin_t) compute their window padding in Python while tracing: their
        # graph is only valid for the traced size. Convolutional networks take any size.
        return not any(s.channels_last for s in self.backbone.stages)

    def key(self, input_shape: tuple[int, int] | None = None) -> str:
        """The cache key of the exported graph, also its file name (without ``.onnx``).

        Parameters
        ----------
        input_shape : tuple of int, optional
            (height, width) of a graph exported for one input size; ``None`` for a graph that
            takes any (convolutional networks).

        Returns
        -------
        str
            ``<backbone>-<stage>-<HxW or any>-<16 hex digits>``, the digits a hash of the export
            format, opset, torch version, weights fingerprint and graph node
            (:func:`~simlab.onnx_graphs.graph_key`).

        Examples
        --------
        >>> from simlab.backbones import load_backbone
        >>> from simlab.engines import Embedder
        >>> run = Embedder(load_backbone(), "stage3", "torch")
        >>> run.key(), run.key((224, 224))
        ('mobilenet_v2-stage3-any-...', 'mobilenet_v2-stage3-224x224-...')
        """
        return graph_key(self.backbone.name, self.stage, self._fingerprint, input_shape)

    def _session(self, size):
        if size not in self._graphs:
            self._graphs[size] = (self.key(size), None)
        key = self._graphs[size][0]
        session_key = f"{key} threads={self._threads()} spin={int(self.spinning)}"
        with _LOCK:
            if session_key in _SESSIONS:
                return _SESSIONS[session_key]
            if key in _FAILED:
                raise RuntimeError(_FAILED[key])
            try:
                graph = self._graph(key, size)
            except Exception as e:  # noqa: BLE001 - the exporter raises many types
                reason = (f"{self.backbone.name} up to {self.stage.name} cannot be exported to ONNX "
                          f"({type(e).__name__}: {e}); use engine='torch'")
                _FAILED[key] = reason
                if self.requested != "onnx":
                    warnings.warn(reason.replace("use engine='torch'", "using PyTorch instead"),
                                  UserWarning, stacklevel=4)
                raise RuntimeError(reason) from e
            try:
                session = new_session(graph, threads=self._threads(), spinning=self.spinning)
            except Exception as e:  # noqa: BLE001 - a damaged file raises many types
                if not isinstance(graph, str):
                    raise
                warnings.warn(f"{graph}: damaged exported graph, exporting again ({type(e).__name__})",
                              UserWarning, stacklevel=4)
                Path(graph).unlink(missing_ok=True)
                session = new_session(self._graph(key, size), threads=self._threads(),
                                      spinning=self.spinning)
            _SESSIONS[session_key] = session
            return session

    def _threads(self) -> int:
        return self.threads if self.threads is not None else torch.get_num_threads()

    def _graph(self, key: str, size) -> bytes | str:
        """The exported graph: a file path in the cache, or bytes (no cache, or it is read-only)."""
        path = self.cache_dir / f"{key}.onnx" if self.cache_dir is not None else None
        if path is not None and path.is_file():
            return str(path)
        graph = _GRAPHS[key] if key in _GRAPHS else self._export(size)
        if path is not None:
            try:
                atomic_write(path, graph)
                return str(path)
            except OSError as e:
                warnings.warn(f"{self.cache_dir}: cannot keep the exported ONNX graph ({e}); it is "
                              "kept in memory for this session", UserWarning, stacklevel=5)
        _GRAPHS[key] = graph
        return graph

    def _read(self, key: str) -> bytes:
        if key in _GRAPHS:
            return _GRAPHS[key]
        return (self.cache_dir / f"{key}.onnx").read_bytes()

    def _export(self, size) -> bytes:
        """The backbone up to the stage as an ONNX graph (:func:`~simlab.onnx_graphs.export_graph`)."""
        return export_graph(self.backbone.model, self.stage, size)

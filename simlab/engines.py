"""Inference engines for pooled embeddings: PyTorch eager, or ONNX Runtime on an exported graph.

The lessons look inside the network with PyTorch (feature maps, hooks, stages). To embed many
photos, only one stage's map is needed, and a graph runtime computes it several times faster on
a CPU: ONNX Runtime loads the whole computation once, fuses convolution + batch norm + activation
into one kernel, pre-packs the weights for the CPU's matrix units and plans memory ahead, where
PyTorch eager dispatches every layer one by one from Python.

An :class:`Embedder` turns preprocessed batches into one stage's feature map (and pooled vectors)
with one engine:

- ``"torch"``: :func:`~simlab.features.extract_features` (PyTorch eager);
- ``"onnx"``: the backbone up to the stage, exported once with
  ``torch.onnx.export(..., dynamo=False)`` and run by ONNX Runtime (CPU, float32). The exported
  file is kept in ``<cache root>/onnx/`` (next to the embeddings cache), named by its key:
  backbone, weights fingerprint, stage, input size where the graph needs a fixed one, and the
  export settings. A change of any of them gives a new file; a damaged file is exported again.
- ``"auto"`` (the default everywhere): ``"onnx"`` when ``onnxruntime`` and ``onnx`` are installed
  and the export works for this model, else ``"torch"``.

Pooling (average, max, GeM, masked average) always happens afterwards in PyTorch on the map, so
it is exactly the same code for both engines. The two engines' vectors agree to about 1e-6 of
their scale (float32 rounding in a different order); the tests hold them to 1e-4.

An ``Embedder`` is picklable (the ONNX graph travels as bytes, the session is rebuilt in the new
process on first use): build it once, send it to a worker process (e.g. a Dask worker), then call
it on uint8 batches there.
"""

from __future__ import annotations

import hashlib
import io
import threading
import warnings
import weakref
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torchvision.models.feature_extraction import create_feature_extractor

from .backbones import BUILD_LOCK, Backbone, Stage
from .cache import atomic_write, default_cache_dir
from .features import extract_features, masked_pool, pool_map

__all__ = ["ENGINES", "Embedder", "embedder", "onnx_available", "resolve_engine", "weights_fingerprint"]

ENGINES = ("auto", "torch", "onnx")
#: Part of every exported file's key: bump when the export (graph, opset, names) changes.
EXPORT_FORMAT = 1
OPSET = 17

_SESSIONS: dict[str, object] = {}  # per process: key -> onnxruntime.InferenceSession
_GRAPHS: dict[str, bytes] = {}  # per process: key -> exported graph (for cache_dir=None)
_FINGERPRINTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> (versions, fp)
_FAILED: dict[str, str] = {}  # keys whose export failed in this process -> reason
_LOCK = threading.Lock()


def onnx_available() -> bool:
    """Whether ONNX Runtime and the ``onnx`` package (needed by the export) can be imported."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_engine(engine: str) -> str:
    """``"torch"`` or ``"onnx"``: what ``engine`` (``"auto"``, ``"torch"`` or ``"onnx"``) means here.

    ``"auto"`` is ``"onnx"`` when :func:`onnx_available`, else ``"torch"``. Raises ``ValueError``
    for an unknown engine and ``ImportError`` (saying what to install) for ``"onnx"`` without
    the packages.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine={engine!r}: choose one of {', '.join(ENGINES)}")
    if engine == "torch":
        return "torch"
    if onnx_available():
        return "onnx"
    if engine == "auto":
        return "torch"
    raise ImportError("engine='onnx' needs ONNX Runtime and onnx: pip install onnxruntime onnx "
                      "(or use engine='torch')")


def weights_fingerprint(model: nn.Module) -> str:
    """sha256 hex digest over the names, dtypes, shapes and bytes of ``model``'s state dict.

    Two models get the same fingerprint exactly when they hold the same numbers, whether those
    came from a download, a file or a random initialisation (about 15 ms for MobileNetV2).
    Remembered per model until one of its tensors is replaced or changed in place (PyTorch
    counts in-place changes), so repeated calls on an unchanged model cost almost nothing.
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


def onnx_cache_dir(cache_dir="default") -> Path | None:
    """Where exported graphs are kept: ``<embeddings cache root>/onnx`` (``None``: in memory only).

    ``cache_dir`` is ``"default"`` (:func:`simlab.cache.default_cache_dir`), a folder (the
    root of an embeddings cache) or ``None``.
    """
    if cache_dir is None:
        return None
    if isinstance(cache_dir, str) and cache_dir == "default":
        cache_dir = default_cache_dir()
    return Path(cache_dir).expanduser() / "onnx"



def embedder(backbone: Backbone, stage: str | None = None, engine: str = "auto",
             cache_dir="default") -> Embedder:
    """The :class:`Embedder` for ``(backbone, stage, engine)``, built once and kept on the backbone.

    A new one is built when the backbone's weights changed since (its fingerprint differs), so
    a fine-tuned model never runs an old exported graph. Raises as :class:`Embedder` does.
    """
    name = backbone.resolve_stage(stage).name
    slot = ("engine", name, engine, str(cache_dir))  # beside extract_features' traced extractors
    return backbone.cached(
        slot,
        lambda: Embedder(backbone, name, engine, cache_dir),
        lambda kept: kept.engine == "torch" or kept._fingerprint == weights_fingerprint(backbone.model),
    )

class Embedder:
    """One stage's feature maps, and pooled vectors, of preprocessed batches by one engine.

    ``backbone`` is a :class:`~simlab.backbones.Backbone`; ``stage`` one of its stage names
    (default: the deepest); ``engine`` ``"auto"``, ``"torch"`` or ``"onnx"`` (see the module
    docstring; :attr:`engine` says which one runs). ``cache_dir`` is where an exported graph is
    kept (see :func:`onnx_cache_dir`). ``threads`` is how many threads ONNX Runtime uses within
    a layer (default: ``torch.get_num_threads()``, the same as PyTorch).

    Call it with a batch: uint8 Tensor[N, 3, H, W] (pixels after resize and crop; normalised
    here with the backbone's mean and std) or float Tensor[N, 3, H, W] already normalised
    (:meth:`~simlab.backbones.Backbone.preprocess` output). Picklable: the session is rebuilt
    lazily in each process.

    Raises ``ValueError`` for an unknown engine or stage, ``ImportError`` for ``"onnx"`` without
    ONNX Runtime, and ``RuntimeError`` (with the exporter's reason) when ``engine="onnx"`` and
    the model cannot be exported; ``"auto"`` falls back to ``"torch"`` then, with a warning.
    """

    def __init__(self, backbone: Backbone, stage: str | None = None, engine: str = "auto",
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
        """The stage's map of a batch: Tensor[N, C, h, w] float32 (transformer maps converted)."""
        batch = self.normalise(images)
        if self.engine == "onnx":
            out = self._onnx_map(batch)
            if out is not None:
                return out
        # no_grad, not inference_mode: see features.extract_features
        return extract_features(self.backbone, batch, [self.stage.name])[self.stage.name]

    def __call__(self, images: torch.Tensor, pool: str = "avg", weights: torch.Tensor | None = None
                 ) -> np.ndarray:
        """Pooled vectors of a batch: float32 (N, C).

        ``pool`` is ``"avg"``, ``"max"`` or ``"gem"`` (:func:`~simlab.features.pool_map`); with
        ``weights`` (subject fractions Tensor[N, h, w], e.g. ``preprocess_mask`` output) the
        map is pooled by :func:`~simlab.features.masked_pool` instead.
        """
        fmap = self.feature_map(images)
        with torch.no_grad():
            pooled = pool_map(fmap, pool) if weights is None else masked_pool(fmap, weights)
        return pooled.numpy().astype(np.float32)

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 pixels -> float in [0, 1] -> normalised with the weights' mean and std; float as is."""
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

    def key(self, size: tuple | None = None) -> str:
        """The cache key of the exported graph (also its file name, without ``.onnx``)."""
        shape = "any" if size is None else f"{size[0]}x{size[1]}"
        text = (f"{EXPORT_FORMAT} {OPSET} {torch.__version__} {self.backbone.name} "
                f"{self._fingerprint} {self.stage.node} {shape}")
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        return f"{self.backbone.name}-{self.stage.name}-{shape}-{digest}"

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
                session = self._new_session(graph)
            except Exception as e:  # noqa: BLE001 - a damaged file raises many types
                if not isinstance(graph, str):
                    raise
                warnings.warn(f"{graph}: damaged exported graph, exporting again ({type(e).__name__})",
                              UserWarning, stacklevel=4)
                Path(graph).unlink(missing_ok=True)
                session = self._new_session(self._graph(key, size))
            _SESSIONS[session_key] = session
            return session

    def _threads(self) -> int:
        return self.threads if self.threads is not None else torch.get_num_threads()

    def _new_session(self, graph):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self._threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        if not self.spinning:  # leave the cores to other processes (the DataLoader's workers)
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])

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
        """Export the backbone up to the stage: input ``images`` (N, 3, H, W), output ``features``."""
        with BUILD_LOCK:  # tracing, twice: one thread at a time
            return self._traced_export(size)

    def _traced_export(self, size) -> bytes:
        stage = self.stage
        truncated = _Truncated(create_feature_extractor(self.backbone.model, {stage.node: "features"}))
        h, w = size if size is not None else (224, 224)  # any size: the graph takes all
        example = torch.zeros(2, 3, h, w)
        axes = {0: "batch"} if size is not None else {0: "batch", 2: "height", 3: "width"}
        buffer = io.BytesIO()
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings about Python values in the graph
            torch.onnx.export(truncated.eval(), (example,), buffer, dynamo=False, opset_version=OPSET,
                              input_names=["images"], output_names=["features"],
                              dynamic_axes={"images": axes, "features": {0: "batch"}})
        return buffer.getvalue()


class _Truncated(nn.Module):
    """The traced extractor with one tensor out instead of a dict (what the exporter wants)."""

    def __init__(self, extractor: nn.Module):
        super().__init__()
        self.extractor = extractor

    def forward(self, x):
        return self.extractor(x)["features"]

"""Embedding a photo collection on a Dask cluster: more machines, the same vectors, the same cache.

``embed_folder(..., client=client)`` (:func:`~simlab.collection.embed_folder`) hands the images
it still has to embed to :func:`run_batches`, which splits them into tasks of whole batches,
*paths in, vectors out* (:func:`embed_batch`), and runs them on the cluster's workers
(``album_faces(..., client=client)`` of :mod:`simlab.people` does the same with faces):

- each worker process builds the backbone once, from a small picklable description of it
  (:class:`BatchSpec`: backbone name, weights, stage, pooling, mask method, preprocessing), and
  reuses it for every later task; it checks that what it built is what the client has (same
  weights fingerprint, same preprocessing), so a worker can never add other vectors to the cache;
- the client writes every result to the cache as it arrives (the workers never write, so no two
  processes write one file), in the layout of a run on one machine: a cluster run and a laptop
  run share the cache;
- a worker that dies mid-run costs only its tasks, which Dask runs again elsewhere; interrupting
  the client keeps every batch that had arrived and cancels the rest.

The workers need simlab installed (the same version) and must be able to read the files, for
example on a shared file system. A local cluster uses this machine's cores::

    from dask.distributed import Client, LocalCluster
    client = Client(LocalCluster(n_workers=2, threads_per_worker=1))   # or Client("tcp://scheduler:8786")
    photos = embed_folder("~/Pictures", client=client)

Time on N machines of c cores (one single-threaded worker per core): about
``images x (decode + forward) / (N x c) + tasks x overhead / (N x c)``; :func:`task_overhead`
measures the overhead of one task. Importing ``simlab`` does not import Dask; this module does.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from distributed import Client, as_completed
from tqdm.auto import tqdm

from . import collection
from .backbones import BACKBONES, Backbone, load_backbone
from .cache import restate
from .engines import Embedder, resolve_engine

__all__ = ["ENGINES", "BatchResult", "BatchSpec", "batch_spec", "check_client", "embed_batch",
           "run_batches", "task_overhead"]

#: Inference engines a worker can build (see :mod:`simlab.engines`; "auto" is resolved on the client).
ENGINES = ("torch", "onnx")
KEEP_EMBEDDERS = 2  # configurations a worker process keeps built (an LRU; MobileNetV2 is 14 MB)

_EMBEDDERS: OrderedDict[str, Embedder] = OrderedDict()  # per worker process: spec key -> embedder
_BUILD_LOCK = threading.Lock()  # a worker with several threads builds each embedder once
_builds = 0  # how many embedders this process has built (the tests read it on the workers)


@dataclass(frozen=True)
class BatchSpec:
    """What a worker needs to embed a batch exactly as the client would; small and picklable.

    ``backbone`` is a name of :data:`~simlab.backbones.BACKBONES`, ``weights`` ``"default"``
    (ImageNet, fetched by :mod:`simlab.weights` on the worker) or the path of a weights file the
    workers can read; ``stage``, ``pool`` and ``mask_method`` as in
    :func:`~simlab.collection.embed_folder`; ``transform`` the client's preprocessing module;
    ``config`` the client's cache configuration (weights fingerprint included), which the worker
    checks against its own; ``engine`` one of :data:`ENGINES`.
    """

    backbone: str
    weights: str
    stage: str
    pool: str
    mask_method: str | None
    transform: object = dataclasses.field(repr=False)
    config: dict = dataclasses.field(repr=False)
    engine: str = "torch"

    @property
    def key(self) -> str:
        """The text that identifies the embedder this spec builds (its per-process cache key)."""
        return json.dumps([self.backbone, self.weights, self.engine, self.config], sort_keys=True)


@dataclass
class BatchResult:
    """What one task sends back: vectors for the readable images of its batch, reasons for the rest.

    ``ok`` are positions in the batch (0-based) whose rows are ``vectors`` (float32, (len(ok), C));
    ``errors`` ``(position, reason)`` for the images that could not be embedded, the reason
    naming the path as the task received it. ``seconds`` is the time spent decoding and embedding
    (not building the embedder); ``built`` whether this task built it; ``worker`` its address.
    """

    ok: list[int]
    vectors: np.ndarray
    errors: list[tuple[int, str]]
    seconds: float
    built: bool
    worker: str


def check_client(client) -> None:
    """Raise ``TypeError`` unless ``client`` is a ``dask.distributed.Client``, saying how to make one."""
    if not isinstance(client, Client):
        raise TypeError(
            f"client must be a dask.distributed.Client, such as Client(LocalCluster(n_workers=2, "
            f"threads_per_worker=1)) or Client('tcp://scheduler:8786'); got a {type(client).__name__}"
        )


def batch_spec(backbone: Backbone, stage: str | None = None, pool: str = "avg", mask_method=None,
               engine: str = "auto", config: dict | None = None) -> BatchSpec:
    """The :class:`BatchSpec` that makes workers embed as ``embed_folder(paths, backbone, ...)`` does.

    ``stage`` is a stage name of ``backbone`` (default: the deepest), ``pool`` and
    ``mask_method`` as in :func:`~simlab.collection.embed_folder`; ``config`` the cache
    configuration when the caller has it (computed otherwise). Raises ``ValueError`` for a
    backbone the workers cannot rebuild (random weights, a name simlab does not know), an unknown
    stage, or an engine not in :data:`ENGINES`.
    """
    engine = resolve_engine(engine)  # "auto" means what it means here, on the client
    if engine not in ENGINES:
        raise ValueError(f"engine={engine!r}: a cluster run supports {', '.join(ENGINES)}")
    if backbone.name not in BACKBONES:
        raise ValueError(f"backbone {backbone.name!r}: the workers rebuild the backbone by name, and "
                         f"know {', '.join(BACKBONES)}")
    if backbone.weights == "random":
        raise ValueError(
            "random weights cannot be rebuilt on the workers (each would draw others): save them, "
            "torch.save(backbone.model.state_dict(), 'weights.pth') on a disk the workers can read, "
            f"and use load_backbone({backbone.name!r}, weights='weights.pth')"
        )
    stage = backbone.resolve_stage(stage).name
    if config is None:
        config = collection._config(backbone, stage, pool, mask_method)
    weights = "default" if backbone.weights == "IMAGENET1K_V1" else str(Path(backbone.weights).absolute())
    return BatchSpec(backbone.name, weights, stage, pool, mask_method, backbone.transform, config, engine)


# --- on the workers --------------------------------------------------------------------------------


def embed_batch(spec: BatchSpec, paths: list[str]) -> BatchResult:
    """One task: embed the images at ``paths`` (a batch) as ``spec`` says; runs on a Dask worker.

    The embedder is built on the first call in a process and reused by later calls with the same
    spec. Unreadable images (and, with a mask method, images without a subject) are listed in
    ``errors``, never raised. Raises ``ValueError`` when the embedder built here differs from the
    client's (another weights file, preprocessing or simlab version), naming what differs.
    """
    embed, built = _embedder(spec)
    start = time.perf_counter()
    reduce_to = spec.config["preprocess"].get("jpeg_draft")  # decode as the client would
    images = collection._Images([Path(p) for p in paths], embed.backbone, spec.mask_method, reduce_to)
    batch = collection._collate([images[i] for i in range(len(paths))])
    if batch["index"]:
        vectors = embed(batch["images"], spec.pool, batch["weights"])
    else:
        vectors = np.zeros((0, embed.stage.channels), np.float32)
    return BatchResult(batch["index"], vectors, batch["errors"], time.perf_counter() - start, built,
                       worker_address())


def _embedder(spec: BatchSpec) -> tuple[Embedder, bool]:
    """This process's embedder for ``spec``, and whether it was built just now."""
    global _builds
    with _BUILD_LOCK:
        embed = _EMBEDDERS.get(spec.key)
        if embed is not None:
            _EMBEDDERS.move_to_end(spec.key)
            return embed, False
        embed = _EMBEDDERS[spec.key] = _build(spec)
        while len(_EMBEDDERS) > KEEP_EMBEDDERS:
            _EMBEDDERS.popitem(last=False)
        _builds += 1
        return embed, True


def _build(spec: BatchSpec) -> Embedder:
    if spec.engine not in ENGINES:
        raise ValueError(f"engine={spec.engine!r}: this worker supports {', '.join(ENGINES)}")
    bb = dataclasses.replace(load_backbone(spec.backbone, spec.weights), transform=spec.transform)
    jpeg_draft = spec.config.get("preprocess", {}).get("jpeg_draft") is not None
    here = collection._config(bb, spec.stage, spec.pool, spec.mask_method, jpeg_draft)
    if here != spec.config:
        differ = sorted(k for k in set(here) | set(spec.config) if here.get(k) != spec.config.get(k))
        raise ValueError(
            f"the {spec.backbone} built on worker {worker_address()} from weights={spec.weights!r} "
            f"differs from the client's in {', '.join(differ)}: weights changed in memory must be "
            "saved to a file the workers can read (torch.save(backbone.model.state_dict(), path), "
            "then load_backbone(name, weights=path)), and workers need the same simlab version"
        )
    # The graph is exported on the worker, in memory (its disk may not be the client's); one
    # ONNX Runtime thread per worker thread, as Dask gives each task one core.
    return Embedder(bb, spec.stage, spec.engine, cache_dir=None, threads=1)


def worker_address() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except ValueError:  # called outside a worker (directly, or in a test)
        return "local"


def _empty_task(i: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.zeros(shape, np.float32)


# --- on the client ------------------------------------------------------------------------------------


def run_batches(client, task, paths: list[Path], keys: list[str], store, batch_size: int,
                progress: bool = True, desc: str = "embedding") -> tuple[dict, dict]:
    """Run ``task`` on ``client``'s workers over ``paths`` (one per key); ``({key: rows}, {key: reason})``.

    ``task`` is a picklable callable, ``task(list of path strings) -> BatchResult``, such as
    ``functools.partial(embed_batch, spec)`` (:func:`~simlab.collection.embed_folder`) or the face
    task of :func:`~simlab.people.album_faces`. Tasks of ``batch_size`` paths are submitted at
    once, in order; each result is written to ``store`` (a :class:`~simlab.cache.Store`, or
    ``None``) by this process as it arrives, so an interrupted run keeps every batch that arrived.
    On any exit the tasks still pending are cancelled. Paths are sent absolute (a worker's working
    folder is its own) and reasons are given back with the path as the caller gave it, as in a
    local run. Exceptions raised by a task (e.g. a worker's embedder differing from the client's)
    are raised here; a worker that dies is replaced by Dask, which runs its tasks again.
    ``desc`` labels the progress bar.
    """
    absolute = [str(Path(p).absolute()) for p in paths]
    tag = uuid.uuid4().hex[:8]
    futures = {}
    for j, start in enumerate(range(0, len(paths), batch_size)):
        chunk = range(start, min(start + batch_size, len(paths)))
        name = getattr(task, "func", task).__name__
        future = client.submit(task, [absolute[i] for i in chunk], key=f"{name}-{tag}-{j}")
        futures[future] = chunk
    vectors, errors = {}, {}
    workers = len(client.nthreads())
    try:
        with tqdm(total=len(paths), unit="img", desc=f"{desc} on {workers} Dask workers",
                  disable=not progress) as bar:
            for future in as_completed(futures):
                result = future.result()
                chunk = futures[future]
                for pos, reason in result.errors:
                    i = chunk[pos]
                    errors[keys[i]] = _as_local(reason, Path(absolute[i]), Path(paths[i]))
                done = [keys[chunk[pos]] for pos in result.ok]
                vectors.update(zip(done, result.vectors, strict=True))
                if store is not None and done:
                    store.write(done, result.vectors)
                future.release()  # the worker may drop the result now
                bar.update(len(chunk))
    finally:
        client.cancel(list(futures))  # tasks not done yet: no worker keeps computing them
    return vectors, errors


def _as_local(reason: str, sent: Path, given: Path) -> str:
    """A worker's reason for the file it got as ``sent``, worded for ``given`` as a local run would."""
    reason = restate(reason, sent, given)
    if reason == f"{given}: no such file" and given.exists():
        reason += (" on the Dask workers (they must be able to read the files: a shared file system "
                   "or object storage)")
    return reason


def task_overhead(client, tasks: int = 200, result_shape: tuple[int, ...] = (16, 1280)) -> float:
    """Seconds of a worker thread's time that one task costs on top of its work, measured now.

    Runs ``tasks`` empty tasks (each returning a float32 array of ``result_shape``, by default the
    vectors of a batch of 16 MobileNetV2 images) on ``client``'s cluster after a warm-up, and
    returns ``wall time x worker threads / tasks``: scheduling, sending the task, returning the
    result. A task of b images of t seconds each then spends ``overhead / (b t + overhead)`` of
    its time on overhead. Raises ``ValueError`` when ``tasks < 1`` or the cluster has no worker.
    """
    if tasks < 1:
        raise ValueError(f"tasks={tasks!r}: must be >= 1")
    threads = sum(client.nthreads().values())
    if threads == 0:
        raise ValueError("the cluster has no workers yet: start some (or wait for them) first")
    client.gather(client.map(_empty_task, range(threads), shape=result_shape, pure=False))  # warm-up
    start = time.perf_counter()
    futures = client.map(_empty_task, range(tasks), shape=result_shape, pure=False)
    client.gather(futures)
    seconds = time.perf_counter() - start
    client.cancel(futures)
    return seconds * threads / tasks

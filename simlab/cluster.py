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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .backbones import BACKBONES, Backbone, load_backbone
from .cache import restate
from .engines import Embedder, resolve_engine
from .extras import require
from .pipeline import PhotoDataset, cache_config, collate
from .registry import shelf

distributed = require("distributed")  # Dask's scheduler and workers: the optional extra "cluster"
Client, as_completed = distributed.Client, distributed.as_completed

__all__ = ["ENGINES", "BatchResult", "BatchSpec", "batch_spec", "check_client", "embed_batch",
           "run_batches", "task_overhead"]

#: Inference engines a worker can build (see :mod:`simlab.engines`; "auto" is resolved on the client).
ENGINES = ("torch", "onnx")
KEEP_EMBEDDERS = 2  # configurations a worker process keeps built (an LRU; MobileNetV2 is 14 MB)

_EMBEDDERS: dict[str, Embedder] = shelf("cluster.embedders")  # spec key -> embedder, oldest use first
_BUILD_LOCK = threading.Lock()  # a worker with several threads builds each embedder once
_builds = 0  # how many embedders this process has built (the tests read it on the workers)


@dataclass(frozen=True)
class BatchSpec:
    """What a worker needs to embed a batch exactly as the client would (:func:`batch_spec`); picklable.

    Parameters
    ----------
    backbone : str
        A name of :data:`~simlab.backbones.BACKBONES`.
    weights : str
        ``"default"`` (ImageNet, fetched by :mod:`simlab.weights` on the worker) or the path of a
        weights file the workers can read.
    stage, pool, mask_method
        As in :func:`~simlab.collection.embed_folder`.
    transform : torch.nn.Module
        The client's preprocessing.
    config : dict
        The client's cache configuration (weights fingerprint included), which the worker checks
        against its own.
    engine : {"torch", "onnx"}, optional
        One of :data:`ENGINES`.

    Examples
    --------
    >>> from simlab.backbones import load_backbone
    >>> from simlab.cluster import batch_spec
    >>> batch_spec(load_backbone(), "stage3", engine="torch")  # doctest: +NORMALIZE_WHITESPACE
    BatchSpec(backbone='mobilenet_v2', weights='default', stage='stage3', pool='avg',
              mask_method=None, engine='torch')
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
        """The text that identifies the embedder this spec builds (its per-process cache key).

        Examples
        --------
        >>> from simlab.backbones import load_backbone
        >>> from simlab.cluster import batch_spec
        >>> batch_spec(load_backbone(), engine="torch").key[:38]
        '["mobilenet_v2", "default", "torch", {'
        """
        return json.dumps([self.backbone, self.weights, self.engine, self.config], sort_keys=True)


@dataclass
class BatchResult:
    """What one task sends back: vectors for the readable images of its batch, reasons for the rest.

    Parameters
    ----------
    ok : list of int
        Positions in the batch (0-based) of the images that were embedded.
    vectors : numpy.ndarray
        float32, shape (len(ok), C): their vectors, in that order.
    errors : list of (int, str)
        ``(position, reason)`` for the images that could not be embedded, the reason naming the
        path as the task received it.
    seconds, built, worker
        Time spent decoding and embedding (not building the embedder); whether this task built the
        embedder; the worker's address.

    Examples
    --------
    >>> import numpy as np
    >>> from simlab.cluster import BatchResult
    >>> result = BatchResult([0], np.zeros((1, 4), np.float32), [(1, "b.jpg: no such file")], 0.1, False,
    ...                      "local")
    >>> result.ok, result.errors
    ([0], [(1, 'b.jpg: no such file')])
    """

    ok: list[int]
    vectors: np.ndarray
    errors: list[tuple[int, str]]
    seconds: float
    built: bool
    worker: str


def check_client(client) -> None:
    """Check that ``client`` is a ``dask.distributed.Client``.

    Parameters
    ----------
    client : object

    Raises
    ------
    TypeError
        For anything else, saying how to make a client.

    Examples
    --------
    >>> from simlab.cluster import check_client
    >>> check_client("tcp://scheduler:8786")
    Traceback (most recent call last):
    ...
    TypeError: client must be a dask.distributed.Client, such as Client(LocalCluster(...)) or ...; got a str
    """
    if not isinstance(client, Client):
        raise TypeError(
            f"client must be a dask.distributed.Client, such as Client(LocalCluster(n_workers=2, "
            f"threads_per_worker=1)) or Client('tcp://scheduler:8786'); got a {type(client).__name__}"
        )


def batch_spec(backbone: Backbone, stage: str | None = None, *, pool: str = "avg", mask_method=None,
               engine: str = "auto", config: dict | None = None) -> BatchSpec:
    """The :class:`BatchSpec` that makes workers embed as ``embed_folder(paths, backbone, ...)`` does.

    Parameters
    ----------
    backbone : Backbone
        With weights the workers can rebuild: ImageNet's or a file.
    stage : str, optional
        A stage name of ``backbone``; the deepest by default.
    pool, mask_method : optional
        As in :func:`~simlab.collection.embed_folder`.
    engine : {"auto", "torch", "onnx"}, optional
        ``"auto"`` is resolved here, on the client (:func:`~simlab.engines.resolve_engine`).
    config : dict, optional
        The cache configuration when the caller has it (computed otherwise,
        :func:`~simlab.pipeline.cache_config`).

    Returns
    -------
    BatchSpec

    Raises
    ------
    ValueError
        For a backbone the workers cannot rebuild (random weights, a name simlab does not know),
        an unknown stage, or an engine not in :data:`ENGINES`.

    Examples
    --------
    >>> from simlab.backbones import load_backbone
    >>> from simlab.cluster import batch_spec
    >>> spec = batch_spec(load_backbone(), "stage4", pool="gem", engine="torch")
    >>> spec.stage, spec.pool, spec.engine, spec.config["stage"]
    ('stage4', 'gem', 'torch', 'stage4')
    >>> batch_spec(load_backbone("mobilenet_v2", weights=None), engine="torch")
    Traceback (most recent call last):
    ...
    ValueError: random weights cannot be rebuilt on the workers (each would draw others): save them, ...
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
        config = cache_config(backbone, stage, pool=pool, mask_method=mask_method)
    weights = "default" if backbone.weights == "IMAGENET1K_V1" else str(Path(backbone.weights).absolute())
    return BatchSpec(backbone.name, weights, stage, pool, mask_method, backbone.transform, config, engine)


# --- on the workers --------------------------------------------------------------------------------


def embed_batch(spec: BatchSpec, paths: list[str]) -> BatchResult:
    """One task: embed the images at ``paths`` (a batch) as ``spec`` says; runs on a Dask worker.

    The embedder is built on the first call in a process and reused by later calls with the same
    spec (the two most recent specs are kept).

    Parameters
    ----------
    spec : BatchSpec
        From :func:`batch_spec`, on the client.
    paths : list of str
        The batch's images.

    Returns
    -------
    BatchResult
        Unreadable images (and, with a mask method, images without a subject) are listed in
        ``errors``, never raised.

    Raises
    ------
    ValueError
        When the embedder built here differs from the client's (another weights file,
        preprocessing or simlab version), naming what differs.

    Examples
    --------
    Outside a Dask worker the task runs here, as a test of what a worker would do:

    >>> from simlab.backbones import load_backbone
    >>> from simlab.cluster import batch_spec, embed_batch
    >>> from simlab.kit import samples
    >>> spec = batch_spec(load_backbone(), "stage3", engine="torch")
    >>> result = embed_batch(spec, [str(samples()["chelsea"]), "nowhere.jpg"])
    >>> result.ok, result.vectors.shape, result.errors, result.worker
    ([0], (1, 32), [(1, 'nowhere.jpg: no such file')], 'local')
    """
    embed, built = _embedder(spec)
    start = time.perf_counter()
    reduce_to = spec.config["preprocess"].get("jpeg_draft")  # decode as the client would
    images = PhotoDataset([Path(p) for p in paths], embed.backbone, mask_method=spec.mask_method,
                          reduce_to=reduce_to)
    batch = collate([images[i] for i in range(len(paths))])
    if batch["index"]:
        vectors = embed(batch["images"], spec.pool, subject_fraction=batch["subject_fraction"])
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
            _EMBEDDERS[spec.key] = _EMBEDDERS.pop(spec.key)  # now the most recent use
            return embed, False
        embed = _EMBEDDERS[spec.key] = _build(spec)
        while len(_EMBEDDERS) > KEEP_EMBEDDERS:
            del _EMBEDDERS[next(iter(_EMBEDDERS))]
        _builds += 1
        return embed, True


def _build(spec: BatchSpec) -> Embedder:
    if spec.engine not in ENGINES:
        raise ValueError(f"engine={spec.engine!r}: this worker supports {', '.join(ENGINES)}")
    bb = dataclasses.replace(load_backbone(spec.backbone, weights=spec.weights), transform=spec.transform)
    jpeg_draft = spec.config.get("preprocess", {}).get("jpeg_draft") is not None
    here = cache_config(bb, spec.stage, pool=spec.pool, mask_method=spec.mask_method, jpeg_draft=jpeg_draft)
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
    """The address of the Dask worker running this code, or ``"local"`` outside a worker.

    Returns
    -------
    str

    Examples
    --------
    >>> from simlab.cluster import worker_address
    >>> worker_address()
    'local'
    """
    try:
        from distributed import get_worker

        return get_worker().address
    except ValueError:  # called outside a worker (directly, or in a test)
        return "local"


def _empty_task(i: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.zeros(shape, np.float32)


# --- on the client ------------------------------------------------------------------------------------


def run_batches(client, task, paths: list[Path], keys: list[str], store, *, batch_size: int,
                progress: bool = True, desc: str = "embedding") -> tuple[dict, dict]:
    """Run ``task`` on ``client``'s workers over ``paths``, one task per batch.

    Tasks of ``batch_size`` paths are submitted at once, in order; each result is written to
    ``store`` by this process as it arrives, so an interrupted run keeps every batch that
    arrived. On any exit the tasks still pending are cancelled. Paths are sent absolute (a
    worker's working folder is its own) and reasons are given back with the path as the caller
    gave it, as in a local run. A worker that dies is replaced by Dask, which runs its tasks again.

    Parameters
    ----------
    client : dask.distributed.Client
    task : callable
        Picklable, ``task(list of path strings) -> BatchResult``, such as
        ``functools.partial(embed_batch, spec)`` (:func:`~simlab.collection.embed_folder`) or the
        face task of :func:`~simlab.people.album_faces`.
    paths : list of pathlib.Path
        The files, one per key.
    keys : list of str
        Their content hashes.
    store : simlab.cache.Store or None
        Where results are written.
    batch_size : int
        Paths per task.
    progress, desc : optional
        Show a progress bar (True), labelled ``desc``.

    Returns
    -------
    rows : dict
        ``{key: rows}`` of the files a task could read.
    errors : dict
        ``{key: reason}`` of the others.

    Raises
    ------
    Exception
        What a task raised (e.g. a worker's embedder differing from the client's).

    Examples
    --------
    It needs a cluster (a local one takes a few seconds to start):

    >>> import functools
    >>> from dask.distributed import Client, LocalCluster
    >>> from simlab.backbones import load_backbone
    >>> from simlab.cluster import batch_spec, embed_batch, run_batches
    >>> from simlab.kit import samples
    >>> client = Client(LocalCluster(n_workers=2, threads_per_worker=1))  # doctest: +SKIP
    >>> task = functools.partial(embed_batch, batch_spec(load_backbone(), engine="torch"))
    >>> paths = [samples()["chelsea"], samples()["coffee"]]
    >>> run_batches(client, task, paths, ["a", "b"], None, batch_size=1)[1]  # doctest: +SKIP
    {}
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


def task_overhead(client, *, tasks: int = 200, result_shape: tuple[int, ...] = (16, 1280)) -> float:
    """Seconds of a worker thread's time that one task costs on top of its work, measured now.

    Runs empty tasks on ``client``'s cluster after a warm-up: scheduling, sending the task,
    returning the result. A task of b images of t seconds each then spends
    ``overhead / (b t + overhead)`` of its time on overhead.

    Parameters
    ----------
    client : dask.distributed.Client
    tasks : int, optional
        How many empty tasks.
    result_shape : tuple of int, optional
        Each task returns a float32 array of this shape; by default the vectors of a batch of 16
        MobileNetV2 images.

    Returns
    -------
    float
        ``wall time x worker threads / tasks``.

    Raises
    ------
    ValueError
        When ``tasks < 1`` or the cluster has no worker.

    Examples
    --------
    It needs a cluster (a few seconds to start):

    >>> from dask.distributed import Client, LocalCluster
    >>> from simlab.cluster import task_overhead
    >>> client = Client(LocalCluster(n_workers=2, threads_per_worker=1))  # doctest: +SKIP
    >>> task_overhead(client, tasks=100) < 0.1  # doctest: +SKIP
    True
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

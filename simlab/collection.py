"""Embedding a whole photo folder, once: one vector per image, kept in an on-disk cache.

:func:`embed_folder` turns every image of a folder (or a list of paths) into a vector, as
:func:`~simlab.features.embed` does for a few images, but built for hundreds of them:

- the batches run in threads of this process, one per core at a time: a thread decodes and
  preprocesses its batch's photos (to uint8 pixels; Pillow decodes without holding Python's
  lock), turns them into normalised floats at once (a fraction of the cost per image) and runs
  the network on them. Nothing to start, so a small folder starts at once, and every core is
  busy whether decoding or the network costs more (:func:`embedding_threads`);
- the network runs in ONNX Runtime when it is installed (``engine="auto"``, see
  :mod:`simlab.engines`: the same vectors to 1e-4, several times faster on a CPU), else PyTorch;
- large JPEGs are decoded at a reduced scale by the JPEG decoder itself (``jpeg_draft``): a
  12-megapixel photo needed at 256 pixels decodes 6-8x faster, its vector's cosine to the full
  decode >= 0.998 (``bench/decode.py``);
- a file that cannot be read is skipped and reported (:attr:`Collection.failed`), it never
  aborts the run;
- every vector is kept in a cache on disk, so the next run only embeds what is new.

The cache is keyed by what determines a vector: the file's *content* (its sha256, so a renamed
or moved photo is still found, an edited one is embedded again) and the *configuration*:
backbone, a fingerprint of its weights (random, pretrained and fine-tuned weights all differ),
stage, pooling, subject-mask method and preprocessing (with ``jpeg_draft``). The engine is not
part of the key: both engines give the same vectors. Each configuration has its own folder
(with a readable ``config.json``). After every batch its vectors are written to a new shard file,
atomically (a temporary file, then a rename), so interrupting the run, even by killing the
kernel, loses at most the batches in flight (one per core), and a later run carries on where it
stopped.

With ``client=`` (a ``dask.distributed.Client``) the batches run on a Dask cluster instead
(:mod:`simlab.cluster`): the same vectors, written by this process into the same cache.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torchvision.transforms.functional as TF
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from . import subject
from .backbones import Backbone, load_backbone
from .cache import Store, cached_rows, content_hash, default_cache_dir
from .engines import Embedder, onnx_cache_dir, resolve_engine, weights_fingerprint
from .features import MIN_MASK_PIXELS, POOLS
from .images import load_image
from .validation import whole_number

__all__ = ["IMAGE_SUFFIXES", "Collection", "UnreadableFilesWarning", "content_hash", "embed_folder",
           "image_files", "image_paths"]

#: File name endings (compared lower-case) that :func:`image_files` treats as images.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".heic", ".heif")

CACHE_FORMAT = 1  # bump when the shard layout or the meaning of a vector changes
SHOW_FAILED = 5  # how many unreadable files the warning names
#: The settings of torchvision's ImageClassification preprocessing; they are part of the cache key.
_PREPROCESS_SETTINGS = ("resize_size", "crop_size", "mean", "std", "interpolation", "antialias")


class UnreadableFilesWarning(UserWarning):
    """:func:`embed_folder` skipped files it could not read (they are in :attr:`Collection.failed`).

    A ``UserWarning``, so it is shown by default; a notebook that has shown it once can silence
    the repeats, ``warnings.simplefilter("ignore", UnreadableFilesWarning)``, and still read the
    files in :attr:`Collection.failed` and :meth:`Collection.summary`.
    """


@dataclass
class Collection:
    """The vectors of a folder of images, from :func:`embed_folder`.

    ``paths`` are the images that were embedded (sorted for a folder, in the given order for a
    list), ``vectors`` a float32 array (N, C) whose row i belongs to ``paths[i]``. ``failed``
    lists ``(path, reason)`` for files that could not be read (or had no subject, with a mask
    method). ``computed`` counts the images whose vector was computed in this call,
    ``from_cache`` those read from the cache; ``computed + from_cache == len(paths)``.
    ``cache_dir`` is this configuration's cache folder (``None`` without cache) and ``config``
    the configuration (backbone, weights, stage, pool, mask method, preprocessing).
    """

    paths: list[Path]
    vectors: np.ndarray
    failed: list[tuple[Path, str]]
    computed: int
    from_cache: int
    cache_dir: Path | None
    config: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.paths)

    def summary(self) -> str:
        """One line: how many images, where their vectors came from, which files failed."""
        text = f"{len(self.paths)} images ({self.from_cache} from cache, {self.computed} embedded)"
        if self.failed:
            names = ", ".join(p.name for p, _ in self.failed[:SHOW_FAILED])
            more = ", ..." if len(self.failed) > SHOW_FAILED else ""
            text += f", {len(self.failed)} unreadable: {names}{more}"
        return text

    def __repr__(self) -> str:
        shape = "x".join(map(str, self.vectors.shape))
        return f"Collection({self.summary()}; vectors {shape})"


def image_files(folder, recursive: bool = True) -> list[Path]:
    """The image files in ``folder`` (and its subfolders when ``recursive``), sorted by path.

    A file counts as an image by its name ending (:data:`IMAGE_SUFFIXES`, any case); its
    content is not checked here. Hidden files and folders (names starting with ``.``, such as
    ``.ipynb_checkpoints`` or macOS ``._photo.jpg`` resource files) are skipped.

    Raises ``ValueError`` naming ``folder`` when it does not exist or is not a directory.
    """
    root = Path(folder).expanduser()
    if not root.exists():
        raise ValueError(f"{root}: no such folder")
    if not root.is_dir():
        raise ValueError(f"{root}: is a file, not a folder; pass a folder or a list of paths")
    found = root.rglob("*") if recursive else root.iterdir()
    return sorted(
        p for p in found
        if p.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
        and p.is_file()
    )


def embed_folder(folder_or_paths, backbone="mobilenet_v2", stage=None, pool="avg", mask_method=None,
                 cache_dir="default", batch_size=16, num_workers=None, progress=True, jpeg_draft=True,
                 engine="auto", client=None) -> Collection:
    """Embed every image of a folder (or a list of paths): a :class:`Collection` of vectors.

    ``folder_or_paths`` is a folder (its images, see :func:`image_files`) or a list of paths.
    ``backbone`` is a name for :func:`~simlab.backbones.load_backbone` or a
    :class:`~simlab.backbones.Backbone`; ``stage`` one of its stage names (default: the
    deepest); ``pool`` is ``"avg"``, ``"max"`` or ``"gem"`` (:func:`~simlab.features.pool_map`).
    Row i of ``vectors`` (float32, (N, C), C the stage's channels) equals, to float rounding,
    ``embed(backbone, [paths[i]], stage, pool)``.

    ``mask_method``: ``None`` pools the whole image; a method of
    :func:`~simlab.subject.segment_subject` (e.g. ``"grabcut"``) pools only the subject
    (masked average pooling, as ``embed(..., masks=...)``; ``pool`` must be ``"avg"``). A photo
    where no subject is found, or none inside the centre crop, ends up in ``failed``.

    ``cache_dir``: ``"default"`` (:func:`default_cache_dir`), a folder, or ``None`` (no cache).
    Vectors are found again by file content and configuration (see the module docstring):
    a second run on an unchanged folder runs no network at all. Files that failed are tried
    again on every run. Identical files are embedded once.

    Up to ``batch_size`` images go through the network together. By default
    (``num_workers=None``) threads of this process decode and embed whole batches, one per core
    at a time (:func:`embedding_threads`); the batches have even sizes and there are as many as a
    multiple of the cores, so a small folder keeps every core busy too (16 photos on 2 cores: two
    batches of 8). ``num_workers`` asks for that many PyTorch
    ``DataLoader`` worker processes to decode instead, the network running in this process on
    batches of ``batch_size`` (as with a ``mask_method`` or a backbone with a preprocessing of
    its own, see :func:`thread_split`); 0, and any run of those that fits in one batch, decodes
    in the calling thread. ``progress=False`` hides the progress bar.

    ``jpeg_draft=True`` decodes a JPEG at least four times the size the network needs at the
    JPEG decoder's reduced scale (1/2, 1/4, 1/8) that still keeps twice that size, then resizes
    as usual (``load_image(path, reduce_to=2 * resize size)``): 6-8x faster on phone photos,
    cosine to the full decode >= 0.998 measured on 12-MP photos and real large JPEGs, and no
    change at all for photos under 1024 pixels (short side). ``False`` always decodes in full.
    It is part of the cache key.

    ``engine``: ``"auto"`` (ONNX Runtime when installed, else PyTorch), ``"onnx"`` or
    ``"torch"`` (see :mod:`simlab.engines`); the exported graph is kept in ``<cache_dir>/onnx``
    (with ``cache_dir=None``, in memory: exported once per process).

    ``client``: a ``dask.distributed.Client`` runs the batches on its cluster's workers instead
    (see :mod:`simlab.cluster`): one task per batch of ``batch_size`` paths, each worker builds
    the backbone once (by name and weights: ``"default"`` or a weights file the workers can
    read) and reuses it. The vectors, their order, the cache and the unreadable files are those
    of a run without ``client`` (vectors equal to 1e-5); ``num_workers`` is not used. The
    workers must be able to read the files (a shared file system or object storage).

    Unreadable files never stop the run: they are listed in ``failed`` with the reason and one
    :class:`UnreadableFilesWarning` (a ``UserWarning``) names them at the end. A damaged cache
    file is skipped with a warning.
    Raises ``ValueError`` for a missing or empty folder, an empty list, an unknown backbone,
    stage, pool, mask method or engine, ``pool != "avg"`` with a mask method, ``batch_size < 1``
    or ``num_workers < 0``, and with ``client`` for random weights (save them to a file first);
    ``ImportError`` for ``engine="onnx"`` without ONNX Runtime; ``TypeError`` for a backbone that
    is neither a name nor a Backbone, or a ``client`` that is not a Dask ``Client``; ``OSError``
    when the cache folder cannot be created.
    """
    _check_options(pool, mask_method, batch_size, num_workers)
    resolved_engine = resolve_engine(engine)  # an unknown engine fails before any work
    paths = image_paths(folder_or_paths)
    bb = load_backbone(backbone) if isinstance(backbone, str) else backbone
    if not isinstance(bb, Backbone):
        raise TypeError(f"backbone must be a name or a Backbone, got a {type(backbone).__name__}")
    stage_name = bb.resolve_stage(stage).name
    config = _config(bb, stage_name, pool, mask_method, jpeg_draft)
    if client is not None:
        from . import cluster  # Dask is imported only when a cluster is used

        cluster.check_client(client)
        spec = cluster.batch_spec(bb, stage_name, pool, mask_method, engine=resolved_engine, config=config)

    if cache_dir is None:
        store = None
    else:
        root = default_cache_dir() if isinstance(cache_dir, str) and cache_dir == "default" else cache_dir
        cache_dir = root  # the exported ONNX graph goes beside the vectors
        store = _store(Path(root).expanduser(), config, bb.stage(stage_name).channels, bb.weights)

    def compute(todo_paths, todo_keys):  # nothing missing: no task, no DataLoader, no forward pass
        if client is not None:
            return cluster.run_batches(client, functools.partial(cluster.embed_batch, spec), todo_paths,
                                       todo_keys, store, batch_size, progress)
        return _run(bb, stage_name, pool, mask_method, todo_paths, todo_keys, store, batch_size,
                    num_workers, progress, config["preprocess"].get("jpeg_draft"), engine, cache_dir)

    found = cached_rows(paths, store, compute)
    kept = [paths[i] for i in found.rows]
    rows = list(found.rows.values())
    channels = bb.stage(stage_name).channels
    vectors = np.stack(rows).astype(np.float32, copy=False) if rows else np.zeros((0, channels), np.float32)
    result = Collection(kept, vectors, [(paths[i], reason) for i, reason in found.failed.items()],
                        found.computed, found.from_cache, store.directory if store else None, config)
    if result.failed:
        shown = "; ".join(reason for _, reason in result.failed[:SHOW_FAILED])
        more = f"; and {len(result.failed) - SHOW_FAILED} more" if len(result.failed) > SHOW_FAILED else ""
        warnings.warn(
            f"{len(result.failed)} of {len(paths)} files could not be embedded and were skipped "
            f"(see Collection.failed): {shown}{more}",
            UnreadableFilesWarning,
            stacklevel=2,
        )
    return result


# --- checking the arguments -------------------------------------------------------------------


def _check_options(pool, mask_method, batch_size, num_workers) -> None:
    if pool not in POOLS:
        raise ValueError(f"pool={pool!r}: choose one of {', '.join(POOLS)}")
    if mask_method is not None:
        if mask_method not in subject.METHODS:
            raise ValueError(
                f"mask_method={mask_method!r}: use None (the whole image) or one of "
                f"{', '.join(subject.METHODS)}"
            )
        if pool != "avg":
            raise ValueError(
                f"pool={pool!r} with mask_method={mask_method!r}: masked pooling is an average "
                "over the subject, use pool='avg' (the default)"
            )
    whole_number(batch_size, "batch_size")
    if num_workers is not None:
        whole_number(num_workers, "num_workers", minimum=0)


def image_paths(folder_or_paths) -> list[Path]:
    """The images a call is about: a folder's (:func:`image_files`) or the given paths, as ``Path``.

    Raises ``ValueError`` naming the folder when it is missing or holds no image file, and for an
    empty list.
    """
    if isinstance(folder_or_paths, (str, os.PathLike)):
        paths = image_files(folder_or_paths)
        if not paths:
            raise ValueError(
                f"no image files in {Path(folder_or_paths).expanduser()} "
                f"(looked for {' '.join(IMAGE_SUFFIXES)}, in subfolders too)"
            )
        return paths
    paths = [Path(p) for p in folder_or_paths]
    if not paths:
        raise ValueError("no images given: the list of paths is empty")
    return paths


def embedding_threads(cores: int | None = None) -> int:
    """How many threads ``embed_folder`` runs batches on: one per CPU core.

    Each thread takes a whole batch: decodes and preprocesses its photos, then runs the network
    on them (ONNX Runtime on that one thread). Threads, not processes: Pillow decodes and
    resizes, and ONNX Runtime and PyTorch compute, without holding Python's lock, so threads
    work in parallel as processes would, but start in microseconds (a DataLoader worker takes
    ~0.1 s, more than a small folder's decoding) and hand back vectors without a copy. A whole
    batch per thread, rather than decoding threads beside one forward pass on every core: each
    core works on its own, never waiting for another, whether decoding costs more (a 12-MP JPEG
    takes ~35 ms on one core even at reduced size, its forward pass ~10 ms) or the network does
    (a 1024 x 768 JPEG decodes and resizes in ~8 ms); two batches of 8 on one thread each also
    ran faster than one of 16 on two threads (5.1 against 5.8 ms per image). Measured on 2 cores
    in one run (MobileNetV2, batches of 16 at most; 16 photos make two batches of 8), ms per
    photo, median of 9 interleaved rounds started on an idle machine (5 for PyTorch): a batch per
    thread / 2 decoding threads beside a forward pass on 2 ONNX Runtime threads / before (1
    DataLoader worker process x 1 ONNX Runtime thread; a single batch all in the calling thread)
    / ``load_image(path, reduce_to=512)`` alone on one core:

    - 64 12-MP JPEGs: 26.5 / 28.7 / 46.7 / 36.7;
    - 16 12-MP JPEGs: 27.4 / 29.0 / 49.0 / 38.2;
    - 64 JPEGs of 1024 x 768: 11.0 / 11.8 / 17.3 / 5.5;
    - 16 JPEGs of 1024 x 768: 10.8 / 13.1 / 15.8 / 4.1;
    - ``engine="torch"`` (PyTorch's own threads within each batch), 64 12-MP JPEGs: 44.1 / 52.3
      / 61.5; 64 of 1024 x 768: 27.1 / 35.7 / 35.8.

    Three threads, or two ONNX Runtime threads per batch, measured the same as two within noise
    (by hand, in another run).
    """
    return cores or _cores()


def _cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def thread_split(engine: str, cores: int | None = None) -> tuple[int, int]:
    """``(DataLoader workers, ONNX Runtime threads)`` when ``embed_folder`` decodes in worker processes.

    It uses this many workers with a ``mask_method`` (segmenting a photo takes far longer than
    starting a process, and not every segmenter is safe to share between threads) or a
    preprocessing of one's own (a transform other than torchvision's standard one may call torch
    modules, which must not run while another thread traces the network), and ``num_workers``
    workers when that is given; otherwise threads of its own process decode and embed
    (:func:`embedding_threads`).

    Half the cores decode (worker processes), the other half run the network (ONNX Runtime's
    threads do not busy-wait between layers when workers run). Measured on 2 cores by
    ``bench/collection.py``, images/s with workers x threads, on a machine shared with other jobs
    (the ranking moves with their load):

    - album, load 9-15: 1 x 1 22.8, 1 x 2 15.8, 0 x 2 14.7, 2 x 1 14.3, 2 x 2 10.0;
    - album, load ~3: 1 x 1 49.7, 1 x 2 43.1, 2 x 2 42.2, 2 x 1 38.4, 0 x 2 28.9;
    - album, load ~3 falling: 0 x 2 109.8, 1 x 2 99.0, 2 x 2 90.8, 1 x 1 79.1, 2 x 1 75.1;
    - 12-MP photos, load ~3: 1 x 1 20.5, 0 x 2 20.4, 1 x 2 17.7, 2 x 1 14.5, 2 x 2 10.9.

    1 x 1 was best or tied in three of four runs. ``engine="torch"`` keeps PyTorch's own thread
    count; only the workers follow this split.
    """
    cores = cores or os.cpu_count() or 1
    if cores <= 1:
        return 0, 1
    workers = cores // 2
    return workers, cores - workers


# --- the configuration --------------------------------------------------------------------------


def _config(bb: Backbone, stage_name: str, pool: str, mask_method, jpeg_draft: bool = True) -> dict:
    """Everything that determines a vector, besides the file: the key of a cache folder."""
    t = bb.transform
    if _standard(t):
        prep = {n: _plain(getattr(t, n)) for n in _PREPROCESS_SETTINGS}
        # the short side a large JPEG is decoded at, at least (None: always in full)
        prep["jpeg_draft"] = 2 * max(_plain(t.resize_size)) if jpeg_draft else None
    else:  # a transform of the student's own: its repr is the best description there is
        prep = {"transform": repr(t)}
    config = {
        "format": CACHE_FORMAT,
        "backbone": bb.name,
        "weights_sha256": weights_fingerprint(bb.model),
        "stage": stage_name,
        "pool": pool,
        "mask_method": mask_method,
        "preprocess": prep,
    }
    if mask_method is not None:
        # The masks depend on these settings, and "auto" on which segmenters are installed.
        config["segmentation"] = {
            "grabcut": [subject.GRABCUT_ITERATIONS, subject.GRABCUT_MARGIN, subject.GRABCUT_MAX_SIDE],
            "person_threshold": subject.PERSON_THRESHOLD,
            "auto": {"candidates": subject.available_methods(), "min_share": subject.MIN_SHARE,
                     "face_min_score": subject.FACE_MIN_SCORE} if mask_method == "auto" else None,
        }
    return config


def _plain(value):
    """A JSON-friendly copy of a transform setting (lists, numbers, enum values)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return getattr(value, "value", value)


def _store(root: Path, config: dict, channels: int, weights_origin: str) -> Store:
    """The cache folder of this configuration, named backbone-stage-(mask method or pool)-digest."""
    name = (config["backbone"], config["stage"], config["mask_method"] or config["pool"])
    note = "vectors of simlab.collection.embed_folder; safe to delete"
    return Store(root, config, channels, name, about={"weights_origin": weights_origin, "note": note})


# --- the forward passes -------------------------------------------------------------------------


class _Images(Dataset):
    """Item i: ``(i, Tensor[3, H, W] or None, subject weights Tensor[H, W] or None, error or None)``.

    Runs in embed_folder's threads or in the DataLoader's worker processes: load, segment (with a mask
    method), preprocess.
    """

    def __init__(self, paths: list[Path], bb: Backbone, mask_method, reduce_to: int | None = None):
        self.paths = paths
        self.mask_method = mask_method
        self.reduce_to = reduce_to
        # Only the preprocessing is needed here; leave the network behind (workers started by
        # "spawn", as on macOS and Windows, receive a pickled copy of this object).
        self.prep = bb.preprocessing_only()

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        path = self.paths[i]
        try:
            photo = load_image(path, reduce_to=self.reduce_to)
            weights = self._subject(photo, path) if self.mask_method is not None else None
            return i, self._pixels(photo), weights, None
        except ValueError as e:  # ImageError, or this photo's segmentation failed
            return i, None, None, str(e)

    def _pixels(self, photo) -> torch.Tensor:
        """The network's view of ``photo``: uint8 Tensor[3, H, W] for torchvision's standard
        preprocessing (resize and crop here; to float and normalise per batch in
        :meth:`~simlab.engines.Embedder.normalise`, the same arithmetic at a fraction of the
        cost), else float."""
        t = self.prep.transform
        if not _standard(t):
            return self.prep.preprocess(photo)
        photo = TF.center_crop(TF.resize(photo, t.resize_size, interpolation=t.interpolation,
                                         antialias=t.antialias), t.crop_size)
        return TF.pil_to_tensor(photo)

    def _subject(self, photo, path: Path) -> torch.Tensor:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "no subject found" is reported as a failed file instead
            mask = subject.segment_subject(photo, self.mask_method)
        if not mask.any():
            raise ValueError(f"{path}: segment_subject(method={self.mask_method!r}) found no subject")
        weights = self.prep.preprocess_mask(mask)
        if float(weights.sum()) < MIN_MASK_PIXELS:
            raise ValueError(f"{path}: the subject lies outside the centre crop the network sees")
        return weights


def _standard(transform) -> bool:
    """Whether ``transform`` is torchvision's ImageClassification preprocessing (or shaped like it)."""
    return all(hasattr(transform, n) for n in _PREPROCESS_SETTINGS)


def _collate(items) -> dict:
    """Stack the readable items of a batch; keep the errors of the others."""
    ok = [it for it in items if it[3] is None]
    return {
        "index": [it[0] for it in ok],
        "images": torch.stack([it[1] for it in ok]) if ok else None,
        "weights": torch.stack([it[2] for it in ok]) if ok and ok[0][2] is not None else None,
        "errors": [(it[0], it[3]) for it in items if it[3] is not None],
    }


def _run(bb, stage_name, pool, mask_method, paths, keys, store, batch_size, num_workers, progress,
         reduce_to, engine, cache_dir):
    """Embed ``paths`` (one per key); returns ``({key: vector}, {key: error message})``."""
    embed = Embedder(bb, stage_name, engine, cache_dir=onnx_cache_dir(cache_dir))
    images = _Images(paths, bb, mask_method, reduce_to)
    if num_workers is None and mask_method is None and _standard(bb.transform):
        done = _in_threads(images, embed, pool, batch_size)
    else:
        done = _in_processes(images, embed, pool, batch_size, num_workers)
    vectors, errors = {}, {}
    with closing(done), tqdm(total=len(paths), unit="img", desc="embedding", disable=not progress) as bar:
        for batch, rows in done:
            for i, reason in batch["errors"]:
                errors[keys[i]] = reason
            if batch["index"]:
                finished = [keys[i] for i in batch["index"]]
                vectors.update(zip(finished, rows, strict=True))
                if store is not None:
                    store.write(finished, rows)
            bar.update(len(batch["index"]) + len(batch["errors"]))
    return vectors, errors


def _forward(embed: Embedder, batch: dict, pool: str):
    """The vectors of a collated batch (None when none of its files could be read)."""
    return embed(batch["images"], pool, batch["weights"]) if batch["index"] else None


def _in_threads(images: _Images, embed: Embedder, pool: str, batch_size: int):
    """``(batch, vectors)`` for every batch, in order: each decoded and embedded by one thread of
    this process, as many batches at once as :func:`embedding_threads`."""
    threads = embedding_threads()
    if embed.engine == "onnx":
        embed.threads = 1  # a core per batch: the other cores run the other batches

    def one(indices: range):  # the first forward pass builds the session or extractor, once (BUILD_LOCK)
        batch = _collate([images[i] for i in indices])
        return batch, _forward(embed, batch, pool)

    ranges = _even_batches(len(images), batch_size, threads)
    workers = ThreadPoolExecutor(min(threads, len(ranges)), thread_name_prefix="simlab-embed")
    pending: deque = deque()
    try:
        for indices in ranges:
            pending.append(workers.submit(one, indices))
            if len(pending) > threads:  # every thread busy and one batch waiting: memory stays bounded
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:  # also when the caller stops early (an error, a KeyboardInterrupt): drop what is queued
        workers.shutdown(wait=True, cancel_futures=True)


def _even_batches(n: int, batch_size: int, threads: int) -> list[range]:
    """Indices 0..n-1 in batches of at most ``batch_size``, as many as a multiple of ``threads``
    (while there are photos), their sizes differing by one at most: the threads finish together
    (16 photos, 2 threads: 8 and 8)."""
    count = -(-n // batch_size)
    count = min(n, -(-count // threads) * threads)
    return [range(i * n // count, (i + 1) * n // count) for i in range(count)]


def _in_processes(images: _Images, embed: Embedder, pool: str, batch_size: int, num_workers):
    """``(batch, vectors)`` for every batch, in order: decoded by DataLoader worker processes,
    embedded in this thread."""
    workers, threads = thread_split(embed.engine)
    workers = workers if num_workers is None else num_workers
    if len(images) <= batch_size:
        workers = 0  # a single batch: nothing to overlap, and starting workers costs time
    if workers and embed.engine == "onnx":
        embed.threads, embed.spinning = threads, False  # leave the cores to the workers between layers
    for batch in DataLoader(images, batch_size=batch_size, num_workers=workers, collate_fn=_collate):
        yield batch, _forward(embed, batch, pool)

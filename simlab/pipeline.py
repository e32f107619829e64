"""The embedding pipeline shared by :func:`~simlab.collection.embed_folder` and :mod:`simlab.cluster`.

- :class:`PhotoDataset`: photo i as the network's uint8 pixels (decoded at reduced size when
  large), with the subject fraction of each pixel under a mask method, or the reason it cannot
  be read;
- :func:`collate`: a batch of those, readable photos stacked, errors kept;
- :func:`cache_config`: everything besides the file that decides a vector (the cache key);
- :func:`embedded_batches`: every batch decoded and embedded, in threads of this process (one
  per core, :func:`embedding_threads`) or with DataLoader worker processes (:func:`thread_split`).
"""

from __future__ import annotations

import os
import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
import torchvision.transforms.functional as TF
from torch.utils.data import DataLoader, Dataset

from . import subject
from .backbones import Backbone
from .engines import Embedder, weights_fingerprint
from .features import MIN_MASK_PIXELS
from .images import load_image

__all__ = ["CACHE_FORMAT", "PhotoDataset", "cache_config", "collate", "embedded_batches", "embedding_threads",
           "is_standard_transform", "thread_split"]

CACHE_FORMAT = 1  # bump when the shard layout or the meaning of a vector changes
#: The settings of torchvision's ImageClassification preprocessing; they are part of the cache key.
_PREPROCESS_SETTINGS = ("resize_size", "crop_size", "mean", "std", "interpolation", "antialias")


def embedding_threads(cores: int | None = None) -> int:
    """How many threads ``embed_folder`` runs batches on: one per CPU core.

    Each thread takes a whole batch: decodes and preprocesses its photos, then runs the network
    on them (ONNX Runtime on that one thread). Threads, not processes: Pillow decodes and
    resizes, and ONNX Runtime and PyTorch compute, without holding Python's lock, so threads
    work in parallel as processes would, but start in microseconds (a DataLoader worker takes
    ~0.1 s, more than a small folder's decoding) and hand back vectors without a copy.

    Parameters
    ----------
    cores : int, optional
        The cores to use; by default those this process may run on.

    Returns
    -------
    int

    Notes
    -----
    A whole batch per thread, rather than decoding threads beside one forward pass on every
    core: each core works on its own, never waiting for another, whether decoding costs more (a
    12-MP JPEG takes ~35 ms on one core even at reduced size, its forward pass ~10 ms) or the
    network does (a 1024 x 768 JPEG decodes and resizes in ~8 ms); two batches of 8 on one thread
    each also ran faster than one of 16 on two threads (5.1 against 5.8 ms per image). Measured
    on 2 cores in one run (MobileNetV2, batches of 16 at most; 16 photos make two batches of 8),
    ms per photo, median of 9 interleaved rounds started on an idle machine (5 for PyTorch): a
    batch per thread / 2 decoding threads beside a forward pass on 2 ONNX Runtime threads /
    before (1 DataLoader worker process x 1 ONNX Runtime thread; a single batch all in the
    calling thread) / ``load_image(path, reduce_to=512)`` alone on one core:

    - 64 12-MP JPEGs: 26.5 / 28.7 / 46.7 / 36.7;
    - 16 12-MP JPEGs: 27.4 / 29.0 / 49.0 / 38.2;
    - 64 JPEGs of 1024 x 768: 11.0 / 11.8 / 17.3 / 5.5;
    - 16 JPEGs of 1024 x 768: 10.8 / 13.1 / 15.8 / 4.1;
    - ``engine="torch"`` (PyTorch's own threads within each batch), 64 12-MP JPEGs: 44.1 / 52.3
      / 61.5; 64 of 1024 x 768: 27.1 / 35.7 / 35.8.

    Three threads, or two ONNX Runtime threads per batch, measured the same as two within noise
    (by hand, in another run).

    Examples
    --------
    >>> from simlab.pipeline import embedding_threads
    >>> embedding_threads(4), embedding_threads() >= 1
    (4, True)
    """
    return cores or _cores()


def _cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def thread_split(cores: int | None = None) -> tuple[int, int]:
    """``(DataLoader workers, ONNX Runtime threads)`` when ``embed_folder`` decodes in worker processes.

    It does with a ``mask_method`` (segmenting a photo takes far longer than starting a process,
    and not every segmenter is safe to share between threads) or a preprocessing of one's own (a
    transform other than torchvision's standard one may call torch modules, which must not run
    while another thread traces the network), and with ``num_workers`` given (that many
    workers); otherwise threads of its own process decode and embed (:func:`embedding_threads`).
    Half the cores decode, the other half run the network (ONNX Runtime's threads do not
    busy-wait between layers when workers run). ``engine="torch"`` keeps PyTorch's own thread
    count; only the workers follow this split.

    Parameters
    ----------
    cores : int, optional
        ``os.cpu_count()`` by default.

    Returns
    -------
    workers, threads : int

    Notes
    -----
    Measured on 2 cores by ``bench/collection.py``, images/s with workers x threads, on a machine
    shared with other jobs (the ranking moves with their load):

    - album, load 9-15: 1 x 1 22.8, 1 x 2 15.8, 0 x 2 14.7, 2 x 1 14.3, 2 x 2 10.0;
    - album, load ~3: 1 x 1 49.7, 1 x 2 43.1, 2 x 2 42.2, 2 x 1 38.4, 0 x 2 28.9;
    - album, load ~3 falling: 0 x 2 109.8, 1 x 2 99.0, 2 x 2 90.8, 1 x 1 79.1, 2 x 1 75.1;
    - 12-MP photos, load ~3: 1 x 1 20.5, 0 x 2 20.4, 1 x 2 17.7, 2 x 1 14.5, 2 x 2 10.9.

    1 x 1 was best or tied in three of four runs.

    Examples
    --------
    >>> from simlab.pipeline import thread_split
    >>> thread_split(1), thread_split(2), thread_split(8)
    ((0, 1), (1, 1), (4, 4))
    """
    cores = cores or os.cpu_count() or 1
    if cores <= 1:
        return 0, 1
    workers = cores // 2
    return workers, cores - workers


# --- the configuration --------------------------------------------------------------------------


def cache_config(backbone: Backbone, stage_name: str, *, pool: str = "avg", mask_method=None,
                 jpeg_draft: bool = True) -> dict:
    """Everything that determines a vector, besides the file: the key of a cache folder.

    Parameters
    ----------
    backbone : Backbone
        Its name, weights fingerprint and preprocessing are part of the key.
    stage_name : str
        A stage name of ``backbone``.
    pool, mask_method, jpeg_draft : optional
        As for :func:`~simlab.collection.embed_folder`.

    Returns
    -------
    dict
        JSON-serialisable: format, backbone, weights_sha256, stage, pool, mask_method,
        preprocess, and with a mask method the segmentation settings.

    Examples
    --------
    >>> from simlab.backbones import load_backbone
    >>> from simlab.pipeline import cache_config
    >>> config = cache_config(load_backbone(), "stage5")
    >>> config["stage"], config["preprocess"]["crop_size"], config["preprocess"]["jpeg_draft"]
    ('stage5', [224], 512)
    """
    t = backbone.transform
    if is_standard_transform(t):
        prep = {n: _plain(getattr(t, n)) for n in _PREPROCESS_SETTINGS}
        # the short side a large JPEG is decoded at, at least (None: always in full)
        prep["jpeg_draft"] = 2 * max(_plain(t.resize_size)) if jpeg_draft else None
    else:  # a transform of the student's own: its repr is the best description there is
        prep = {"transform": repr(t)}
    config = {
        "format": CACHE_FORMAT,
        "backbone": backbone.name,
        "weights_sha256": weights_fingerprint(backbone.model),
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


class PhotoDataset(Dataset):
    """The photos at ``paths`` as the network's input, one item per photo, errors kept.

    Item i is ``(i, pixels, subject_fraction, error)``: the photo loaded, segmented (with a mask
    method) and preprocessed, or ``(i, None, None, reason)`` when it cannot be read or has no
    subject. Runs in ``embed_folder``'s threads or in a DataLoader's worker processes.

    Parameters
    ----------
    paths : list of pathlib.Path
        The photos.
    backbone : Backbone
        Whose preprocessing is applied (the network itself is left behind).
    mask_method : str, optional
        A method of :func:`~simlab.subject.segment_subject`; ``None`` for the whole photo.
    reduce_to : int, optional
        Decode a JPEG at reduced size, its short side at least this (see
        :func:`~simlab.images.load_image`).

    Examples
    --------
    >>> from pathlib import Path
    >>> from simlab.backbones import load_backbone
    >>> from simlab.kit import samples
    >>> from simlab.pipeline import PhotoDataset
    >>> photos = PhotoDataset([samples()["chelsea"], Path("nowhere.jpg")], load_backbone())
    >>> i, pixels, subject_fraction, error = photos[0]
    >>> pixels.dtype, tuple(pixels.shape), subject_fraction, error
    (torch.uint8, (3, 224, 224), None, None)
    >>> photos[1]
    (1, None, None, 'nowhere.jpg: no such file')
    """

    def __init__(self, paths: list[Path], backbone: Backbone, *, mask_method=None,
                 reduce_to: int | None = None):
        self.paths = paths
        self.mask_method = mask_method
        self.reduce_to = reduce_to
        # Only the preprocessing is needed here; leave the network behind (workers started by
        # "spawn", as on macOS and Windows, receive a pickled copy of this object).
        self.prep = backbone.preprocessing_only()

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        path = self.paths[i]
        try:
            photo = load_image(path, reduce_to=self.reduce_to)
            fraction = self._subject(photo, path) if self.mask_method is not None else None
            return i, self._pixels(photo), fraction, None
        except ValueError as e:  # ImageError, or this photo's segmentation failed
            return i, None, None, str(e)

    def _pixels(self, photo) -> torch.Tensor:
        """The network's view of ``photo``: uint8 Tensor[3, H, W] for torchvision's standard
        preprocessing (resize and crop here; to float and normalise per batch in
        :meth:`~simlab.engines.Embedder.normalise`, the same arithmetic at a fraction of the
        cost), else float."""
        t = self.prep.transform
        if not is_standard_transform(t):
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
        fraction = self.prep.preprocess_mask(mask)
        if float(fraction.sum()) < MIN_MASK_PIXELS:
            raise ValueError(f"{path}: the subject lies outside the centre crop the network sees")
        return fraction


def is_standard_transform(transform) -> bool:
    """Whether ``transform`` is torchvision's ImageClassification preprocessing (or shaped like it).

    Parameters
    ----------
    transform : object
        A backbone's ``transform``.

    Returns
    -------
    bool
        True when it has every setting of the cache key (resize and crop size, mean, std,
        interpolation, antialias): then the pipeline resizes and crops to uint8 itself.

    Examples
    --------
    >>> import torch
    >>> from simlab.backbones import load_backbone
    >>> from simlab.pipeline import is_standard_transform
    >>> is_standard_transform(load_backbone().transform), is_standard_transform(torch.nn.Identity())
    (True, False)
    """
    return all(hasattr(transform, n) for n in _PREPROCESS_SETTINGS)


def collate(items) -> dict:
    """A batch of :class:`PhotoDataset` items: the readable ones stacked, the errors of the others.

    Parameters
    ----------
    items : list of tuple
        ``(i, pixels, subject_fraction, error)`` items.

    Returns
    -------
    dict
        ``"index"``: the positions of the readable items; ``"images"``: their pixels stacked,
        Tensor[n, 3, H, W] (``None`` when there is none); ``"subject_fraction"``: Tensor[n, H, W]
        or ``None``; ``"errors"``: ``(position, reason)`` of the others.

    Examples
    --------
    >>> import torch
    >>> from simlab.pipeline import collate
    >>> batch = collate([(0, torch.zeros(3, 4, 4), None, None), (1, None, None, "b.jpg: no such file")])
    >>> batch["index"], tuple(batch["images"].shape), batch["subject_fraction"], batch["errors"]
    ([0], (1, 3, 4, 4), None, [(1, 'b.jpg: no such file')])
    """
    ok = [it for it in items if it[3] is None]
    return {
        "index": [it[0] for it in ok],
        "images": torch.stack([it[1] for it in ok]) if ok else None,
        "subject_fraction": torch.stack([it[2] for it in ok]) if ok and ok[0][2] is not None else None,
        "errors": [(it[0], it[3]) for it in items if it[3] is not None],
    }


def embedded_batches(dataset: PhotoDataset, embedder: Embedder, *, pool: str = "avg", batch_size: int = 16,
                     num_workers=None):
    """Every batch of ``dataset`` decoded and embedded, in order.

    By default each batch is decoded and embedded by one thread of this process, as many at once
    as :func:`embedding_threads`; with ``num_workers`` given, with a mask method, or with a
    preprocessing of one's own, DataLoader worker processes decode and this thread embeds
    (:func:`thread_split`).

    Parameters
    ----------
    dataset : PhotoDataset
        The photos.
    embedder : Embedder
        Runs the network (:class:`~simlab.engines.Embedder`).
    pool : {"avg", "max", "gem"}, optional
        Not used with a mask method (masked average pooling).
    batch_size : int, optional
        Photos per batch at most.
    num_workers : int, optional
        DataLoader worker processes.

    Returns
    -------
    iterator of (dict, numpy.ndarray or None)
        ``(batch, vectors)`` for every batch, in order: ``batch`` a :func:`collate`'d batch
        (``batch["index"]`` the positions of its readable photos, ``batch["errors"]``
        ``(position, reason)`` of the others), ``vectors`` float32 (len(batch["index"]), C), or
        ``None`` when none could be read.

    Examples
    --------
    >>> from simlab.backbones import load_backbone
    >>> from simlab.engines import Embedder
    >>> from simlab.kit import samples
    >>> from simlab.pipeline import PhotoDataset, embedded_batches
    >>> backbone = load_backbone()
    >>> photos = PhotoDataset([samples()["chelsea"], samples()["coffee"]], backbone)
    >>> done = list(embedded_batches(photos, Embedder(backbone, "stage3", "torch")))
    >>> sorted(i for batch, _ in done for i in batch["index"]), {v.shape[1] for _, v in done}
    ([0, 1], {32})
    """
    if num_workers is None and dataset.mask_method is None and is_standard_transform(dataset.prep.transform):
        return _in_threads(dataset, embedder, pool, batch_size)
    return _in_processes(dataset, embedder, pool, batch_size, num_workers)


def _forward(embed: Embedder, batch: dict, pool: str):
    """The vectors of a collated batch (None when none of its files could be read)."""
    if not batch["index"]:
        return None
    return embed(batch["images"], pool, subject_fraction=batch["subject_fraction"])


def _in_threads(images: PhotoDataset, embed: Embedder, pool: str, batch_size: int):
    """``(batch, vectors)`` for every batch, in order: each decoded and embedded by one thread of
    this process, as many batches at once as :func:`embedding_threads`."""
    threads = embedding_threads()
    if embed.engine == "onnx":
        embed.threads = 1  # a core per batch: the other cores run the other batches

    def one(indices: range):  # the first forward pass builds the session or extractor, once (BUILD_LOCK)
        batch = collate([images[i] for i in indices])
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


def _in_processes(images: PhotoDataset, embed: Embedder, pool: str, batch_size: int, num_workers):
    """``(batch, vectors)`` for every batch, in order: decoded by DataLoader worker processes,
    embedded in this thread."""
    workers, threads = thread_split()
    workers = workers if num_workers is None else num_workers
    if len(images) <= batch_size:
        workers = 0  # a single batch: nothing to overlap, and starting workers costs time
    if workers and embed.engine == "onnx":
        embed.threads, embed.spinning = threads, False  # leave the cores to the workers between layers
    for batch in DataLoader(images, batch_size=batch_size, num_workers=workers, collate_fn=collate):
        yield batch, _forward(embed, batch, pool)

"""Embedding a whole photo folder, once: one vector per image, kept in an on-disk cache.

:func:`embed_folder` turns every image of a folder (or a list of paths) into a vector, as
:func:`~simlab.embedding.embed` does for a few images, but built for hundreds of them:

- the batches run in threads of this process, one per core at a time: a thread decodes and
  preprocesses its batch's photos (to uint8 pixels; Pillow decodes without holding Python's
  lock), turns them into normalised floats at once (a fraction of the cost per image) and runs
  the network on them. Nothing to start, so a small folder starts at once, and every core is
  busy whether decoding or the network costs more (:mod:`simlab.pipeline`);
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
import warnings
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import subject
from .backbones import Backbone, load_backbone
from .cache import Store, cached_rows, default_cache_dir
from .engines import Embedder, resolve_engine
from .features import POOLS
from .images import image_paths
from .pipeline import PhotoDataset, cache_config, embedded_batches
from .validation import whole_number

__all__ = ["Collection", "UnreadableFilesWarning", "embed_folder"]

SHOW_FAILED = 5  # how many unreadable files the warning names


class UnreadableFilesWarning(UserWarning):
    """:func:`embed_folder` skipped files it could not read (they are in :attr:`Collection.failed`).

    A ``UserWarning``, so it is shown by default; a notebook that has shown it once can silence
    the repeats, ``warnings.simplefilter("ignore", UnreadableFilesWarning)``, and still read the
    files in :attr:`Collection.failed` and :meth:`Collection.summary`.

    Examples
    --------
    >>> from simlab.collection import UnreadableFilesWarning
    >>> issubclass(UnreadableFilesWarning, UserWarning)
    True
    """


@dataclass
class Collection:
    """The vectors of a folder of images, from :func:`embed_folder`.

    Parameters
    ----------
    paths : list of pathlib.Path
        The images that were embedded (sorted for a folder, in the given order for a list).
    vectors : numpy.ndarray
        float32, shape (N, C): row i belongs to ``paths[i]``.
    failed : list of (pathlib.Path, str)
        Files that could not be read (or had no subject, with a mask method), with the reason.
    computed, from_cache : int
        The images whose vector was computed in this call, and those read from the cache;
        ``computed + from_cache == len(paths)``.
    cache_dir : pathlib.Path or None
        This configuration's cache folder (``None`` without cache).
    config : dict, optional
        The configuration: backbone, weights, stage, pool, mask method, preprocessing.

    Examples
    --------
    >>> import numpy as np
    >>> from pathlib import Path
    >>> from simlab.collection import Collection
    >>> photos = Collection([Path("a.jpg")], np.zeros((1, 1280), np.float32), [], 1, 0, None)
    >>> photos, len(photos)
    (Collection(1 images (0 from cache, 1 embedded); vectors 1x1280), 1)
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
        """One line: how many images, where their vectors came from, which files failed.

        Returns
        -------
        str

        Examples
        --------
        >>> import numpy as np
        >>> from pathlib import Path
        >>> from simlab.collection import Collection
        >>> failed = [(Path("b.jpg"), "b.jpg: no such file")]
        >>> Collection([Path("a.jpg")], np.zeros((1, 8), np.float32), failed, 0, 1, None).summary()
        '1 images (1 from cache, 0 embedded), 1 unreadable: b.jpg'
        """
        text = f"{len(self.paths)} images ({self.from_cache} from cache, {self.computed} embedded)"
        if self.failed:
            names = ", ".join(p.name for p, _ in self.failed[:SHOW_FAILED])
            more = ", ..." if len(self.failed) > SHOW_FAILED else ""
            text += f", {len(self.failed)} unreadable: {names}{more}"
        return text

    def __repr__(self) -> str:
        shape = "x".join(map(str, self.vectors.shape))
        return f"Collection({self.summary()}; vectors {shape})"


def embed_folder(folder_or_paths, backbone="mobilenet_v2", *, stage=None, pool="avg", mask_method=None,
                 cache_dir="default", batch_size=16, num_workers=None, progress=True, jpeg_draft=True,
                 engine="auto", client=None) -> Collection:
    """Embed every image of a folder (or a list of paths): a :class:`Collection` of vectors.

    Row i of the vectors equals, to float rounding, ``embed(backbone, [paths[i]], stage,
    pool=pool)`` (:func:`simlab.embedding.embed`). Unreadable files never stop the run.

    Parameters
    ----------
    folder_or_paths : str, pathlib.Path or list of paths
        A folder (its images, see :func:`~simlab.images.image_files`) or a list of paths.
    backbone : str or Backbone, optional
        A name for :func:`~simlab.backbones.load_backbone`, or a
        :class:`~simlab.backbones.Backbone`.
    stage : str, optional
        A stage name of the backbone; the deepest by default.
    pool : {"avg", "max", "gem"}, optional
        As for :func:`~simlab.features.pool_map`.
    mask_method : str, optional
        ``None`` pools the whole image; a method of :func:`~simlab.subject.segment_subject`
        (e.g. ``"grabcut"``) pools only the subject (masked average pooling, as
        ``embed(..., masks=...)``; ``pool`` must be ``"avg"``). A photo where no subject is
        found, or none inside the centre crop, ends up in ``failed``.
    cache_dir : "default", str, pathlib.Path or None, optional
        ``"default"`` (:func:`~simlab.cache.default_cache_dir`), a folder, or ``None`` (no cache).
        Vectors are found again by file content and configuration (see the module docstring):
        a second run on an unchanged folder runs no network at all. Files that failed are tried
        again on every run. Identical files are embedded once.
    batch_size : int, optional
        Images that go through the network together.
    num_workers : int, optional
        By default threads of this process decode and embed whole batches, one per core at a time
        (:func:`~simlab.pipeline.embedding_threads`); the batches have even sizes and there are as
        many as a multiple of the cores, so a small folder keeps every core busy too (16 photos on
        2 cores: two batches of 8). ``num_workers`` asks for that many PyTorch ``DataLoader``
        worker processes to decode instead, the network running in this process (as with a
        ``mask_method`` or a backbone with a preprocessing of its own, see
        :func:`~simlab.pipeline.thread_split`); 0, and any run of those that fits in one batch,
        decodes in the calling thread.
    progress : bool, optional
        Show a progress bar.
    jpeg_draft : bool, optional
        True decodes a JPEG at least four times the size the network needs at the JPEG decoder's
        reduced scale (1/2, 1/4, 1/8) that still keeps twice that size, then resizes as usual
        (``load_image(path, reduce_to=2 * resize size)``): 6-8x faster on phone photos, cosine
        to the full decode >= 0.998 measured on 12-MP photos and real large JPEGs, and no change
        at all for photos under 1024 pixels (short side). False always decodes in full. It is
        part of the cache key.
    engine : {"auto", "onnx", "torch"}, optional
        ``"auto"``: ONNX Runtime when installed, else PyTorch (see :mod:`simlab.engines`). The
        exported graph is kept in ``<cache_dir>/onnx`` (with ``cache_dir=None``, in memory:
        exported once per process).
    client : dask.distributed.Client, optional
        Runs the batches on its cluster's workers instead (see :mod:`simlab.cluster`): one task
        per batch of ``batch_size`` paths; each worker builds the backbone once (by name and
        weights: ``"default"`` or a weights file the workers can read) and reuses it. The
        vectors, their order, the cache and the unreadable files are those of a run without
        ``client`` (vectors equal to 1e-5); ``num_workers`` is not used. The workers must be able
        to read the files (a shared file system or object storage).

    Returns
    -------
    Collection

    Raises
    ------
    ValueError
        For a missing or empty folder, an empty list, an unknown backbone, stage, pool, mask
        method or engine, ``pool != "avg"`` with a mask method, ``batch_size < 1`` or
        ``num_workers < 0``, and with ``client`` for random weights (save them to a file first).
    ImportError
        For ``engine="onnx"`` without ONNX Runtime.
    TypeError
        For a backbone that is neither a name nor a Backbone, or a ``client`` that is not a Dask
        ``Client``.
    OSError
        When the cache folder cannot be created.

    Warns
    -----
    UnreadableFilesWarning
        Once, at the end, naming the files that could not be read (they are listed in
        ``failed`` with the reason).
    UserWarning
        For a damaged cache file, which is skipped.

    Examples
    --------
    >>> import tempfile
    >>> from simlab.collection import embed_folder
    >>> from simlab.kit import samples
    >>> paths, cache = [samples()["chelsea"], samples()["coffee"]], tempfile.mkdtemp()
    >>> embed_folder(paths, cache_dir=cache, engine="torch", progress=False)
    Collection(2 images (0 from cache, 2 embedded); vectors 2x1280)
    >>> embed_folder(paths, cache_dir=cache, progress=False)  # the same vectors, found again
    Collection(2 images (2 from cache, 0 embedded); vectors 2x1280)
    """
    _check_options(pool, mask_method, batch_size, num_workers)
    resolved_engine = resolve_engine(engine)  # an unknown engine fails before any work
    paths = image_paths(folder_or_paths)
    bb = load_backbone(backbone) if isinstance(backbone, str) else backbone
    if not isinstance(bb, Backbone):
        raise TypeError(f"backbone must be a name or a Backbone, got a {type(backbone).__name__}")
    stage_name = bb.resolve_stage(stage).name
    config = cache_config(bb, stage_name, pool=pool, mask_method=mask_method, jpeg_draft=jpeg_draft)
    if client is not None:
        from . import cluster  # Dask is imported only when a cluster is used

        cluster.check_client(client)
        spec = cluster.batch_spec(bb, stage_name, pool=pool, mask_method=mask_method, engine=resolved_engine,
                                  config=config)

    if cache_dir is None:
        store = None
    else:
        root = default_cache_dir() if isinstance(cache_dir, str) and cache_dir == "default" else cache_dir
        cache_dir = root  # the exported ONNX graph goes beside the vectors
        store = _store(Path(root).expanduser(), config, bb.stage(stage_name).channels, bb.weights)

    def compute(todo_paths, todo_keys):  # nothing missing: no task, no DataLoader, no forward pass
        if client is not None:
            return cluster.run_batches(client, functools.partial(cluster.embed_batch, spec), todo_paths,
                                       todo_keys, store, batch_size=batch_size, progress=progress)
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


def _store(root: Path, config: dict, channels: int, weights_origin: str) -> Store:
    """The cache folder of this configuration, named backbone-stage-(mask method or pool)-digest."""
    name = (config["backbone"], config["stage"], config["mask_method"] or config["pool"])
    note = "vectors of simlab.collection.embed_folder; safe to delete"
    return Store(root, config, channels, name=name, about={"weights_origin": weights_origin, "note": note})


# --- the forward passes -------------------------------------------------------------------------


def _run(bb, stage_name, pool, mask_method, paths, keys, store, batch_size, num_workers, progress,
         reduce_to, engine, cache_dir):
    """Embed ``paths`` (one per key); returns ``({key: vector}, {key: error message})``."""
    embedder = Embedder(bb, stage_name, engine, cache_dir=cache_dir)  # the graph goes to <cache_dir>/onnx
    images = PhotoDataset(paths, bb, mask_method=mask_method, reduce_to=reduce_to)
    done = embedded_batches(images, embedder, pool=pool, batch_size=batch_size, num_workers=num_workers)
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



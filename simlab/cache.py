"""The on-disk cache of vectors computed from files: found again by file content and configuration.

:func:`~simlab.collection.embed_folder` (one vector per photo) and
:func:`~simlab.people.album_faces` (one row per face, any number per photo) keep what they compute
here, so a second run on an unchanged folder computes nothing. A :class:`Store` is one
configuration's folder (everything that decides a vector besides the file: model, weights,
settings), holding ``config.json`` and shard files. Files are keyed by :func:`content_hash`, the
sha256 of their bytes: a renamed or moved photo is found again, an edited one is not.

Every file appears under its final name in one ``os.replace`` (:func:`atomic_write`): a shard is
complete or absent, so killing a run, even its kernel, loses at most the batch in flight.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = ["Lookup", "Store", "atomic_write", "cached_rows", "content_hash", "default_cache_dir", "restate",
           "sha256_of"]

COMPACT_ABOVE = 64  # more shards than this in one configuration are merged into one on load
STALE_TEMP_S = 600  # a temporary file this old belongs to a run that died: remove it


def sha256_of(path) -> str:
    """The sha256 hex digest (64 characters) of the bytes of the file at ``path``.

    Read in 1 MiB blocks, so large files do not fill the memory. Raises ``OSError`` (e.g.
    ``FileNotFoundError``) when the file cannot be read.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


#: A file's key in the cache: the sha256 of its bytes.
content_hash = sha256_of


def default_cache_dir() -> Path:
    """Where vectors are cached by default: ``$SIMLAB_CACHE``, else ``~/.cache/simlab/embeddings``."""
    env = os.environ.get("SIMLAB_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "simlab" / "embeddings"


def atomic_write(path: Path, fill) -> None:
    """Write ``path`` whole or not at all: ``fill(file)`` writes a temporary file in the same folder
    (created if needed), which then replaces ``path`` in one ``os.replace``. ``fill`` may also be
    ``bytes``. Raises ``OSError`` when the folder cannot be written (nothing is left behind)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            if isinstance(fill, bytes):
                f.write(fill)
            else:
                fill(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Store:
    """One configuration's cache folder: ``config.json`` and shards ``shard-*.npz``.

    Parameters
    ----------
    root : pathlib.Path
        The cache root (e.g. :func:`default_cache_dir`); the folder is
        ``root / "<name parts>-<digest of config>"``, created if needed.
    config : dict
        Everything besides the file that decides its rows (JSON-serialisable); written, readable,
        to ``config.json`` with ``about``.
    width : int
        The length of each row.
    name : sequence of str
        Readable parts of the folder's name (e.g. backbone, stage).
    ragged : bool, optional
        ``False``: exactly one row per file (a shard holds ``hashes`` (n,) and ``vectors`` (n, width)).
        ``True``: any number of rows per file, none included (a shard also holds ``counts`` (n,),
        and ``vectors`` has ``counts.sum()`` rows, file after file).
    about : dict, optional
        Extra readable notes for ``config.json`` (not part of the key).

    Raises
    ------
    OSError
        When the folder cannot be created.
    """

    def __init__(self, root: Path, config: dict, width: int, name=(), *, ragged: bool = False,
                 about: dict | None = None):
        text = json.dumps(config, sort_keys=True)
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        parts = [re.sub(r"[^A-Za-z0-9_.]+", "_", str(part)) for part in [*name, digest]]
        self.directory = root / "-".join(parts)
        self.width = width
        self.ragged = ragged
        self.failed_write = False
        self.directory.mkdir(parents=True, exist_ok=True)
        if not (self.directory / "config.json").is_file():
            readable = dict(config, **(about or {}))
            atomic_write(self.directory / "config.json", json.dumps(readable, indent=2).encode())

    def load(self) -> dict[str, np.ndarray]:
        """``{content hash: rows}`` from every readable shard (rows: (width,) for one row per file,
        (k, width) when ragged); damaged shards are removed with a warning."""
        self._remove_stale_temps()
        entries: dict[str, np.ndarray] = {}
        good = []
        for shard in sorted(self.directory.glob("shard-*.npz")):
            try:
                hashes, rows = self._read(shard)
            except FileNotFoundError:  # merged into another shard by a concurrent run
                continue
            except Exception as e:  # noqa: BLE001 - a damaged file raises many types
                warnings.warn(f"{shard}: damaged cache file, removed; its images will be computed "
                              f"again ({type(e).__name__}: {e})", UserWarning, stacklevel=3)
                shard.unlink(missing_ok=True)
                continue
            entries.update(zip(hashes.tolist(), rows, strict=True))
            good.append(shard)
        if len(good) > COMPACT_ABOVE:
            self._compact(entries, good)
        return entries

    def write(self, hashes: list[str], rows) -> None:
        """Add one shard: ``rows`` is an array (n, width), or when ragged a list of n arrays
        (k_i, width). A write that fails warns once and leaves the cache as it was."""
        if self.failed_write:
            return
        name = f"shard-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.npz"
        if self.ragged:
            arrays = {"counts": np.array([len(r) for r in rows], dtype=np.int64),
                      "vectors": np.concatenate([np.reshape(r, (-1, self.width)) for r in rows]
                                                or [np.zeros((0, self.width))]).astype(np.float32)}
        else:
            arrays = {"vectors": np.asarray(rows, dtype=np.float32)}
        try:
            atomic_write(self.directory / name, lambda f: np.savez(f, hashes=np.array(hashes, dtype=str),
                                                                   **arrays))
        except OSError as e:
            self.failed_write = True
            warnings.warn(f"{self.directory}: cannot write to the cache ({e}); carrying on without "
                          "saving", UserWarning, stacklevel=4)

    def _read(self, shard: Path) -> tuple[np.ndarray, list | np.ndarray]:
        with np.load(shard, allow_pickle=False) as data:
            hashes, vectors = data["hashes"], data["vectors"]
            counts = data["counts"] if self.ragged else np.ones(len(hashes), dtype=np.int64)
        if hashes.ndim != 1 or hashes.dtype.kind != "U" or vectors.dtype != np.float32 \
                or counts.shape != hashes.shape or (counts < 0).any() \
                or vectors.shape != (int(counts.sum()), self.width) or not np.isfinite(vectors).all():
            raise ValueError(f"unexpected content: hashes {hashes.dtype} {hashes.shape}, "
                             f"vectors {vectors.dtype} {vectors.shape}")
        if not self.ragged:
            return hashes, vectors
        return hashes, np.split(vectors, np.cumsum(counts)[:-1])

    def _compact(self, entries: dict[str, np.ndarray], shards: list[Path]) -> None:
        """Replace many shards by one; the new shard exists before any old one is removed."""
        if not entries:
            return
        rows = list(entries.values())
        self.write(list(entries), rows if self.ragged else np.stack(rows))
        if not self.failed_write:
            for shard in shards:
                shard.unlink(missing_ok=True)

    def _remove_stale_temps(self) -> None:
        # Recent ones may belong to a run writing right now; old ones to a run that was killed.
        now = time.time()
        for tmp in self.directory.glob(".tmp-*"):
            try:
                if now - tmp.stat().st_mtime > STALE_TEMP_S:
                    tmp.unlink()
            except OSError:
                pass


class Lookup(NamedTuple):
    """What :func:`cached_rows` found: ``rows`` ``{position: rows}`` of the paths that have them,
    ``failed`` ``{position: reason}`` of the others, and how many rows were ``computed`` now or
    read ``from_cache``."""

    rows: dict
    failed: dict
    computed: int
    from_cache: int


def cached_rows(paths: list[Path], store: Store | None, compute) -> Lookup:
    """The rows of each of ``paths``: from ``store`` where it has them, else from ``compute``.

    Parameters
    ----------
    paths : list of pathlib.Path
        The files, in the caller's order; a file may appear more than once.
    store : Store or None
        The configuration's cache; ``None`` computes every path (and never reads a file's bytes
        to hash it).
    compute : callable
        ``compute(paths, keys) -> ({key: rows}, {key: reason})`` for the files not in the cache,
        one path per distinct content; it writes what it computes to ``store`` itself (batch by
        batch, so an interrupted run keeps its batches). Not called when nothing is missing.

    Returns
    -------
    Lookup
        A file that cannot be read (missing, a folder, no permission) or that ``compute`` could
        not handle is in ``failed`` with a reason naming it; an identical copy of a failed file
        gets the same reason with its own path.
    """
    failed: dict[int, str] = {}
    if store is None:
        keys, cached = [str(i) for i in range(len(paths))], {}
    else:
        cached = store.load()
        keys = []
        for i, path in enumerate(paths):
            try:
                keys.append(content_hash(path))
            except OSError as e:
                keys.append(None)
                failed[i] = _unreadable(path, e)
    todo: dict[str, int] = {}  # one representative path per missing content
    for i, key in enumerate(keys):
        if key is not None and key not in cached:
            todo.setdefault(key, i)
    fresh, errors = compute([paths[i] for i in todo.values()], list(todo)) if todo else ({}, {})
    rows, computed, from_cache = {}, 0, 0
    for i, (path, key) in enumerate(zip(paths, keys, strict=True)):
        if key in cached:
            rows[i] = cached[key]
            from_cache += 1
        elif key in fresh:
            rows[i] = fresh[key]
            computed += 1
        elif i not in failed:
            failed[i] = restate(errors[key], paths[todo[key]], path)
    return Lookup(rows, dict(sorted(failed.items())), computed, from_cache)


def restate(reason: str, reported: Path, path: Path) -> str:
    """The failure ``reason`` found for ``reported`` (it starts with that path), worded for ``path``."""
    prefix = f"{reported}: "
    return f"{path}: {reason[len(prefix):]}" if reason.startswith(prefix) and path != reported else reason


def _unreadable(path: Path, error: OSError) -> str:
    """The reason a file cannot be hashed, worded as :func:`~simlab.images.load_image` would."""
    if isinstance(error, FileNotFoundError):
        return f"{path}: no such file"
    if isinstance(error, IsADirectoryError):
        return f"{path}: is a directory, not an image file"
    return f"{path}: cannot read the file ({error.strerror or error})"

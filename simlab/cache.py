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
    """The sha256 hex digest of the bytes of the file at ``path``.

    Read in 1 MiB blocks, so large files do not fill the memory.

    Parameters
    ----------
    path : str or pathlib.Path

    Returns
    -------
    str
        64 hex digits.

    Raises
    ------
    OSError
        E.g. ``FileNotFoundError``, when the file cannot be read.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from simlab.cache import sha256_of
    >>> path = Path(tempfile.mkdtemp()) / "hello.txt"
    >>> _ = path.write_bytes(b"hello")
    >>> sha256_of(path)
    '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


#: A file's key in the cache: the sha256 of its bytes.
content_hash = sha256_of


def default_cache_dir() -> Path:
    """Where vectors are cached by default: ``$SIMLAB_CACHE``, else ``~/.cache/simlab/embeddings``.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import os
    >>> from unittest import mock
    >>> from simlab.cache import default_cache_dir
    >>> with mock.patch.dict(os.environ, {"SIMLAB_CACHE": "/data/vectors"}):
    ...     default_cache_dir().as_posix()
    '/data/vectors'
    """
    env = os.environ.get("SIMLAB_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "simlab" / "embeddings"


def atomic_write(path: Path, fill) -> None:
    """Write ``path`` whole or not at all.

    A temporary file in the same folder (created if needed) is written, flushed to disk, and then
    replaces ``path`` in one ``os.replace``: a reader sees the old file or the new one, never
    half of one.

    Parameters
    ----------
    path : pathlib.Path
        The file to write.
    fill : bytes or callable
        The content, or ``fill(file)`` writing it to a binary file object.

    Raises
    ------
    OSError
        When the folder cannot be written (nothing is left behind); whatever ``fill`` raises is
        raised too, the temporary file removed.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from simlab.cache import atomic_write
    >>> path = Path(tempfile.mkdtemp()) / "sub" / "data.bin"
    >>> atomic_write(path, b"whole")
    >>> atomic_write(path, lambda f: f.write(b"replaced"))
    >>> path.read_bytes(), [p.name for p in path.parent.iterdir()]
    (b'replaced', ['data.bin'])
    """
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
    name : sequence of str, optional
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

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from simlab.cache import Store
    >>> store = Store(Path(tempfile.mkdtemp()), {"model": "demo"}, 2, name=("demo",))
    >>> store.directory.name
    'demo-...'
    """

    def __init__(self, root: Path, config: dict, width: int, *, name=(), ragged: bool = False,
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
        """Every row the folder holds, by content hash.

        Returns
        -------
        dict of str to numpy.ndarray
            ``{content hash: rows}`` from every readable shard; rows (width,) for one row per
            file, (k, width) when ragged.

        Warns
        -----
        UserWarning
            For a damaged shard, which is removed (its files are computed again).

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> import numpy as np
        >>> from simlab.cache import Store
        >>> store = Store(Path(tempfile.mkdtemp()), {"model": "demo"}, 2)
        >>> store.write(["ab12", "cd34"], np.array([[1, 2], [3, 4]]))
        >>> store.load()
        {'ab12': array([1., 2.], dtype=float32), 'cd34': array([3., 4.], dtype=float32)}
        """
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
        """Add one shard, atomically.

        Parameters
        ----------
        hashes : list of str
            The content hashes of n files.
        rows : array_like or list of array_like
            An array (n, width), or when ragged a list of n arrays (k_i, width).

        Warns
        -----
        UserWarning
            When the write fails: once, and the store stops writing; the cache stays as it was.

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> import numpy as np
        >>> from simlab.cache import Store
        >>> store = Store(Path(tempfile.mkdtemp()), {"kind": "faces"}, 2, ragged=True)
        >>> store.write(["ab12", "cd34"], [np.ones((2, 2)), np.zeros((0, 2))])  # 2 rows, then none
        >>> {key: rows.shape for key, rows in store.load().items()}
        {'ab12': (2, 2), 'cd34': (0, 2)}
        """
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
        # np.load leaves a file it opened itself open when the archive is damaged: open it here
        with open(shard, "rb") as f, np.load(f, allow_pickle=False) as data:
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
    """What :func:`cached_rows` found.

    Parameters
    ----------
    rows : dict
        ``{position: rows}`` of the paths that have them.
    failed : dict
        ``{position: reason}`` of the others.
    computed, from_cache : int
        How many paths' rows were computed now, or read from the cache.

    Examples
    --------
    >>> from simlab.cache import Lookup
    >>> Lookup(rows={0: [1.0]}, failed={1: "b.jpg: no such file"}, computed=1, from_cache=0).computed
    1
    """

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

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from simlab.cache import Store, cached_rows
    >>> folder = Path(tempfile.mkdtemp())
    >>> paths = [folder / "a.txt", folder / "b.txt", folder / "missing.txt"]
    >>> _ = paths[0].write_text("a"), paths[1].write_text("bb")
    >>> store = Store(folder / "cache", {"row": "length"}, 1)
    >>> def compute(todo, keys):  # one row per file, its length, written to the store
    ...     rows = {key: [float(len(path.read_text()))] for path, key in zip(todo, keys)}
    ...     store.write(list(rows), list(rows.values()))
    ...     return rows, {}
    >>> found = cached_rows(paths, store, compute)
    >>> found.rows, found.computed, found.failed[2].endswith("missing.txt: no such file")
    ({0: [1.0], 1: [2.0]}, 2, True)
    >>> again = cached_rows(paths, store, compute)
    >>> again.computed, again.from_cache
    (0, 2)
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
    """The failure ``reason`` found for the file ``reported`` (it starts with that path), worded for ``path``.

    Parameters
    ----------
    reason : str
        E.g. ``"a.jpg: not an image"``.
    reported : pathlib.Path
        The path the reason names.
    path : pathlib.Path
        An identical copy of that file.

    Returns
    -------
    str

    Examples
    --------
    >>> from pathlib import Path
    >>> from simlab.cache import restate
    >>> restate("a.jpg: not an image", Path("a.jpg"), Path("copy.jpg"))
    'copy.jpg: not an image'
    """
    prefix = f"{reported}: "
    return f"{path}: {reason[len(prefix):]}" if reason.startswith(prefix) and path != reported else reason


def _unreadable(path: Path, error: OSError) -> str:
    """The reason a file cannot be hashed, worded as :func:`~simlab.images.load_image` would."""
    if isinstance(error, FileNotFoundError):
        return f"{path}: no such file"
    if isinstance(error, IsADirectoryError):
        return f"{path}: is a directory, not an image file"
    return f"{path}: cannot read the file ({error.strerror or error})"

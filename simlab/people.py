"""Find a person in an album, and sort an album by person: every face of every photo, once.

Lesson 03's two questions together. "Is it the same person?" compares two faces; an album asks it
of every face against every other:

- :func:`album_faces` finds every face in every photo of a folder (or a list of paths) and
  computes its identity vector (:func:`~simlab.faces.face_vectors`), as
  :func:`~simlab.collection.embed_folder` does for whole-photo vectors: in parallel worker
  processes, with a progress bar, unreadable files skipped with the reason, every photo's faces
  kept in the on-disk cache (:mod:`simlab.cache`, keyed by file content and the face models), and
  with ``client=`` on a Dask cluster;
- :func:`find_person` ranks the album's photos by how close their nearest face is to the person in
  a query photo;
- :func:`group_people` sorts the album's faces into people with dlib's Chinese-whispers clustering:
  faces closer than 0.6 are linked, and each face takes the label most of its neighbours have,
  until nothing changes.
"""

from __future__ import annotations

import functools
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from .cache import Store, cached_rows, default_cache_dir
from .collection import UnreadableFilesWarning
from .extras import require
from .faces import (
    DETECT_SIDE,
    EMBEDDING_SIZE,
    THRESHOLD,
    UPSAMPLE,
    check_search,
    face_embeddings,
    face_vectors,
    load_models,
)
from .images import image_paths
from .validation import whole_number
from .weights import KNOWN

__all__ = ["AlbumFaces", "album_faces", "face_groups", "find_person", "group_people"]

FACES_FORMAT = 1  # bump when the shard layout or the meaning of a row changes
ROW = 4 + EMBEDDING_SIZE  # a cached face: left, top, right, bottom, then its identity vector


@dataclass
class AlbumFaces:
    """Every face of an album, from :func:`album_faces`.

    Face f lies in photo ``paths[photo[f]]`` at ``boxes[f]`` and has the identity vector
    ``vectors[f]``; the faces of a photo come together, largest first.

    Parameters
    ----------
    paths : list of pathlib.Path
        The photos that could be read (a folder's sorted, a list's in its order), with or without
        a face.
    photo : numpy.ndarray
        int, shape (F,): the photo of each face.
    boxes : numpy.ndarray
        int, shape (F, 4): left, top, right, bottom.
    vectors : numpy.ndarray
        float32, shape (F, 128).
    failed : list of (pathlib.Path, str)
        The files that could not be read, with the reason.
    computed, from_cache : int
        The photos searched now, and those read from the cache.
    cache_dir : pathlib.Path or None, optional
        The configuration's cache folder.

    Examples
    --------
    >>> import numpy as np
    >>> from pathlib import Path
    >>> from simlab.people import AlbumFaces
    >>> album = AlbumFaces([Path("a.jpg"), Path("b.jpg")], photo=np.array([0, 0]),
    ...                    boxes=np.zeros((2, 4), int), vectors=np.zeros((2, 128), np.float32),
    ...                    failed=[], computed=2, from_cache=0)
    >>> album.summary()
    '2 photos, 2 faces (1 photos without a face; 0 from cache, 2 searched)'
    """

    paths: list[Path]
    photo: np.ndarray
    boxes: np.ndarray
    vectors: np.ndarray
    failed: list[tuple[Path, str]]
    computed: int
    from_cache: int
    cache_dir: Path | None = field(default=None, repr=False)

    @property
    def without_face(self) -> list[Path]:
        """The photos in which no face was found.

        Examples
        --------
        >>> import numpy as np
        >>> from pathlib import Path
        >>> from simlab.people import AlbumFaces
        >>> album = AlbumFaces([Path("a.jpg"), Path("b.jpg")], np.array([0]), np.zeros((1, 4), int),
        ...                    np.zeros((1, 128), np.float32), [], 2, 0)
        >>> [path.name for path in album.without_face]
        ['b.jpg']
        """
        return [p for i, p in enumerate(self.paths) if i not in set(self.photo.tolist())]

    def largest(self) -> np.ndarray:
        """For each photo, the index of its largest face, or -1 without a face.

        Returns
        -------
        numpy.ndarray
            int64, shape (len(paths),).

        Examples
        --------
        >>> import numpy as np
        >>> from pathlib import Path
        >>> from simlab.people import AlbumFaces
        >>> album = AlbumFaces([Path("a.jpg"), Path("b.jpg"), Path("c.jpg")], np.array([0, 0, 2]),
        ...                    np.zeros((3, 4), int), np.zeros((3, 128), np.float32), [], 3, 0)
        >>> album.largest()
        array([ 0, -1,  2])
        """
        first = np.full(len(self.paths), -1, dtype=np.int64)
        for f in range(len(self.photo) - 1, -1, -1):
            first[self.photo[f]] = f
        return first

    def summary(self) -> str:
        """One line: photos, faces, photos without a face, where they came from, unreadable files.

        Returns
        -------
        str

        Examples
        --------
        >>> import numpy as np
        >>> from pathlib import Path
        >>> from simlab.people import AlbumFaces
        >>> AlbumFaces([Path("a.jpg")], np.array([0]), np.zeros((1, 4), int), np.zeros((1, 128), np.float32),
        ...            [(Path("b.jpg"), "b.jpg: no such file")], 0, 1).summary()
        '1 photos, 1 faces (0 photos without a face; 1 from cache, 0 searched), 1 unreadable: b.jpg'
        """
        text = (f"{len(self.paths)} photos, {len(self.photo)} faces ({len(self.without_face)} photos "
                f"without a face; {self.from_cache} from cache, {self.computed} searched)")
        if self.failed:
            text += f", {len(self.failed)} unreadable: {', '.join(p.name for p, _ in self.failed[:5])}"
        return text


def album_faces(folder_or_paths, *, upsample: int = UPSAMPLE, detect_side: int | None = DETECT_SIDE,
                cache_dir="default", batch_size: int = 8, num_workers: int | None = None,
                progress: bool = True, client=None) -> AlbumFaces:
    """Every face in every photo of an album, with its identity vector.

    Parameters
    ----------
    folder_or_paths : str, pathlib.Path or list of paths
        A folder (its images, subfolders included, see :func:`~simlab.images.image_files`) or
        a list of image paths.
    upsample, detect_side : optional
        How faces are searched, as in :func:`~simlab.faces.detect_faces`; both are part of the
        cache key.
    cache_dir : "default", str, pathlib.Path or None, optional
        ``"default"`` (:func:`~simlab.cache.default_cache_dir`), a folder, or ``None`` (no
        cache). A photo's faces are found again by its content: a second run on an unchanged
        album searches nothing; unreadable files are tried again each run.
    batch_size : int, optional
        Photos per batch: each finished batch is written to the cache (and is one task on a
        cluster).
    num_workers : int or None, optional
        Worker processes that search photos in parallel (default: one per CPU core; 0, and any
        album that fits in one batch, searches in this process).
    progress : bool, optional
        Show a progress bar.
    client : dask.distributed.Client, optional
        Search the photos on a Dask cluster's workers instead (one task per batch; the workers need
        simlab, the face models and the files). The faces and the cache are those of a local run.

    Returns
    -------
    AlbumFaces

    Raises
    ------
    ValueError
        For a missing or empty folder, an empty list, bad ``upsample``, ``detect_side``,
        ``batch_size`` or ``num_workers``.
    TypeError
        When ``client`` is not a ``dask.distributed.Client``.
    simlab.weights.WeightsError
        When a face model file is missing (the message says how to fetch it).

    Warns
    -----
    simlab.collection.UnreadableFilesWarning
        Naming the files that could not be read (they are in ``failed``).

    Examples
    --------
    >>> import tempfile
    >>> from simlab.kit import people_photos
    >>> from simlab.people import album_faces
    >>> photos, cache = people_photos("whitehouse"), tempfile.mkdtemp()
    >>> album = album_faces([photos["obama"], photos["biden"]], cache_dir=cache, progress=False)
    >>> album.summary()
    '2 photos, 2 faces (0 photos without a face; 0 from cache, 2 searched)'
    >>> album_faces([photos["obama"], photos["biden"]], cache_dir=cache, progress=False).summary()
    '2 photos, 2 faces (0 photos without a face; 2 from cache, 0 searched)'
    """
    paths = image_paths(folder_or_paths)
    check_search(upsample, detect_side)
    whole_number(batch_size, "batch_size")
    workers = (os.cpu_count() or 1) if num_workers is None else whole_number(num_workers, "num_workers", 0)
    if client is not None:
        from . import cluster  # Dask is imported only when a cluster is used

        cluster.check_client(client)
    load_models()  # a missing model file fails here, once, not in every worker
    store = None
    if cache_dir is not None:
        root = default_cache_dir() if isinstance(cache_dir, str) and cache_dir == "default" else cache_dir
        store = Store(Path(root).expanduser(), _config(upsample, detect_side), ROW,
                      name=("faces", f"upsample{upsample}", f"side{detect_side}"), ragged=True,
                      about={"note": "faces of simlab.people.album_faces: rows of left, top, right, bottom "
                                     "and a 128-d identity vector; safe to delete"})
    task = functools.partial(face_batch, upsample=upsample, detect_side=detect_side)

    def compute(todo_paths, todo_keys):
        if client is not None:
            return cluster.run_batches(client, task, todo_paths, todo_keys, store, batch_size=batch_size,
                                       progress=progress, desc="finding faces")
        return _search(todo_paths, todo_keys, store, batch_size, workers, progress, upsample, detect_side)

    found = cached_rows(paths, store, compute)
    kept = [paths[i] for i in found.rows]
    rows = [np.reshape(r, (-1, ROW)) for r in found.rows.values()]
    photo = np.repeat(np.arange(len(rows)), [len(r) for r in rows]).astype(np.int64)
    table = np.concatenate(rows) if rows else np.zeros((0, ROW), np.float32)
    failed = [(paths[i], reason) for i, reason in found.failed.items()]
    if failed:
        warnings.warn(f"{len(failed)} of {len(paths)} files could not be read and were skipped (see "
                      f"AlbumFaces.failed): {'; '.join(r for _, r in failed[:5])}", UnreadableFilesWarning,
                      stacklevel=2)
    return AlbumFaces(kept, photo, table[:, :4].astype(np.int64), table[:, 4:].astype(np.float32), failed,
                      found.computed, found.from_cache, store.directory if store else None)


def find_person(photo, folder_or_paths, *, max_distance: float | None = None,
                **options) -> list[tuple[Path, float]]:
    """The album's photos ranked by how close they come to the person in ``photo``, nearest first.

    Parameters
    ----------
    photo : image
        Anything :func:`~simlab.images.load_image` accepts; its largest face is the person looked for.
    folder_or_paths : str, pathlib.Path or list of paths
        The album, as for :func:`album_faces`.
    max_distance : float or None, optional
        Keep only photos closer than this, e.g. :data:`~simlab.faces.THRESHOLD` (0.6) for "the
        same person by dlib's rule"; ``None`` keeps every photo with a face.
    **options
        ``upsample``, ``detect_side``, ``cache_dir``, ``batch_size``, ``num_workers``,
        ``progress`` and ``client``, as for :func:`album_faces`.

    Returns
    -------
    list of (pathlib.Path, float)
        Each photo with at least one face and the Euclidean distance of its closest face (every face
        counts, not only the largest) to the person; ties keep the album's order.

    Raises
    ------
    ValueError
        When ``photo`` has no face (naming it), and as :func:`album_faces`.

    Examples
    --------
    >>> from simlab.kit import people_photos
    >>> from simlab.people import find_person
    >>> photos = people_photos("whitehouse")
    >>> album = [photos["obama2"], photos["biden"], photos["obama3"]]
    >>> ranked = find_person(photos["obama"], album, cache_dir=None, progress=False)
    >>> [(path.stem, round(distance, 2)) for path, distance in ranked]
    [('obama3', 0.32), ('obama2', 0.37), ('biden', 0.84)]
    """
    search = {k: options[k] for k in ("upsample", "detect_side") if k in options}
    person = face_embeddings(photo, **search)[0]
    album = album_faces(folder_or_paths, **options)
    distances = np.linalg.norm(album.vectors.astype(np.float64) - person, axis=1)
    nearest = np.full(len(album.paths), np.inf)
    np.minimum.at(nearest, album.photo, distances)
    order = np.argsort(nearest, kind="stable")
    keep = np.isfinite(nearest[order]) & (True if max_distance is None else nearest[order] < max_distance)
    return [(album.paths[i], float(nearest[i])) for i in order[keep]]


def face_groups(vectors, *, threshold: float = THRESHOLD) -> np.ndarray:
    """A person label for each face: dlib's Chinese-whispers clustering of identity vectors.

    Faces closer than ``threshold`` (Euclidean) are linked; each face takes the label that most of
    its linked faces have, repeated until the labels settle. Unlike a threshold on each pair it
    needs no number of people, and one wrong link does not merge two people outright.

    Parameters
    ----------
    vectors : array_like, shape (F, 128)
        Identity vectors (e.g. :attr:`AlbumFaces.vectors`).
    threshold : float, optional
        The link distance, dlib's 0.6 by default.

    Returns
    -------
    numpy.ndarray
        int64, shape (F,): faces with one label are one person, by this method. The same vectors
        in the same order always get the same labels.

    Raises
    ------
    ValueError
        For vectors that are not (F, 128) and finite, or a threshold that is not positive.

    Examples
    --------
    >>> import numpy as np
    >>> from simlab.people import face_groups
    >>> vectors = np.zeros((3, 128))
    >>> vectors[2, 0] = 1.0  # face 2 lies 1.0 away from faces 0 and 1
    >>> face_groups(vectors)
    array([0, 0, 1])
    """
    dlib = require("dlib")  # the dlib-bin wheel

    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.ndim != 2 or (len(vectors) and vectors.shape[1] != EMBEDDING_SIZE) \
            or not np.isfinite(vectors).all():
        raise ValueError(f"vectors must be finite identity vectors, shape (F, {EMBEDDING_SIZE}); "
                         f"got {vectors.shape}")
    if not threshold > 0:
        raise ValueError(f"threshold must be a positive distance, got {threshold!r}")
    if len(vectors) == 0:
        return np.zeros(0, dtype=np.int64)
    labels = dlib.chinese_whispers_clustering([dlib.vector(v.tolist()) for v in vectors], float(threshold))
    return np.asarray(labels, dtype=np.int64)


def group_people(folder_or_paths, *, threshold: float = THRESHOLD, **options) -> list[list[Path]]:
    """The album's photos grouped by person: a list of groups, each a list of paths, largest first.

    Every face of every photo is clustered (:func:`face_groups`), so a photo of two people lies in
    two groups, and a person seen once is a group of one. Photos without a face are in no group.

    Parameters
    ----------
    folder_or_paths : str, pathlib.Path or list of paths
        The album, as for :func:`album_faces`.
    threshold : float, optional
        The link distance of the clustering, dlib's 0.6 by default.
    **options
        ``upsample``, ``detect_side``, ``cache_dir``, ``batch_size``, ``num_workers``,
        ``progress`` and ``client``, as for :func:`album_faces`.

    Returns
    -------
    list of list of pathlib.Path
        Each group's photos in album order; groups by size, largest first (ties: the group whose
        first photo comes first).

    Raises
    ------
    ValueError
        As :func:`album_faces` and :func:`face_groups`.

    Examples
    --------
    >>> from simlab.kit import people_photos
    >>> from simlab.people import group_people
    >>> photos = people_photos("whitehouse")
    >>> album = [photos["obama"], photos["biden"], photos["obama3"]]
    >>> [[path.stem for path in group] for group in group_people(album, cache_dir=None, progress=False)]
    [['obama', 'obama3'], ['biden']]
    """
    album = album_faces(folder_or_paths, **options)
    labels = face_groups(album.vectors, threshold=threshold)
    groups: dict[int, list[int]] = {}
    for label, i in zip(labels.tolist(), album.photo.tolist(), strict=True):
        if i not in groups.setdefault(label, []):
            groups[label].append(i)
    ordered = sorted((sorted(g) for g in groups.values()), key=lambda g: (-len(g), g[0]))
    return [[album.paths[i] for i in g] for g in ordered]


# --- searching photos -----------------------------------------------------------------------------


def face_batch(paths: list[str], *, upsample: int, detect_side: int | None):
    """One batch of photos searched for faces, in a worker process or on a Dask worker.

    Parameters
    ----------
    paths : list of str
        The photos.
    upsample, detect_side
        As for :func:`~simlab.faces.detect_faces`.

    Returns
    -------
    simlab.cluster.BatchResult
        For each readable photo, an array (faces, 132) of box and identity vector; unreadable
        photos are listed in ``errors``, never raised.

    Examples
    --------
    >>> from simlab.people import face_batch
    >>> result = face_batch(["nowhere.jpg"], upsample=1, detect_side=768)
    >>> result.ok, result.errors
    ([], [(0, 'nowhere.jpg: no such file')])
    """
    from .cluster import BatchResult, worker_address

    start = time.perf_counter()
    ok, rows, errors = [], [], []
    for position, path in enumerate(paths):
        result = _faces_of(path, upsample, detect_side)
        if isinstance(result, str):
            errors.append((position, result))
        else:
            ok.append(position)
            rows.append(result)
    return BatchResult(ok, rows, errors, time.perf_counter() - start, False, worker_address())


def _faces_of(path, upsample: int, detect_side: int | None) -> np.ndarray | str:
    """The rows of one photo's faces, or the reason it cannot be read."""
    try:
        boxes, vectors = face_vectors(path, upsample=upsample, detect_side=detect_side)
    except ValueError as e:  # ImageError: the file is not a readable image
        return str(e)
    return np.concatenate([boxes.astype(np.float32), vectors], axis=1)


class _Photos(Dataset):
    """Item i: ``(i, rows or None, reason or None)``; runs in the DataLoader's worker processes."""

    def __init__(self, paths: list[Path], upsample: int, detect_side: int | None):
        self.paths, self.upsample, self.detect_side = paths, upsample, detect_side

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        result = _faces_of(self.paths[i], self.upsample, self.detect_side)
        return (i, None, result) if isinstance(result, str) else (i, result, None)


def _search(paths, keys, store, batch_size, workers, progress, upsample, detect_side):
    """Search ``paths`` (one per key) here or in worker processes; ``({key: rows}, {key: reason})``."""
    loader = DataLoader(_Photos(paths, upsample, detect_side), batch_size=batch_size, collate_fn=list,
                        num_workers=0 if len(paths) <= batch_size else workers)
    rows, errors = {}, {}
    with tqdm(total=len(paths), unit="photo", desc="finding faces", disable=not progress) as bar:
        for batch in loader:
            done = [(keys[i], r) for i, r, _ in batch if r is not None]
            errors.update((keys[i], reason) for i, _, reason in batch if reason is not None)
            rows.update(done)
            if store is not None and done:
                store.write([k for k, _ in done], [r for _, r in done])
            bar.update(len(batch))
    return rows, errors


def _config(upsample: int, detect_side: int | None) -> dict:
    """Everything besides the file that decides its faces: the key of a cache folder."""
    return {"format": FACES_FORMAT, "kind": "faces", "detector": "dlib HOG frontal_face_detector",
            "landmarks_sha256": KNOWN["dlib_face_landmarks_5"].sha256,
            "network_sha256": KNOWN["dlib_face_recognition"].sha256,
            "upsample": int(upsample), "detect_side": detect_side}

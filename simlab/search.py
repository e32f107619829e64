"""Nearest neighbours in a large collection of feature vectors, with FAISS.

:func:`simlab.metrics.top_k` compares every query with every gallery vector. That is exact and
fast enough for thousands of images, but the work grows with the size of the collection. FAISS
(Facebook AI Similarity Search) builds an *index* once and then answers many queries quickly:

- ``"exact"`` (``IndexFlatIP``): still compares the query with every vector, but in optimised
  blocks. The vectors are stored at unit length, so the inner product *is* the cosine
  similarity, and the answer is the same as ``top_k(queries, gallery, k=k)``.
- ``"ivf"`` (inverted file, ``IndexIVFFlat``): k-means splits the collection into ``nlist``
  cells, each with a centre. A query is compared only with the vectors of the ``nprobe`` cells
  whose centres are nearest to it. Fast, but a true neighbour that lies just across a cell
  border is missed: more ``nprobe`` = slower and more accurate; ``nprobe = nlist`` is exact.
- ``"hnsw"`` (Hierarchical Navigable Small World, ``IndexHNSWFlat``): a layered proximity
  graph in which every vector is linked to about ``hnsw_m`` near vectors. A search walks the
  graph greedily from a fixed entry point, coarse layers first, keeping the ``ef_search`` best
  candidates seen so far: more ``ef_search`` = slower and more accurate. Building the graph is
  the expensive part (``ef_construction`` candidates per insertion).

Approximate indexes trade accuracy for speed, and :func:`simlab.evaluation.recall_at_k` measures
the price: the fraction of the true (exact) ``k`` nearest neighbours that the approximate search found.

:func:`near_duplicate_groups` uses an exact index to find groups of (nearly) identical vectors,
and :func:`synthetic_embeddings` makes clustered vectors that behave like image embeddings, to
try all of this on a million vectors without extracting a million images' features. Uniform
random vectors are a poor stand-in: they have no neighbourhood structure, so every neighbour is
barely nearer than any other vector and approximate indexes look far worse than on real data.

FAISS computes in float32: indexes hold a normalised float32 copy of the vectors. FAISS and
torch each bring their own OpenMP thread pool; they work side by side in one process, imported
in either order, and each uses every core. As with torch alone, a process forked *after* FAISS
or torch computed with threads hangs if it computes with them too (GNU OpenMP cannot fork):
use the "spawn" start method for such workers. DataLoader workers that only decode and
transform images are not affected.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .extras import require
from .validation import as_matrix, unit_rows, whole_number, zero_row_error

faiss = require("faiss")

__all__ = [
    "KINDS",
    "build_index",
    "near_duplicate_groups",
    "search",
    "synthetic_embeddings",
]

#: Index kinds understood by :func:`build_index`.
KINDS = ("exact", "ivf", "hnsw")

#: FAISS's k-means warns with fewer training vectors per cell than this (its
#: ``min_points_per_centroid``), and the cells it finds are then unreliable.
MIN_POINTS_PER_CELL = 39

#: IVF trains k-means on a seeded sample of at most this many vectors per cell. Training is the
#: slow part of building an IVF index; on 100,000 clustered vectors, 256 per cell (FAISS's own
#: cap) took twice as long as 40 and raised recall@10 by less than 0.01.
MAX_TRAIN_POINTS_PER_CELL = 40

#: build_index normalises and adds this many rows at a time to exact and IVF indexes (64 MB of
#: float32 at d = 256).
ADD_BLOCK_ROWS = 65_536

#: Similarities are computed in float32; pairs this little below a threshold still count.
SIMILARITY_TOLERANCE = 1e-5


# ---------------------------------------------------------------------------------------------
# Build and query an index
# ---------------------------------------------------------------------------------------------


def build_index(
    vectors,
    kind: str = "exact",
    *,
    nlist: int | None = None,
    nprobe: int | None = None,
    hnsw_m: int = 32,
    ef_construction: int = 40,
    ef_search: int = 64,
    seed: int = 0,
) -> faiss.Index:
    """A FAISS index of the rows of ``vectors`` for cosine-similarity search with :func:`search`.

    The index holds a float32 copy with every row scaled to unit length (the caller's array is
    left untouched), so inner product = cosine similarity. Index row ``i`` is ``vectors[i]``.
    Parameters of the other kinds are ignored.

    Parameters
    ----------
    vectors : array_like, shape (N, d)
        NumPy array, nested list or torch tensor of real numbers.
    kind : {"exact", "ivf", "hnsw"}, optional
        The index (see the module docstring): ``"exact"`` is ``faiss.IndexFlatIP`` (each query
        against every vector); ``"ivf"`` is ``faiss.IndexIVFFlat`` (k-means cells, a query searches
        the ``nprobe`` nearest); ``"hnsw"`` is ``faiss.IndexHNSWFlat`` (a proximity graph).
    nlist : int, optional
        IVF: the number of cells, by default ``4 * sqrt(N)``, lowered if needed so that k-means has
        at least 39 vectors per cell. k-means trains on a sample of ``40 * nlist`` rows drawn with
        ``seed`` when there are more.
    nprobe : int, optional
        IVF: cells searched per query, by default ``max(1, nlist // 16)``, at most ``nlist``.
        Change it later with ``index.nprobe = 8``.
    hnsw_m, ef_construction, ef_search : int, optional
        HNSW: links per vector, candidates while inserting, candidates while searching
        (``index.hnsw.efSearch = 128`` changes it later). Build time grows about in proportion to
        ``hnsw_m * ef_construction``.
    seed : int, optional
        Fixes IVF's training sample and k-means start. HNSW has FAISS's own fixed seed, but its
        multi-threaded build may link a few vectors differently from run to run.

    Returns
    -------
    faiss.Index
        Holding all N vectors (``index.ntotal``), ready for :func:`search`.

    Raises
    ------
    ValueError
        For an unknown ``kind``, input that is empty, 1-D, not 2-D, or holds NaN, infinity or a
        zero row, for parameters that are not whole numbers >= 1, and for ``"ivf"`` with fewer
        than ``39 * nlist`` vectors (too few to train ``nlist`` cells).

    Examples
    --------
    >>> import numpy as np
    >>> from simlab.search import build_index
    >>> index = build_index(np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]]))
    >>> index.ntotal, index.d
    (3, 2)
    """
    if kind not in KINDS:
        raise ValueError(f"unknown index kind {kind!r}; choose one of {', '.join(KINDS)}")
    X = as_matrix(vectors, "vectors")
    n, d = X.shape
    for i in np.flatnonzero(np.einsum("ij,ij->i", X, X) == 0):  # before the (long) training
        if not X[i].any():
            raise zero_row_error(int(i), "vectors")
    if kind == "exact":
        index = faiss.IndexFlatIP(d)
    elif kind == "ivf":
        index = _ivf(X, nlist, nprobe, seed)
    else:
        for name, value in (
            ("hnsw_m", hnsw_m),
            ("ef_construction", ef_construction),
            ("ef_search", ef_search),
        ):
            whole_number(value, name)
        index = faiss.IndexHNSWFlat(d, int(hnsw_m), faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = int(ef_construction)
        index.hnsw.efSearch = int(ef_search)
    # Normalise and add a block at a time: the index's own copy is then the only full-size one.
    # HNSW gets one add: FAISS builds a worse graph from many small adds (1M clustered vectors:
    # recall@10 0.79 instead of 0.98 at ef_search=64, added 65,536 at a time).
    block = n if kind == "hnsw" else ADD_BLOCK_ROWS
    for start in range(0, n, block):
        index.add(_unit_float32(X[start:start + block], "vectors"))
    return index


def search(index: faiss.Index, queries, *, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` indexed vectors most similar (cosine) to each query row, best first.

    The convention is that of ``simlab.metrics.top_k(queries, gallery, k=k)``; for an exact index
    the two agree up to float32 rounding and the order of ties. An approximate index may find
    fewer than ``k`` vectors (IVF with small ``nprobe`` when the probed cells hold fewer than
    ``k``); the missing places hold index -1 and score ``-inf``.

    Parameters
    ----------
    index : faiss.Index
        From :func:`build_index`.
    queries : array_like, shape (Nq, d)
        Like the indexed vectors (NumPy, list or torch); normalised the same way.
    k : int, optional
        How many neighbours per query, 1 to the number of indexed vectors.

    Returns
    -------
    indices : numpy.ndarray of int64, shape (Nq, k)
        ``indices[i, j]`` is the indexed row that is the ``j``-th best match of ``queries[i]``.
    scores : numpy.ndarray of float32, shape (Nq, k)
        Its cosine similarity, in [-1, 1].

    Raises
    ------
    ValueError
        When ``index`` is not a FAISS index, the queries' width differs from the index's (naming
        both), for ``k`` < 1 or larger than the number of indexed vectors, and for queries that
        :func:`build_index` would refuse as vectors.

    Examples
    --------
    >>> import numpy as np
    >>> from simlab.search import build_index, search
    >>> index = build_index(np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]]))
    >>> indices, scores = search(index, [[1.0, 0.1]], k=2)
    >>> indices.tolist(), scores.astype(float).round(2).tolist()
    ([[0, 1]], [[1.0, 0.68]])
    """
    if not isinstance(index, faiss.Index):
        raise ValueError(f"index must be a FAISS index made by build_index, got {type(index).__name__}")
    Q = as_matrix(queries, "queries")
    if Q.shape[1] != index.d:
        raise ValueError(
            f"queries have {Q.shape[1]} columns but the index holds vectors of width {index.d}: "
            "were they taken from different stages or backbones?"
        )
    whole_number(k, "k")
    if k > index.ntotal:
        raise ValueError(
            f"k={k} but the index holds only {index.ntotal} vectors: ask for at most {index.ntotal}"
        )
    scores, indices = index.search(_unit_float32(Q, "queries"), int(k))
    missing = indices < 0
    np.clip(scores, -1.0, 1.0, out=scores)  # rounding can overshoot 1 by ~1e-7, as in top_k
    scores[missing] = -np.inf  # FAISS fills them with -3.4e38, which the clip made -1
    return indices, scores


# ---------------------------------------------------------------------------------------------
# Near duplicates
# ---------------------------------------------------------------------------------------------


def near_duplicate_groups(vectors, threshold: float, *, k: int = 10) -> list[list[int]]:
    """Groups of rows of ``vectors`` that are (nearly) the same, linked by cosine similarity.

    Links chain: if a~b and b~c, then a, b and c form one group even when a and c are not similar
    enough themselves (the groups are the connected components of the link graph). An exact FAISS
    index supplies each row's ``k`` nearest neighbours; only for rows whose ``k`` neighbours are
    *all* above the threshold (so that there may be more) does a range search fetch every vector
    above it. Every pair is compared, so the time grows with N**2, and a low threshold can link
    millions of pairs: memory grows with them.

    Parameters
    ----------
    vectors : array_like, shape (N, d)
        As for :func:`build_index`.
    threshold : float
        Rows are linked when their cosine similarity is >= ``threshold``, in [-1, 1] (up to
        float32 rounding: 1e-5 below still counts, so ``threshold=1.0`` finds exact copies).
    k : int, optional
        Neighbours fetched per row at first: it changes the speed, never the answer.

    Returns
    -------
    list of list of int
        Each group a sorted list of row numbers, the groups sorted by their first row. Rows linked
        to no other row are left out.

    Raises
    ------
    ValueError
        For a ``threshold`` outside [-1, 1], ``k`` < 1, and for ``vectors`` that
        :func:`build_index` refuses.

    Examples
    --------
    >>> from simlab.search import near_duplicate_groups
    >>> near_duplicate_groups([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 1.0]], 0.99)
    [[0, 1], [2, 3]]
    """
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, numbers.Real)
        or not -1.0 <= float(threshold) <= 1.0
    ):
        raise ValueError(f"threshold must be a cosine similarity in [-1, 1], got {threshold!r}")
    whole_number(k, "k")
    X = _unit_float32(as_matrix(vectors, "vectors"), "vectors")
    n = len(X)
    index = faiss.IndexFlatIP(X.shape[1])
    index.add(X)
    cutoff = np.float32(threshold - SIMILARITY_TOLERANCE)

    n_nearest = min(int(k) + 1, n)  # + 1: each row usually finds itself first
    scores, nearest = index.search(X, n_nearest)
    rows = np.repeat(np.arange(n, dtype=np.int64), n_nearest)
    cols = nearest.ravel()
    keep = scores.ravel() >= cutoff
    rows, cols = [rows[keep]], [cols[keep]]

    crowded = np.flatnonzero(scores[:, -1] >= cutoff) if n_nearest < n else []
    if len(crowded):
        # FAISS's range search keeps inner products strictly above the radius.
        radius = float(np.nextafter(cutoff, np.float32(-np.inf)))
        limits, _, found = index.range_search(X[crowded], radius)
        rows.append(np.repeat(crowded.astype(np.int64), np.diff(limits).astype(np.int64)))
        cols.append(found)

    rows, cols = np.concatenate(rows), np.concatenate(cols)
    links = coo_matrix((np.ones(len(rows), dtype=np.int32), (rows, cols)), shape=(n, n))
    _, labels = connected_components(links, directed=False)
    order = np.argsort(labels, kind="stable")  # rows of each component, in increasing order
    starts = np.flatnonzero(np.diff(labels[order], prepend=-1))
    groups = [g.tolist() for g in np.split(order, starts[1:]) if len(g) > 1]
    return sorted(groups)


# ---------------------------------------------------------------------------------------------
# Test data
# ---------------------------------------------------------------------------------------------


def synthetic_embeddings(
    n: int,
    *,
    dim: int = 256,
    n_clusters: int = 100,
    spread: float = 0.5,
    seed: int = 0,
    intrinsic_dim: int = 32,
) -> np.ndarray:
    """``n`` clustered random vectors that behave like image embeddings: (n, dim) float32.

    Real embeddings vary mainly along a few dozen directions, and they form clusters (kinds of
    things). So each vector is drawn from a Gaussian mixture in ``intrinsic_dim`` dimensions,
    mapped into ``dim`` dimensions by one fixed random linear map, plus a little noise in every
    direction::

        latent = centre[c] + spread * z      c: one of n_clusters, equally likely
                                              centre[c], z: standard Gaussian, intrinsic_dim long
        vector = latent @ basis + noise      basis: (intrinsic_dim, dim), noise ~10% of the length

    With the defaults a vector's 10 nearest neighbours (among 100,000) have cosine similarity
    about 0.9, vectors of one cluster about 0.8 and vectors of different clusters about 0.
    Generated in float32 blocks of 16,384 rows with torch's random generator: a million 256-d
    vectors (1 GB) need little memory beyond the result.

    Parameters
    ----------
    n : int
        How many vectors.
    dim : int, optional
        Their length.
    n_clusters : int, optional
        How many clusters.
    spread : float, optional
        The size of a cluster relative to the spacing of the centres, >= 0: 0 gives
        ``n_clusters`` points, 0.5 clearly separate clusters, 1 and more clusters that blend into
        one another.
    seed : int, optional
        The same ``seed`` gives the same vectors, and the first ``m`` rows do not depend on ``n``,
        so ``synthetic_embeddings(n + q)[n:]`` are ``q`` held-out queries from the same
        distribution as ``synthetic_embeddings(n)``.
    intrinsic_dim : int, optional
        The dimension of the mixture.

    Returns
    -------
    numpy.ndarray of float32, shape (n, dim)
        One vector per row.

    Raises
    ------
    ValueError
        When ``n``, ``dim``, ``n_clusters`` or ``intrinsic_dim`` is not a whole number >= 1, or
        ``spread`` is not a number >= 0.

    Examples
    --------
    >>> from simlab.search import synthetic_embeddings
    >>> X = synthetic_embeddings(1000, dim=64, n_clusters=5)
    >>> X.shape, X.dtype
    ((1000, 64), dtype('float32'))
    >>> bool((synthetic_embeddings(10, dim=64, n_clusters=5) == X[:10]).all())
    True
    """
    for name, value in (("n", n), ("dim", dim), ("n_clusters", n_clusters), ("intrinsic_dim", intrinsic_dim)):
        whole_number(value, name)
    if isinstance(spread, bool) or not isinstance(spread, numbers.Real) or not spread >= 0:
        raise ValueError(f"spread must be a number >= 0, got {spread!r}")
    n, dim, n_clusters, r = int(n), int(dim), int(n_clusters), int(intrinsic_dim)
    g = torch.Generator().manual_seed(int(seed))

    def normal(*shape) -> np.ndarray:  # torch draws Gaussian numbers ~4x faster than NumPy
        return torch.randn(*shape, generator=g).numpy()

    centres = normal(n_clusters, r)
    basis = normal(r, dim)
    basis /= np.float32(math.sqrt(dim))  # rows of length ~1: |latent @ basis| ~ |latent|
    noise_scale = np.float32(0.1 * math.sqrt(r / dim))  # |noise| ~ 0.1 * |centre|
    out = np.empty((n, dim), dtype=np.float32)
    block = 16384
    for start in range(0, n, block):
        # Always draw a whole block, so that the first rows do not depend on n.
        labels = torch.randint(n_clusters, (block,), generator=g).numpy()
        latent = normal(block, r)
        latent *= np.float32(spread)
        latent += centres[labels]
        x = latent @ basis
        noise = normal(block, dim)
        noise *= noise_scale
        x += noise
        out[start : start + block] = x[: n - start]
    return out


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _unit_float32(X: np.ndarray, name: str) -> np.ndarray:
    """The rows of ``X`` (checked by ``validation.as_matrix``) at unit length: a C-contiguous float32 copy.

    Normalised before the cast, so float64 input loses no precision twice; a zero row is refused.
    """
    return np.ascontiguousarray(unit_rows(X, name), dtype=np.float32)


def _ivf(X: np.ndarray, nlist, nprobe, seed) -> faiss.Index:
    """An empty ``IndexIVFFlat`` for the rows of ``X``, trained on (a sample of) them at unit length."""
    n, d = X.shape
    if nlist is None:
        if n < MIN_POINTS_PER_CELL:
            raise ValueError(
                f"an IVF index needs at least {MIN_POINTS_PER_CELL} vectors to train even one "
                f"cell, but there are only {n}; use kind='exact'"
            )
        nlist = min(round(4 * math.sqrt(n)), n // MIN_POINTS_PER_CELL)
    else:
        whole_number(nlist, "nlist")
        nlist = int(nlist)
        if n < MIN_POINTS_PER_CELL * nlist:
            raise ValueError(
                f"too few vectors to train nlist={nlist} cells: k-means needs at least "
                f"{MIN_POINTS_PER_CELL} per cell ({MIN_POINTS_PER_CELL * nlist}) but there are only "
                f"{n}; "
                + (
                    f"use nlist <= {n // MIN_POINTS_PER_CELL}"
                    if n >= MIN_POINTS_PER_CELL
                    else "use kind='exact'"
                )
            )
    if nprobe is None:
        nprobe = max(1, nlist // 16)
    whole_number(nprobe, "nprobe")
    quantizer = faiss.IndexFlatIP(d)
    index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
    # For inner product FAISS already uses spherical k-means (unit-length centres), so a
    # vector's cell is the one whose centre has the highest cosine with it.
    index.cp.seed = int(seed)
    index.nprobe = min(int(nprobe), nlist)
    max_train = MAX_TRAIN_POINTS_PER_CELL * nlist
    if n > max_train:
        sample = np.random.default_rng(seed).choice(n, size=max_train, replace=False)
        X = X[np.sort(sample)]
    index.train(_unit_float32(X, "vectors"))
    return index

"""How similar are two feature vectors (or strings)? Distances, similarities, nearest neighbours.

- :func:`cosine_similarity`, :func:`euclidean_distance`, :func:`manhattan_distance` compare two
  1-D vectors; :func:`pairwise` every row of ``X`` with every row of ``Y``: an (N, M) matrix;
  :func:`top_k` finds each query's ``k`` nearest gallery rows in bounded memory.
- :func:`edit_distance` (Levenshtein) and :func:`hamming_distance` compare strings or sequences,
  e.g. the perceptual-hash bit strings of :func:`simlab.hashes.hash_bits`.
- :func:`distance_to_similarity` turns a distance (0 = identical) into a similarity in (0, 1].

How well a score finds the right pairs (thresholds, precision@k) is :mod:`simlab.evaluation`.

Vectors may be NumPy arrays, lists of numbers or torch tensors (on any device, with or without
gradients). Bad input raises ``ValueError`` saying what is wrong and, where there is one, the
usual fix. Cosine is a *similarity* (1 = same direction, 0 = orthogonal, -1 = opposite);
Euclidean, Manhattan, edit and Hamming are *distances* (0 = identical, larger = less alike). For
unit-length vectors the two views agree: ``|a - b|**2 == 2 - 2 * cos(a, b)``.

Euclidean and Manhattan matrices come from scikit-learn (``sklearn.metrics.pairwise``). Cosine
uses scikit-learn's algorithm (normalise every row once, then one matrix product) computed here,
because scikit-learn silently scores a zero row as 0 instead of reporting it.
"""

from __future__ import annotations

import numpy as np
import sklearn
import torch
from rapidfuzz.distance import Hamming, Levenshtein
from sklearn.metrics.pairwise import euclidean_distances, manhattan_distances

from .validation import as_matrix, as_numbers, as_vector, unit_rows, whole_number

__all__ = [
    "METRICS",
    "cosine_similarity",
    "distance_to_similarity",
    "edit_distance",
    "euclidean_distance",
    "hamming_distance",
    "manhattan_distance",
    "pairwise",
    "top_k",
]

#: Metrics understood by :func:`pairwise` and :func:`top_k`: one similarity, two distances.
METRICS = ("cosine", "euclidean", "manhattan")

#: Default memory budget of :func:`top_k` for one block of scores (and its partition indices).
TOP_K_BUDGET_BYTES = 256 * 2**20


# --- Two vectors -> one number -----------------------------------------------------------------


def cosine_similarity(a, b) -> float:
    """Cosine of the angle between two vectors: ``a.b / (|a| |b|)``.

    It ignores length: ``cosine_similarity(a, 3 * b) == cosine_similarity(a, b)``. Computed in
    float64, each vector scaled by its largest absolute value (no underflow or overflow).

    Parameters
    ----------
    a, b : array_like, shape (d,)
        1-D vectors of the same length (NumPy arrays, lists or torch tensors).

    Returns
    -------
    float
        In [-1, 1]: 1 for the same direction, 0 for orthogonal vectors, -1 for opposite ones.

    Raises
    ------
    ValueError
        For shapes that differ or are not 1-D, empty input, NaN or infinity, and a zero vector
        (it has no direction, so its angle to anything is undefined).

    Examples
    --------
    >>> from simlab.metrics import cosine_similarity
    >>> round(cosine_similarity([1, 0], [1, 1]), 4)
    0.7071
    >>> cosine_similarity([1, 0], [-2, 0])
    -1.0
    """
    a, b = _vector_pair(a, b)
    a = _scaled_to_unit_max(a, "a")
    b = _scaled_to_unit_max(b, "b")
    cos = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.clip(cos, -1.0, 1.0))  # rounding can overshoot 1 by ~1e-16


def euclidean_distance(a, b) -> float:
    """Straight-line (L2) distance ``sqrt(sum((a - b)**2))`` between two vectors.

    Computed in float64 and scaled so that tiny differences do not vanish when squared.

    Parameters
    ----------
    a, b : array_like, shape (d,)
        1-D vectors of the same length (NumPy arrays, lists or torch tensors).

    Returns
    -------
    float
        >= 0, in the units of the vectors; 0 only when ``a == b``.

    Raises
    ------
    ValueError
        For shapes that differ or are not 1-D, empty input, NaN or infinity.

    Examples
    --------
    >>> from simlab.metrics import euclidean_distance
    >>> euclidean_distance([0, 0], [3, 4])
    5.0
    """
    a, b = _vector_pair(a, b)
    diff = a - b
    largest = np.max(np.abs(diff))
    if largest == 0:
        return 0.0
    if not np.isfinite(largest):  # a - b itself overflowed float64 (values near 1e308)
        return float("inf")
    return float(largest * np.linalg.norm(diff / largest))


def manhattan_distance(a, b) -> float:
    """City-block (L1) distance ``sum(|a - b|)`` between two vectors, computed in float64.

    Parameters
    ----------
    a, b : array_like, shape (d,)
        1-D vectors of the same length (NumPy arrays, lists or torch tensors).

    Returns
    -------
    float
        >= 0, in the units of the vectors; 0 only when ``a == b``.

    Raises
    ------
    ValueError
        For shapes that differ or are not 1-D, empty input, NaN or infinity.

    Examples
    --------
    >>> from simlab.metrics import manhattan_distance
    >>> manhattan_distance([0, 0], [3, 4])
    7.0
    """
    a, b = _vector_pair(a, b)
    return float(np.sum(np.abs(a - b)))


def distance_to_similarity(d):
    """Map a distance ``d >= 0`` to a similarity ``1 / (1 + d)`` in (0, 1].

    0 (identical) becomes 1, and the similarity falls towards 0 as the distance grows. It keeps
    the order but not the scale: a convenience for plotting distances and similarities on one
    axis, not a substitute for cosine.

    Parameters
    ----------
    d : float or array_like
        One distance or an array of them, each >= 0.

    Returns
    -------
    float or numpy.ndarray
        A ``float`` for a number, a float64 array of the same shape for an array.

    Raises
    ------
    ValueError
        For a negative distance, NaN or a non-numeric value.

    Examples
    --------
    >>> from simlab.metrics import distance_to_similarity
    >>> distance_to_similarity(0), distance_to_similarity(3)
    (1.0, 0.25)
    >>> distance_to_similarity([0, 1]).tolist()
    [1.0, 0.5]
    """
    arr = as_numbers(d, "d").astype(np.float64, copy=False)
    if np.isnan(arr).any():
        raise ValueError("d contains NaN: a distance must be a number >= 0")
    if (arr < 0).any():
        raise ValueError(f"d contains a negative value ({arr.min():g}): a distance is >= 0")
    sim = 1.0 / (1.0 + arr)
    return float(sim) if sim.ndim == 0 else sim


# --- Many vectors -> a matrix, or the nearest neighbours ---------------------------------------


def pairwise(X, Y=None, *, metric: str = "cosine") -> np.ndarray:
    """Compare every row of ``X`` with every row of ``Y``: an (N, M) matrix of scores.

    Entry ``[i, j]`` is the single-pair function of ``X[i]`` and ``Y[j]`` up to rounding (for
    nearly identical vectors, scikit-learn's Euclidean is off by about 1e-7 of their length). The
    matrix is held in memory (20,000 x 20,000 float32: 1.6 GB); :func:`top_k` needs far less.

    Parameters
    ----------
    X : array_like, shape (N, d)
        One vector per row (NumPy array, nested lists or torch tensor).
    Y : array_like, shape (M, d), optional
        Rows to compare with; ``None`` compares ``X`` with itself.
    metric : {"cosine", "euclidean", "manhattan"}, optional
        ``"cosine"`` is a similarity in [-1, 1] (higher = more alike); ``"euclidean"`` and
        ``"manhattan"`` are distances >= 0 (lower = more alike).

    Returns
    -------
    numpy.ndarray, shape (N, M)
        float32 when both inputs are float32 (CNN features are), else float64.

    Raises
    ------
    ValueError
        For an unknown metric, arrays that are not 2-D, row lengths that differ (naming both
        shapes), empty input, NaN or infinity (naming the row), and for cosine a zero row (naming
        it; scikit-learn's ``cosine_similarity`` would silently score it 0).

    Examples
    --------
    >>> import numpy as np
    >>> from simlab.metrics import pairwise
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    >>> pairwise(X).round(2).tolist()
    [[1.0, 0.0, 0.71], [0.0, 1.0, 0.71], [0.71, 0.71, 1.0]]
    >>> pairwise(X, X[:1], metric="euclidean").round(2).tolist()
    [[0.0], [2.24], [3.61]]
    """
    metric = _check_metric(metric)
    same = Y is None or Y is X
    X = as_matrix(X, "X")
    Y = X if same else as_matrix(Y, "Y")
    _check_same_width(X, Y, "X", "Y")
    X, Y = _common_float(X, Y)
    if metric == "cosine":
        X_unit = unit_rows(X, "X")
        Y_unit = X_unit if same else unit_rows(Y, "Y")
        # X_unit @ X_unit.T lets NumPy use BLAS's symmetric product, as scikit-learn does.
        scores = X_unit @ Y_unit.T
        return np.clip(scores, -1.0, 1.0, out=scores)  # rounding can overshoot 1 by ~1e-7
    return _sklearn_distances(X, None if same else Y, metric).astype(X.dtype, copy=False)


def top_k(
    queries, gallery, *, k: int = 10, metric: str = "cosine", block_rows: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` gallery rows nearest to each query row, best first.

    "Nearest": the highest cosine, or the smallest Euclidean or Manhattan distance; ties in any
    order. Pass a gallery as both arguments to search it for its own items (each finds itself
    first). Scores are computed ``block_rows`` queries at a time, each block reduced to its ``k``
    best (``torch.topk``) before the next, so memory stays bounded for any number of queries.

    Parameters
    ----------
    queries : array_like, shape (Nq, d)
        One query vector per row.
    gallery : array_like, shape (Ng, d)
        The vectors searched.
    k : int, optional
        How many neighbours per query, 1 to Ng.
    metric : {"cosine", "euclidean", "manhattan"}, optional
        As in :func:`pairwise`.
    block_rows : int, optional
        Queries per block; by default a block of scores and its int64 indices fit in 256 MB
        (``TOP_K_BUDGET_BYTES``), besides normalised (cosine) or float64 (Manhattan) copies.

    Returns
    -------
    indices : numpy.ndarray of int64, shape (Nq, k)
        ``indices[i, j]`` is the gallery row that is the ``j``-th best match of ``queries[i]``.
    scores : numpy.ndarray, shape (Nq, k)
        Its similarity or distance, in the dtype :func:`pairwise` would give.

    Raises
    ------
    ValueError
        For ``k`` < 1 or larger than the gallery, a ``block_rows`` that is not a positive
        integer, and everything :func:`pairwise` refuses.

    Examples
    --------
    >>> import numpy as np
    >>> from simlab.metrics import top_k
    >>> X = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    >>> indices, scores = top_k(X, X, k=2)
    >>> indices.tolist(), scores.round(2).tolist()
    ([[0, 1], [1, 2], [2, 1]], [[1.0, 0.6], [1.0, 0.8], [1.0, 0.8]])
    """
    metric = _check_metric(metric)
    same = queries is gallery
    G = as_matrix(gallery, "gallery")
    Q = G if same else as_matrix(queries, "queries")
    _check_same_width(Q, G, "queries", "gallery")
    Q, G = _common_float(Q, G)
    n_gallery = len(G)
    k = whole_number(k, "k")
    if k > n_gallery:
        raise ValueError(f"k={k} but the gallery has only {n_gallery} rows: ask for at most {n_gallery}")
    if block_rows is None:
        score_bytes = 8 if metric == "manhattan" else Q.dtype.itemsize  # SciPy's cdist is float64
        block_rows = max(1, TOP_K_BUDGET_BYTES // (n_gallery * (score_bytes + 8)))
    else:
        block_rows = whole_number(block_rows, "block_rows")

    higher_is_better = metric == "cosine"
    if metric == "cosine":  # normalise once, not once per block
        G = unit_rows(G, "gallery")
        Q = G if same else unit_rows(Q, "queries")
    elif metric == "manhattan":
        G = G.astype(np.float64, copy=False)  # SciPy would otherwise convert it for every block

    indices = np.empty((len(Q), k), dtype=np.int64)
    scores = np.empty((len(Q), k), dtype=Q.dtype)
    for start in range(0, len(Q), block_rows):
        rows = slice(start, start + block_rows)
        if metric == "cosine":
            block = Q[rows] @ G.T
        else:
            block = _sklearn_distances(Q[rows].astype(G.dtype, copy=False), G, metric)
        # torch.topk selects the k best per row in parallel and returns them sorted; it is
        # tens of times faster than np.argpartition on blocks this wide. It shares the memory.
        best_scores, best = torch.from_numpy(block).topk(k, dim=1, largest=higher_is_better)
        indices[rows] = best.numpy()
        scores[rows] = best_scores.numpy()
        del block, best  # free this block before the next one is computed
    if higher_is_better:
        np.clip(scores, -1.0, 1.0, out=scores)
    return indices, scores


# --- Strings and sequences ---------------------------------------------------------------------


def edit_distance(s, t) -> int:
    """Levenshtein distance: the fewest insertions, deletions and substitutions turning s into t.

    Computed by ``rapidfuzz.distance.Levenshtein``.

    Parameters
    ----------
    s, t : str or sequence
        Two strings, or two sequences (lists or tuples of numbers or bits, 1-D arrays); their
        lengths may differ.

    Returns
    -------
    int
        >= 0; 0 when ``s`` and ``t`` are equal.

    Raises
    ------
    ValueError
        When one argument is a string and the other a sequence (``"0101"`` and ``[0, 1, 0, 1]``
        share no symbol: ``"0" != 0``), for a multi-dimensional array, or for a value that is
        neither.

    Examples
    --------
    >>> from simlab.metrics import edit_distance
    >>> edit_distance("kitten", "sitting")
    3
    >>> edit_distance([0, 1, 1], [0, 1])
    1
    """
    s, t = _symbol_pair(s, t)
    return _rapidfuzz(Levenshtein.distance, s, t)


def hamming_distance(s, t) -> int:
    """Hamming distance: the number of positions at which ``s`` and ``t`` differ.

    It is edit distance with substitutions only, so the lengths must be equal. Computed by
    ``rapidfuzz.distance.Hamming``.

    Parameters
    ----------
    s, t : str or sequence
        Two strings, or two sequences (lists or tuples of numbers or bits, 1-D arrays), of the
        same length.

    Returns
    -------
    int
        Between 0 and ``len(s)``.

    Raises
    ------
    ValueError
        For lengths that differ (naming both), and for the inputs :func:`edit_distance` refuses.

    Examples
    --------
    >>> from simlab.metrics import hamming_distance
    >>> hamming_distance("1011", "1001")
    1
    """
    s, t = _symbol_pair(s, t)
    if len(s) != len(t):
        raise ValueError(
            f"Hamming distance needs two sequences of the same length, but s has length "
            f"{len(s)} and t has length {len(t)}; edit_distance(s, t) allows different lengths"
        )
    return _rapidfuzz(Hamming.distance, s, t, pad=False)


# --- Input checks shared by the functions above ------------------------------------------------


def _vector_pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = as_vector(a, "a"), as_vector(b, "b")
    if a.shape != b.shape:
        raise ValueError(
            f"a and b must have the same length, but a has shape {a.shape} and b has shape "
            f"{b.shape}; were they taken from different stages or backbones?"
        )
    return a, b


def _scaled_to_unit_max(v: np.ndarray, name: str) -> np.ndarray:
    """``v`` divided by its largest absolute value (cosine is scale-free); refuse a zero vector."""
    largest = np.max(np.abs(v))
    if largest == 0:
        raise ValueError(
            f"{name} is a zero vector (all zeros): it has no direction, so cosine similarity "
            "is undefined for it; use a distance, or check why the features are all zero"
        )
    return v / largest


def _check_same_width(X: np.ndarray, Y: np.ndarray, x_name: str, y_name: str) -> None:
    if X.shape[1] != Y.shape[1]:
        raise ValueError(
            f"{x_name} has shape {X.shape} and {y_name} has shape {Y.shape}: their rows must "
            f"have the same length ({X.shape[1]} != {Y.shape[1]}); were they taken from "
            "different stages or backbones?"
        )


def _common_float(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dtype = np.result_type(X.dtype, Y.dtype)
    return X.astype(dtype, copy=False), Y.astype(dtype, copy=False)


def _sklearn_distances(X: np.ndarray, Y: np.ndarray | None, metric: str) -> np.ndarray:
    """scikit-learn's Euclidean or Manhattan distances; the inputs are already checked here."""
    function = euclidean_distances if metric == "euclidean" else manhattan_distances
    with sklearn.config_context(assume_finite=True):  # skip scikit-learn's second NaN scan
        return function(X, Y)


def _check_metric(metric) -> str:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    return metric


def _symbols(x, name: str):
    """A string, or a sequence of symbols (a list) that rapidfuzz can compare."""
    if isinstance(x, str):
        return x
    if hasattr(x, "detach") and hasattr(x, "numpy"):  # a torch.Tensor
        x = x.detach().cpu().numpy()
    if isinstance(x, np.ndarray):
        if x.ndim != 1:
            raise ValueError(
                f"{name} is an array of shape {x.shape}, but a 1-D sequence is expected: "
                f"flatten it with {name}.ravel()"
            )
        return x.tolist()
    if isinstance(x, (list, tuple, range, bytes)):
        return list(x)
    raise ValueError(
        f"{name} is of type {type(x).__name__}; edit and Hamming distance compare two strings "
        "or two sequences (lists, tuples, 1-D arrays)"
    )


def _symbol_pair(s, t):
    if isinstance(s, str) != isinstance(t, str):
        kinds = f"s is of type {type(s).__name__} and t is of type {type(t).__name__}"
        raise ValueError(
            f"{kinds}: compare a string with a string, or a sequence with a sequence "
            "('0101' and [0, 1, 0, 1] have no symbol in common, because '0' != 0); "
            "convert with list(map(int, bits)) or ''.join(map(str, bits))"
        )
    return _symbols(s, "s"), _symbols(t, "t")


def _rapidfuzz(distance, s, t, **kwargs) -> int:
    try:
        return int(distance(s, t, **kwargs))
    except TypeError as e:  # e.g. a list of lists: its elements cannot be hashed
        raise ValueError(
            f"the sequences hold elements that cannot be compared as symbols ({e}); "
            "use flat sequences of numbers or characters"
        ) from None

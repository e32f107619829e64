"""How similar are two feature vectors (or strings)? Distances, similarities, nearest neighbours.

Entry points, from one pair to many:

- :func:`cosine_similarity`, :func:`euclidean_distance`, :func:`manhattan_distance` compare two
  1-D vectors and return a Python ``float``.
- :func:`pairwise` compares every row of ``X`` with every row of ``Y`` at once: an (N, M) matrix.
- :func:`top_k` finds the ``k`` nearest gallery rows of each query, computing the score matrix
  in row blocks so that memory stays bounded however many queries there are.
- :func:`edit_distance` (Levenshtein) and :func:`hamming_distance` compare strings or sequences,
  e.g. the perceptual-hash bit strings of :func:`simlab.hashes.hash_bits`.
- :func:`distance_to_similarity` turns a distance (0 = identical) into a similarity in (0, 1].
- :func:`best_threshold` picks the similarity threshold with the best F1 on labelled pairs, and
  :func:`precision_recall_f1` scores a given threshold (e.g. one chosen on other pairs).
- :func:`precision_at_k` scores a retrieval: of the k items ranked nearest to each item, the
  fraction that are right answers (e.g. its near-duplicates).

Vectors may be NumPy arrays, lists of numbers or torch tensors (on any device, with or without
gradients). Bad input raises ``ValueError`` with a message that says what is wrong and, where
there is one, the usual fix: shapes that do not match, empty input, NaN or infinity, a zero
vector under cosine, or a matrix where one vector is expected.

Conventions: cosine is a *similarity* (1 = same direction, 0 = orthogonal, -1 = opposite);
Euclidean, Manhattan, edit and Hamming are *distances* (0 = identical, larger = less alike).
For unit-length vectors the two views agree: ``|a - b|**2 == 2 - 2 * cos(a, b)``.

The matrix functions call scikit-learn (``sklearn.metrics.pairwise``) for Euclidean and Manhattan
distances. Cosine is computed here with scikit-learn's own algorithm (normalise every row once,
then one matrix product) because scikit-learn silently scores a zero row as 0 instead of
reporting it, and because skipping its repeated input checks makes it no slower.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import sklearn
import torch
from rapidfuzz.distance import Hamming, Levenshtein
from sklearn.metrics import precision_recall_curve, precision_recall_fscore_support
from sklearn.metrics.pairwise import euclidean_distances, manhattan_distances

from .validation import as_matrix, as_numbers, check_finite, unit_rows, whole_number

__all__ = [
    "METRICS",
    "Threshold",
    "best_threshold",
    "cosine_similarity",
    "distance_to_similarity",
    "edit_distance",
    "euclidean_distance",
    "hamming_distance",
    "manhattan_distance",
    "pairwise",
    "precision_at_k",
    "precision_recall_f1",
    "top_k",
]

#: Metrics understood by :func:`pairwise` and :func:`top_k`: one similarity, two distances.
METRICS = ("cosine", "euclidean", "manhattan")

#: Default memory budget of :func:`top_k` for one block of scores (and its partition indices).
TOP_K_BUDGET_BYTES = 256 * 2**20


# ---------------------------------------------------------------------------------------------
# Two vectors -> one number
# ---------------------------------------------------------------------------------------------


def cosine_similarity(a, b) -> float:
    """Cosine of the angle between 1-D vectors ``a`` and ``b``: ``a.b / (|a| |b|)``.

    ``a`` and ``b`` are 1-D vectors of the same length (NumPy arrays, lists or torch tensors).
    Returns a ``float`` in [-1, 1]: 1 for the same direction, 0 for orthogonal vectors, -1 for
    opposite ones. It ignores length: ``cosine_similarity(a, 3 * b) == cosine_similarity(a, b)``.
    Computed in float64, with each vector first scaled by its largest absolute value so that
    very small or very large values neither underflow nor overflow.

    Raises ``ValueError`` for shapes that differ or are not 1-D, empty input, NaN or infinity,
    and a zero vector (it has no direction, so its angle to anything is undefined).
    """
    a, b = _vector_pair(a, b)
    a = _scaled_to_unit_max(a, "a")
    b = _scaled_to_unit_max(b, "b")
    cos = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.clip(cos, -1.0, 1.0))  # rounding can overshoot 1 by ~1e-16


def euclidean_distance(a, b) -> float:
    """Straight-line (L2) distance ``sqrt(sum((a - b)**2))`` between 1-D vectors ``a`` and ``b``.

    Returns a ``float`` >= 0 in the units of the vectors; 0 only when ``a == b``. Computed in
    float64 and scaled so that tiny differences do not vanish when squared.

    Raises ``ValueError`` for shapes that differ or are not 1-D, empty input, NaN or infinity.
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
    """City-block (L1) distance ``sum(|a - b|)`` between 1-D vectors ``a`` and ``b``.

    Returns a ``float`` >= 0 in the units of the vectors; 0 only when ``a == b``. Computed in
    float64.

    Raises ``ValueError`` for shapes that differ or are not 1-D, empty input, NaN or infinity.
    """
    a, b = _vector_pair(a, b)
    return float(np.sum(np.abs(a - b)))


def distance_to_similarity(d):
    """Map a distance ``d >= 0`` to a similarity ``1 / (1 + d)`` in (0, 1].

    0 (identical) becomes 1, and the similarity falls towards 0 as the distance grows. The
    mapping keeps the order (a smaller distance always gives a larger similarity) but not the
    scale: it is a convenience for plotting distances and similarities on one axis, not a
    substitute for cosine. ``d`` is a number (returns a ``float``) or an array (returns an
    array of the same shape). Raises ``ValueError`` for a negative distance, NaN or a
    non-numeric value.
    """
    arr = as_numbers(d, "d").astype(np.float64, copy=False)
    if np.isnan(arr).any():
        raise ValueError("d contains NaN: a distance must be a number >= 0")
    if (arr < 0).any():
        raise ValueError(f"d contains a negative value ({arr.min():g}): a distance is >= 0")
    sim = 1.0 / (1.0 + arr)
    return float(sim) if sim.ndim == 0 else sim


class Threshold(NamedTuple):
    """The result of :func:`best_threshold`: the chosen threshold, its scores, and the curves."""

    value: float  #: call a pair "same" when its similarity is >= value
    precision: float  #: of the pairs called "same", the fraction that are
    recall: float  #: of the pairs that are "same", the fraction called so
    curve: tuple  #: (precision, recall, thresholds) of ``sklearn.metrics.precision_recall_curve``

    @property
    def f1(self) -> float:
        """2PR / (P + R) at the chosen threshold (0 when P + R is 0)."""
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def _labelled_scores(scores, same) -> tuple[np.ndarray, np.ndarray]:
    """``scores`` as a finite 1-D float array and ``same`` as a bool array of the same length."""
    scores = _vector(scores, "scores")
    same = np.asarray(same)
    if same.shape != scores.shape:
        raise ValueError(f"scores and same must have the same length, got {scores.shape} and {same.shape}")
    if same.dtype != bool:
        raise ValueError(f"same must be a bool array (True = same pair), got dtype {same.dtype}")
    return scores, same


def best_threshold(scores, same, *, sample_weight=None) -> Threshold:
    """The similarity threshold with the best F1 on labelled pairs.

    ``scores`` is a 1-D array of similarities (higher = more alike; negate distances first),
    ``same`` a bool array of the same length, True where the pair really is the same. Every
    distinct score is tried as a threshold (``scores >= t`` means "same") and the one with the
    highest F1 = 2PR / (P + R) wins (``.f1``). Returns a :class:`Threshold`; its ``curve`` feeds
    :func:`simlab.viz.show_precision_recall` (drop the final point: ``p[:-1], r[:-1], t``).
    ``sample_weight`` (non-negative, one per pair) counts pairs that many times, as a bootstrap
    round does (:func:`simlab.evaluation.group_bootstrap`).

    Raises ``ValueError`` when the lengths differ, a score is NaN or infinite, or ``same`` holds
    only one class (no threshold can be chosen from that).

    Examples
    --------
    >>> from simlab.metrics import best_threshold
    >>> t = best_threshold([0.9, 0.8, 0.7, 0.3], [True, True, False, False])
    >>> t.value, t.f1
    (0.8, 1.0)
    """
    scores, same = _labelled_scores(scores, same)
    if same.all() or not same.any():
        raise ValueError("same must contain both same (True) and different (False) pairs")
    precision, recall, thresholds = precision_recall_curve(same, scores, sample_weight=sample_weight)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    i = int(np.argmax(f1[:-1]))  # the last point (P=1, R=0) has no threshold
    return Threshold(float(thresholds[i]), float(precision[i]), float(recall[i]),
                     (precision, recall, thresholds))


def precision_recall_f1(scores, same, threshold: float) -> tuple[float, float, float]:
    """Precision, recall and F1 of calling a pair "same" when its score is ``>= threshold``.

    ``scores`` is a 1-D array of similarities (higher = more alike; negate distances first, and
    the threshold with them), ``same`` a bool array of the same length, True where the pair
    really is the same. Precision: of the pairs called "same", the fraction that are; recall: of
    the pairs that are, the fraction called "same"; F1 = 2PR / (P + R). Returns three floats in
    [0, 1]; precision is 0 when no pair is called "same", F1 is 0 when P + R is 0. Use it to test
    a threshold chosen by :func:`best_threshold` on *other* pairs.

    Raises ``ValueError`` when the lengths differ, a score or the threshold is NaN or infinite,
    ``same`` is not bool, or ``same`` holds no True (recall would be undefined).
    """
    scores, same = _labelled_scores(scores, same)
    if not same.any():
        raise ValueError("same holds no True: with no same pair, recall is undefined")
    threshold = float(threshold)
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, got {threshold}")
    precision, recall, f1, _ = precision_recall_fscore_support(same, scores >= threshold, average="binary",
                                                               zero_division=0)
    return float(precision), float(recall), float(f1)


# ---------------------------------------------------------------------------------------------
# Many vectors -> a matrix, or the nearest neighbours
# ---------------------------------------------------------------------------------------------


def pairwise(X, Y=None, metric: str = "cosine") -> np.ndarray:
    """Compare every row of ``X`` with every row of ``Y``: an (N, M) matrix of scores.

    ``X`` is (N, d) and ``Y`` is (M, d), one vector per row (NumPy arrays, nested lists or torch
    tensors); ``Y=None`` compares ``X`` with itself. ``metric`` is ``"cosine"`` (a similarity in
    [-1, 1], higher = more alike), ``"euclidean"`` or ``"manhattan"`` (distances >= 0, lower =
    more alike). Entry ``[i, j]`` equals the single-pair function on ``X[i]`` and ``Y[j]`` up to
    float rounding (Euclidean uses scikit-learn's fast ``|x|^2 + |y|^2 - 2 x.y`` expansion, which
    is off by about 1e-7 of the vector length for nearly identical vectors).

    Returns a float32 array when both inputs are float32 (CNN features are), else float64.
    The (N, M) result is held in memory at once: 20,000 x 20,000 in float32 is 1.6 GB. To find
    nearest neighbours among many vectors, :func:`top_k` needs far less.

    Raises ``ValueError`` for an unknown metric, arrays that are not 2-D, row lengths that
    differ (naming both shapes), empty input, NaN or infinity (naming the row), and for cosine a
    zero row (naming it; scikit-learn's ``cosine_similarity`` would silently score it 0).
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
    queries, gallery, k: int = 10, metric: str = "cosine", block_rows: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` gallery rows nearest to each query row, best first.

    ``queries`` is (Nq, d) and ``gallery`` is (Ng, d). ``metric`` is as in :func:`pairwise`:
    "nearest" means the highest cosine similarity, or the smallest Euclidean or Manhattan
    distance. Returns ``(indices, scores)``, both (Nq, k): ``indices[i, j]`` is the row of
    ``gallery`` that is the ``j``-th best match of ``queries[i]`` (int64) and ``scores[i, j]``
    its similarity or distance (the dtype :func:`pairwise` would give). Ties are ordered
    arbitrarily. To search a gallery for its own items, pass it as both arguments: each item
    then finds itself first.

    The score matrix is computed ``block_rows`` queries at a time, and each block is reduced to
    its ``k`` best (``torch.topk``, sorted) before the next one,
    so memory stays bounded for any number of queries. By default ``block_rows`` keeps one
    block of scores plus its int64 partition indices within 256 MB (TOP_K_BUDGET_BYTES).
    On top of that come normalised copies of the inputs (cosine) or a float64 copy of the
    gallery (Manhattan), and scikit-learn's Euclidean path may briefly hold a second block.

    Raises ``ValueError`` for ``k`` < 1 or larger than the gallery, a ``block_rows`` that is not
    a positive integer, and everything :func:`pairwise` refuses.
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
        raise ValueError(
            f"k={k} but the gallery has only {n_gallery} rows: ask for at most {n_gallery}"
        )
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


def precision_at_k(vectors, relevant, k: int | None = None, metric: str = "cosine") -> np.ndarray:
    """Retrieval precision@k of every row of ``vectors`` searched against all the other rows.

    ``vectors`` is (N, d), one item per row (N >= 2). ``relevant`` has one entry per row: the
    indices of the rows that are right answers for that row (a set, list or 1-D array of ints,
    possibly empty; the row itself is ignored), e.g. the near-duplicates of each photo. For
    query ``i`` the other N - 1 rows are ranked by ``metric`` as in :func:`pairwise` (highest
    cosine, or smallest Euclidean or Manhattan distance, first; equal scores in row order), and
    its precision is the fraction of the ``k`` first that are in ``relevant[i]``.

    ``k`` is a whole number from 1 to N - 1, the same for every query (a query with fewer than
    ``k`` right answers then cannot reach 1), or ``None``: each query uses its own number of
    right answers, ``k = len(relevant[i])`` (R-precision: 1.0 exactly when all its right
    answers come before every other row).

    Returns a float64 array (N,) of precisions in [0, 1], NaN for a row without right answers
    (it has nothing to find; ``np.nanmean`` averages over the others). The (N, N) score matrix
    is held in memory, which suits labelled sets of up to a few thousand items.

    Raises ``ValueError`` when ``relevant`` does not have N entries, names a row that does not
    exist (or is not a whole number), when ``k`` is out of range, and for everything
    :func:`pairwise` refuses.
    """
    metric = _check_metric(metric)
    X = as_matrix(vectors, "vectors")
    n = len(X)
    if n < 2:
        raise ValueError("vectors has 1 row: a search needs at least 2 items")
    if len(relevant) != n:
        raise ValueError(f"relevant has {len(relevant)} entries but vectors has {n} rows: "
                         "give one collection of right answers per row (an empty set for none)")
    if k is not None:
        k = whole_number(k, "k")
        if k > n - 1:
            raise ValueError(f"k={k} but each query has only {n - 1} other rows to rank")
    answers = []
    for i, rows in enumerate(relevant):
        idx = np.asarray(list(rows))
        if idx.size and (idx.ndim != 1 or idx.dtype.kind not in "iu" or idx.min() < 0 or idx.max() >= n):
            raise ValueError(f"relevant[{i}] is {list(rows)!r}: it must hold row numbers (ints) "
                             f"from 0 to {n - 1}")
        answers.append(set(idx.tolist()) - {i})
    scores = pairwise(X, metric=metric).astype(np.float64)
    if metric != "cosine":
        scores = -scores  # rank by "higher = nearer" in every case
    np.fill_diagonal(scores, -np.inf)  # a query never finds itself
    order = np.argsort(-scores, axis=1, kind="stable")
    result = np.full(n, np.nan)
    for i, right in enumerate(answers):
        if right:
            k_i = len(right) if k is None else k
            result[i] = len(right.intersection(order[i, :k_i].tolist())) / k_i
    return result


# ---------------------------------------------------------------------------------------------
# Strings and sequences
# ---------------------------------------------------------------------------------------------


def edit_distance(s, t) -> int:
    """Levenshtein distance: the fewest insertions, deletions and substitutions turning s into t.

    ``s`` and ``t`` are two strings, or two sequences (lists or tuples of numbers or bits, 1-D
    arrays); their lengths may differ. Returns an ``int`` >= 0, e.g.
    ``edit_distance("kitten", "sitting") == 3``. Computed by ``rapidfuzz.distance.Levenshtein``.

    Raises ``ValueError`` when one argument is a string and the other a sequence (``"0101"``
    and ``[0, 1, 0, 1]`` share no symbol: ``"0" != 0``), for a multi-dimensional array, or for
    a value that is neither.
    """
    s, t = _symbol_pair(s, t)
    return _rapidfuzz(Levenshtein.distance, s, t)


def hamming_distance(s, t) -> int:
    """Hamming distance: the number of positions at which ``s`` and ``t`` differ.

    It is edit distance with substitutions only, so ``s`` and ``t`` must have the same length:
    two strings, or two sequences (lists or tuples of numbers or bits, 1-D arrays). Returns an
    ``int`` between 0 and ``len(s)``, e.g. ``hamming_distance("1011", "1001") == 1``. Computed
    by ``rapidfuzz.distance.Hamming``.

    Raises ``ValueError`` for lengths that differ (naming both), and for the inputs
    :func:`edit_distance` refuses.
    """
    s, t = _symbol_pair(s, t)
    if len(s) != len(t):
        raise ValueError(
            f"Hamming distance needs two sequences of the same length, but s has length "
            f"{len(s)} and t has length {len(t)}; edit_distance(s, t) allows different lengths"
        )
    return _rapidfuzz(Hamming.distance, s, t, pad=False)


# ---------------------------------------------------------------------------------------------
# Input checks shared by the functions above
# ---------------------------------------------------------------------------------------------


def _vector(x, name: str) -> np.ndarray:
    """``x`` as a finite, non-empty 1-D float64 array."""
    arr = as_numbers(x, name)
    if arr.ndim == 0:
        raise ValueError(f"{name} is a single number, but a 1-D vector is expected")
    if arr.ndim != 1:
        raise ValueError(
            f"{name} has shape {arr.shape}, but a 1-D vector is expected: flatten it with "
            f"{name}.ravel(), or use pairwise() to compare the rows of two matrices"
        )
    if arr.size == 0:
        raise ValueError(f"{name} is empty: there is nothing to compare")
    arr = arr.astype(np.float64, copy=False)
    check_finite(arr, name)
    return arr


def _vector_pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = _vector(a, "a"), _vector(b, "b")
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

"""How good is a similarity score at a yes/no question or a search?

- Thresholds: :func:`best_threshold` picks the similarity threshold with the best F1 on labelled
  pairs; :func:`precision_recall_f1` scores a threshold chosen on other pairs.
- Search: :func:`precision_at_k` scores a retrieval, :func:`recall_at_k` an approximate search
  against the exact one, :func:`pair_precision_recall` groups found against the truth.

How sure a measured score is (intervals over people or source photos) is :mod:`simlab.intervals`.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import numpy as np
from sklearn.metrics import precision_recall_curve, precision_recall_fscore_support

from .metrics import pairwise
from .validation import as_indices, as_matrix, as_vector, whole_number

__all__ = ["Threshold", "best_threshold", "pair_precision_recall", "precision_at_k", "precision_recall_f1",
           "recall_at_k"]


def pair_precision_recall(groups, labels) -> tuple[float, float]:
    """How well ``groups`` of rows match the truth, counted in pairs: ``(precision, recall)``.

    Every two rows of one group make a *found* pair, every two rows with one label a *true* pair.

    Parameters
    ----------
    groups : list of list of int
        Row numbers, as :func:`simlab.search.near_duplicate_groups` returns (a list of linked
        pairs ``[i, j]`` scores the links before they chain).
    labels : sequence
        Each row's true group, e.g. the photo a file was made from (compared with ``==``).

    Returns
    -------
    precision, recall : float
        The fraction of found pairs that are true (0.0 when nothing was found), and of true pairs
        that were found.

    Raises
    ------
    ValueError
        When no two rows share a label (recall is undefined) or a row number is not a row of
        ``labels``.

    Examples
    --------
    >>> from simlab.evaluation import pair_precision_recall
    >>> pair_precision_recall([[0, 1, 2], [3, 4]], ["a", "a", "b", "b", "b"])
    (0.5, 0.5)
    """
    labels = np.asarray(labels)
    n = len(labels)

    def pairs(group_list) -> set[tuple[int, int]]:
        return {pair for g in group_list for pair in itertools.combinations(sorted(set(g)), 2)}

    found = pairs([[int(i) for i in g] for g in groups])
    if any(not 0 <= i < n for pair in found for i in pair):
        raise ValueError(f"groups hold a row number outside 0..{n - 1} (labels has {n} rows)")
    true = pairs([np.flatnonzero(labels == value).tolist() for value in np.unique(labels)])
    if not true:
        raise ValueError("no two rows share a label: there is no true pair, so recall is undefined")
    hits = len(found & true)
    return (hits / len(found) if found else 0.0), hits / len(true)


class Threshold(NamedTuple):
    """The result of :func:`best_threshold`: the chosen threshold, its scores, and the curves.

    Examples
    --------
    >>> from simlab.evaluation import Threshold
    >>> round(Threshold(0.5, precision=1.0, recall=0.5, curve=()).f1, 3)
    0.667
    """

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
    scores = as_vector(scores, "scores")
    same = np.asarray(same)
    if same.shape != scores.shape:
        raise ValueError(f"scores and same must have the same length, got {scores.shape} and {same.shape}")
    if same.dtype != bool:
        raise ValueError(f"same must be a bool array (True = same pair), got dtype {same.dtype}")
    return scores, same


def best_threshold(scores, same, *, sample_weight=None) -> Threshold:
    """The similarity threshold with the best F1 on labelled pairs.

    Every distinct score is tried (``scores >= t`` means "same"); the highest F1 = 2PR / (P + R) wins.

    Parameters
    ----------
    scores : array_like, shape (P,)
        Similarities, higher = more alike (negate distances first).
    same : array_like of bool, shape (P,)
        True where the pair really is the same.
    sample_weight : array_like, shape (P,), optional
        Non-negative: pairs count that many times, as in a round of :func:`~simlab.intervals.group_bootstrap`.

    Returns
    -------
    Threshold
        Its ``curve`` feeds :func:`simlab.plots.show_precision_recall` (drop the final point:
        ``p[:-1], r[:-1], t``).

    Raises
    ------
    ValueError
        When the lengths differ, a score is NaN or infinite, or ``same`` holds only one class (no
        threshold can be chosen from that).

    Examples
    --------
    >>> from simlab.evaluation import best_threshold
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

    Use it to test a threshold chosen by :func:`best_threshold` on *other* pairs.

    Parameters
    ----------
    scores : array_like, shape (P,)
        Similarities, higher = more alike (negate distances first, and the threshold with them).
    same : array_like of bool, shape (P,)
        True where the pair really is the same.
    threshold : float
        Pairs scoring at least this are called "same".

    Returns
    -------
    precision, recall, f1 : float
        Of the pairs called "same", the fraction that are (0 when none is); of the pairs that are,
        the fraction called "same"; 2PR / (P + R) (0 when P + R is 0).

    Raises
    ------
    ValueError
        When the lengths differ, a score or the threshold is NaN or infinite, ``same`` is not
        bool, or ``same`` holds no True (recall would be undefined).

    Examples
    --------
    >>> from simlab.evaluation import precision_recall_f1
    >>> precision_recall_f1([0.9, 0.8, 0.7, 0.3], [True, False, True, False], 0.75)
    (0.5, 0.5, 0.5)
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


def precision_at_k(vectors, relevant, *, k: int | None = None, metric: str = "cosine") -> np.ndarray:
    """Retrieval precision@k of every row of ``vectors`` searched against all the other rows.

    Query ``i`` ranks the other N - 1 rows by ``metric`` as :func:`simlab.metrics.pairwise` does
    (equal scores in row order); its precision is the fraction of the ``k`` first that are in
    ``relevant[i]``. The (N, N) scores are held in memory: fine for up to a few thousand items.

    Parameters
    ----------
    vectors : array_like, shape (N, d)
        One item per row, N >= 2.
    relevant : sequence of length N
        Each row's right answers: a set, list or 1-D array of row numbers, possibly empty (the row
        itself is ignored), e.g. the near-duplicates of each photo.
    k : int, optional
        1 to N - 1, the same for every query (one with fewer right answers cannot reach 1); by
        default each query's number of right answers (R-precision: 1.0 exactly when all its right
        answers come before every other row).
    metric : {"cosine", "euclidean", "manhattan"}, optional
        How rows are compared.

    Returns
    -------
    numpy.ndarray of float64, shape (N,)
        Precisions in [0, 1]; NaN for a row without right answers (``np.nanmean`` skips them).

    Raises
    ------
    ValueError
        When ``relevant`` does not have N entries, names a row that does not exist (or is not a
        whole number), when ``k`` is out of range, and for everything ``pairwise`` refuses.

    Examples
    --------
    >>> from simlab.evaluation import precision_at_k
    >>> precision_at_k([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]], [{1}, {0}, {3}, set()])
    array([ 1.,  1.,  1., nan])
    """
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


def recall_at_k(found, truth) -> float:
    """Mean over queries of the fraction of the true neighbours that were found.

    For query ``i``: ``|set(found[i]) & set(truth[i])| / k``. The order within a row does not
    matter, and -1 (a place an approximate index left empty) never counts as found.

    Parameters
    ----------
    found, truth : array_like of int, shape (Nq, k)
        Indices, e.g. from :func:`simlab.search.search` on an approximate and an exact index.

    Returns
    -------
    float
        In [0, 1].

    Raises
    ------
    ValueError
        When the shapes differ, are not 2-D or are empty, and when an array does not hold
        integers.

    Examples
    --------
    >>> from simlab.evaluation import recall_at_k
    >>> recall_at_k([[1, 2], [0, 5]], [[1, 2], [0, 3]])
    0.75
    """
    found = as_indices(found, "found")
    truth = as_indices(truth, "truth")
    if found.shape != truth.shape:
        raise ValueError(
            f"found has shape {found.shape} and truth has shape {truth.shape}: both must be "
            "(Nq, k), the same queries and the same k"
        )
    n_queries, k = truth.shape
    # One sortable key per (query, index) pair makes the per-row set intersection one np.isin.
    width = int(max(found.max(), truth.max())) + 2  # room for -1 too
    rows = np.arange(n_queries, dtype=np.int64)[:, None] * width
    found_keys = np.unique((rows + found)[found >= 0])  # unique: a repeated index counts once
    hits = np.isin(found_keys, (rows + truth)[truth >= 0], assume_unique=False)
    return float(hits.sum() / (n_queries * k))

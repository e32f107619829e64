"""Exercise checks of lesson 04, similar photos in a whole collection."""

from __future__ import annotations

import numpy as np

from ..evaluation import recall_at_k
from ..search import near_duplicate_groups, search
from .checks import (
    ExerciseError,
    check_choice,
    correct,
    read_number,
    read_prediction,
    recorded_prediction,
    report_prediction,
    require_answer,
)

__all__ = [
    "INDEX_CHOICES",
    "NOISE_CHOICES",
    "NOISE_QUESTION",
    "check_choice",
    "check_index_choice",
    "check_neighbours",
    "check_noise_recall",
    "check_nprobe",
    "check_own_groups",
]


#: The predict-first question of section 5, answered by the noise cell (``reveal``), checked in Ex4.
NOISE_QUESTION = "04-noise-recall"
NOISE_CHOICES = ("higher", "lower")
_NOISE_REASON = ("in high-dimensional Gaussian noise every vector is about as far from a query as every "
                 "other, so the true 10 nearest are barely nearer than thousands of others: IVF's few "
                 "cells and HNSW's greedy walk follow neighbourhoods, and noise has none (image "
                 "embeddings cluster)")


def _recall_at(index, nprobe: int, queries, truth) -> float:
    saved = index.nprobe
    try:
        index.nprobe = int(nprobe)
        found, _ = search(index, queries, k=np.asarray(truth).shape[1])
    finally:
        index.nprobe = saved
    return recall_at_k(found, truth)


def check_nprobe(answer, recall, index, queries, truth, *, target: float = 0.95) -> None:
    """Check the cheapest ``nprobe`` of an IVF ``index`` that reaches a recall@k of ``target``.

    ``answer`` is the student's nprobe (a whole number >= 1), ``recall`` the recall@k they measured
    with it; ``queries`` (Nq, d) and ``truth`` (Nq, k), the exact neighbours' rows, are what it is
    measured on. Searching more cells never finds fewer true neighbours and always costs more time,
    so the answer is the smallest nprobe whose recall is at least ``target``: the check measures the
    answer and the one below it. ``index.nprobe`` is left as it was.
    """
    require_answer(answer, "nprobe as one whole number")
    nprobe = int(read_number(answer, "nprobe", whole=True))
    if not 1 <= nprobe <= index.nlist:
        raise ExerciseError(f"nprobe is a number of cells, from 1 to nlist = {index.nlist}; got {nprobe}")
    require_answer(recall, "the recall@k you measured with that nprobe")
    reached = _recall_at(index, nprobe, queries, truth)
    got = read_number(recall, "your recall@k")
    if not np.isclose(got, reached, atol=0.005):
        raise ExerciseError(f"with nprobe={nprobe} the index finds recall@k {reached:.3f}, not {got:.3f}: "
                            "measure it on the same queries, against the exact neighbours")
    if reached < target:
        raise ExerciseError(f"nprobe={nprobe} reaches recall@k {reached:.3f}, below {target}: search "
                            "more cells")
    below = _recall_at(index, nprobe - 1, queries, truth) if nprobe > 1 else 0.0
    if below >= target:
        raise ExerciseError(f"nprobe={nprobe - 1} already reaches {below:.3f} and searches fewer cells, "
                            "so it is faster: each cell more costs time, so take the smallest nprobe "
                            "that reaches the target")
    fewer = f", while nprobe={nprobe - 1} finds {below:.2f}" if nprobe > 1 else ""
    correct(f"nprobe={nprobe} is the cheapest: recall@k {reached:.2f}{fewer}. Each query is compared "
            f"with the vectors of {nprobe} of the {index.nlist} cells.")


#: The choices of Exercise 2, cheapest first in what they give up.
INDEX_CHOICES = ("flat", "ivf-pq", "shard")


def check_index_choice(answer, choice, n: int, d: int, budget_bytes: float, *, code_bytes: int = 32) -> None:
    """Check the bytes of a flat index of ``n`` float32 vectors of dimension ``d``, and the index chosen.

    ``answer`` is the student's size of the flat index in bytes; ``choice`` one of
    :data:`INDEX_CHOICES` for a memory budget of ``budget_bytes``: ``"flat"`` (exact, recall 1)
    when it fits, else ``"ivf-pq"`` (``code_bytes`` per vector, some recall lost) when that fits,
    else ``"shard"`` over several machines. A wrong choice gets the reason.

    Examples
    --------
    >>> check_index_choice(30_000 * 1280 * 4, "flat", 30_000, 1280, 200e6)
    Correct: flat 153.6 MB, IVF-PQ 1.0 MB, budget 200.0 MB: flat.
    >>> check_index_choice(30_000 * 1280, "flat", 30_000, 1280, 200e6)
    Traceback (most recent call last):
    ...
    simlab.lessons.checks.ExerciseError: that is the number of floats; each float32 takes 4 bytes
    """
    require_answer(answer, "the number of bytes of the flat index")
    n = int(read_number(n, "the number of photos", whole=True))
    expected = n * d * 4
    got = read_number(answer, "the number of bytes")
    if not np.isclose(got, expected, rtol=1e-3):
        if np.isclose(got, n * d, rtol=1e-3):
            raise ExerciseError("that is the number of floats; each float32 takes 4 bytes")
        if np.isclose(got, n * d * 8, rtol=1e-3):
            raise ExerciseError("8 bytes is float64; FAISS stores float32, 4 bytes per number")
        if np.isclose(got, n * n * 4, rtol=1e-3):
            raise ExerciseError("that is the N x N similarity matrix: an index stores the vectors, N x d")
        if np.isclose(got, expected * 8, rtol=1e-3) or np.isclose(got, expected / 8, rtol=1e-3):
            raise ExerciseError("bits and bytes are mixed up: a float32 is 4 bytes = 32 bits")
        raise ExerciseError(f"a flat index of {n:,} vectors of {d} float32 numbers needs {expected:,} bytes, "
                            f"not {got:,.0f}")
    picked = read_prediction(choice, INDEX_CHOICES, "choice_2")
    compressed = n * code_bytes
    right = "flat" if expected <= budget_bytes else "ivf-pq" if compressed <= budget_bytes else "shard"
    sizes = (f"flat {expected / 1e6:,.1f} MB, IVF-PQ {compressed / 1e6:,.1f} MB, budget "
             f"{budget_bytes / 1e6:,.1f} MB")
    if picked != right:
        why = {"flat": "the flat index fits, and it is exact (recall 1) and needs no training: compressing "
                       "would give up recall for memory you have",
               "ivf-pq": "the flat index does not fit, but the compressed codes do: one machine, some "
                         "recall lost (measure it)",
               "shard": "not even the compressed codes fit: split the collection over machines"}[right]
        raise ExerciseError(f"{picked!r} is not the best choice here ({sizes}): {why}")
    correct(f"{sizes}: {right}.")


def check_own_groups(answer, vectors, threshold, groups, labels) -> None:
    """Check the near-duplicate groups of a folder and their pair precision, from the student's labels.

    ``vectors`` (N, d) are the folder's vectors, ``threshold`` the cosine similarity the student
    chose, ``groups`` their groups (lists of rows, as ``near_duplicate_groups(vectors, threshold)``
    gives), ``labels`` a dict row -> the name of the photo that file comes from, for every row in a
    group, and ``answer`` the pair precision: of the pairs of files put in one group, the share that
    come from one photo.

    Examples
    --------
    >>> vectors = [[1.0, 0.0], [0.99, 0.1], [0.98, 0.2], [0.0, 1.0]]
    >>> labels = {0: "cat", 1: "cat", 2: "dog"}
    >>> check_own_groups(1 / 3, vectors, 0.9, [[0, 1, 2]], labels)  # doctest: +ELLIPSIS
    Correct: 1 groups at threshold 0.900; by your labels 1/3 pairs ...: pair precision 0.33.
    """
    require_answer(answer, "the pair precision of your groups")
    threshold = read_number(threshold, "threshold_3")
    if not -1 <= threshold <= 1:
        raise ExerciseError(f"threshold_3 is a cosine similarity, from -1 to 1; got {threshold}")
    expected = near_duplicate_groups(vectors, threshold)
    try:
        given = sorted(sorted(int(i) for i in g) for g in groups)
    except (TypeError, ValueError):
        raise ExerciseError("groups_3 must be a list of groups, each a list of row numbers") from None
    if given != expected:
        raise ExerciseError(f"groups_3 are not the groups at threshold {threshold}: link every two files at "
                            f"or above it and chain the links ({len(expected)} groups, {len(given)} given)")
    if not expected:
        raise ExerciseError("no two files reach this threshold: there is no group to label; lower it")
    unlabelled = [i for g in expected for i in g if i not in labels]
    if unlabelled:
        raise ExerciseError(f"label every file of every group: rows {unlabelled[:5]} have no label in "
                            "labels_3")
    found = [(i, j) for g in expected for a, i in enumerate(g) for j in g[a + 1:]]
    right = sum(labels[i] == labels[j] for i, j in found)
    precision = right / len(found)
    got = read_number(answer, "the pair precision")
    if not np.isclose(got, precision, atol=1e-3):
        raise ExerciseError(f"your labels give {right} right pairs of {len(found)} in the groups, a pair "
                            f"precision of {precision:.3f}, not {got:.3f}")
    correct(f"{len(expected)} groups at threshold {threshold:.3f}; by your labels {right}/{len(found)} "
            f"pairs in them are copies of one photo: pair precision {precision:.2f}.")


def check_noise_recall(answer, prediction, found, truth, clustered_recall: float) -> None:
    """Check recall@k of HNSW on random noise, and say whether the student's prediction was right.

    ``found`` and ``truth`` are (Nq, k) arrays of gallery rows (the index's answer and the exact
    one on the noise vectors), ``answer`` the student's recall@k of ``found``, ``clustered_recall``
    the same index settings on as many clustered vectors. ``prediction`` (``"higher"`` or
    ``"lower"`` on noise) must have been recorded with ``predict`` before the noise cell of section
    5 revealed the answer (:func:`~simlab.lessons.checks.recorded_prediction`); a wrong one is
    reported with the reason, not failed.
    """
    require_answer(answer, "recall@k as one number")
    prediction = recorded_prediction(NOISE_QUESTION, prediction, "prediction_4", NOISE_CHOICES)
    found, truth = np.asarray(found), np.asarray(truth)
    k = truth.shape[1]
    expected = recall_at_k(found, truth)
    got = read_number(answer, "recall@k")
    if not np.isclose(got, expected, atol=1e-6):
        if np.isclose(got, float((found == truth).mean()), atol=1e-6):
            raise ExerciseError("you compared position by position: count the overlap of the two sets "
                                "per query")
        raise ExerciseError(f"expected a recall@{k} of {expected:.3f}, got {got:.3f} "
                            "(the mean over queries of |found & truth| / k)")
    truth_word = "higher" if expected > clustered_recall else "lower"
    reason = ""
    if prediction != truth_word:
        reason = (f"{_NOISE_REASON}." if truth_word == "lower" else
                  "here noise came out higher, against the rule: look at the two numbers again.")
    report_prediction(f"recall@{k} {expected:.2f} on noise against {clustered_recall:.2f} on as many "
                      f"clustered vectors: {truth_word}.", prediction, truth_word, reason)


def check_neighbours(answer, vectors, query: int, k: int = 5) -> None:
    """Check the ``k`` rows of ``vectors`` most similar (cosine) to row ``query``, itself left out.

    ``answer`` is a sequence of ``k`` row numbers, most similar first; rows with equal scores
    may come in either order.
    """
    require_answer(answer, "a list of row numbers")
    X = np.asarray(vectors, dtype=np.float64)
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    cosine = unit @ unit[query]
    try:
        got = [int(i) for i in answer]
    except (TypeError, ValueError):
        raise ExerciseError(f"give a list of {k} row numbers, not {answer!r}") from None
    if query in got:
        raise ExerciseError("the photo itself is among them (its own nearest neighbour, similarity 1): "
                            "leave it out and take the next one")
    if len(got) != k:
        raise ExerciseError(f"give {k} row numbers; you gave {len(got)}")
    if any(not 0 <= i < len(X) for i in got):
        raise ExerciseError(f"row numbers run from 0 to {len(X) - 1}")
    others = np.delete(np.arange(len(X)), query)
    expected = others[np.argsort(-cosine[others], kind="stable")][:k]
    if np.allclose(cosine[got], cosine[expected], atol=1e-5):
        correct(f"the {k} nearest photos score {', '.join(f'{cosine[i]:.2f}' for i in expected)}.")
        return
    raw = X @ X[query]
    if np.allclose(cosine[got], cosine[others[np.argsort(-raw[others], kind="stable")][:k]], atol=1e-5):
        raise ExerciseError("that ranks by the raw inner product: divide each vector by its length first, "
                            "then the inner product is the cosine similarity")
    if np.allclose(cosine[got], cosine[others[np.argsort(cosine[others], kind="stable")][:k]], atol=1e-5):
        raise ExerciseError("those are the LEAST similar: a larger inner product means more alike")
    raise ExerciseError(f"expected rows {expected.tolist()} (similarities "
                        f"{', '.join(f'{cosine[i]:.2f}' for i in expected)}), got {got}")

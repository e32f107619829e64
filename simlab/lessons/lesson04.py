"""Exercise checks of lesson 04, similar photos in a whole collection."""

from __future__ import annotations

import numpy as np

from ..evaluation import recall_at_k
from .checks import (
    ExerciseError,
    check_choice,
    correct,
    read_number,
    read_prediction,
    require_answer,
    verdict,
)

__all__ = [
    "check_choice",
    "check_index_memory",
    "check_neighbours",
    "check_noise_recall",
    "check_pair_count",
    "check_recall",
]


def check_recall(answer, found, truth) -> None:
    """Check recall@k of approximate results ``found`` against exact results ``truth``, both (Nq, k)
    arrays of gallery rows: the mean over queries of |found_i ∩ truth_i| / k."""
    require_answer(answer, "recall@k as one number")
    found, truth = np.asarray(found), np.asarray(truth)
    k = truth.shape[1]
    hits = np.array([len(set(f) & set(t)) for f, t in zip(found, truth, strict=True)])
    expected = float(hits.mean() / k)
    got = read_number(answer, "recall@k")
    if np.isclose(got, expected, atol=1e-6):
        correct(f"the approximate index found {expected:.1%} of the true {k} nearest neighbours.")
        return
    if np.isclose(got, float((found == truth).mean()), atol=1e-6):
        raise ExerciseError("you compared position by position: a true neighbour found at another place "
                            "in the top k still counts, so count the overlap of the two sets per query")
    if np.isclose(got, float(hits.mean()), atol=1e-6):
        raise ExerciseError(f"that is the number of hits per query; divide by k = {k} to get a fraction")
    if np.isclose(got, float(hits.sum()), atol=1e-6):
        raise ExerciseError("that is the total number of hits: average over queries and divide by k")
    raise ExerciseError(f"expected {expected:.4f}, got {got:.4f}: mean over queries of |found ∩ truth| / k")


def check_index_memory(answer, n: int, d: int) -> None:
    """Check the bytes an exact (flat) index of ``n`` float32 vectors of dimension ``d`` needs."""
    require_answer(answer, "the number of bytes")
    expected = n * d * 4
    got = read_number(answer, "the number of bytes")
    if np.isclose(got, expected, rtol=1e-3):
        correct(f"{n:,} x {d} x 4 bytes = {expected / 1e9:.2f} GB: each number is stored once, as float32.")
        return
    if np.isclose(got, n * d, rtol=1e-3):
        raise ExerciseError("that is the number of floats; each float32 takes 4 bytes")
    if np.isclose(got, n * d * 8, rtol=1e-3):
        raise ExerciseError("8 bytes is float64; FAISS stores float32, 4 bytes per number")
    if np.isclose(got, n * n * 4, rtol=1e-3):
        raise ExerciseError("that is the N x N similarity matrix: an index stores the vectors, N x d")
    if np.isclose(got, expected * 8, rtol=1e-3) or np.isclose(got, expected / 8, rtol=1e-3):
        raise ExerciseError("bits and bytes are mixed up: a float32 is 4 bytes = 32 bits")
    raise ExerciseError(f"expected {expected:,} bytes (N x d x 4), got {got:,.0f}")


def check_pair_count(answer, vectors, threshold: float) -> None:
    """Check the number of distinct pairs (i < j) of rows of ``vectors`` whose cosine similarity
    is at least ``threshold``."""
    require_answer(answer, "the number of pairs")
    v = np.asarray(vectors, dtype=np.float64)
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    above = (v @ v.T) >= threshold
    n = len(v)
    expected = int(np.triu(above, k=1).sum())
    got = int(read_number(answer, "the number of pairs", whole=True))
    if got == expected:
        correct(f"{expected} pairs of {n * (n - 1) // 2} score {threshold:.2f} or more.")
        return
    with_self = int(np.triu(above).sum())
    if got == int(above.sum()):
        raise ExerciseError("you counted every pair twice and each photo with itself: keep i < j only "
                            "(np.triu(..., k=1))")
    if got == with_self:
        raise ExerciseError(f"you counted each of the {n} photos paired with itself (cosine 1): "
                            "leave out the diagonal (np.triu(..., k=1))")
    if got == 2 * expected:
        raise ExerciseError("you counted each pair twice, (a, b) and (b, a): keep i < j only")
    if got == int(np.triu((v @ v.T) > threshold, k=1).sum()):
        raise ExerciseError(f"a pair that scores exactly {threshold} counts: use >=, not >")
    raise ExerciseError(f"expected {expected} pairs, got {got}")


def check_noise_recall(answer, prediction, found, truth, clustered_recall: float) -> None:
    """Check recall@k of HNSW on random noise, and say whether the student's prediction was right.

    ``found`` and ``truth`` are (Nq, k) arrays of gallery rows (the index's answer and the exact
    one on the noise vectors), ``answer`` the student's recall@k of ``found``, ``prediction``
    ``"higher"`` or ``"lower"`` than ``clustered_recall`` (the same index settings on clustered
    vectors). A missing prediction fails; a wrong one is reported, not failed.
    """
    require_answer(answer, "recall@k as one number")

    prediction = read_prediction(prediction, ("higher", "lower"), "prediction_4")
    found, truth = np.asarray(found), np.asarray(truth)
    k = truth.shape[1]
    expected = recall_at_k(found, truth)
    got = read_number(answer, "recall@k")
    if not np.isclose(got, expected, atol=1e-6):
        if np.isclose(got, float((found == truth).mean()), atol=1e-6):
            raise ExerciseError("you compared position by position: count the overlap of the two sets "
                                "per query")
        raise ExerciseError(f"expected a recall@{k} of {expected:.3f}, got {got:.3f} "
                            "(recall_at_k(found, truth))")
    truth_word = "higher" if expected > clustered_recall else "lower"
    correct(f"recall@{k} {expected:.2f} on noise against {clustered_recall:.2f} on clustered vectors: "
             f"{truth_word}. {verdict(prediction, truth_word)}")


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

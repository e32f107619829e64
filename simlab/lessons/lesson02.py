"""Exercise checks of lesson 02, how similar two feature vectors are."""

from __future__ import annotations

import numpy as np

from ..backbones import Backbone
from ..embedding import embed
from ..evaluation import best_threshold, precision_recall_f1
from ..hashes import HASH_METHODS, hash_bits
from ..metrics import cosine_similarity, edit_distance, hamming_distance, pairwise
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
    "COMPARISONS",
    "check_choice",
    "check_copy_scores",
    "check_cosine_from_distance",
    "check_hash_f1",
    "check_ranking",
    "check_unit_euclidean_f1",
]


def check_ranking(answer, names: list, distances, query: str) -> None:
    """Check a ranking of ``names`` by increasing distance from ``query`` (the query left out).

    ``distances[i]`` is the distance of ``names[i]`` from the query.
    """
    require_answer(answer, "a list of photo names, nearest first")
    order = [names[i] for i in np.argsort(np.asarray(distances), kind="stable") if names[i] != query]
    answer = list(answer)
    if answer == order:
        correct(f"nearest to {query}: {', '.join(order[:3])}, ...")
        return
    if query in answer:
        raise ExerciseError(f"leave {query} itself out: it is always at distance 0 from itself")
    if answer == order[::-1]:
        raise ExerciseError("the order is reversed: for a DISTANCE the nearest is the smallest value")
    if sorted(answer) != sorted(order):
        raise ExerciseError(f"rank each of the other {len(order)} photos exactly once")
    first = next(i for i, (a, b) in enumerate(zip(answer, order, strict=True)) if a != b)
    raise ExerciseError(
        f"the ranking differs from place {first + 1} on: expected {order[first]}, got {answer[first]}"
    )


def check_cosine_from_distance(answer, a, b) -> None:
    """Check a cosine similarity computed from the Euclidean distance of the UNIT vectors of a and b."""
    require_answer(answer, "the cosine similarity as one number")
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ua, ub = a / np.linalg.norm(a), b / np.linalg.norm(b)
    expected = float(ua @ ub)
    d = float(np.linalg.norm(ua - ub))
    d_raw = float(np.linalg.norm(a - b))
    answer = read_number(answer, "the cosine similarity")
    if np.isclose(answer, expected, atol=1e-4):
        correct(f"|a-b|^2 = 2 - 2 cos, so cos = 1 - {d:.4f}^2 / 2 = {expected:.4f}.")
        return
    if np.isclose(answer, 1 - d_raw**2 / 2, atol=1e-4):
        raise ExerciseError("the identity holds for UNIT vectors: normalise a and b first")
    if np.isclose(answer, 1 - d / 2, atol=1e-4):
        raise ExerciseError("square the distance: cos = 1 - d**2 / 2")
    if np.isclose(answer, 2 - 2 * d**2, atol=1e-4) or np.isclose(answer, d**2, atol=1e-4):
        raise ExerciseError("rearrange |a-b|^2 = 2 - 2 cos for cos: cos = 1 - |a-b|^2 / 2")
    raise ExerciseError(f"expected {expected:.4f}, got {float(answer):.4f}")


COMPARISONS = ("higher", "lower", "the same")


def _best_f1(scores, same) -> float:
    """The best F1 over all thresholds (``scores``: higher = more alike)."""

    return precision_recall_f1(scores, same, best_threshold(scores, same).value)[2]


def check_unit_euclidean_f1(answer, prediction, vectors, ia, ib, same) -> None:
    """Check the best F1 of Euclidean distance on UNIT vectors for finding near-duplicates.

    ``vectors`` (N, C) are the pooled vectors of the labelled files, ``ia`` and ``ib`` the rows of
    each pair's two files, ``same`` a bool array, True for a near-duplicate pair. ``prediction``
    ("higher", "lower" or "the same" as cosine) must be given; whether it was right is reported.
    """
    require_answer(answer, "the best F1 as one number")

    prediction = read_prediction(prediction, COMPARISONS, "prediction_1")
    X = np.asarray(vectors, dtype=np.float64)
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    unit_distance = pairwise(U, metric="euclidean")[ia, ib]
    expected = _best_f1(-unit_distance, same)
    cosine = _best_f1(pairwise(X)[ia, ib], same)
    raw = _best_f1(-pairwise(X, metric="euclidean")[ia, ib], same)
    got = read_number(answer, "the best F1")
    if np.isclose(got, expected, atol=1e-6):
        truth = ("the same" if np.isclose(expected, cosine, atol=1e-9)
                 else "higher" if expected > cosine else "lower")
        correct(f"Euclidean on unit vectors: best F1 {expected:.2f}, cosine {cosine:.2f}, Euclidean on "
                 f"the raw vectors {raw:.2f}. {verdict(prediction, truth)}")
        return
    if np.isclose(got, raw, atol=1e-6):
        raise ExerciseError(f"{got:.2f} is the F1 of the RAW vectors: divide each row by its length "
                            "first (np.linalg.norm(..., axis=1, keepdims=True))")
    if np.isclose(got, _best_f1(unit_distance, same), atol=1e-6):
        raise ExerciseError("a distance is small for alike pairs: negate it (-distance) before "
                            "best_threshold, which calls a pair the same when its score is high")
    raise ExerciseError(f"expected a best F1 of {expected:.2f}, got {got:.2f}")


def check_hash_f1(answer, prediction, pairs) -> None:
    """Check ``{method: best F1}`` of the Hamming distance of each perceptual hash method.

    ``pairs`` is a list of ``(path_a, path_b, relation)`` with relation "near_duplicate" or
    "different"; the F1 is that of finding the near-duplicates. ``prediction`` (the method
    expected to be best) must be given; whether it was right is reported.
    """
    require_answer(answer, "a dict {method: best F1}")

    prediction = read_prediction(prediction, tuple(HASH_METHODS), "prediction_6")
    same = np.array([relation == "near_duplicate" for *_, relation in pairs])
    files = {f for a, b, _ in pairs for f in (a, b)}
    expected, distances = {}, {}
    for method in HASH_METHODS:
        bits = {f: hash_bits(f, method=method) for f in files}
        distances[method] = np.array([hamming_distance(bits[a], bits[b]) for a, b, _ in pairs], dtype=float)
        expected[method] = _best_f1(-distances[method], same)
    answer = dict(answer)
    if sorted(answer) != sorted(expected):
        raise ExerciseError(f"give one best F1 for each method: {', '.join(expected)}")
    for method, want in expected.items():
        if not np.isclose(float(answer[method]), want, atol=1e-6):
            got = float(answer[method])
            raise ExerciseError(f"{method}: expected a best F1 of {want:.2f}, got {got:.2f} "
                                "(negate the Hamming distance: a small distance means alike)")
    best = max(expected, key=expected.get)
    table = ", ".join(f"{m} {v:.2f}" for m, v in expected.items())
    why = "; ".join(f"with {m} the near-duplicates change a median of {np.median(distances[m][same]):.0f} "
                    f"bits of 64 and different photos {np.median(distances[m][~same]):.0f}"
                    for m in dict.fromkeys([best, prediction]))
    if best == "ahash":  # the kit's pairs: most copies are cropped, turned or mirrored
        why += ("; ahash keeps a coarse 8x8 map of where the photo is bright, pHash its slow waves, "
                "which every crop and turn shifts (lesson 02, section 3)")
    correct(f"the four best F1 values are right: {table}. {best} is best on these pairs. "
             f"{verdict(prediction, best)} Why: {why}. A hash finds copies when they keep most of "
             "their bits and different photos do not.")


def check_copy_scores(answer, original, copies: dict, backbone: Backbone, cosine_threshold: float,
                      fewest_different_bits: int) -> None:
    """Check ``{copy name: (pHash Hamming distance, stage5 cosine)}`` between a photo and its copies.

    ``original`` is an image, ``copies`` is ``{name: image}``; the cosine is that of the deepest
    stage's average-pooled vectors. ``cosine_threshold`` (the lesson's near-duplicate threshold) and
    ``fewest_different_bits`` (the fewest bits by which two different photos of the kit differ)
    are only used to say what each score means.
    """
    require_answer(answer, "a dict {copy name: (Hamming distance, cosine)}")

    bits = hash_bits(original)
    vectors = embed(backbone, [original, *copies.values()])
    answer = dict(answer)
    if sorted(answer) != sorted(copies):
        raise ExerciseError(f"give a (Hamming, cosine) pair for each copy: {', '.join(copies)}")
    lines = []
    for k, (name, copy) in enumerate(copies.items()):
        h = hamming_distance(bits, hash_bits(copy))
        c = cosine_similarity(vectors[0], vectors[k + 1])
        try:
            got_h, got_c = answer[name]
        except (TypeError, ValueError):
            raise ExerciseError(
                f"{name}: give a pair (Hamming distance, cosine), not {answer[name]!r}") from None
        if np.isclose(float(got_h), c, atol=1e-3) and got_c == h:
            raise ExerciseError(f"{name}: the pair is swapped: (Hamming distance, cosine)")
        if got_h != h:
            hint = (" (that is the edit distance: Hamming compares position by position)"
                    if got_h == edit_distance(bits, hash_bits(copy)) else "")
            raise ExerciseError(f"{name}: the pHash Hamming distance is {h}, you gave {got_h}{hint}")
        if not np.isclose(float(got_c), c, atol=1e-3):
            raise ExerciseError(f"{name}: the stage5 cosine is {c:.3f}, you gave {float(got_c):.3f}")
        hash_says = "a different photo" if h >= fewest_different_bits else "a near-duplicate"
        cnn_says = "a near-duplicate" if c >= cosine_threshold else "a different photo"
        lines.append(f"{name}: {h} of 64 bits differ (the hash says {hash_says}), "
                     f"cosine {c:.2f} (the CNN says {cnn_says})")
    correct("; ".join(lines) + ".")

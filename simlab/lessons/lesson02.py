"""Exercise checks of lesson 02, how similar two feature vectors are."""

from __future__ import annotations

from pathlib import Path

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
    recorded_prediction,
    report_prediction,
    require_answer,
)

__all__ = [
    "COMPARISONS",
    "check_choice",
    "check_copy_scores",
    "check_hash_f1",
    "check_own_threshold",
    "check_unit_euclidean_f1",
]


COMPARISONS = ("higher", "lower", "the same")

#: The question ids of the lesson's two predictions (``predict`` in the lesson's body).
UNIT_EUCLIDEAN, BEST_HASH = "02-unit-euclidean", "02-best-hash"


def _best_f1(scores, same) -> float:
    """The best F1 over all thresholds (``scores``: higher = more alike)."""

    return precision_recall_f1(scores, same, best_threshold(scores, same).value)[2]


def check_unit_euclidean_f1(answer, prediction, vectors, ia, ib, same) -> None:
    """Check the best F1 of Euclidean distance on UNIT vectors for finding near-duplicates.

    ``vectors`` (N, C) are the pooled vectors of the labelled files, ``ia`` and ``ib`` the rows of
    each pair's two files, ``same`` a bool array, True for a near-duplicate pair. ``prediction``
    ("higher", "lower" or "the same" as cosine) must have been recorded with
    ``predict("02-unit-euclidean", ...)`` before the lesson showed the answer; whether it was
    right is reported, with the reason, and a wrong one does not fail.
    """
    require_answer(answer, "the best F1 as one number")
    prediction = recorded_prediction(UNIT_EUCLIDEAN, prediction, "prediction_1", COMPARISONS)
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
        why = ("on unit vectors |a-b|^2 = 2 - 2 cos, so a larger cosine is always a smaller distance: "
               "both put the pairs in the same order, and a best F1 depends only on that order. "
               f"The raw vectors' {raw:.2f} differs because their lengths differ, and normalising "
               "throws the lengths away.")
        report_prediction(f"Euclidean on unit vectors: best F1 {expected:.2f}, cosine {cosine:.2f}, "
                          f"Euclidean on the raw vectors {raw:.2f}.", prediction, truth, why)
        return
    if np.isclose(got, raw, atol=1e-6):
        raise ExerciseError(f"{got:.2f} is the F1 of the RAW vectors: divide each row by its length "
                            "first (np.linalg.norm(..., axis=1, keepdims=True))")
    if np.isclose(got, _best_f1(unit_distance, same), atol=1e-6):
        raise ExerciseError("a distance is small for alike pairs: negate it (-distance) before "
                            "best_threshold, which calls a pair the same when its score is high")
    raise ExerciseError(f"expected a best F1 of {expected:.2f}, got {got:.2f}")


def _copy_kind(a, b) -> str:
    """The kind of a near-duplicate pair from the kit's file names: ``photo__crop`` -> "crop"."""
    a, b = Path(a).stem, Path(b).stem
    if "__" in a:
        return "two copies"
    return b.split("__", 1)[1] if "__" in b else "copy"


def check_hash_f1(answer, prediction, pairs) -> None:
    """Check ``{method: best F1}`` of the Hamming distance of each perceptual hash method.

    ``pairs`` is a list of ``(path_a, path_b, relation)`` with relation "near_duplicate" or
    "different"; the F1 is that of finding the near-duplicates. ``prediction`` (the method
    expected to be best) must have been recorded with ``predict("02-best-hash", ...)`` before the
    lesson showed the answer. The verdict gives the reason with the evidence: per kind of copy, the
    median number of bits that change, for the best method and the predicted one.
    """
    require_answer(answer, "a dict {method: best F1}")
    prediction = recorded_prediction(BEST_HASH, prediction, "prediction_6", tuple(HASH_METHODS))
    same = np.array([relation == "near_duplicate" for *_, relation in pairs])
    files = {f for a, b, _ in pairs for f in (a, b)}
    expected, distances = {}, {}
    for method in HASH_METHODS:
        bits = {f: hash_bits(f, method=method) for f in files}
        distances[method] = np.array([hamming_distance(bits[a], bits[b]) for a, b, _ in pairs], dtype=float)
        expected[method] = _best_f1(-distances[method], same)
    if not isinstance(answer, dict):
        raise ExerciseError(f"give a dict {{method: best F1}}, not {type(answer).__name__}")
    if sorted(answer) != sorted(expected):
        raise ExerciseError(f"give one best F1 for each method: {', '.join(expected)}")
    for method, want in expected.items():
        got = read_number(answer[method], f"the best F1 of {method}")
        if not np.isclose(got, want, atol=1e-6):
            raise ExerciseError(f"{method}: expected a best F1 of {want:.2f}, got {got:.2f} "
                                "(negate the Hamming distance: a small distance means alike)")
    best = max(expected, key=expected.get)
    table = ", ".join(f"{m} {v:.2f}" for m, v in expected.items())
    kinds = [_copy_kind(a, b) if r == "near_duplicate" else "different" for a, b, r in pairs]
    order = sorted(set(kinds), key=lambda k: (k == "different", k))

    def medians(method):
        return ", ".join(f"{k} {np.median(distances[method][[x == k for x in kinds]]):.0f}" for k in order)

    why = "; ".join(f"the median bits of 64 that change with {m}: {medians(m)}"
                    for m in dict.fromkeys([best, prediction]))
    why += (". A hash finds copies when its copies keep most of their bits and different photos do "
            "not (different photos change about half, 32)")
    if best == "ahash" and prediction == "phash":  # the kit's pairs: most copies cropped, turned, mirrored
        why += ("; ahash keeps a coarse 8x8 map of where the photo is bright, which a crop or a small "
                "turn barely moves, while each pHash bit is the sign of one slow wave over the whole "
                "photo, and a crop or a turn shifts every wave (section 3)")
    report_prediction(f"the four best F1 values are {table}; {best} is best on these pairs.", prediction,
                      best, why + ".")


def check_own_threshold(answer, my_pairs, tune_pairs, test_pairs, tune_scores, test_scores) -> None:
    """Check a threshold chosen on a tuning half of one's own labelled pairs and tested on the other.

    ``my_pairs`` are the labelled pairs ``(path_a, path_b, "near_duplicate" | "different")`` (at
    least 20, a few near-duplicates among them); ``tune_pairs`` and ``test_pairs`` two halves of
    them that share no photo (``split_pairs``); ``tune_scores`` and ``test_scores`` one similarity
    per pair of each half (higher = more alike). ``answer`` is ``{"threshold": t, "precision": p,
    "recall": r}``: ``t`` the best-F1 threshold of the tuning half (``scores >= t`` is called a
    near-duplicate), ``p`` and ``r`` the held-out half's precision and recall at ``t``. The check
    tests the procedure, not the photos.

    Examples
    --------
    >>> from simlab.kit import split_pairs
    >>> pairs = [(f"p{k}.jpg", f"p{k}__copy.jpg", "near_duplicate") for k in range(10)]
    >>> pairs += [(f"p{k}.jpg", f"p{j}.jpg", "different") for k in range(10) for j in range(k + 1, 10, 3)]
    >>> tune, test = split_pairs(pairs)
    >>> def scores(half):
    ...     return [0.9 if relation == "near_duplicate" else 0.3 for *_, relation in half]
    >>> check_own_threshold({"threshold": 0.9, "precision": 1.0, "recall": 1.0},
    ...                     pairs, tune, test, scores(tune), scores(test))  # doctest: +ELLIPSIS
    Correct: threshold 0.90 chosen on the ... tuning pairs (F1 1.00 there); on the ... held-out pairs ...
    >>> check_own_threshold({"threshold": 0.3, "precision": 1.0, "recall": 1.0},
    ...                     pairs, tune, test, scores(tune), scores(test))
    Traceback (most recent call last):
    ...
    simlab.lessons.checks.ExerciseError: the best-F1 threshold of the tuning half is 0.900, got 0.300 ...
    """
    require_answer(answer, 'a dict {"threshold": ..., "precision": ..., "recall": ...}')
    halves = {}
    for name, pairs, scores in (("tuning", tune_pairs, tune_scores), ("held-out", test_pairs, test_scores)):
        halves[name] = _labelled_half(name, my_pairs, pairs, scores)
    if len(my_pairs) < 20:
        raise ExerciseError(f"label at least 20 pairs of your own photos; my_pairs has {len(my_pairs)}")
    shared = _files(tune_pairs) & _files(test_pairs)
    if shared:
        raise ExerciseError(f"{Path(sorted(shared)[0]).name} is in both halves: split by photo "
                            "(split_pairs), so that the held-out photos are new to the threshold")
    if not isinstance(answer, dict) or sorted(answer) != ["precision", "recall", "threshold"]:
        raise ExerciseError('give answer_3 = {"threshold": ..., "precision": ..., "recall": ...}')
    (ts, tsame), (hs, hsame) = halves["tuning"], halves["held-out"]
    t = best_threshold(ts, tsame).value
    got_t = read_number(answer["threshold"], "the threshold")
    if not np.isclose(got_t, t, atol=1e-6):
        both = best_threshold(np.r_[ts, hs], np.r_[tsame, hsame]).value
        if np.isclose(got_t, best_threshold(hs, hsame).value, atol=1e-6):
            raise ExerciseError("that threshold has the best F1 on the HELD-OUT half: choose it on the "
                                "tuning half only, and keep the held-out pairs for the test")
        if np.isclose(got_t, both, atol=1e-6):
            raise ExerciseError("that threshold has the best F1 on all the pairs, held-out ones included: "
                                "choose it on the tuning half only")
        raise ExerciseError(f"the best-F1 threshold of the tuning half is {t:.3f}, got {got_t:.3f} "
                            "(best_threshold(tune_scores, tune_same).value)")
    p, r, f1 = precision_recall_f1(hs, hsame, t)
    p_tune, r_tune, f1_tune = precision_recall_f1(ts, tsame, t)
    got_p, got_r = (read_number(answer[k], f"the held-out {k}") for k in ("precision", "recall"))
    if not (np.isclose(got_p, p, atol=1e-3) and np.isclose(got_r, r, atol=1e-3)):
        if np.isclose(got_p, p_tune, atol=1e-3) and np.isclose(got_r, r_tune, atol=1e-3):
            raise ExerciseError("those are the TUNING half's precision and recall: measure them on the "
                                "held-out pairs (test_scores >= threshold)")
        if np.isclose(got_p, r, atol=1e-3) and np.isclose(got_r, p, atol=1e-3):
            raise ExerciseError("precision and recall are swapped: precision is the share of the pairs "
                                "called near-duplicates that are; recall the share of the "
                                "near-duplicates that are called")
        raise ExerciseError(f"at {t:.3f} the held-out half has precision {p:.3f} and recall {r:.3f}, "
                            f"you gave {got_p:.3f} and {got_r:.3f}")
    shares = (f"near-duplicates are {tsame.mean():.0%} of the tuning pairs and {hsame.mean():.0%} of "
              "the held-out")
    correct(f"threshold {t:.2f} chosen on the {len(ts)} tuning pairs (F1 {f1_tune:.2f} there); on the "
            f"{len(hs)} held-out pairs precision {p:.2f}, recall {r:.2f}, F1 {f1:.2f}. That F1 is what "
            f"new photos of your kind can expect ({shares}: compare F1 values only at equal shares).")


def _files(pairs) -> set[str]:
    return {str(Path(f)) for pair in pairs for f in pair[:2]}


def _labelled_half(name: str, my_pairs, pairs, scores) -> tuple[np.ndarray, np.ndarray]:
    """One half's scores and labels, after checking that it is a part of ``my_pairs`` with both labels."""
    mine = {(str(Path(a)), str(Path(b)), r) for a, b, r, *_ in my_pairs}
    if any((str(Path(a)), str(Path(b)), r) not in mine for a, b, r, *_ in pairs):
        raise ExerciseError(f"the {name} half holds a pair that is not in my_pairs: split my_pairs")
    labels = [r for *_, r in pairs]
    if any(r not in ("near_duplicate", "different") for r in labels):
        raise ExerciseError('label each pair "near_duplicate" or "different"')
    same = np.array([r == "near_duplicate" for r in labels])
    if same.all() or not same.any():
        raise ExerciseError(f"the {name} half needs near-duplicates and different pairs: label more "
                            "pairs of both kinds (a few near-duplicates you make of several photos)")
    scores = np.asarray(scores, dtype=float).ravel()
    if len(scores) != len(pairs) or not np.isfinite(scores).all():
        raise ExerciseError(f"give one finite score per pair of the {name} half: {len(pairs)} pairs, "
                            f"{len(scores)} scores")
    return scores, same


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

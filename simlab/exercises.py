"""Checks for the students' answers to the lesson exercises.

Each ``check_*`` function prints ``Correct: ...`` for a right answer (and returns nothing), and raises
:class:`ExerciseError` (an ``AssertionError``) whose message says in plain words what is wrong
(wrong shape, swapped axes, forgot the stride, forgot to scale, ...) for a wrong one.

Predict-first checks need the student's prediction (a missing one fails) and say whether it was
right (a wrong one never fails). Multiple-choice "why" questions all go through
:func:`check_choice`, with the answers and the reason for every option in :data:`CHOICES`.
"""

from __future__ import annotations

import numpy as np
import torch

from .backbones import Backbone
from .features import extract_features
from .images import source_photo

__all__ = [
    "CHOICES",
    "ExerciseError",
    "check_auc",
    "check_box_mask",
    "check_choice",
    "check_copy_scores",
    "check_cosine_from_distance",
    "check_face_distance",
    "check_hardest_edit",
    "check_hash_f1",
    "check_index_memory",
    "check_nearest_by_stage",
    "check_nearest_photo",
    "check_neighbours",
    "check_noise_recall",
    "check_output_shape",
    "check_pair_count",
    "check_ranking",
    "check_recall",
    "check_strongest_channel",
    "check_threshold",
    "check_to_chw",
    "check_unit_euclidean_f1",
    "edit_found_counts",
]


class ExerciseError(AssertionError):
    """A student's answer is wrong; the message explains why."""


def _correct(message: str) -> None:
    # Return nothing: nbgrader reads a check cell's output as partial credit, so a check that
    # passes must show only its printed message.
    print(f"Correct: {message}")


def _prediction(prediction, choices, name: str) -> str:
    """A student's prediction as one of ``choices`` (case, spaces and "the" ignored).

    A missing prediction (None or empty) fails, a wrong one never does: the check reports it.
    """
    def plain(text) -> str:
        return " ".join(str(text).lower().replace("the ", "").split())

    if prediction is None or not str(prediction).strip():
        raise ExerciseError(f"write your prediction in {name} first, before you compute: one of "
                            f"{', '.join(map(repr, choices))}")
    for choice in choices:
        if plain(prediction) == plain(choice):
            return choice
    raise ExerciseError(f"{name} = {prediction!r} is not one of {', '.join(map(repr, choices))}")


def _verdict(prediction: str, truth: str) -> str:
    return f"Your prediction ({prediction}) was {'right' if prediction == truth else 'not right'}."


def check_output_shape(answer, backbone: Backbone, stage: str, height: int, width: int) -> None:
    """Check a predicted (C, H, W) of ``stage``'s output for a ``height`` x ``width`` input.

    The truth comes from a real forward pass on a zero image of that size.
    """
    s = backbone.stage(stage)
    true = tuple(extract_features(backbone, torch.zeros(1, 3, height, width), [stage])[s.name].shape[1:])
    try:
        got = tuple(int(v) for v in answer)
    except TypeError:
        raise ExerciseError(f"give a tuple (C, H, W) of three numbers, not {answer!r}") from None
    if len(got) != 3:
        raise ExerciseError(f"give three numbers (C, H, W); you gave {len(got)}: {got}")
    if got == true:
        _correct(f"{stage} turns a {height}x{width} image into {true[0]} maps of {true[1]}x{true[2]}.")
        return
    c, h, w = got
    if c != true[0]:
        raise ExerciseError(
            f"the channel count is wrong: {stage} has {true[0]} channels "
            f"(see backbone.stage({stage!r}).channels), you wrote {c}"
        )
    if (h, w) == (true[2], true[1]) and h != w:
        raise ExerciseError("height and width are swapped: the shape is (C, H, W), height first")
    if (h, w) == (height, width):
        raise ExerciseError(
            f"you forgot the stride: {stage} has stride {s.stride}, so each position covers "
            f"{s.stride}x{s.stride} input pixels and the map is about {height}/{s.stride} high"
        )
    raise ExerciseError(
        f"the spatial size is off: expected ceil({height}/{s.stride}) x ceil({width}/{s.stride}), "
        f"you wrote {h} x {w}"
    )


def check_to_chw(to_chw) -> None:
    """Check a student's ``to_chw(array)``: (H, W, 3) uint8 photo -> float Tensor[3, H, W] in [0, 1]."""
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, size=(4, 6, 3), dtype=np.uint8)  # not square: swaps show
    expected = torch.from_numpy(photo).permute(2, 0, 1).float() / 255
    out = to_chw(photo)
    if not isinstance(out, torch.Tensor):
        raise ExerciseError(f"return a torch.Tensor, not a {type(out).__name__}")
    shape = tuple(out.shape)
    if shape == (6, 4, 3) or shape == (3, 6, 4):
        raise ExerciseError(
            f"height and width are swapped (got {shape} for a 4-high, 6-wide photo): "
            "permute(2, 1, 0) reverses all axes; use permute(2, 0, 1) to move only the channels"
        )
    if shape == (4, 6, 3):
        raise ExerciseError("the channels are still last (H, W, C): move them first with permute(2, 0, 1)")
    if shape != (3, 4, 6):
        raise ExerciseError(f"expected shape (3, 4, 6) for a 4x6 photo, got {shape}")
    if not out.is_floating_point():
        raise ExerciseError(f"the tensor is {out.dtype}: networks need floats, use .float()")
    if float(out.max()) > 1.0:
        raise ExerciseError(f"values go up to {float(out.max()):.0f}: divide by 255 to get [0, 1]")
    if not torch.allclose(out, expected, atol=1e-6):
        raise ExerciseError("shape and range are right but the values differ: check the channel order")
    _correct("(H, W, C) -> (C, H, W) with permute(2, 0, 1), scaled to [0, 1].")


def check_strongest_channel(answer, fmap: torch.Tensor) -> None:
    """Check the index of the channel with the highest MEAN activation in ``fmap`` Tensor[C, H, W]."""
    if fmap.ndim == 4:
        fmap = fmap[0]
    means = fmap.mean(dim=(1, 2))
    best = int(means.argmax())
    if isinstance(answer, torch.Tensor):
        answer = answer.item() if answer.numel() == 1 else answer
    if isinstance(answer, float) and not answer.is_integer():
        raise ExerciseError(
            f"{answer:.3f} looks like an activation value; give the channel INDEX (use argmax, not max)"
        )
    try:
        idx = int(answer)
    except (TypeError, ValueError):
        raise ExerciseError(f"give one channel index (an int), not {answer!r}") from None
    if idx == best:
        _correct(f"channel {best} has the highest mean activation ({float(means[best]):.3f}).")
        return
    if not 0 <= idx < len(means):
        raise ExerciseError(f"there is no channel {idx}: this map has channels 0..{len(means) - 1}")
    if idx == int(fmap.amax(dim=(1, 2)).argmax()):
        raise ExerciseError(
            f"channel {idx} has the highest single peak, but the question asks for the highest "
            "MEAN over all positions: average over dims (1, 2) first"
        )
    raise ExerciseError(
        f"channel {idx} has mean {float(means[idx]):.3f}, but another channel is higher: "
        "average each channel over (H, W), then take the argmax"
    )


def check_ranking(answer, names: list, distances, query: str) -> None:
    """Check a ranking of ``names`` by increasing distance from ``query`` (the query left out).

    ``distances[i]`` is the distance of ``names[i]`` from the query.
    """
    order = [names[i] for i in np.argsort(np.asarray(distances), kind="stable") if names[i] != query]
    answer = list(answer)
    if answer == order:
        _correct(f"nearest to {query}: {', '.join(order[:3])}, ...")
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
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ua, ub = a / np.linalg.norm(a), b / np.linalg.norm(b)
    expected = float(ua @ ub)
    d = float(np.linalg.norm(ua - ub))
    d_raw = float(np.linalg.norm(a - b))
    if np.isclose(answer, expected, atol=1e-4):
        _correct(f"|a-b|^2 = 2 - 2 cos, so cos = 1 - {d:.4f}^2 / 2 = {expected:.4f}.")
        return
    if np.isclose(answer, 1 - d_raw**2 / 2, atol=1e-4):
        raise ExerciseError("the identity holds for UNIT vectors: normalise a and b first")
    if np.isclose(answer, 1 - d / 2, atol=1e-4):
        raise ExerciseError("square the distance: cos = 1 - d**2 / 2")
    if np.isclose(answer, 2 - 2 * d**2, atol=1e-4) or np.isclose(answer, d**2, atol=1e-4):
        raise ExerciseError("rearrange |a-b|^2 = 2 - 2 cos for cos: cos = 1 - |a-b|^2 / 2")
    raise ExerciseError(f"expected {expected:.4f}, got {float(answer):.4f}")


def check_box_mask(mask, height: int, width: int, box) -> None:
    """Check a bool (height, width) mask that is True exactly inside ``box = (x0, y0, x1, y1)``
    (pixel columns x0..x1-1 and rows y0..y1-1, as in ``mask[y0:y1, x0:x1]``)."""
    x0, y0, x1, y1 = box
    expected = np.zeros((height, width), dtype=bool)
    expected[y0:y1, x0:x1] = True
    mask = np.asarray(mask)
    if mask.shape == (width, height) and height != width:
        raise ExerciseError(f"the mask is (width, height) = {mask.shape}: images are (H, W), rows first")
    if mask.shape != (height, width):
        raise ExerciseError(f"the mask must have the image's shape (H, W) = {(height, width)}, "
                            f"not {mask.shape}")
    if mask.dtype != bool:
        raise ExerciseError(f"the mask is {mask.dtype}: make it boolean, e.g. np.zeros((H, W), dtype=bool)")
    if np.array_equal(mask, expected):
        _correct(f"{mask.sum()} pixels inside the box, {mask.mean():.0%} of the image.")
        return
    swapped = np.zeros_like(expected)
    swapped[x0:x1, y0:y1] = True
    if np.array_equal(mask, swapped):
        raise ExerciseError("x and y are swapped: rows are y, columns are x, so use mask[y0:y1, x0:x1]")
    if np.array_equal(mask, ~expected):
        raise ExerciseError("the mask is inverted: the box is the subject, so inside must be True")
    grown = np.zeros_like(expected)
    grown[y0:y1 + 1, x0:x1 + 1] = True
    if np.array_equal(mask, grown):
        raise ExerciseError("off by one: slices exclude their end, so mask[y0:y1, x0:x1] is already right")
    raise ExerciseError(f"{int((mask != expected).sum())} pixels differ from the box {box}")


def check_recall(answer, found, truth) -> None:
    """Check recall@k of approximate results ``found`` against exact results ``truth``, both (Nq, k)
    arrays of gallery rows: the mean over queries of |found_i ∩ truth_i| / k."""
    found, truth = np.asarray(found), np.asarray(truth)
    k = truth.shape[1]
    hits = np.array([len(set(f) & set(t)) for f, t in zip(found, truth, strict=True)])
    expected = float(hits.mean() / k)
    got = float(np.asarray(answer))
    if np.isclose(got, expected, atol=1e-6):
        _correct(f"the approximate index found {expected:.1%} of the true {k} nearest neighbours.")
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
    expected = n * d * 4
    got = float(answer)
    if np.isclose(got, expected, rtol=1e-3):
        _correct(f"{n:,} x {d} x 4 bytes = {expected / 1e9:.2f} GB: each number is stored once, as float32.")
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
    v = np.asarray(vectors, dtype=np.float64)
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    above = (v @ v.T) >= threshold
    n = len(v)
    expected = int(np.triu(above, k=1).sum())
    got = int(answer)
    if got == expected:
        _correct(f"{expected} pairs of {n * (n - 1) // 2} score {threshold:.2f} or more.")
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


def check_auc(answer, scores: dict, same, prediction=None, way: str = "whole image") -> None:
    """Check ``answer``, the ROC AUC of ``scores[way]`` for telling ``same`` pairs from the others.

    ``scores`` is ``{way: score of every pair}`` (higher = more alike: negated distances for the
    face-identity vectors), ``same`` a bool array, True for a same-person pair. ``prediction`` is
    the way the student expected to have the largest AUC (a missing one fails); the check says
    which way had it, and why a face-identity network beats generic features.
    """
    from sklearn.metrics import roc_auc_score

    choice = _prediction(prediction, list(scores), "my_prediction")
    same = np.asarray(same, dtype=bool)
    aucs = {w: float(roc_auc_score(same, s)) for w, s in scores.items()}
    try:
        got = float(answer)
    except (TypeError, ValueError):
        raise ExerciseError(f"give the AUC as one number, not {answer!r}") from None
    want = aucs[way]
    if not np.isclose(got, want, atol=1e-6):
        if np.isclose(got, 1 - want, atol=1e-6):
            raise ExerciseError("that is 1 - AUC: higher scores must mean MORE alike (pass the scores as "
                                "they are, labels first: roc_auc_score(same, scores))")
        if not 0 <= got <= 1:
            raise ExerciseError(f"an AUC is a share of pairs of pairs, between 0 and 1; got {got:.3f}")
        raise ExerciseError(f"{got:.3f} is not the AUC of the {way} scores: use sklearn.metrics."
                            f"roc_auc_score(same, scores[{way!r}])")
    best = max(aucs, key=aucs.get)
    why = ("the face network was trained to pull photos of one person together and push people apart; "
           "the ImageNet features describe clothes, rooms and light, which change between occasions"
           if best == "face identity (dlib)" else "see the table of section 2")
    _correct(f"AUC {want:.3f} for the {way}. The largest: {best} ({aucs[best]:.3f}): {why}. "
             + _verdict(choice, best))


def check_threshold(answer, same_distances, other_distances) -> None:
    """Check a distance threshold with the best F1 on the given pairs: a pair is called "same" when
    its distance is at most the threshold. Any threshold with the best F1 counts (they form a range
    between two neighbouring distances)."""
    same_d, other_d = np.asarray(same_distances, dtype=float), np.asarray(other_distances, dtype=float)
    try:
        t = float(answer)
    except (TypeError, ValueError):
        raise ExerciseError(f"give the threshold as one number, not {answer!r}") from None

    def f1(threshold: float) -> float:
        hits = int((same_d <= threshold).sum())
        calls = hits + int((other_d <= threshold).sum())
        return 2 * hits / (calls + len(same_d)) if calls else 0.0

    best = max(f1(d) for d in np.concatenate([same_d, other_d]))
    got = f1(t)
    if np.isclose(got, best, atol=1e-9):
        right, wrong = int((same_d <= t).sum()), int((other_d <= t).sum())
        _correct(f"{t:.3f}: F1 {got:.3f}, the best there is on these pairs; it calls {right} of "
                 f"{len(same_d)} same-person pairs the same and {wrong} of {len(other_d)} other-person "
                 "pairs too.")
        return
    if t < 0:
        raise ExerciseError("a distance threshold is positive: undo the minus sign you used to turn "
                            "distances into scores")
    if t > other_d.max() or t < same_d.min():
        raise ExerciseError("for a DISTANCE, small means alike: same-person pairs must fall below "
                            "the threshold")
    raise ExerciseError(f"with {t:.3f} the F1 is {got:.3f}, but {best:.3f} is possible on these pairs: try "
                        "every distance as the threshold (sklearn.metrics.precision_recall_curve on the "
                        "negated distances does it for you)")


# --- multiple choice ---------------------------------------------------------------------------

#: The "why" questions: question id -> (the right letter, {letter: why that option is right or wrong}).
#: The options themselves are in the lesson's markdown; the answers live here so that a check cell
#: does not give them away.
CHOICES: dict[str, tuple[str, dict[str, str]]] = {
    "01-still-nearest": ("B", {
        "A": "the deep stages are not noise: they rank the near-duplicates best of all "
             "(precision@k, section 8), so their order is not chance",
        "B": "a nearest neighbour is the HIGHEST score among the others, not a score above a "
             "fixed bar: when every other file also moves further away, a low cosine can "
             "still come first",
        "C": "cosine ignores the lengths at every stage alike, and deep scores are not always "
             "lower (the near-duplicates score high at stage5); lengths do not decide a ranking",
        "D": "the ranking reads only the vectors; the labels of pairs.csv only grade it "
             "afterwards (and they call grass and gravel 'different')",
    }),
    "02-unit-euclidean": ("B", {
        "A": "the lengths differ a lot (section 2); after normalising they are all 1, whatever they were",
        "B": "on unit vectors |a-b|^2 = 2 - 2 cos: a larger cosine is always a smaller distance, so both "
             "put the pairs in the same order, and precision, recall and F1 depend only on that order.",
        "C": "best_threshold uses the scores as they are; it tries every score as a threshold",
        "D": "they are different formulas (cosine is a dot product of unit vectors); they agree only on "
             "unit vectors, and only in the order they give",
    }),
    "02-textures-first": ("B", {
        "A": "cosine, which compares what responded, does not put them first: they do not look like a cat",
        "B": "the textures' stage5 vectors are the shortest, and a short vector lies near the origin: "
             "near every other vector in raw distance, whatever its direction. Cosine ignores length.",
        "C": "Manhattan sums |a_i - b_i| over every channel, zeros included",
        "D": "the textures' stage5 vectors are the SHORTEST of all (section 2), not the longest",
    }),
    "03-fair-threshold": ("C", {
        "A": "the halves are about the same size (the people were dealt in two); a test is fair "
             "because of WHAT it was not tuned on, not because of how many pairs it has",
        "B": "pairs that share a person are not independent: with one man's photos in both halves, the "
             "held-out pairs would test the threshold on a face it was tuned on, and promise too much",
        "C": "a threshold judged on the pairs it was chosen on always looks better than it is; the "
             "held-out people played no part in choosing it, so their rates say what new people get.",
    }),
    "04-why-noise": ("C", {
        "A": "the vectors are normalised either way (build_index stores unit vectors), and cosine on "
             "unit vectors is what the exact search ranks by too",
        "B": "HNSW needs no training (only IVF runs k-means), and it found the neighbours of the "
             "clustered vectors with the same settings",
        "C": "in high-dimensional noise every vector is about as far from a query as every other: the "
             "true 10 nearest are barely nearer than thousands of others, so a graph walk (or a few "
             "IVF cells) has no neighbourhood to follow. Image embeddings cluster; noise does not.",
        "D": "the noise gallery here is no larger than the clustered one (fewer vectors, if anything), "
             "and a larger gallery would lower recall, not explain a collapse",
    }),
    "04-why-held-out": ("B", {
        "A": "the halves need not be the same size: split_pairs balances the near-duplicate "
             "pairs, and even so the halves differ in size",
        "B": "copies of one photo score alike: with the cat's crop in the tuning pairs and its mirror "
             "image in the held-out pairs, the threshold would be tested on a photo it was chosen on, "
             "and the held-out score would promise more than new photos give.",
        "C": "best_threshold works on any scores and labels; it knows nothing of the photos behind them",
        "D": "a FAISS index stores vectors, not photos, and holds the same vector twice without trouble; "
             "the split is about what the threshold has seen",
    }),
}


def check_choice(question: str, answer) -> None:
    """Check a multiple-choice answer: ``answer`` is one letter, ``question`` an id of :data:`CHOICES`.

    Prints why the right option is right; raises :class:`ExerciseError` for anything but one of
    the question's letters, and for a wrong letter with why that option is wrong (not which one is
    right). ``KeyError`` for an unknown question id.
    """
    right, options = CHOICES[question]
    letter = str(answer).strip().strip("().").upper() if answer is not None else ""
    if letter not in options:
        raise ExerciseError(f"answer with one letter, one of {', '.join(options)}; got {answer!r}")
    if letter != right:
        raise ExerciseError(f"{letter} is not it: {options[letter]}")
    _correct(f"{right}: {options[right]}")


# --- lesson 03 ---------------------------------------------------------------------------------


def check_face_distance(answer, photo_a, photo_b, prediction=None, threshold: float = 0.6) -> None:
    """Check the Euclidean distance ``answer`` between the face-identity vectors of two photos.

    ``photo_a`` and ``photo_b`` are anything :func:`~simlab.images.load_image` accepts (the
    student's own photos); the truth comes from :func:`~simlab.faces.face_embeddings`. With
    ``prediction`` (True for "same person") the message says whether it was right. Raises
    :class:`ExerciseError` for a wrong distance or a photo without a detectable face.
    """
    from .faces import face_embeddings

    try:
        a, b = face_embeddings([photo_a, photo_b])
    except ValueError as e:
        raise ExerciseError(f"{e}: choose photos with a frontal face at least about 40 pixels wide") from None
    true = float(np.linalg.norm(a - b))
    try:
        got = float(answer)
    except (TypeError, ValueError):
        raise ExerciseError(f"give the distance as one number, not {answer!r}") from None
    if abs(got - true) > 1e-3:
        if abs(got - true**2) < 1e-3:
            raise ExerciseError("that is the squared distance: take the square root")
        raise ExerciseError(f"{got:.3f} is not the Euclidean distance of the two face vectors")
    same = true < threshold
    message = f"distance {true:.2f}: by the rule 'below {threshold}' the same person: {same}."
    if prediction is not None:
        verdict = "right" if bool(prediction) == same else "wrong"
        message += f" Your prediction ({bool(prediction)}) was {verdict}."
    _correct(message)


# --- lesson 02 ---

#: The answers a "higher, lower or the same?" prediction may take.
COMPARISONS = ("higher", "lower", "the same")


def _best_f1(scores, same) -> float:
    """The best F1 over all thresholds (``scores``: higher = more alike)."""
    from .metrics import best_threshold, precision_recall_f1

    return precision_recall_f1(scores, same, best_threshold(scores, same).value)[2]


def check_unit_euclidean_f1(answer, prediction, vectors, ia, ib, same) -> None:
    """Check the best F1 of Euclidean distance on UNIT vectors for finding near-duplicates.

    ``vectors`` (N, C) are the pooled vectors of the labelled files, ``ia`` and ``ib`` the rows of
    each pair's two files, ``same`` a bool array, True for a near-duplicate pair. ``prediction``
    ("higher", "lower" or "the same" as cosine) must be given; whether it was right is reported.
    """
    from .metrics import pairwise

    prediction = _prediction(prediction, COMPARISONS, "prediction_1")
    X = np.asarray(vectors, dtype=np.float64)
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    unit_distance = pairwise(U, metric="euclidean")[ia, ib]
    expected = _best_f1(-unit_distance, same)
    cosine = _best_f1(pairwise(X)[ia, ib], same)
    raw = _best_f1(-pairwise(X, metric="euclidean")[ia, ib], same)
    got = float(answer)
    if np.isclose(got, expected, atol=1e-6):
        truth = ("the same" if np.isclose(expected, cosine, atol=1e-9)
                 else "higher" if expected > cosine else "lower")
        _correct(f"Euclidean on unit vectors: best F1 {expected:.2f}, cosine {cosine:.2f}, Euclidean on "
                 f"the raw vectors {raw:.2f}. {_verdict(prediction, truth)}")
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
    from .hashes import HASH_METHODS, hash_bits
    from .metrics import hamming_distance

    prediction = _prediction(prediction, tuple(HASH_METHODS), "prediction_6")
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
    _correct(f"the four best F1 values are right: {table}. {best} is best on these pairs. "
             f"{_verdict(prediction, best)} Why: {why}. A hash finds copies when they keep most of "
             "their bits and different photos do not.")


def check_copy_scores(answer, original, copies: dict, backbone: Backbone, cosine_threshold: float,
                      fewest_different_bits: int) -> None:
    """Check ``{copy name: (pHash Hamming distance, stage5 cosine)}`` between a photo and its copies.

    ``original`` is an image, ``copies`` is ``{name: image}``; the cosine is that of the deepest
    stage's average-pooled vectors. ``cosine_threshold`` (the lesson's near-duplicate threshold) and
    ``fewest_different_bits`` (the fewest bits by which two different photos of the kit differ)
    are only used to say what each score means.
    """
    from .features import embed
    from .hashes import hash_bits
    from .metrics import cosine_similarity, edit_distance, hamming_distance

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
    _correct("; ".join(lines) + ".")

# --- lesson 01 ---


def _cosine_to(vectors, row: int) -> np.ndarray:
    """Cosine similarity of every row of ``vectors`` (N, d) to row ``row``; the row itself gets -inf."""
    from .metrics import pairwise

    scores = pairwise(np.asarray(vectors)[row:row + 1], np.asarray(vectors))[0].astype(np.float64)
    scores[row] = -np.inf
    return scores


def _row_of(names: list, name: str, what: str) -> int:
    if name not in names:
        raise ExerciseError(f"{name!r} is not among the {what}: {', '.join(map(str, names))}")
    return list(names).index(name)


def check_nearest_by_stage(prediction, vectors: dict, names: list, query: str, target: str) -> None:
    """Check a predict-first answer: the stages at which ``target`` is ``query``'s nearest neighbour.

    ``vectors`` is ``{stage: array (N, d)}`` (e.g. :func:`simlab.features.embed_stages`), one
    row per item named in ``names``; at each stage every other row is ranked by cosine
    similarity to ``query``. ``prediction`` is the list of stage names the student expects (a
    single name or an empty list are predictions too). Prints, stage by stage, ``target``'s
    place and cosine, then whether the prediction matched. A wrong prediction is not an error
    (it is what the student compares with); a missing or malformed one raises
    :class:`ExerciseError`.
    """
    stages = list(vectors)
    if prediction is None or isinstance(prediction, (int, float)):
        raise ExerciseError(f"write your prediction first: a list of stage names from {', '.join(stages)}")
    chosen = [prediction] if isinstance(prediction, str) else list(prediction)
    unknown = [s for s in chosen if s not in stages]
    if unknown:
        raise ExerciseError(f"{', '.join(map(repr, unknown))}: not a stage; choose from {', '.join(stages)}")
    q, t = _row_of(names, query, "names"), _row_of(names, target, "names")
    nearest_at = []
    for stage, X in vectors.items():
        scores = _cosine_to(X, q)
        place = 1 + int((scores > scores[t]).sum())
        print(f"{stage}: {target} is number {place} of {len(names) - 1} near {query} "
              f"(cosine {scores[t]:.2f})")
        if place == 1:
            nearest_at.append(stage)
    measured = ", ".join(nearest_at) or "no stage"
    guessed = ", ".join(chosen) or "no stage"
    verdict = "right" if sorted(chosen) == sorted(nearest_at) else "not right"
    print(f"Measured: {target} is the nearest at {measured}. Your prediction ({guessed}) was {verdict}.")


#: What each scripted edit of the kit's variants changes, as the stages see it (the edits are listed
#: in lesson 01, section 8, and made by ``simlab/assets/build_assets.py``).
EDIT_EFFECTS = {
    "colour": "the colour copy is more saturated and darker AND turned 8 degrees, with grey corners where "
              "the turned photo leaves the frame: new colours and grey corners change how much of each "
              "colour the photo holds, to which the averaged stage1 channels are most sensitive on the "
              "kit's copies (a colour histogram misses these copies about as often), and the turn "
              "tilts every edge",
    "crop": "a crop drops the borders, and what they held, but keeps the colours and textures of the rest",
    "lowres": "a copy at a third of the size keeps the colours (shrinking averages them), to which "
              "the averaged stage1 channels are most sensitive, so stage1 finds it (and so does a colour "
              "histogram); it loses the fine texture (JPEG quality 15 blurs it into blocks) that stage2 "
              "and stage3 respond to, so those two stages miss it most; the deep stages, which see the "
              "content, find it again",
    "mirror_grey": "greyscale removes the colour, to which the averaged stage1 channels are most "
                   "sensitive on the kit's copies (a colour histogram misses these copies too), and "
                   "mirroring reverses the direction of every slanted edge",
}


def edit_found_counts(vectors, names: list) -> dict:
    """For each kind of edit, ``(found, total)``: how many originals have their copy of that kind
    among their ``k`` nearest rows by cosine, ``k`` being their number of copies.

    ``vectors`` is (N, d) with one row per name in ``names``; copies are named
    ``"<original>__<edit>"`` as in ``simlab/assets/variants`` (``"chelsea__crop"``), and an
    original is a name that has copies. Raises :class:`ExerciseError` when no name is a copy.
    """
    names = list(names)
    counts: dict[str, list[int]] = {}
    originals = sorted({source_photo(n) for n in names if "__" in n} & set(names))
    if not originals:
        raise ExerciseError("no copies among the names: they are called '<original>__<edit>'")
    for original in originals:
        copies = [i for i, n in enumerate(names) if n.startswith(f"{original}__")]
        scores = _cosine_to(vectors, names.index(original))
        nearest = set(np.argsort(-scores, kind="stable")[:len(copies)].tolist())
        for i in copies:
            kind = names[i].split("__", 1)[1]
            found, total = counts.setdefault(kind, [0, 0])
            counts[kind] = [found + (i in nearest), total + 1]
    return {kind: tuple(counts[kind]) for kind in sorted(counts)}


def check_hardest_edit(prediction, vectors: dict, names: list, stage: str = "stage1", answer=None) -> None:
    """Check a predict-first answer: which kind of copy ``stage`` misses most often, and, when
    ``answer`` is given, the student's own count of the copies found at ``stage``.

    ``vectors`` is ``{stage: array (N, d)}`` for the rows named in ``names`` (the kit's labelled
    files, copies named ``"<original>__<edit>"``). ``answer`` is ``{edit: number found}``: for each
    original, is its copy of that edit among its nearest rows by cosine (as many rows as it has
    copies, the original itself left out)? Prints :func:`edit_found_counts` for every stage, then
    the edit found least often at ``stage``, what that edit changes, and whether ``prediction``
    (one edit name) matched. A wrong prediction is not an error; a missing one, a name that is not
    an edit, or a wrong count raises :class:`ExerciseError`.
    """
    table = {s: edit_found_counts(X, names) for s, X in vectors.items()}
    kinds = list(table[stage])
    if not isinstance(prediction, str) or prediction not in kinds:
        raise ExerciseError(f"write your prediction first: one of {', '.join(map(repr, kinds))}, "
                            f"not {prediction!r}")
    if answer is not None:
        _check_edit_counts(answer, table[stage], stage)
    print("copies found among their original's nearest files (k = its number of copies):")
    print(f"{'edit':12}" + "".join(f"{s:>8}" for s in table))
    for kind in kinds:
        print(f"{kind:12}" + "".join(f"{f'{c[kind][0]}/{c[kind][1]}':>8}" for c in table.values()))
    worst = min(found / total for found, total in table[stage].values())
    hardest = [kind for kind, (found, total) in table[stage].items() if found / total == worst]
    found, total = table[stage][hardest[0]]
    verdict = "right" if prediction in hardest else "not right"
    print(f"Measured: {stage} misses {' and '.join(hardest)} most often ({found} of {total} found). "
          f"Your prediction ({prediction}) was {verdict}.")
    for kind in hardest:
        print(f"Why: {EDIT_EFFECTS.get(kind, 'see what the edit changes')}.")


def _check_edit_counts(answer, counts: dict, stage: str) -> None:
    """``answer`` ({edit: found}) against ``counts`` ({edit: (found, total)}) of :func:`edit_found_counts`."""
    if not isinstance(answer, dict) or sorted(map(str, answer)) != sorted(counts):
        raise ExerciseError("answer with one count per edit: a dict with the keys "
                            f"{', '.join(map(repr, counts))}")
    for kind, (found, total) in counts.items():
        got = answer[kind]
        if isinstance(got, bool) or not isinstance(got, (int, np.integer)):
            raise ExerciseError(f"{kind}: give a whole number of copies found (0 to {total}), not {got!r}")
        if got == total - found and got != found:
            raise ExerciseError(f"{kind}: {got} is the number of copies MISSED at {stage}; count the ones "
                                "found among their original's nearest files")
        if got != found:
            raise ExerciseError(f"{kind}: {got} found is not what {stage} gives. For each original, rank "
                                "the other files by cosine (leave the original itself out), take as many "
                                "as it has copies, and count its copies of that edit among them")
    found = ", ".join(f"{kind} {f} of {t}" for kind, (f, t) in counts.items())
    _correct(f"your counts at {stage} match: {found}.")


def check_nearest_photo(answer, backbone: Backbone, photo, gallery: dict,
                        stages=("stage1", "stage5")) -> None:
    """Check ``{stage: name}``: the photo of ``gallery`` (``{name: image}``) nearest to ``photo`` by
    cosine of average-pooled features at each of ``stages``.

    ``photo`` and the gallery images are anything :func:`~simlab.images.load_image` accepts
    (the student's own photo, say). Prints the nearest photo and its cosine per stage.
    """
    from .features import embed_stages

    try:
        got = {str(s): str(answer[s]) for s in stages}
    except (TypeError, KeyError, IndexError):
        raise ExerciseError(f"give a dict with one photo name per stage, e.g. "
                            f"{{{', '.join(f'{s!r}: {next(iter(gallery))!r}' for s in stages)}}}") from None
    names = list(gallery)
    vectors = embed_stages(backbone, [photo, *gallery.values()], list(stages))
    nearest, best, worst = {}, {}, {}
    for s in stages:
        scores = _cosine_to(vectors[s], 0)[1:]
        nearest[s], best[s] = names[int(scores.argmax())], float(scores.max())
        worst[s] = names[int(scores.argmin())]
    for s in stages:
        if got[s] not in names:
            raise ExerciseError(f"{got[s]!r} is not in the gallery: {', '.join(names)}")
        if got[s] == nearest[s]:
            continue
        if got[s] == worst[s]:
            raise ExerciseError(f"{s}: {got[s]} is the LEAST similar photo; the nearest has the "
                                "highest cosine")
        others = [o for o in stages if o != s]
        if any(got[s] == nearest[o] for o in others):
            raise ExerciseError(f"{s}: {got[s]} is the nearest at another stage; embed at {s}")
        raise ExerciseError(f"{s}: {got[s]} is not the nearest; rank by cosine at {s}")
    found = "; ".join(f"at {s} {nearest[s]} (cosine {best[s]:.2f})" for s in stages)
    same = len(set(nearest.values())) == 1
    _correct(f"your photo's nearest kit photo is {found}. "
             + ("Both stages agree." if same else "The stages disagree: look at the photos and say "
                "which kind of likeness each stage found."))


# --- lesson 04 ---


def check_noise_recall(answer, prediction, found, truth, clustered_recall: float) -> None:
    """Check recall@k of HNSW on random noise, and say whether the student's prediction was right.

    ``found`` and ``truth`` are (Nq, k) arrays of gallery rows (the index's answer and the exact
    one on the noise vectors), ``answer`` the student's recall@k of ``found``, ``prediction``
    ``"higher"`` or ``"lower"`` than ``clustered_recall`` (the same index settings on clustered
    vectors). A missing prediction fails; a wrong one is reported, not failed.
    """
    from .search import recall_at_k

    prediction = _prediction(prediction, ("higher", "lower"), "prediction_4")
    found, truth = np.asarray(found), np.asarray(truth)
    k = truth.shape[1]
    expected = recall_at_k(found, truth)
    got = float(np.asarray(answer))
    if not np.isclose(got, expected, atol=1e-6):
        if np.isclose(got, float((found == truth).mean()), atol=1e-6):
            raise ExerciseError("you compared position by position: count the overlap of the two sets "
                                "per query")
        raise ExerciseError(f"expected a recall@{k} of {expected:.3f}, got {got:.3f} "
                            "(recall_at_k(found, truth))")
    truth_word = "higher" if expected > clustered_recall else "lower"
    _correct(f"recall@{k} {expected:.2f} on noise against {clustered_recall:.2f} on clustered vectors: "
             f"{truth_word}. {_verdict(prediction, truth_word)}")


def check_neighbours(answer, vectors, query: int, k: int = 5) -> None:
    """Check the ``k`` rows of ``vectors`` most similar (cosine) to row ``query``, itself left out.

    ``answer`` is a sequence of ``k`` row numbers, most similar first; rows with equal scores
    may come in either order.
    """
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
        _correct(f"the {k} nearest photos score {', '.join(f'{cosine[i]:.2f}' for i in expected)}.")
        return
    raw = X @ X[query]
    if np.allclose(cosine[got], cosine[others[np.argsort(-raw[others], kind="stable")][:k]], atol=1e-5):
        raise ExerciseError("that ranks by the raw inner product: divide each vector by its length first, "
                            "then the inner product is the cosine similarity")
    if np.allclose(cosine[got], cosine[others[np.argsort(cosine[others], kind="stable")][:k]], atol=1e-5):
        raise ExerciseError("those are the LEAST similar: a larger inner product means more alike")
    raise ExerciseError(f"expected rows {expected.tolist()} (similarities "
                        f"{', '.join(f'{cosine[i]:.2f}' for i in expected)}), got {got}")

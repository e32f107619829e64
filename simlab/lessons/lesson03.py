"""Exercise checks and helpers of lesson 03, comparing only the subject, and the same person."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from ..backbones import Backbone
from ..embedding import embed
from ..faces import face_embeddings
from ..masks import replace_background
from ..metrics import pairwise
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
    "check_auc",
    "check_box_mask",
    "check_choice",
    "check_face_distance",
    "check_threshold",
]


def check_auc(answer, scores: dict, same, prediction=None, way: str = "whole image") -> None:
    """Check ``answer``, the ROC AUC of ``scores[way]`` for telling ``same`` pairs from the others.

    ``scores`` is ``{way: score of every pair}`` (higher = more alike: negated distances for the
    face-identity vectors), ``same`` a bool array, True for a same-person pair. ``prediction`` is
    the way the student expected to have the largest AUC (a missing one fails); the check says
    which way had it, and why a face-identity network beats generic features.
    """
    require_answer(answer, "the AUC as one number")

    choice = read_prediction(prediction, list(scores), "my_prediction")
    same = np.asarray(same, dtype=bool)
    aucs = {w: float(roc_auc_score(same, s)) for w, s in scores.items()}
    got = read_number(answer, "the AUC")
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
    correct(f"AUC {want:.3f} for the {way}. The largest: {best} ({aucs[best]:.3f}): {why}. "
             + verdict(choice, best))


def check_threshold(answer, same_distances, other_distances) -> None:
    """Check a distance threshold with the best F1 on the given pairs: a pair is called "same" when
    its distance is at most the threshold. Any threshold with the best F1 counts (they form a range
    between two neighbouring distances)."""
    require_answer(answer, "the threshold as one number")
    same_d, other_d = np.asarray(same_distances, dtype=float), np.asarray(other_distances, dtype=float)
    t = read_number(answer, "the threshold")

    def f1(threshold: float) -> float:
        hits = int((same_d <= threshold).sum())
        calls = hits + int((other_d <= threshold).sum())
        return 2 * hits / (calls + len(same_d)) if calls else 0.0

    best = max(f1(d) for d in np.concatenate([same_d, other_d]))
    got = f1(t)
    if np.isclose(got, best, atol=1e-9):
        right, wrong = int((same_d <= t).sum()), int((other_d <= t).sum())
        correct(f"{t:.3f}: F1 {got:.3f}, the best there is on these pairs; it calls {right} of "
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


def check_box_mask(mask, height: int, width: int, box) -> None:
    """Check a bool (height, width) mask that is True exactly inside ``box = (x0, y0, x1, y1)``
    (pixel columns x0..x1-1 and rows y0..y1-1, as in ``mask[y0:y1, x0:x1]``)."""
    require_answer(mask, "a mask array")
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
        correct(f"{mask.sum()} pixels inside the box, {mask.mean():.0%} of the image.")
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


def check_face_distance(answer, photo_a, photo_b, prediction=None, threshold: float = 0.6) -> None:
    """Check the Euclidean distance ``answer`` between the face-identity vectors of two photos.

    ``photo_a`` and ``photo_b`` are anything :func:`~simlab.images.load_image` accepts (the
    student's own photos); the truth comes from :func:`~simlab.faces.face_embeddings`. With
    ``prediction`` (True for "same person") the message says whether it was right. Raises
    :class:`ExerciseError` for a wrong distance or a photo without a detectable face.
    """
    require_answer(answer, "the distance as one number")

    try:
        a, b = face_embeddings([photo_a, photo_b])
    except ValueError as e:
        raise ExerciseError(f"{e}: choose photos with a frontal face at least about 40 pixels wide") from None
    true = float(np.linalg.norm(a - b))
    got = read_number(answer, "the distance")
    if abs(got - true) > 1e-3:
        if abs(got - true**2) < 1e-3:
            raise ExerciseError("that is the squared distance: take the square root")
        raise ExerciseError(f"{got:.3f} is not the Euclidean distance of the two face vectors")
    same = true < threshold
    message = f"distance {true:.2f}: by the rule 'below {threshold}' the same person: {same}."
    if prediction is not None:
        verdict = "right" if bool(prediction) == same else "wrong"
        message += f" Your prediction ({bool(prediction)}) was {verdict}."
    correct(message)


def compare_three_ways(backbone: Backbone, images: dict, masks: dict, pairs, *,
                       stage: str | None = None) -> dict:
    """Cosine similarity of each pair computed three ways, to see what the background adds.

    ``images`` is ``{name: image}``, ``masks`` is ``{name: bool mask (H, W)}`` for the same names,
    ``pairs`` a list of ``(name_a, name_b)``. Returns ``{"whole image": scores, "masked pixels":
    scores, "masked pooling": scores}``, each a float array with one cosine per pair:
    the plain average-pooled vectors; the vectors of the photos with their background painted
    the ImageNet mean colour (:func:`~simlab.masks.replace_background`); and masked average
    pooling of the feature map (``embed(..., masks=...)``). Each image is embedded once per way.
    """
    names = list(dict.fromkeys(n for pair in pairs for n in pair))
    missing = [n for n in names if n not in images or n not in masks]
    if missing:
        raise ValueError(f"pairs name images without an image or a mask: {', '.join(missing)}")
    row = {n: i for i, n in enumerate(names)}
    photos = [images[n] for n in names]
    vectors = {
        "whole image": embed(backbone, photos, stage),
        "masked pixels": embed(backbone, [replace_background(images[n], masks[n]) for n in names], stage),
        "masked pooling": embed(backbone, photos, stage, masks=[masks[n] for n in names]),
    }
    a = [row[x] for x, _ in pairs]
    b = [row[y] for _, y in pairs]
    return {way: pairwise(v)[a, b] for way, v in vectors.items()}

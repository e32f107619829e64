"""Loading photos: one entry point that turns a path, a PIL image or an array into upright RGB.

Everything a student passes in goes through :func:`load_image`, so a bad file fails here with a
message that names it, instead of deep inside torch.
"""

from __future__ import annotations

import csv
import functools
import importlib.resources
import json
import math
import random
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

#: The kit's photos, altered copies, composites and labelled pairs: package data in
#: ``simlab/assets`` (so a wheel install has them too), found through ``importlib.resources``.
#: simlab is installed as files (never zipped), so this is a real folder.
ASSETS = Path(str(importlib.resources.files(__package__).joinpath("assets")))
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png"}
#: The sets of real photos of people in :data:`ASSETS` ``/ "people"`` (see :func:`people_photos`).
PEOPLE_SETS = ("whitehouse", "astronauts", "lisa", "london")

try:  # iPhone photos: HEIC/HEIF files open in Pillow like any other image once registered
    from pillow_heif import register_heif_opener
except ImportError:  # pragma: no cover - pillow-heif is a dependency of the kit
    HEIF = False
else:
    register_heif_opener()
    HEIF = True

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_MEAN_RGB",
    "IMAGENET_STD",
    "ImageError",
    "PEOPLE_SETS",
    "ORIGINS",
    "RELATIONS",
    "as_mask",
    "hand_drawn_masks",
    "labelled_pairs",
    "load_image",
    "paste_subject",
    "people_photos",
    "person_in",
    "replace_background",
    "samples",
    "source_groups",
    "source_photo",
    "split_pairs",
]

#: ImageNet's per-channel mean and standard deviation (RGB, values in [0, 1]): the
#: normalisation every backbone's weights were trained with.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: The ImageNet mean colour as 0..255 RGB, (124, 116, 104): after the backbones' normalisation it
#: is (about) zero, the most neutral value a network can be shown.
IMAGENET_MEAN_RGB = tuple(round(255 * m) for m in IMAGENET_MEAN)


class ImageError(ValueError):
    """An image could not be loaded; the message names the file (or value) and the reason."""


def load_image(source, *, reduce_to: int | None = None) -> Image.Image:
    """Load ``source`` as an upright RGB ``PIL.Image.Image``.

    ``source`` is a path (``str`` or ``pathlib.Path``), a ``PIL.Image.Image``, or a NumPy array of
    shape (H, W), (H, W, 3) or (H, W, 4) with dtype uint8 (0..255) or float (0..1). A path may
    be any format Pillow reads, and iPhone photos (HEIC/HEIF, through ``pillow-heif``).
    EXIF orientation is applied, so photos taken sideways come out upright. Transparent pixels
    (RGBA, LA, palette with transparency) are composited onto white. 16-bit images are scaled
    down to 8 bits rather than clipped.

    ``reduce_to`` (pixels, only for JPEG files): decode at the JPEG decoder's own reduced scale
    (1/2, 1/4 or 1/8, Pillow's ``draft``), the smallest whose short side is still at least
    ``reduce_to``; a photo less than twice that size is decoded in full. A 12-megapixel photo
    needed at 256 pixels decodes several times faster this way. ``None`` (default): full size.

    Raises :class:`ImageError` (a ``ValueError``) naming the file or value and what is wrong:
    a missing path, a directory, an empty, truncated or non-image file, an image larger than
    Pillow's decompression-bomb limit, or an array of the wrong shape, dtype or range.
    """
    if isinstance(source, (str, Path)):
        return _load_path(Path(source), reduce_to)
    if isinstance(source, Image.Image):
        return _to_rgb(ImageOps.exif_transpose(source), "the PIL image")
    if isinstance(source, np.ndarray):
        return _from_array(source)
    raise ImageError(
        f"cannot load an image from a {type(source).__name__}: "
        "pass a file path, a PIL image or a NumPy array (H, W[, 3 or 4])"
    )


def samples() -> dict[str, Path]:
    """The kit's photos in :data:`ASSETS` ``/ "photos"``, as ``{name: path}`` sorted by name.

    The name is the file name without its suffix, e.g. ``"chelsea"`` (a cat) or
    ``"motorcycle_left"``. See ``simlab/assets/ATTRIBUTION.md`` for the source of each photo.
    Raises :class:`ImageError` naming the folder when it is missing (a broken install).
    """
    folder = ASSETS / "photos"
    if not folder.is_dir():
        raise ImageError(
            f"{folder}: the kit's photo folder is missing from the installed package; reinstall "
            "simlab (in a checkout: `make assets` rebuilds it)"
        )
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in PHOTO_SUFFIXES}


RELATIONS = ("near_duplicate", "same_subject", "different")  #: labels of pairs.csv


def people_photos(*sets: str) -> dict[str, Path]:
    """Real photos of people for "the same person?" (lesson 03), as ``{name: path}``.

    ``sets`` picks among :data:`PEOPLE_SETS` (all of them when none is given), in
    :data:`ASSETS` ``/ "people"``; a name is the file name without its suffix, unique across sets:

    - ``"whitehouse"``: four official White House photos, public domain (by Pete Souza; their use
      implies no endorsement): ``obama``, ``obama2``, ``obama3`` show Barack Obama in three rooms,
      ``biden`` Joe Biden. ``obama3`` and ``biden`` are crops of ONE photo (the Blue Room, 2010):
      two men, one room.
    - ``"astronauts"``: 8 NASA astronauts, two photos each on different occasions (studio portrait,
      on orbit, launch, landing), e.g. ``susan_helms__1``; public domain (credit NASA).
    - ``"lisa"``: 8 photos of one person (Lisa DeBruine) in two settings, CC0.
    - ``"london"``: the Face Research Lab London Set, 102 consenting adults photographed neutral and
      smiling in one studio session, e.g. ``001_neutral``; CC BY 4.0 (credit DeBruine & Jones, 2017).

    :func:`person_in` names the person in each. Sources, licences and consent:
    ``simlab/assets/ATTRIBUTION.md`` and the README in each set's folder. Raises ``ValueError``
    for an unknown set and :class:`ImageError` naming the folder when it is missing (a broken install).

    Examples
    --------
    >>> from simlab.images import people_photos
    >>> sorted(people_photos("whitehouse"))
    ['biden', 'obama', 'obama2', 'obama3']
    >>> len(people_photos())
    232
    """
    unknown = [s for s in sets if s not in PEOPLE_SETS]
    if unknown:
        raise ValueError(f"unknown set(s) {unknown}: choose among {', '.join(PEOPLE_SETS)}")
    found = {}
    for name in sets or PEOPLE_SETS:
        folder = ASSETS / "people" / name
        if not folder.is_dir():
            raise ImageError(f"{folder}: the kit's photos of people are missing; reinstall simlab "
                             "(in a checkout: `make assets` rebuilds them)")
        found |= {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in PHOTO_SUFFIXES}
    return found


@functools.cache
def _people_table() -> dict[str, str]:
    with open(ASSETS / "people" / "people.csv", newline="") as f:
        return {Path(r["file"]).stem: r["person"] for r in csv.DictReader(f)}


def person_in(photo) -> str:
    """The person a photo of :func:`people_photos` shows, as its source labels them.

    ``photo`` is a name (``"obama2"``) or a path of one of those photos. Returns e.g.
    ``"Barack Obama"``, ``"Susan Helms"`` or ``"London 001"`` (the London Set numbers its
    volunteers). Raises ``ValueError`` for a photo that is not one of the kit's people photos.

    Examples
    --------
    >>> from simlab.images import person_in
    >>> person_in("obama3"), person_in("biden")
    ('Barack Obama', 'Joe Biden')
    """
    name = Path(photo).stem
    table = _people_table()
    if name not in table:
        raise ValueError(f"{photo!s}: not one of the kit's photos of people (see people_photos()); "
                         "who is in your own photos is for you to label")
    return table[name]


def hand_drawn_masks() -> dict[str, np.ndarray]:
    """The truth for the composites' subjects: ``{person: bool (448, 448) mask}``, True inside.

    Drawn from ``simlab/assets/composites/outlines.json``: polygons traced by hand on the 448 x 448
    square crop of each original photo before any segmenter ran, so they can judge one (about 3
    pixels of tracing error; the astronaut's outline leaves out the helmet she holds). The
    composites of lesson 03 show each person at these very pixels.
    """
    from PIL import ImageDraw

    outlines = json.loads((ASSETS / "composites" / "outlines.json").read_text())
    masks = {}
    for person, polygon in outlines.items():
        if person == "about":
            continue
        canvas = Image.new("1", (448, 448))
        ImageDraw.Draw(canvas).polygon([tuple(xy) for xy in polygon], fill=1)
        masks[person] = np.asarray(canvas)
    return masks


ORIGINS = ("scripted", "real")  #: the origins of pairs.csv


def labelled_pairs(origin: str | None = "scripted") -> list[tuple[Path, Path, str]]:
    """The kit's labelled pairs from ``simlab/assets/pairs.csv``: ``(path_a, path_b, relation)``.

    ``relation`` is one of :data:`RELATIONS`, the kit's vocabulary:

    - ``"near_duplicate"``: the same source photo, e.g. a photo and a copy of it (a crop, a
      recolouring, a re-encoding) or two copies of it;
    - ``"same_subject"``: another photo of the same thing (two views of a motorcycle, a box alone
      and in a cluttered scene);
    - ``"different"``: anything else.

    ``origin`` picks the pairs: ``"scripted"`` (default: the kit's photos and the copies
    ``build_assets.py`` made of them, a controlled experiment: crop, mirrored greyscale, colour
    shift with an 8-degree turn, low-resolution JPEG), ``"real"`` (copies other people made and
    real photos of one subject, in ``simlab/assets/real/``; see ``ATTRIBUTION.md``) or ``None``
    (both). ("Same person", lesson 03, is a third question: other photos of one human being.)
    Raises ``ValueError`` for another origin, or a ``pairs.csv`` with an unknown relation.

    Examples
    --------
    >>> from collections import Counter
    >>> from simlab.images import labelled_pairs
    >>> Counter(relation for _, _, relation in labelled_pairs("real"))
    Counter({'different': 56, 'near_duplicate': 18, 'same_subject': 10})
    """
    if origin is not None and origin not in ORIGINS:
        raise ValueError(f"origin={origin!r}: choose one of {', '.join(ORIGINS)}, or None for both")
    with open(ASSETS / "pairs.csv", newline="") as f:
        rows = [(ASSETS / r["a"], ASSETS / r["b"], r["relation"]) for r in csv.DictReader(f)
                if origin is None or r["origin"] == origin]
    unknown = {r for _, _, r in rows} - set(RELATIONS)
    if unknown:
        raise ValueError(f"{ASSETS / 'pairs.csv'}: unknown relation(s) {sorted(unknown)}; "
                         f"expected one of {RELATIONS}")
    return rows


def source_photo(path) -> str:
    """The name of the kit photo a file comes from: ``variants/chelsea__crop.jpg`` -> ``"chelsea"``.

    ``path`` is a ``str`` or ``pathlib.Path``; an altered copy is named ``<source>__<edit>``, any
    other file is its own source (``photos/coffee.jpg`` -> ``"coffee"``).
    """
    return Path(path).stem.split("__")[0]


def source_groups(pairs) -> dict[str, str]:
    """The source photo of every file in ``pairs``, mapped to the group of photos it belongs to.

    Photos linked by a pair whose relation is not ``"different"`` (copies of one photo, two photos
    of one subject) are one group, named by its first source photo in sorted order: the unit to
    resample or to split by, since their pairs are not independent evidence. ``pairs`` are tuples
    ``(path_a, path_b[, relation])`` as :func:`labelled_pairs` gives them; a pair without a
    relation links nothing. Raises ``ValueError`` when a pair has fewer than two items.

    Examples
    --------
    >>> from simlab.images import source_groups
    >>> source_groups([("box.png", "box_in_scene.png", "same_subject"), ("box.png", "cat.jpg", "different")])
    {'box': 'box', 'box_in_scene': 'box', 'cat': 'cat'}
    """
    if any(len(p) < 2 for p in pairs):
        raise ValueError("each pair must start with two image paths, e.g. (path_a, path_b, relation)")
    parent: dict[str, str] = {}

    def root(name: str) -> str:  # union-find: the representative of the linked source photos
        while parent.setdefault(name, name) != name:
            name = parent[name]
        return name

    for p in pairs:
        a, b = root(source_photo(p[0])), root(source_photo(p[1]))
        if len(p) > 2 and p[2] != "different" and a != b:
            parent[max(a, b)] = min(a, b)
    return {name: root(name) for name in sorted(parent)}


def split_pairs(pairs, seed: int = 0) -> tuple[list, list]:
    """Split labelled pairs into a tuning half and a held-out half that share no source photo.

    A threshold chosen on some pairs and scored on others says how it does on *new* photos only
    if the other pairs show no photo the threshold was chosen on: a crop of the cat in one half
    and its mirror image in the other would make the held-out score optimistic. So the split is
    by source photo (:func:`source_photo`), never by pair.

    ``pairs`` is a sequence of tuples whose first two items are image paths (``str`` or
    ``Path``), e.g. ``(path_a, path_b, relation)`` from :func:`labelled_pairs`; a
    third item other than ``"different"`` links the two source photos (``"same_subject"``: the
    two motorcycle views), and linked photos go to the same half, so that neither half holds a
    subject the other shows. Source photos, with the photos linked to them, are dealt one after
    the other to the half with fewer non-``"different"`` pairs so far (then fewer photos; ties
    by a coin seeded by ``seed``), the photos with the most such pairs first: both halves get
    about as many.

    Returns ``(tune, held_out)``: the pairs whose two photos both went to that half, in their
    original order. A pair of a photo in one half and a photo in the other is in neither (so
    about half of the pairs between different photos are left out). Raises ``ValueError`` when
    a pair has fewer than two items, or the pairs show fewer than two source photos (or linked
    groups of them) to split.
    """
    pairs = list(pairs)
    group_of = source_groups(pairs)
    members: dict[str, set[str]] = {}
    for name, g in group_of.items():
        members.setdefault(g, set()).add(name)
    if len(members) < 2:
        raise ValueError(f"the pairs show {len(members)} source photo(s) or linked group(s); "
                         "a split by source photo needs at least two")
    linked = {g: 0 for g in members}
    for p in pairs:
        if len(p) > 2 and p[2] != "different":
            linked[group_of[source_photo(p[0])]] += 1
    rng = random.Random(seed)
    order = sorted(members)
    rng.shuffle(order)
    order.sort(key=lambda g: -linked[g])  # stable: ties keep the seeded order
    halves: list[set[str]] = [set(), set()]
    load = [0, 0]
    for g in order:
        key = [(load[i], len(halves[i])) for i in (0, 1)]
        side = rng.randrange(2) if key[0] == key[1] else key.index(min(key))
        halves[side] |= members[g]
        load[side] += linked[g]
    tune, held_out = ([p for p in pairs if {source_photo(p[0]), source_photo(p[1])} <= half]
                      for half in halves)
    return tune, held_out


def as_mask(mask, size: tuple[int, int] | None = None, name: str = "mask") -> np.ndarray:
    """Check that ``mask`` is a subject mask and return it as a bool NumPy array (H, W).

    ``mask`` is a 2-D boolean NumPy array or torch tensor, True on the subject. ``size`` is the
    image's ``(width, height)`` (``PIL.Image.size``); when given, the mask must have shape
    ``(height, width)``. ``name`` is how error messages call the mask (e.g. ``"mask 2"``).

    Raises ``ValueError`` saying what was given: not an array, not 2-D, not boolean (with a
    hint how to threshold it), or a shape that does not fit the image (naming both sizes).
    """
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency of the kit
        torch = None
    if torch is not None and isinstance(mask, torch.Tensor):
        mask = mask.detach().cpu().numpy()
    if not isinstance(mask, np.ndarray):
        raise ValueError(
            f"{name} must be a 2-D boolean NumPy array (H, W), got a {type(mask).__name__}"
        )
    if mask.ndim != 2:
        hint = "; drop the extra axis with mask.squeeze()" if mask.ndim == 3 and 1 in (
            mask.shape[0], mask.shape[-1]) else ""
        raise ValueError(f"{name} must be 2-D (H, W), got shape {mask.shape}{hint}")
    if mask.dtype != np.bool_:
        if np.issubdtype(mask.dtype, np.floating):
            hint = "threshold it, e.g. mask > 0.5"
        elif np.issubdtype(mask.dtype, np.integer):
            hint = "threshold it, e.g. mask > 0 (or mask == label)"
        else:
            hint = "pass True on the subject and False elsewhere"
        raise ValueError(f"{name} must be boolean, got {mask.dtype}: {hint}")
    if size is not None:
        width, height = size
        if mask.shape != (height, width):
            hint = " (transposed? use mask.T)" if mask.shape == (width, height) else ""
            raise ValueError(
                f"{name} has shape {mask.shape} but its image is {width} wide and {height} high: "
                f"the mask must have shape ({height}, {width}), the size of load_image(image){hint}"
            )
    return mask


def replace_background(image, mask, colour=IMAGENET_MEAN_RGB) -> Image.Image:
    """The photo with every background pixel (``mask`` False) painted ``colour``.

    ``image`` is anything :func:`load_image` accepts; ``mask`` a bool array (H, W) of the same
    size as ``load_image(image)``, True on the subject (e.g. from ``simlab.subject``).
    ``colour`` is an RGB triple of 0..255 integers, by default the ImageNet mean
    (124, 116, 104), which the backbones' normalisation maps to about zero: the network is
    shown "nothing in particular" there rather than black or white edges. Subject pixels are
    kept unchanged. Returns a new RGB ``PIL.Image``.

    Raises :class:`ImageError` for a bad image and ``ValueError`` for a bad mask (see
    :func:`as_mask`) or a colour that is not three 0..255 integers.
    """
    im = load_image(image)
    m = as_mask(mask, im.size)
    rgb = tuple(colour) if isinstance(colour, (tuple, list, np.ndarray)) else ()
    if len(rgb) != 3 or not all(
        isinstance(c, (int, np.integer)) and not isinstance(c, bool) and 0 <= c <= 255 for c in rgb
    ):
        raise ValueError(f"colour must be three integers 0..255 (R, G, B), got {colour!r}")
    pixels = np.array(im)
    pixels[~m] = np.asarray(rgb, dtype=np.uint8)
    return Image.fromarray(pixels)


def paste_subject(subject, mask, background, scale: float = 1.0, centre=(0.5, 0.5)):
    """Paste the masked subject of one photo onto another photo: a composite and its mask.

    ``subject`` and ``background`` are anything :func:`load_image` accepts; ``mask`` is a bool
    (H, W) array the size of ``load_image(subject)``. The subject is scaled by ``scale`` (1 = its
    own size) and centred at ``centre`` = (x, y) given as fractions of the background's width and
    height; parts that fall outside are cut off. Returns ``(composite PIL.Image the size of the
    background, bool mask (H, W) of the pasted subject)``. Raises ``ValueError`` for a bad mask
    or a ``scale`` that is not positive.
    """
    if not scale > 0:
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    fg = load_image(subject)
    alpha = Image.fromarray(as_mask(mask, fg.size).astype(np.uint8) * 255)
    scene = load_image(background)
    if scale != 1.0:
        size = (max(1, round(fg.width * scale)), max(1, round(fg.height * scale)))
        fg = fg.resize(size, Image.Resampling.LANCZOS)
        alpha = alpha.resize(size, Image.Resampling.NEAREST)
    left = round(centre[0] * scene.width - fg.width / 2)
    top = round(centre[1] * scene.height - fg.height / 2)
    scene.paste(fg, (left, top), alpha)
    pasted = Image.new("L", scene.size, 0)
    pasted.paste(alpha, (left, top))
    return scene, np.asarray(pasted) > 127


def _load_path(path: Path, reduce_to: int | None = None) -> Image.Image:
    if reduce_to is not None and reduce_to < 1:
        raise ValueError(f"reduce_to={reduce_to!r}: must be a positive number of pixels")
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if path.is_dir():
        raise ImageError(f"{path}: is a directory, not an image file")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: the file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            # Pillow only warns between 1x and 2x its pixel limit; treat both as too large.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if reduce_to is not None and im.format == "JPEG":
                    _draft(im, reduce_to)
                im.load()
                upright = ImageOps.exif_transpose(im, in_place=True) or im  # ours: no copy needed
                return _to_rgb(upright, str(path), copy=False)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError(
            f"{path}: too many pixels for Pillow's decompression-bomb limit "
            f"({Image.MAX_IMAGE_PIXELS:,} pixels); resize the image first ({e})"
        ) from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image file Pillow can read") from None
    except ImageError:
        raise
    except (OSError, ValueError) as e:  # Pillow's decoders raise OSError, pillow-heif's ValueError
        raise ImageError(f"{path}: the image data is damaged or truncated ({e})") from None


def _draft(im: Image.Image, short_side: int) -> None:
    """Ask the JPEG decoder for the smallest DCT scale whose short side is >= ``short_side``."""
    w, h = im.size
    factor = short_side / min(w, h)
    if factor <= 0.5:  # at least twice the size needed: a reduced scale still covers it
        # Pillow picks the largest scale 1/s with size // s >= the requested size.
        im.draft(im.mode,
                 (math.ceil(w * factor), math.ceil(h * factor)))


def _to_rgb(im: Image.Image, name: str, copy: bool = True) -> Image.Image:
    """Convert any Pillow mode to RGB, compositing transparency onto white. An RGB image is
    returned as a copy, or as it is with ``copy=False`` (an image nobody else holds)."""
    if im.mode == "RGB":
        return im.copy() if copy else im
    if im.mode.startswith("I"):
        # 16-bit and 32-bit integer images: Pillow's convert("RGB") would clip at 255.
        a = np.asarray(im, dtype=np.float64)
        scale = 255.0 / 65535.0 if im.mode.startswith("I;16") or a.max() > 255 else 1.0
        gray = np.clip(a * scale + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(gray).convert("RGB")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    try:
        return im.convert("RGB")
    except (ValueError, OSError) as e:
        raise ImageError(f"{name}: cannot convert mode {im.mode!r} to RGB ({e})") from None


def _from_array(a: np.ndarray) -> Image.Image:
    where = f"the array of shape {a.shape} and dtype {a.dtype}"
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[-1] not in (3, 4):
        raise ImageError(
            f"{where}: looks channels-first (C, H, W); "
            "images are (H, W, C) here: use a.transpose(1, 2, 0)"
        )
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[-1] in (3, 4))):
        raise ImageError(f"{where}: expected (H, W), (H, W, 3) or (H, W, 4)")
    if a.size == 0:
        raise ImageError(f"{where}: the array is empty")
    if a.dtype == np.uint8:
        data = a
    elif np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise ImageError(f"{where}: contains NaN or infinity")
        if a.min() < 0 or a.max() > 1:
            raise ImageError(
                f"{where}: float images must lie in [0, 1], found {a.min():.3g}..{a.max():.3g}; "
                "divide by 255 if it holds 0..255 values"
            )
        data = (a * 255.0 + 0.5).astype(np.uint8)
    else:
        raise ImageError(f"{where}: dtype must be uint8 (0..255) or float (0..1)")
    return _to_rgb(Image.fromarray(np.ascontiguousarray(data)), where)

"""Near-duplicates on purpose: altered copies of photos, to plant in a collection and find again.

A photo collection holds the same picture many times over: cropped for a profile, mirrored by a
phone's selfie camera, colour-graded by a filter, recompressed by every messenger it went
through. :func:`plant_duplicates` writes such copies next to their originals, so a lesson knows
exactly which pairs a duplicate finder should report (the planted pairs) and which it should not
(every other pair).
"""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageEnhance, ImageOps

from .images import load_image

__all__ = ["ALTERATIONS", "alter", "plant_duplicates"]


def _crop(im: Image.Image, rng: random.Random) -> Image.Image:
    # keep 70-85 % of each side, at a random place
    w, h = im.size
    cw, ch = int(w * rng.uniform(0.70, 0.85)), int(h * rng.uniform(0.70, 0.85))
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    return im.crop((x, y, x + cw, y + ch))


def _colour(im: Image.Image, rng: random.Random) -> Image.Image:
    # a filter look: stronger or weaker colours, brighter or darker, warmer (red up, blue down)
    im = ImageEnhance.Color(im).enhance(rng.choice([0.4, 1.8]))
    im = ImageEnhance.Brightness(im).enhance(rng.choice([0.75, 1.25]))
    r, g, b = im.split()
    warmer_red, cooler_blue = r.point(lambda v: min(255, int(v * 1.12))), b.point(lambda v: int(v * 0.85))
    return Image.merge("RGB", (warmer_red, g, cooler_blue))


def _recompress(im: Image.Image, rng: random.Random) -> Image.Image:
    # half the size, then saved at JPEG quality 12 by plant_duplicates: blocky, smeared colours
    return im.resize((max(1, im.width // 2), max(1, im.height // 2)), Image.Resampling.BILINEAR)


#: name -> function(image, rng) returning the altered image. "recompress" is also saved at low quality.
ALTERATIONS = {
    "crop": _crop,
    "flip": lambda im, rng: ImageOps.mirror(im),
    "colour": _colour,
    "recompress": _recompress,
}
_JPEG_QUALITY = {"recompress": 12}


def alter(image, kind: str, *, seed: int = 0) -> Image.Image:
    """An altered copy of ``image``: cropped, mirrored, recoloured or shrunk.

    Parameters
    ----------
    image : str, pathlib.Path, PIL.Image.Image or numpy.ndarray
        Anything :func:`~simlab.images.load_image` accepts.
    kind : {"crop", "flip", "colour", "recompress"}
        One of :data:`ALTERATIONS`: "crop" (70-85 % of each side at a random place), "flip"
        (mirror left-right), "colour" (saturation, brightness and a warm tint changed),
        "recompress" (half size; :func:`plant_duplicates` also saves it at JPEG quality 12).
    seed : int, optional
        Makes the random choices repeatable.

    Returns
    -------
    PIL.Image.Image
        A new RGB image.

    Raises
    ------
    ValueError
        Naming the valid kinds for an unknown ``kind``.
    simlab.images.ImageError
        For an image that cannot be loaded.

    Examples
    --------
    >>> import numpy as np
    >>> from simlab.augment import alter
    >>> photo = np.zeros((40, 60, 3), dtype=np.uint8)
    >>> alter(photo, "flip").size, alter(photo, "recompress").size
    ((60, 40), (30, 20))
    """
    if kind not in ALTERATIONS:
        raise ValueError(f"unknown alteration {kind!r}; valid: {', '.join(ALTERATIONS)}")
    return ALTERATIONS[kind](load_image(image), random.Random(f"{seed}-{kind}"))


def plant_duplicates(photos, folder, *, kinds=tuple(ALTERATIONS), seed: int = 0) -> list[tuple[Path, Path]]:
    """Copy ``photos`` into ``folder`` and write altered copies of each next to it.

    For every photo ``folder/<name>.jpg`` is written (JPEG quality 95), and for every kind in
    ``kinds`` an altered copy ``folder/<name>__<kind>.jpg`` (see :func:`alter`). Existing files of
    the same names are overwritten, other files are left alone.

    Parameters
    ----------
    photos : dict or list
        ``{name: path}`` (as :func:`simlab.kit.samples` gives) or a list of paths (named by their
        stem).
    folder : str or pathlib.Path
        Where to write; created when missing.
    kinds : sequence of str, optional
        Alterations of :data:`ALTERATIONS`, all of them by default.
    seed : int, optional
        Makes the alterations repeatable.

    Returns
    -------
    list of tuple of pathlib.Path
        The planted pairs ``(original, copy)``, one per photo and kind, in order.

    Raises
    ------
    ValueError
        For an unknown kind or two photos with the same name.
    simlab.images.ImageError
        For a photo that cannot be read.

    Examples
    --------
    >>> import tempfile
    >>> from simlab.augment import plant_duplicates
    >>> from simlab.kit import samples
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     planted = plant_duplicates({"cat": samples()["chelsea"]}, folder, kinds=["crop", "flip"])
    >>> [(original.name, copy.name) for original, copy in planted]
    [('cat.jpg', 'cat__crop.jpg'), ('cat.jpg', 'cat__flip.jpg')]
    """
    for kind in kinds:
        if kind not in ALTERATIONS:
            raise ValueError(f"unknown alteration {kind!r}; valid: {', '.join(ALTERATIONS)}")
    named = dict(photos) if isinstance(photos, dict) else {Path(p).stem: p for p in photos}
    if not isinstance(photos, dict) and len(named) != len(photos):
        raise ValueError("two photos have the same file name; pass a dict name -> path instead")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    planted = []
    for name, source in named.items():
        original = folder / f"{name}.jpg"
        load_image(source).save(original, quality=95)
        for kind in kinds:
            copy = folder / f"{name}__{kind}.jpg"
            alter(source, kind, seed=seed).save(copy, quality=_JPEG_QUALITY.get(kind, 90))
            planted.append((original, copy))
    return planted

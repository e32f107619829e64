"""Reading photos: one entry point that turns a path, a PIL image or an array into upright RGB.

Everything a student passes in goes through :func:`load_image`, so a bad file fails here with a
message that names it, instead of deep inside torch. :func:`image_files` lists the photos of a
folder. iPhone photos (HEIC/HEIF) open like any other once ``pillow-heif`` is installed.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

try:  # iPhone photos: HEIC/HEIF files open in Pillow like any other image once registered
    from pillow_heif import register_heif_opener
except ImportError:  # pragma: no cover - pillow-heif is a dependency of the kit
    HEIF = False
else:
    register_heif_opener()
    HEIF = True

__all__ = ["IMAGENET_MEAN", "IMAGENET_MEAN_RGB", "IMAGENET_STD", "IMAGE_SUFFIXES", "ImageError",
           "image_files", "image_paths", "load_image"]

#: File name endings (compared lower-case) that :func:`image_files` treats as images.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".heic", ".heif")

#: ImageNet's per-channel mean and standard deviation (RGB, values in [0, 1]): the
#: normalisation every backbone's weights were trained with.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: The ImageNet mean colour as 0..255 RGB, (124, 116, 104): after the backbones' normalisation it
#: is (about) zero, the most neutral value a network can be shown.
IMAGENET_MEAN_RGB = tuple(round(255 * m) for m in IMAGENET_MEAN)


class ImageError(ValueError):
    """An image could not be loaded; the message names the file (or value) and the reason.

    A subclass of ``ValueError``, so ``except ValueError`` catches it too.

    Examples
    --------
    >>> from simlab.images import load_image
    >>> load_image("missing.jpg")
    Traceback (most recent call last):
        ...
    simlab.images.ImageError: missing.jpg: no such file
    """


def load_image(source, *, reduce_to: int | None = None) -> Image.Image:
    """Load ``source`` as an upright RGB ``PIL.Image.Image``.

    EXIF orientation is applied, so photos taken sideways come out upright. Transparent pixels
    (RGBA, LA, palette with transparency) are composited onto white. 16-bit images are scaled
    down to 8 bits rather than clipped.

    Parameters
    ----------
    source : str, pathlib.Path, PIL.Image.Image or numpy.ndarray
        A path to any format Pillow reads, iPhone photos (HEIC/HEIF, through ``pillow-heif``)
        included; a PIL image; or an array of shape (H, W), (H, W, 3) or (H, W, 4) with dtype
        uint8 (0..255) or float (0..1).
    reduce_to : int, optional
        Pixels, only for JPEG files: decode at the JPEG decoder's own reduced scale (1/2, 1/4 or
        1/8, Pillow's ``draft``), the smallest whose short side is still at least ``reduce_to``; a
        photo less than twice that size is decoded in full. A 12-megapixel photo needed at 256
        pixels decodes several times faster this way. ``None``: full size.

    Returns
    -------
    PIL.Image.Image
        A new RGB image (the caller's image or array is not changed).

    Raises
    ------
    ImageError
        A ``ValueError`` naming the file or value and what is wrong: a missing path, a directory,
        an empty, truncated or non-image file, an image larger than Pillow's decompression-bomb
        limit, or an array of the wrong shape, dtype or range.
    ValueError
        For a ``reduce_to`` below 1.

    Examples
    --------
    >>> import numpy as np
    >>> from simlab.images import load_image
    >>> from simlab.kit import samples
    >>> load_image(samples()["chelsea"]).size  # (width, height)
    (451, 300)
    >>> im = load_image(np.zeros((2, 3), dtype=np.uint8))
    >>> im.mode, im.size
    ('RGB', (3, 2))
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


def image_files(folder, *, recursive: bool = True) -> list[Path]:
    """The image files in ``folder`` (and its subfolders), sorted by path.

    A file counts as an image by its name ending (:data:`IMAGE_SUFFIXES`, any case); its content is
    not checked here. Hidden files and folders (names starting with ``.``, such as
    ``.ipynb_checkpoints`` or macOS ``._photo.jpg`` resource files) are skipped.

    Parameters
    ----------
    folder : str or os.PathLike
        The folder; ``~`` is expanded.
    recursive : bool, optional
        Look in subfolders too.

    Returns
    -------
    list of pathlib.Path
        Sorted by path; empty when there is no image.

    Raises
    ------
    ValueError
        Naming ``folder`` when it does not exist or is not a directory.

    Examples
    --------
    >>> from simlab.images import image_files
    >>> from simlab.kit import ASSETS
    >>> [p.name for p in image_files(ASSETS / "photos")][:3]
    ['astronaut.jpg', 'brick.jpg', 'camera.jpg']
    >>> image_files(ASSETS, recursive=False)  # the photos are in subfolders
    []
    """
    root = Path(folder).expanduser()
    if not root.exists():
        raise ValueError(f"{root}: no such folder")
    if not root.is_dir():
        raise ValueError(f"{root}: is a file, not a folder; pass a folder or a list of paths")
    found = root.rglob("*") if recursive else root.iterdir()
    return sorted(
        p for p in found
        if p.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
        and p.is_file()
    )


def image_paths(folder_or_paths) -> list[Path]:
    """The images a call is about: a folder's (:func:`image_files`) or the given paths, as ``Path``.

    Parameters
    ----------
    folder_or_paths : str, os.PathLike or iterable of paths
        A folder (searched with its subfolders), or the image paths themselves.

    Returns
    -------
    list of pathlib.Path
        Never empty.

    Raises
    ------
    ValueError
        Naming the folder when it is missing or holds no image file, and for an empty list.

    Examples
    --------
    >>> from simlab.images import image_paths
    >>> [p.name for p in image_paths(["cat.jpg", "dog.png"])]
    ['cat.jpg', 'dog.png']
    """
    if isinstance(folder_or_paths, (str, os.PathLike)):
        paths = image_files(folder_or_paths)
        if not paths:
            raise ValueError(
                f"no image files in {Path(folder_or_paths).expanduser()} "
                f"(looked for {' '.join(IMAGE_SUFFIXES)}, in subfolders too)"
            )
        return paths
    paths = [Path(p) for p in folder_or_paths]
    if not paths:
        raise ValueError("no images given: the list of paths is empty")
    return paths


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

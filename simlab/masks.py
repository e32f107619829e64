"""Subject masks: check one, paint the background out, paste a subject onto another photo.

A mask is a boolean NumPy array (H, W), True on the subject, the size of ``load_image(image)``
(:func:`~simlab.images.load_image`); :mod:`simlab.subject` makes them.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .images import IMAGENET_MEAN_RGB, load_image

__all__ = ["as_mask", "paste_subject", "replace_background"]


def as_mask(mask, image_size: tuple[int, int] | None = None, *, name: str = "mask") -> np.ndarray:
    """Check that ``mask`` is a subject mask and return it as a bool NumPy array (H, W).

    Parameters
    ----------
    mask : numpy.ndarray or torch.Tensor
        2-D boolean, True on the subject.
    image_size : tuple of int, optional
        The image's ``(width, height)`` (``PIL.Image.size``); when given, the mask must have shape
        ``(height, width)``.
    name : str, optional
        How error messages call the mask (e.g. ``"mask 2"``).

    Returns
    -------
    numpy.ndarray of bool, shape (H, W)
        ``mask`` itself, or a tensor's values copied to a NumPy array.

    Raises
    ------
    ValueError
        Saying what was given: not an array, not 2-D, not boolean (with a hint how to threshold
        it), or a shape that does not fit the image (naming both sizes).

    Examples
    --------
    >>> import numpy as np
    >>> from simlab.masks import as_mask
    >>> as_mask(np.ones((2, 3), dtype=bool), image_size=(3, 2)).shape
    (2, 3)
    >>> as_mask(np.ones((2, 3)))
    Traceback (most recent call last):
        ...
    ValueError: mask must be boolean, got float64: threshold it, e.g. mask > 0.5
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
    if image_size is not None:
        width, height = image_size
        if mask.shape != (height, width):
            hint = " (transposed? use mask.T)" if mask.shape == (width, height) else ""
            raise ValueError(
                f"{name} has shape {mask.shape} but its image is {width} wide and {height} high: "
                f"the mask must have shape ({height}, {width}), the size of load_image(image){hint}"
            )
    return mask


def replace_background(image, mask, *, colour=IMAGENET_MEAN_RGB) -> Image.Image:
    """The photo with every background pixel (``mask`` False) painted ``colour``.

    Subject pixels are kept unchanged.

    Parameters
    ----------
    image : str, pathlib.Path, PIL.Image.Image or numpy.ndarray
        Anything :func:`~simlab.images.load_image` accepts.
    mask : numpy.ndarray of bool, shape (H, W)
        The size of ``load_image(image)``, True on the subject (e.g. from :mod:`simlab.subject`).
    colour : tuple of int, optional
        RGB, each 0..255. The default, the ImageNet mean (124, 116, 104), is what the backbones'
        normalisation maps to about zero: the network is shown "nothing in particular" there
        rather than black or white edges.

    Returns
    -------
    PIL.Image.Image
        A new RGB image.

    Raises
    ------
    simlab.images.ImageError
        For a bad image.
    ValueError
        For a bad mask (see :func:`as_mask`) or a colour that is not three 0..255 integers.

    Examples
    --------
    >>> import numpy as np
    >>> from simlab.masks import replace_background
    >>> photo = np.zeros((2, 2, 3), dtype=np.uint8)
    >>> subject = np.array([[True, False], [False, False]])
    >>> np.asarray(replace_background(photo, subject))[:, :, 0].tolist()
    [[0, 124], [124, 124]]
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


def paste_subject(subject, mask, background, *, scale: float = 1.0, centre=(0.5, 0.5)):
    """Paste the masked subject of one photo onto another photo: a composite and its mask.

    Parts of the subject that fall outside the background are cut off.

    Parameters
    ----------
    subject, background : str, pathlib.Path, PIL.Image.Image or numpy.ndarray
        Anything :func:`~simlab.images.load_image` accepts.
    mask : numpy.ndarray of bool, shape (H, W)
        The size of ``load_image(subject)``, True on the subject.
    scale : float, optional
        The subject's size on the background, 1 = its own size.
    centre : tuple of float, optional
        Where the subject's centre goes: (x, y) as fractions of the background's width and height.

    Returns
    -------
    composite : PIL.Image.Image
        RGB, the size of the background.
    pasted : numpy.ndarray of bool, shape (H, W)
        The composite's subject mask.

    Raises
    ------
    ValueError
        For a bad mask (see :func:`as_mask`) or a ``scale`` that is not positive.

    Examples
    --------
    >>> import numpy as np
    >>> from simlab.masks import paste_subject
    >>> white = np.full((2, 2, 3), 255, dtype=np.uint8)
    >>> composite, pasted = paste_subject(white, np.ones((2, 2), bool), np.zeros((4, 4, 3), np.uint8))
    >>> pasted.astype(int).tolist()
    [[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]
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

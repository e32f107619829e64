"""Subject masks and match heatmaps drawn over photos (lesson 03).

:func:`show_mask_overlay` and :func:`show_masks` tint the subject a mask marks and draw its
outline, with the share of the photo it covers; :func:`show_match_heatmap` shows where a photo
matches a reference subject, cell by cell of the feature map. Every function returns the
matplotlib ``Figure`` it drew. Masks come from :mod:`simlab.subject` or by hand (see
:mod:`simlab.masks`); heatmaps from :func:`simlab.features.match_heatmap`.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as nnf
from matplotlib import patheffects
from matplotlib.colors import to_rgb

from .images import load_image
from .masks import as_mask
from .viz import tensor_to_image

__all__ = ["show_mask_overlay", "show_masks", "show_match_heatmap"]


def show_mask_overlay(image, mask, *, title: str = "", colour=(1, 0, 0), alpha: float = 0.45,
                      ax=None):
    r"""The photo with the subject mask tinted in ``colour`` and its outline drawn.

    The title is ``title`` with, on a second line, the share of the photo covered by the subject,
    e.g. ``"astronaut\nsubject 25% of the photo"``.

    Parameters
    ----------
    image : str, pathlib.Path, PIL.Image.Image, numpy.ndarray or torch.Tensor
        Anything :func:`~simlab.images.load_image` accepts, or a preprocessed Tensor[3, H, W].
    mask : numpy.ndarray or torch.Tensor, shape (H, W)
        For a photo: bool, its size, True on the subject. For a tensor: in that frame, bool or
        the fractions in [0, 1] of :meth:`~simlab.backbones.Backbone.preprocess_mask` (the tint
        then fades along the outline, drawn where half a pixel is subject).
    title : str, optional
        Above the share of the subject.
    colour : optional
        Any matplotlib colour.
    alpha : float, optional
        How strongly the subject is tinted, 0..1.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (e.g. one panel of a row); otherwise a new figure is made.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        For a bad mask (not 2-D boolean, or not the image's size, naming both), a bad colour or
        ``alpha`` outside [0, 1].

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from simlab.overlays import show_mask_overlay
    >>> mask = np.zeros((4, 4), dtype=bool)
    >>> mask[:2, :2] = True
    >>> fig = show_mask_overlay(np.zeros((4, 4, 3)), mask, title="square")
    >>> fig.axes[0].get_title()
    'square\nsubject 25% of the photo'
    >>> plt.close(fig)
    """
    rgb, alpha = _overlay_style(colour, alpha)
    pixels, weights = _photo_and_mask(image, mask, "mask")
    if ax is None:
        height, width = weights.shape
        fig, ax = plt.subplots(figsize=(4.0 * min(width / height, 2.0), 4.3), layout="constrained")
    _draw_overlay(ax, pixels, weights, rgb, alpha, title)
    return ax.figure


def show_masks(overlays: dict, *, ncols: int | None = None, panel_inches: float = 3.0, colour=(1, 0, 0),
               alpha: float = 0.45):
    r"""A row (or grid) of mask overlays, each drawn as :func:`show_mask_overlay` draws one.

    Parameters
    ----------
    overlays : dict
        ``{title: (image, mask)}``, e.g. the photos of a lesson beside their subjects.
    ncols : int, optional
        Panels per row, by default all in one row.
    panel_inches : float, optional
        The side of each panel, in inches.
    colour, alpha : optional
        As for :func:`show_mask_overlay`.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        For no overlays, an entry that is not an ``(image, mask)`` pair (naming its title) or a
        bad mask (naming its title).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from simlab.overlays import show_masks
    >>> mask = np.zeros((4, 4), dtype=bool)
    >>> mask[:2, :2] = True
    >>> photo = np.zeros((4, 4, 3))
    >>> fig = show_masks({"a": (photo, mask), "b": (photo, ~mask)}, panel_inches=1.0)
    >>> [ax.get_title() for ax in fig.axes]
    ['a\nsubject 25% of the photo', 'b\nsubject 75% of the photo']
    >>> plt.close(fig)
    """
    if not overlays:
        raise ValueError("no overlays given: pass {title: (image, mask)}")
    rgb, alpha = _overlay_style(colour, alpha)
    for title, pair in overlays.items():
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise ValueError(f"overlays[{title!r}] must be an (image, mask) pair")
    ncols = ncols or len(overlays)
    nrows = math.ceil(len(overlays) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_inches * ncols, panel_inches * nrows + 0.4),
                             squeeze=False, layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    for ax, (title, (image, mask)) in zip(axes.flat, overlays.items(), strict=False):
        pixels, weights = _photo_and_mask(image, mask, f"the mask of {title!r}")
        _draw_overlay(ax, pixels, weights, rgb, alpha, str(title))
    return fig


def show_match_heatmap(image, heatmap, reference=None, reference_mask=None, *, title: str = "",
                       backbone=None, vmin: float | None = None, vmax: float | None = None,
                       alpha: float = 0.5):
    r"""Where the photo matches the reference subject: the heatmap drawn over the network's view.

    The heatmap is upsampled (bilinear) to the photo's 224 x 224 and drawn semi-transparently over
    a grey copy of it (the photo's own colours would mix with the colour map: an orange suit under
    "turbo" looks hot whatever the cosine), with a colourbar "cosine to the reference subject".
    Thin lines mark the cells of a coarse map (up to 16 x 16): one cell per feature-map position.
    The photo must be the centre crop the network saw, or the cells would land on the wrong pixels:
    pass a preprocessed tensor, or a photo with ``backbone``.

    Parameters
    ----------
    image : torch.Tensor or photo
        A preprocessed Tensor[3, H, W] (``backbone.preprocess(photo)``), or a photo together with
        ``backbone`` (it is then preprocessed here).
    heatmap : array_like, shape (h, w)
        The cosine map of :func:`simlab.features.match_heatmap`, values in [-1, 1].
    reference, reference_mask : optional
        The reference photo and its bool subject mask, drawn on the left with the part of the mask
        inside the crop (all the prototype used) tinted: a photo with its mask plus ``backbone``,
        or a preprocessed tensor with a mask in that frame.
    title : str, optional
        Above the photo, by default "match with the reference subject".
    backbone : simlab.backbones.Backbone, optional
        Preprocesses photos given as photos.
    vmin, vmax : float, optional
        The colour scale, by default ``min(0, heatmap.min())`` to 1, so the same colour means the
        same cosine in every figure and a weak match never looks hot.
    alpha : float, optional
        The heatmap's opacity, 0..1.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        For a heatmap that is not a finite 2-D map in [-1, 1], a photo given without ``backbone``,
        a reference without a mask (or a mask without a reference), and bad masks.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> import torch
    >>> from simlab.overlays import show_match_heatmap
    >>> fig = show_match_heatmap(torch.zeros(3, 32, 32), np.full((4, 4), 0.5))
    >>> fig.axes[0].get_title()
    'match with the reference subject\n4 x 4 positions, max 0.50'
    >>> plt.close(fig)
    """
    hm = np.asarray(heatmap.detach().cpu() if isinstance(heatmap, torch.Tensor) else heatmap,
                    dtype=np.float32)
    if hm.ndim != 2 or hm.size == 0:
        raise ValueError(f"heatmap must be a 2-D (h, w) map from match_heatmap, got shape {hm.shape}")
    if not np.isfinite(hm).all():
        raise ValueError("heatmap contains NaN or infinity")
    if hm.min() < -1 - 1e-5 or hm.max() > 1 + 1e-5:
        raise ValueError(f"heatmap values must be cosines in [-1, 1], found {hm.min():.3g}..{hm.max():.3g}")
    if (reference is None) != (reference_mask is None):
        raise ValueError("pass reference and reference_mask together (the mask marks its subject)")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    pixels = tensor_to_image(_network_view(image, backbone, "image"))
    height, width = pixels.shape[:2]
    up = nnf.interpolate(torch.from_numpy(hm)[None, None], size=(height, width), mode="bilinear",
                         align_corners=False)[0, 0].numpy()

    ncols = 1 if reference is None else 2
    fig, axes = plt.subplots(1, ncols, figsize=(4.2 * ncols + 1.0, 4.6), squeeze=False,
                             layout="constrained")
    if reference is not None:
        ref = _network_view(reference, backbone, "reference")
        if isinstance(reference, torch.Tensor):
            ref_mask = reference_mask
        else:
            ref_mask = backbone.preprocess_mask(as_mask(reference_mask, load_image(reference).size,
                                                        name="reference_mask"))
        ref_pixels, ref_weights = _photo_and_mask(ref, ref_mask, "reference_mask")
        _draw_overlay(axes[0, 0], ref_pixels, ref_weights, (1.0, 0.0, 0.0), 0.45,
                      "reference subject")
    ax = axes[0, -1]
    ax.imshow(pixels @ np.array([0.299, 0.587, 0.114]), cmap="gray", vmin=0, vmax=1)  # luma
    vmin = min(0.0, float(hm.min())) if vmin is None else vmin
    vmax = 1.0 if vmax is None else vmax
    shown = ax.imshow(up, cmap="turbo", alpha=alpha, vmin=vmin, vmax=vmax)
    h, w = hm.shape
    if h <= 16 and w <= 16:  # a coarse map: show its cells, one per feature-map position
        for y in np.arange(1, h) * height / h:
            ax.axhline(y - 0.5, color="white", linewidth=0.5, alpha=0.4)
        for x in np.arange(1, w) * width / w:
            ax.axvline(x - 0.5, color="white", linewidth=0.5, alpha=0.4)
    ax.set_xticks([])
    ax.set_yticks([])
    heading = title or "match with the reference subject"
    ax.set_title(f"{heading}\n{h} x {w} positions, max {hm.max():.2f}", fontsize=10)
    bar = fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.03)
    bar.set_label("cosine to the reference subject")
    return fig


def _network_view(image, backbone, name: str) -> torch.Tensor:
    """A preprocessed Tensor[3, H, W]: ``image`` itself, or ``backbone.preprocess(image)``."""
    if isinstance(image, torch.Tensor):
        if image.ndim == 4 and image.shape[0] == 1:
            image = image[0]
        return image
    if backbone is None:
        raise ValueError(
            f"{name} is a photo: pass backbone=... so it is shown as the network saw it (resized "
            f"and centre-cropped), or pass backbone.preprocess({name}) instead"
        )
    return backbone.preprocess(image)


def _overlay_style(colour, alpha) -> tuple[tuple[float, float, float], float]:
    try:
        rgb = to_rgb(colour)
    except ValueError:
        raise ValueError(f"colour {colour!r} is not a matplotlib colour, e.g. 'red' or (1, 0, 0)"
                         ) from None
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    return rgb, float(alpha)


def _photo_and_mask(image, mask, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Pixels (H, W, 3) in [0, 1] and the mask as fractions (H, W) of the same size."""
    if isinstance(image, torch.Tensor):
        pixels = tensor_to_image(image[0] if image.ndim == 4 and image.shape[0] == 1 else image)
        m = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
        if m.shape != pixels.shape[:2]:
            raise ValueError(
                f"{name} has shape {m.shape} but the preprocessed image is {pixels.shape[0]} x "
                f"{pixels.shape[1]}: pass backbone.preprocess_mask(mask) with a preprocessed image"
            )
        if m.dtype != np.bool_ and not np.issubdtype(m.dtype, np.floating):
            raise ValueError(f"{name} must be boolean or fractions in [0, 1], got {m.dtype}")
        weights = m.astype(np.float64)
        if not np.isfinite(weights).all() or weights.min() < 0 or weights.max() > 1:
            raise ValueError(f"{name} holds values outside [0, 1]")
        return pixels, weights
    photo = load_image(image)
    weights = as_mask(mask, photo.size, name=name).astype(np.float64)
    return np.asarray(photo, dtype=np.float64) / 255.0, weights


def _draw_overlay(ax, pixels, weights, rgb, alpha, title) -> None:
    tint = alpha * weights[..., None]
    ax.imshow(pixels * (1.0 - tint) + np.asarray(rgb) * tint)
    if weights.min() < 0.5 < weights.max():
        # A white halo under the outline keeps it visible on photos of the mask's own colour.
        halo = [patheffects.withStroke(linewidth=4.0, foreground="white")]
        contour = ax.contour(weights, levels=[0.5], colors=[rgb], linewidths=1.8)
        contour.set_path_effects(halo)
    share = f"subject {weights.mean():.0%} of the photo"
    ax.set_title(f"{title}\n{share}" if title else share, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])

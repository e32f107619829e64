"""Figures for the lessons: photos, feature-map channel grids and per-stage curves.

Every function returns the matplotlib ``Figure`` it drew, so a notebook shows it and a test can
inspect it; nothing here computes features.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch

from .images import load_image

__all__ = ["show_feature_maps", "show_images", "tensor_to_image"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def tensor_to_image(x: torch.Tensor) -> np.ndarray:
    """Undo ImageNet normalisation: Tensor[3, H, W] -> float array (H, W, 3) in [0, 1] for imshow."""
    if x.ndim != 3 or x.shape[0] != 3:
        raise ValueError(f"expected a preprocessed image Tensor[3, H, W], got {tuple(x.shape)}")
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (x * std + mean).clamp(0, 1).permute(1, 2, 0).numpy()


def show_images(images, titles=None, ncols: int | None = None, size: float = 2.6):
    """A row (or grid) of photos with optional titles.

    ``images`` is a list of anything :func:`~simlab.images.load_image` accepts, of preprocessed
    Tensor[3, H, W], or a ``{title: image}`` dict. Returns the Figure.
    """
    if isinstance(images, dict):
        titles, images = list(images), list(images.values())
    titles = list(titles) if titles is not None else [""] * len(images)
    ncols = ncols or len(images)
    nrows = math.ceil(len(images) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, title in zip(axes.flat, images, titles):
        pixels = tensor_to_image(image) if isinstance(image, torch.Tensor) else load_image(image)
        ax.imshow(pixels)
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def show_feature_maps(fmap: torch.Tensor, channels=None, title: str = "", ncols: int = 8,
                      size: float = 1.2, cmap: str = "viridis"):
    """A grid of channels of one feature map, each labelled with its channel index.

    ``fmap`` is Tensor[C, H, W] (or [1, C, H, W]); ``channels`` is a list of indices (default:
    the first ``ncols * 2``). Each channel gets its own colour scale, bright = strong response.
    The figure title gives ``title`` and the map's shape. Returns the Figure.
    """
    if fmap.ndim == 4 and fmap.shape[0] == 1:
        fmap = fmap[0]
    if fmap.ndim != 3:
        raise ValueError(f"expected a feature map Tensor[C, H, W], got {tuple(fmap.shape)}")
    c, h, w = fmap.shape
    channels = list(range(min(c, 2 * ncols))) if channels is None else list(channels)
    bad = [i for i in channels if not 0 <= i < c]
    if bad:
        raise ValueError(f"channels {bad} do not exist: this map has channels 0..{c - 1}")
    nrows = math.ceil(len(channels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.5), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, channels):
        ax.imshow(fmap[i].numpy(), cmap=cmap)
        ax.set_title(f"ch {i}", fontsize=8)
    fig.suptitle(f"{title}  {c} channels x {h} x {w}".strip(), fontsize=10)
    fig.tight_layout()
    return fig

"""Figures of photos for the lessons: photo grids, feature maps, retrieval results, detected faces.

Every function returns the matplotlib ``Figure`` it drew, so a notebook shows it and a test can
inspect it; nothing here computes features or scores. Masks and match heatmaps drawn over photos
are in :mod:`simlab.overlays`; charts of numbers (similarity matrices, precision and recall,
per-stage curves, speed against recall) in :mod:`simlab.plots`.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch

from .images import IMAGENET_MEAN, IMAGENET_STD, load_image

__all__ = ["show_faces", "show_feature_maps", "show_images", "show_retrieval", "tensor_to_image"]


def tensor_to_image(x: torch.Tensor) -> np.ndarray:
    """Undo ImageNet normalisation: a preprocessed Tensor[3, H, W] as pixels for ``imshow``.

    Parameters
    ----------
    x : torch.Tensor, shape (3, H, W)
        A photo as a backbone's ``preprocess`` returns it.

    Returns
    -------
    numpy.ndarray, shape (H, W, 3)
        Float RGB in [0, 1].

    Raises
    ------
    ValueError
        For any other shape.

    Examples
    --------
    >>> import torch
    >>> from simlab.viz import tensor_to_image
    >>> pixels = tensor_to_image(torch.zeros(3, 2, 2))  # 0 is the ImageNet mean colour
    >>> pixels.shape, pixels[0, 0].astype(float).round(3).tolist()
    ((2, 2, 3), [0.485, 0.456, 0.406])
    """
    if x.ndim != 3 or x.shape[0] != 3:
        raise ValueError(f"expected a preprocessed image Tensor[3, H, W], got {tuple(x.shape)}")
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (x * std + mean).clamp(0, 1).permute(1, 2, 0).numpy()


def show_images(images, titles=None, *, ncols: int | None = None, panel_inches: float = 2.6):
    """A row (or grid) of photos with optional titles.

    Parameters
    ----------
    images : list or dict
        Anything :func:`~simlab.images.load_image` accepts, or preprocessed Tensor[3, H, W]; or a
        ``{title: image}`` dict.
    titles : list of str, optional
        One per image (ignored for a dict).
    ncols : int, optional
        Panels per row, by default all in one row.
    panel_inches : float, optional
        The side of each (square) panel, in inches.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    simlab.images.ImageError
        For an image that cannot be loaded.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from simlab.kit import samples
    >>> from simlab.viz import show_images
    >>> fig = show_images({"cat": samples()["chelsea"], "black": np.zeros((8, 8, 3))}, panel_inches=1.0)
    >>> [ax.get_title() for ax in fig.axes]
    ['cat', 'black']
    >>> plt.close(fig)
    """
    if isinstance(images, dict):
        titles, images = list(images), list(images.values())
    titles = list(titles) if titles is not None else [""] * len(images)
    ncols = ncols or len(images)
    nrows = math.ceil(len(images) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_inches * ncols, panel_inches * nrows),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, title in zip(axes.flat, images, titles, strict=False):
        ax.imshow(_pixels(image))
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def show_feature_maps(fmap: torch.Tensor, channels=None, *, title: str = "", ncols: int = 8,
                      panel_inches: float = 1.2, cmap: str = "viridis"):
    """A grid of channels of one feature map, each labelled with its channel index.

    Each channel gets its own colour scale, bright = strong response. The figure title gives
    ``title`` and the map's shape.

    Parameters
    ----------
    fmap : torch.Tensor, shape (C, H, W) or (1, C, H, W)
        One feature map.
    channels : list of int, optional
        The channels shown, by default the first ``2 * ncols``.
    title : str, optional
        What the map is, e.g. its stage.
    ncols : int, optional
        Panels per row.
    panel_inches : float, optional
        The side of each panel, in inches.
    cmap : str, optional
        A matplotlib colour map.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        For a map that is not (C, H, W), or channels it does not have (naming them).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import torch
    >>> from simlab.viz import show_feature_maps
    >>> fig = show_feature_maps(torch.rand(4, 3, 3), ncols=2, title="stage1")
    >>> fig._suptitle.get_text(), [ax.get_title() for ax in fig.axes]
    ('stage1  4 channels x 3 x 3', ['ch 0', 'ch 1', 'ch 2', 'ch 3'])
    >>> plt.close(fig)
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
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_inches * ncols, panel_inches * nrows + 0.5),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, channels, strict=False):
        ax.imshow(fmap[i].numpy(), cmap=cmap)
        ax.set_title(f"ch {i}", fontsize=8)
    fig.suptitle(f"{title}  {c} channels x {h} x {w}".strip(), fontsize=10)
    fig.tight_layout()
    return fig


def show_retrieval(query_images, neighbour_images, scores, *, query_titles=None,
                   neighbour_titles=None, panel_inches: float = 2.2):
    """Nearest-neighbour results: one row per query, the query photo then its k neighbours.

    Each neighbour is titled with its name and score, e.g. ``"coffee 0.83"`` (just the score
    without names), and each query with ``"query: <name>"`` in a red frame.

    Parameters
    ----------
    query_images : list
        Q images: anything :func:`~simlab.images.load_image` accepts, or preprocessed
        Tensor[3, H, W]. A single query may be given unwrapped: one image, a list of k neighbours
        and k scores.
    neighbour_images : list of list
        Q lists of k images each, best first.
    scores : array_like, shape (Q, k)
        Their similarities or distances (e.g. the ``scores`` of :func:`simlab.metrics.top_k`).
    query_titles : list of str, optional
        Q names.
    neighbour_titles : list of list of str, optional
        Q lists of k names.
    panel_inches : float, optional
        The side of each panel, in inches.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        When the numbers of queries, neighbours, scores or titles disagree.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from simlab.viz import show_retrieval
    >>> photo = np.zeros((8, 8, 3))
    >>> fig = show_retrieval(photo, [photo, photo], [0.9, 0.5], query_titles="a", neighbour_titles=["b", "c"])
    >>> [ax.get_title() for ax in fig.axes]
    ['query: a', 'b 0.90', 'c 0.50']
    >>> plt.close(fig)
    """
    scores = np.asarray(scores.detach().cpu() if isinstance(scores, torch.Tensor) else scores,
                        dtype=np.float64)
    if scores.ndim == 1:  # one query, given unwrapped
        query_images = [query_images]
        neighbour_images = [neighbour_images]
        scores = scores[None, :]
        query_titles = None if query_titles is None else [query_titles]
        if neighbour_titles is not None:
            neighbour_titles = [neighbour_titles]
    if scores.ndim != 2 or scores.size == 0:
        raise ValueError(f"scores must be a (Q, k) array, one row per query, got {scores.shape}")
    q, k = scores.shape
    query_images, neighbour_images = list(query_images), [list(row) for row in neighbour_images]
    if len(query_images) != q or len(neighbour_images) != q:
        raise ValueError(
            f"scores has {q} rows (queries), but there are {len(query_images)} query images and "
            f"{len(neighbour_images)} rows of neighbours"
        )
    for i, row in enumerate(neighbour_images):
        if len(row) != k:
            raise ValueError(f"query {i} has {len(row)} neighbour images but {k} scores")
    query_titles = [None] * q if query_titles is None else list(query_titles)
    if len(query_titles) != q:
        raise ValueError(f"{len(query_titles)} query titles for {q} queries")
    if neighbour_titles is None:
        neighbour_titles = [[None] * k for _ in range(q)]
    neighbour_titles = [list(row) for row in neighbour_titles]
    if len(neighbour_titles) != q or any(len(row) != k for row in neighbour_titles):
        raise ValueError(f"neighbour_titles must hold {q} rows of {k} names, like scores")

    fig, axes = plt.subplots(q, k + 1, figsize=(panel_inches * (k + 1), panel_inches * q + 0.3),
                             squeeze=False)
    for i in range(q):
        ax = axes[i, 0]
        ax.imshow(_pixels(query_images[i]))
        name = query_titles[i]
        ax.set_title("query" if name is None else f"query: {name}", fontsize=9,
                     fontweight="bold")
        _frame(ax, "tab:red")
        for j in range(k):
            ax = axes[i, j + 1]
            ax.imshow(_pixels(neighbour_images[i][j]))
            name = neighbour_titles[i][j]
            score = f"{scores[i, j]:.2f}"
            ax.set_title(score if name is None else f"{name} {score}", fontsize=9)
            _frame(ax, None)
    fig.tight_layout()
    return fig


def show_faces(images: dict, *, panel_inches: float = 3.0):
    r"""Photos with the faces dlib finds: ``{title: image}`` -> one panel each.

    The largest face (the one :func:`~simlab.faces.face_embeddings` uses) is framed in green with
    its 5 landmarks as dots; any other face is framed in dashed orange. A panel's title says how
    many faces it has. Runs the detector (:func:`~simlab.faces.detect_faces`), so a photo with a
    face needs the face models (``python -m simlab fetch dlib_face_recognition
    dlib_face_landmarks_5``).

    Parameters
    ----------
    images : dict
        ``{title: image}``, images as :func:`~simlab.images.load_image` accepts them.
    panel_inches : float, optional
        The height of each panel, in inches (the width follows the photo).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        For no images.
    simlab.images.ImageError
        For an image that cannot be loaded.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from simlab.kit import samples
    >>> from simlab.viz import show_faces
    >>> fig = show_faces({"cat": samples()["chelsea"]}, panel_inches=1.0)  # dlib finds no face
    >>> fig.axes[0].get_title()
    'cat\n0 faces'
    >>> plt.close(fig)
    """
    if not images:
        raise ValueError("no images given: pass {title: image}")
    from .faces import detect_faces, face_landmarks  # dlib: imported only when faces are drawn

    photos = {title: load_image(image) for title, image in images.items()}
    widths = [p.width / p.height for p in photos.values()]
    fig, axes = plt.subplots(1, len(photos), figsize=(panel_inches * sum(widths) + 0.2, panel_inches + 0.5),
                             squeeze=False, width_ratios=widths, layout="constrained")
    for ax, (title, photo) in zip(axes.flat, photos.items(), strict=True):
        ax.imshow(photo)
        ax.axis("off")
        boxes = detect_faces(photo)
        for i, (left, top, right, bottom) in enumerate(boxes):
            ax.add_patch(plt.Rectangle((left, top), right - left, bottom - top, fill=False, lw=2,
                                       ec="lime" if i == 0 else "orange", ls="-" if i == 0 else "--"))
        if boxes:
            points = face_landmarks(photo)
            ax.plot(points[:, 0], points[:, 1], "o", ms=3, color="yellow", mec="black", mew=0.5)
        ax.set_title(f"{title}\n{len(boxes)} face{'s' * (len(boxes) != 1)}", fontsize=9)
    return fig


def _pixels(image):
    """What imshow needs for anything load_image accepts, or a preprocessed Tensor[3, H, W]."""
    return tensor_to_image(image) if isinstance(image, torch.Tensor) else load_image(image)


def _frame(ax, colour) -> None:
    """Hide ticks; draw the axes' border in ``colour`` (or no border for ``None``)."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(colour is not None)
        if colour is not None:
            spine.set_color(colour)
            spine.set_linewidth(3)

"""Figures for the lessons: photos, feature-map grids, similarity matrices, retrieval grids,
precision/recall against a threshold, and per-stage curves.

Every function returns the matplotlib ``Figure`` it drew, so a notebook shows it and a test can
inspect it; nothing here computes features or scores (see :mod:`simlab.metrics`).

Similarities (cosine: higher = more alike) and distances (Euclidean, Manhattan, Hamming, edit:
lower = more alike) are drawn so that "more alike" always looks the same: bright in a heatmap.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch

from .images import load_image

__all__ = [
    "show_feature_maps",
    "show_images",
    "show_precision_recall",
    "show_retrieval",
    "show_similarity_matrix",
    "show_stage_curves",
    "tensor_to_image",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: Metric names :func:`show_similarity_matrix` knows: higher = more alike, or lower = more alike.
SIMILARITY_METRICS = ("cosine",)
DISTANCE_METRICS = ("euclidean", "manhattan", "hamming", "edit")

#: Largest matrix whose values are written in the cells.
MAX_ANNOTATED = 16


def tensor_to_image(x: torch.Tensor) -> np.ndarray:
    """Undo ImageNet normalisation: Tensor[3, H, W] -> float array (H, W, 3) in [0, 1] (imshow)."""
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
    for ax, image, title in zip(axes.flat, images, titles, strict=False):
        ax.imshow(_pixels(image))
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
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.5),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, channels, strict=False):
        ax.imshow(fmap[i].numpy(), cmap=cmap)
        ax.set_title(f"ch {i}", fontsize=8)
    fig.suptitle(f"{title}  {c} channels x {h} x {w}".strip(), fontsize=10)
    fig.tight_layout()
    return fig


def show_similarity_matrix(S, labels, title: str = "", metric: str = "cosine"):
    """Heatmap of an (N, N) similarity or distance matrix, with ``labels`` on both axes.

    ``S`` is an (N, N) array (NumPy, nested lists or a torch tensor), e.g.
    ``simlab.metrics.pairwise(X, metric=metric)``; ``labels`` are the N names, in row order.
    ``metric`` names what the numbers are: ``"cosine"`` (a similarity) or ``"euclidean"``,
    ``"manhattan"``, ``"hamming"``, ``"edit"`` (distances); any other name ending in
    ``"similarity"`` or ``"distance"`` also works. Bright always means "more alike": similarities
    use ``viridis``, distances the reversed map ``viridis_r``. The colour scale spans the
    matrix's own minimum and maximum (in the metric's units), and the colourbar is labelled with
    the metric and its direction. When N <= 16 every cell shows its value with 2 decimals.

    Raises ``ValueError`` when ``S`` is not a non-empty square 2-D matrix, holds NaN or
    infinity, when ``len(labels) != N``, or for an unknown metric. Returns the Figure.
    """
    S = np.asarray(S.detach().cpu() if isinstance(S, torch.Tensor) else S, dtype=np.float64)
    if S.ndim != 2 or S.shape[0] != S.shape[1] or S.size == 0:
        raise ValueError(
            f"S must be a square (N, N) matrix with one row and column per image, got shape "
            f"{S.shape}; pairwise(X) of an (N, d) array gives one"
        )
    if not np.isfinite(S).all():
        raise ValueError("S contains NaN or infinity: every cell needs a number to be drawn")
    labels = [str(label) for label in labels]
    n = S.shape[0]
    if len(labels) != n:
        raise ValueError(f"S is {n} x {n} but {len(labels)} labels were given: one per row needed")
    is_distance = _is_distance(metric)
    kind = "distance" if is_distance else "similarity"
    name = metric if metric.endswith(kind) else f"{metric} {kind}"
    direction = "lower = more alike" if is_distance else "higher = more alike"

    side = min(max(4.0, 0.55 * n + 2.0), 12.0)
    # Constrained layout makes room for long labels next to the colourbar (tight_layout does not).
    fig, ax = plt.subplots(figsize=(side + 1.2, side), layout="constrained")
    shown = ax.imshow(S, cmap="viridis_r" if is_distance else "viridis")
    bar = fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.02)
    bar.set_label(f"{name} ({direction})")
    ax.set_xticks(range(n), labels, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(n), labels)
    ax.tick_params(length=0)
    if n <= MAX_ANNOTATED:
        fontsize = 9 if n <= 13 else 8
        for i in range(n):
            for j in range(n):
                # Dark text on bright cells, white text on dark ones.
                r, g, b, _ = shown.cmap(shown.norm(S[i, j]))
                colour = "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"
                ax.text(j, i, f"{S[i, j]:.2f}", ha="center", va="center", color=colour,
                        fontsize=fontsize)
    ax.set_title(title or name)
    return fig


def show_retrieval(query_images, neighbour_images, scores, query_titles=None,
                   neighbour_titles=None, size: float = 2.2):
    """Nearest-neighbour results: one row per query, the query photo then its k neighbours.

    ``query_images`` is a list of Q images; ``neighbour_images`` a list of Q lists of k images
    each, best first; ``scores`` a (Q, k) array of their similarities or distances (e.g. the
    ``scores`` of :func:`simlab.metrics.top_k`). Images are anything
    :func:`~simlab.images.load_image` accepts, or preprocessed Tensor[3, H, W]. A single query
    may be given unwrapped: one image, a list of k neighbours and k scores.
    ``query_titles`` (Q names) and ``neighbour_titles`` (Q lists of k names) are optional; each
    neighbour is titled with its name and score, e.g. ``"coffee 0.83"`` (just the score
    without names), and each query with ``"query: <name>"`` in a red frame.

    Raises ``ValueError`` when the numbers of queries, neighbours, scores or titles disagree.
    Returns the Figure.
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

    fig, axes = plt.subplots(q, k + 1, figsize=(size * (k + 1), size * q + 0.3), squeeze=False)
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


def show_precision_recall(thresholds, precision, recall, chosen: float | None = None,
                          title: str = "", xlabel: str = "threshold"):
    """Precision, recall and F1 against the decision threshold, with the chosen threshold marked.

    ``thresholds``, ``precision`` and ``recall`` are 1-D sequences of the same length: at
    ``thresholds[i]``, a pair counts as "same" when its score passes the threshold, and
    ``precision[i]``, ``recall[i]`` (fractions in [0, 1]; NaN where undefined, drawn as a gap)
    measure those decisions. scikit-learn's ``precision_recall_curve`` output, whose precision
    and recall have one extra final point (1, 0) with no threshold, is accepted as is. F1 is
    ``2 P R / (P + R)``. ``chosen`` (in threshold units) draws a vertical line labelled with its
    value. The x axis is in the units of the thresholds (the similarity or distance); say which
    with ``xlabel``, e.g. ``"cosine similarity threshold"``.

    Raises ``ValueError`` for empty or non-1-D input, lengths that differ, or precision/recall
    outside [0, 1]. Returns the Figure.
    """
    t = _curve(thresholds, "thresholds")
    p = _curve(precision, "precision")
    r = _curve(recall, "recall")
    if len(p) == len(r) == len(t) + 1:  # scikit-learn's precision_recall_curve convention
        p, r = p[:-1], r[:-1]
    if not len(t) == len(p) == len(r):
        raise ValueError(
            f"thresholds, precision and recall must have the same length, got {len(t)}, "
            f"{len(p)} and {len(r)}"
        )
    if not np.isfinite(t).all():
        raise ValueError("thresholds contain NaN or infinity")
    for values, name in ((p, "precision"), (r, "recall")):
        outside = values[~np.isnan(values)]
        if ((outside < 0) | (outside > 1)).any():
            raise ValueError(f"{name} must lie in [0, 1] (a fraction), found {outside.min():.3g}"
                             f"..{outside.max():.3g}")
    order = np.argsort(t, kind="stable")
    t, p, r = t[order], p[order], r[order]
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(p + r > 0, 2 * p * r / (p + r), 0.0)
    f1[np.isnan(p) | np.isnan(r)] = np.nan

    fig, ax = plt.subplots(figsize=(6.4, 4))
    marker = "o" if len(t) <= 30 else None
    ax.plot(t, p, marker=marker, markersize=4, label="precision")
    ax.plot(t, r, marker=marker, markersize=4, label="recall")
    ax.plot(t, f1, linestyle="--", color="grey", label="F1")
    if chosen is not None:
        ax.axvline(chosen, color="tab:red", linewidth=1.5, label=f"threshold = {chosen:.2f}")
        ax.annotate(f"{chosen:.2f}", xy=(chosen, 1.02), xycoords=("data", "axes fraction"),
                    ha="center", va="bottom", color="tab:red", fontsize=9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("fraction")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=9, frameon=False)
    ax.set_title(title or "precision and recall against the threshold", pad=18)
    fig.tight_layout()
    return fig


def show_stage_curves(curves: dict, stage_names, ylabel: str = "cosine similarity",
                      title: str = ""):
    """One line per pair (or image) across the stages, shallow to deep, with a legend.

    ``curves`` is ``{label: values}``, each a sequence of numbers with one value per stage in
    ``stage_names`` (e.g. the cosine similarity of a pair at every stage, from
    :func:`simlab.features.embed_stages`). ``ylabel`` names the values and their units.

    Raises ``ValueError`` for no curves or no stages, or a curve whose length differs from
    ``len(stage_names)`` (naming it). Returns the Figure.
    """
    stage_names = [str(s) for s in stage_names]
    if not curves:
        raise ValueError("no curves given: pass {label: [one value per stage]}")
    if not stage_names:
        raise ValueError("no stage names given")
    for label, values in curves.items():
        if len(values) != len(stage_names):
            raise ValueError(
                f"curve {label!r} has {len(values)} values but there are {len(stage_names)} "
                f"stages ({', '.join(stage_names)})"
            )
    # The legend goes below the axes, two labels a row, so it never hides a line.
    legend_rows = math.ceil(len(curves) / 2)
    fig, ax = plt.subplots(figsize=(6.4, 3.6 + 0.25 * legend_rows))
    x = np.arange(len(stage_names))
    for i, (label, values) in enumerate(curves.items()):
        # The colour cycle has 10 colours: from the 11th curve on, the line style tells them apart.
        ax.plot(x, np.asarray(values, dtype=np.float64), marker="o", label=str(label),
                linestyle=("-", "--", ":")[i // 10 % 3])
    ax.set_xticks(x, stage_names)
    ax.set_xlabel("stage (shallow to deep)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=min(2, len(curves)),
              fontsize=9, frameon=False)
    if title:
        ax.set_title(title)
    fig.tight_layout()
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


def _is_distance(metric: str) -> bool:
    if metric in SIMILARITY_METRICS or metric.endswith("similarity"):
        return False
    if metric in DISTANCE_METRICS or metric.endswith("distance"):
        return True
    raise ValueError(
        f"unknown metric {metric!r}: use one of {', '.join(SIMILARITY_METRICS + DISTANCE_METRICS)}"
        ", or a name ending in 'similarity' or 'distance'"
    )


def _curve(values, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence, got shape {arr.shape}")
    return arr

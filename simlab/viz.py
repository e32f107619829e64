"""Figures for the lessons: photos, feature-map grids, similarity matrices, retrieval grids,
precision/recall against a threshold, per-stage curves, subject masks, match heatmaps and the
speed/recall trade-off of search indexes.

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
import torch.nn.functional as nnf
from matplotlib import patheffects
from matplotlib.colors import to_rgb
from matplotlib.text import Text

from .images import IMAGENET_MEAN, IMAGENET_STD, as_mask, load_image

__all__ = [
    "show_faces",
    "show_feature_maps",
    "show_images",
    "show_mask_overlay",
    "show_masks",
    "show_match_heatmap",
    "show_precision_recall",
    "show_retrieval",
    "show_similarity_matrix",
    "show_speed_recall",
    "show_stage_curves",
    "tensor_to_image",
]

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


def show_speed_recall(curves: dict, baselines: dict | None = None, title: str = "", k: int = 10):
    """Queries per second against recall@k: what an approximate index trades for its speed.

    ``curves`` maps an index name to a list of ``(setting, queries_per_second, recall)``, one
    per setting, e.g. ``{"IVF": [("nprobe=1", 65000.0, 0.64), ...]}``; each becomes a line with
    its points labelled by their setting. Each label goes beside its point where it overlaps no
    other label, point or line (see :func:`_place_labels`). ``baselines`` maps a name to the
    queries per second of an exact method (recall 1 by definition), drawn as a horizontal line.
    Speed is on a log scale; recall runs to 1 (found all ``k`` true neighbours).

    Raises ``ValueError`` for an empty ``curves``, a curve without points, a recall outside
    [0, 1] or a speed that is not positive. Returns the Figure.
    """
    if not curves:
        raise ValueError("curves is empty: give at least one {name: [(setting, qps, recall), ...]}")
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    labels = []  # (setting, recall, qps, colour)
    for name, points in curves.items():
        if not points:
            raise ValueError(f"curve {name!r} has no points")
        settings, qps, recall = zip(*points, strict=True)
        qps, recall = np.asarray(qps, dtype=float), np.asarray(recall, dtype=float)
        if not (np.all(qps > 0) and np.all((recall >= 0) & (recall <= 1))):
            raise ValueError(f"curve {name!r}: queries per second must be > 0 and recall in [0, 1]")
        (line,) = ax.plot(recall, qps, "o-", label=name)
        labels += [(setting, x, y, line.get_color())
                   for setting, x, y in zip(settings, recall, qps, strict=True)]
    for i, (name, qps) in enumerate((baselines or {}).items()):
        style = ["--", ":", "-."][i % 3]
        ax.axhline(qps, color="black", linestyle=style, linewidth=1, label=f"{name} (exact)")
    ax.set_yscale("log")
    ax.margins(x=0.08, y=0.2)  # room for the labels of the outermost points
    low, high = ax.get_xlim()
    ax.set_xlim(low, high + 0.1 * (high - low))  # and beside the points at recall 1, where they crowd
    ax.set_xlabel(f"recall@{k} (fraction of the true {k} nearest neighbours found)")
    ax.set_ylabel("queries per second")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=9, frameon=False)
    ax.set_title(title or "speed against recall")
    fig.tight_layout()
    _place_labels(ax, labels)
    return fig


#: Where :func:`_place_labels` tries a label, in points from its point, in this order:
#: (dx, dy, horizontal alignment, vertical alignment). Far spots get a thin leader line.
_LABEL_SPOTS = [(7, 0, "left", "center"), (-7, 0, "right", "center"), (0, 7, "center", "bottom"),
                (0, -7, "center", "top"), (6, 6, "left", "bottom"), (-6, -6, "right", "top"),
                (-6, 6, "right", "bottom"), (6, -6, "left", "top")]
_LABEL_SPOTS += [(dx, dy, "right" if dx < 0 else "left", "center")
                 for dy in (0, -12, 12, -24, 24) for dx in (-24, -40, 24)]


def _place_labels(ax, labels, fontsize: float = 7) -> None:
    """Annotate ``labels`` ``(text, x, y, colour)`` (data coordinates) on ``ax`` without overlaps.

    Each label takes the first spot of :data:`_LABEL_SPOTS` where its box, inside the axes,
    touches no label placed before it, no marker and no line drawn on ``ax`` (lines are sampled
    every few pixels); where no spot is free, the one with the fewest collisions. Call it after
    the axes' limits and the figure's layout are final (it works in display coordinates).
    """
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    obstacles = []  # display-coordinate points that a label must not cover
    for line in ax.get_lines():
        # the line's own transform: data coordinates, or for axhline x in axes coordinates
        xy = line.get_transform().transform(np.column_stack(line.get_data()).astype(float))
        for a, b in zip(xy[:-1], xy[1:], strict=True):
            steps = max(2, int(np.hypot(*(b - a)) / 3))
            obstacles.extend(a + (b - a) * t for t in np.linspace(0, 1, steps))
        obstacles.extend(xy)
    obstacles = np.array(obstacles) if obstacles else np.zeros((0, 2))
    placed = []
    for text, x, y, colour in labels:
        best = None
        for dx, dy, ha, va in _LABEL_SPOTS:
            far = abs(dx) > 10 or abs(dy) > 10
            note = ax.annotate(text, (x, y), textcoords="offset points", xytext=(dx, dy), ha=ha, va=va,
                               fontsize=fontsize, color=colour,
                               arrowprops={"arrowstyle": "-", "color": colour, "lw": 0.6, "shrinkA": 1,
                                           "shrinkB": 4} if far else None)
            note.update_positions(renderer)
            box = Text.get_window_extent(note, renderer).expanded(1.08, 1.15)  # the text, not its line
            inside = (box.x0 >= frame.x0 and box.x1 <= frame.x1 and box.y0 >= frame.y0 and box.y1 <= frame.y1)
            covered = ((obstacles[:, 0] >= box.x0) & (obstacles[:, 0] <= box.x1)
                       & (obstacles[:, 1] >= box.y0) & (obstacles[:, 1] <= box.y1)).sum()
            overlapped = sum(box.overlaps(other) for other in placed)
            collisions = int(covered) + 100 * overlapped + 1000 * (not inside)
            if best is None or collisions < best[0]:
                if best is not None:
                    best[1].remove()
                best = (collisions, note, box)
            else:
                note.remove()
            if collisions == 0:
                break
        placed.append(best[2])


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


def show_mask_overlay(image, mask, title: str = "", colour=(1, 0, 0), alpha: float = 0.45,
                      ax=None):
    """The photo with the subject mask tinted in ``colour`` and its outline drawn.

    ``image`` is anything :func:`~simlab.images.load_image` accepts with ``mask`` a bool array
    (H, W) of the same size (True on the subject), or a preprocessed Tensor[3, H, W] with the
    mask in that frame: bool, or the fractions in [0, 1] of
    :meth:`~simlab.backbones.Backbone.preprocess_mask` (then the tint fades along the outline,
    and the outline is drawn where half a pixel is subject). ``colour`` is any matplotlib
    colour, ``alpha`` (0..1) how strongly the subject is tinted. The title is ``title`` with,
    on a second line, the share of the photo covered by the subject, e.g.
    ``"astronaut\nsubject 25% of the photo"``. ``ax`` draws into an existing axes (e.g. one
    panel of a row); otherwise a new figure is made.

    Raises ``ValueError`` for a bad mask (not 2-D boolean, or not the image's size, naming both),
    a bad colour or ``alpha`` outside [0, 1]. Returns the Figure.
    """
    rgb, alpha = _overlay_style(colour, alpha)
    pixels, weights = _photo_and_mask(image, mask, "mask")
    if ax is None:
        height, width = weights.shape
        fig, ax = plt.subplots(figsize=(4.0 * min(width / height, 2.0), 4.3), layout="constrained")
    _draw_overlay(ax, pixels, weights, rgb, alpha, title)
    return ax.figure


def show_faces(images: dict, size: float = 3.0):
    """Photos with the faces dlib finds: ``{title: image}`` -> one panel each.

    The largest face (the one :func:`~simlab.faces.face_embeddings` uses) is framed in green
    with its 5 landmarks as dots; any other face is framed in dashed orange. A panel without a
    face says so in its title. Runs the detector (:func:`~simlab.faces.detect_faces`), so it
    needs the face models (``python -m simlab fetch dlib_face_recognition dlib_face_landmarks_5``).
    Raises ``ValueError`` for no images. Returns the Figure.
    """
    from .faces import detect_faces, face_landmarks

    if not images:
        raise ValueError("no images given: pass {title: image}")
    photos = {title: load_image(image) for title, image in images.items()}
    widths = [p.width / p.height for p in photos.values()]
    fig, axes = plt.subplots(1, len(photos), figsize=(size * sum(widths) + 0.2, size + 0.5), squeeze=False,
                             width_ratios=widths, layout="constrained")
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


def show_masks(overlays: dict, ncols: int | None = None, size: float = 3.0, colour=(1, 0, 0),
               alpha: float = 0.45):
    """A row (or grid) of mask overlays: ``{title: (image, mask)}``, drawn as
    :func:`show_mask_overlay` draws one, e.g. the photos of a lesson beside their subjects.

    Raises ``ValueError`` for no overlays, an entry that is not an ``(image, mask)`` pair
    (naming its title) or a bad mask (naming its title). Returns the Figure.
    """
    if not overlays:
        raise ValueError("no overlays given: pass {title: (image, mask)}")
    rgb, alpha = _overlay_style(colour, alpha)
    for title, pair in overlays.items():
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise ValueError(f"overlays[{title!r}] must be an (image, mask) pair")
    ncols = ncols or len(overlays)
    nrows = math.ceil(len(overlays) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.4),
                             squeeze=False, layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    for ax, (title, (image, mask)) in zip(axes.flat, overlays.items(), strict=False):
        pixels, weights = _photo_and_mask(image, mask, f"the mask of {title!r}")
        _draw_overlay(ax, pixels, weights, rgb, alpha, str(title))
    return fig


def show_match_heatmap(image, heatmap, reference=None, reference_mask=None, title: str = "",
                       backbone=None, vmin: float | None = None, vmax: float | None = None,
                       alpha: float = 0.5):
    """Where the photo matches the reference subject: the heatmap drawn over the network's view.

    ``heatmap`` is the (h, w) cosine map of :func:`simlab.features.match_heatmap` (values in
    [-1, 1]). It is upsampled (bilinear) to the photo's 224 x 224 and drawn semi-transparently
    (``alpha``) over a grey copy of it (the photo's own colours would mix with the colour map: an
    orange suit under "turbo" looks hot whatever the cosine), with a colourbar "cosine to the
    reference subject". The colour scale
    runs from ``min(0, heatmap.min())`` to 1 unless ``vmin``/``vmax`` say otherwise, so the
    same colour means the same cosine in every figure and a weak match never looks hot. Thin
    lines mark the cells of a coarse map (up to 16 x 16): one cell per feature-map position.

    The photo must be the centre crop the network saw, or the cells would land on the wrong
    pixels. So ``image`` is either a preprocessed Tensor[3, H, W] (``backbone.preprocess(photo)``)
    or a photo together with ``backbone=`` (it is then preprocessed here). Likewise
    ``reference`` (optional, drawn on the left with ``reference_mask`` tinted, showing only
    the part of the mask inside the crop, which is all the prototype used): a photo with its
    bool mask plus ``backbone``, or a preprocessed tensor with a mask in that frame.

    Raises ``ValueError`` for a heatmap that is not a finite 2-D map in [-1, 1], a photo given
    without ``backbone``, a reference without a mask (or a mask without a reference), and bad
    masks. Returns the Figure.
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
                                                        "reference_mask"))
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
    weights = as_mask(mask, photo.size, name).astype(np.float64)
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

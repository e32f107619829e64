"""Charts of numbers for the lessons: similarity matrices, precision and recall against a threshold,
per-stage curves and the speed/recall trade-off of search indexes.

Every function returns the matplotlib ``Figure`` it drew, so a notebook shows it and a test can
inspect it; nothing here computes features or scores (see :mod:`simlab.metrics` and
:mod:`simlab.evaluation`). Figures of photos are in :mod:`simlab.viz`.

Similarities (cosine: higher = more alike) and distances (Euclidean, Manhattan, Hamming, edit:
lower = more alike) are drawn so that "more alike" always looks the same: bright in a heatmap.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.text import Text

__all__ = [
    "show_precision_recall",
    "show_similarity_matrix",
    "show_speed_recall",
    "show_stage_curves",
]

#: Metric names :func:`show_similarity_matrix` knows: higher = more alike, or lower = more alike.
SIMILARITY_METRICS = ("cosine",)
DISTANCE_METRICS = ("euclidean", "manhattan", "hamming", "edit")

#: Largest matrix whose values are written in the cells.
MAX_ANNOTATED = 16


def show_similarity_matrix(S, labels, *, title: str = "", metric: str = "cosine"):
    """Heatmap of an (N, N) similarity or distance matrix, with ``labels`` on both axes.

    Bright always means "more alike": similarities use ``viridis``, distances the reversed map
    ``viridis_r``. The colour scale spans the matrix's own minimum and maximum (in the metric's
    units), and the colourbar is labelled with the metric and its direction. When N <= 16 every
    cell shows its value with 2 decimals.

    Parameters
    ----------
    S : array_like, shape (N, N)
        NumPy, nested lists or a torch tensor, e.g. ``simlab.metrics.pairwise(X, metric=metric)``.
    labels : sequence of str
        The N names, in row order.
    title : str, optional
        By default the metric's name.
    metric : str, optional
        What the numbers are: ``"cosine"`` (a similarity) or ``"euclidean"``, ``"manhattan"``,
        ``"hamming"``, ``"edit"`` (distances); any other name ending in ``"similarity"`` or
        ``"distance"`` also works.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        When ``S`` is not a non-empty square 2-D matrix, holds NaN or infinity, when
        ``len(labels) != N``, or for an unknown metric.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from simlab.plots import show_similarity_matrix
    >>> fig = show_similarity_matrix([[1.0, 0.2], [0.2, 1.0]], ["cat", "cup"])
    >>> [text.get_text() for text in fig.axes[0].texts], fig.axes[1].get_ylabel()
    (['1.00', '0.20', '0.20', '1.00'], 'cosine similarity (higher = more alike)')
    >>> plt.close(fig)
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


def show_precision_recall(thresholds, precision, recall, *, chosen: float | None = None,
                          title: str = "", xlabel: str = "threshold"):
    """Precision, recall and F1 against the decision threshold, with the chosen threshold marked.

    At ``thresholds[i]`` a pair counts as "same" when its score passes the threshold, and
    ``precision[i]``, ``recall[i]`` measure those decisions; F1 is ``2 P R / (P + R)``. The x axis
    is in the units of the thresholds (the similarity or distance).

    Parameters
    ----------
    thresholds, precision, recall : array_like, 1-D
        Of the same length; precision and recall are fractions in [0, 1] (NaN where undefined,
        drawn as a gap). scikit-learn's ``precision_recall_curve`` output, whose precision and
        recall have one extra final point (1, 0) with no threshold, is accepted as is.
    chosen : float, optional
        A threshold (in threshold units) to draw as a vertical line labelled with its value.
    title : str, optional
        Above the axes.
    xlabel : str, optional
        What the thresholds are, e.g. ``"cosine similarity threshold"``.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        For empty or non-1-D input, lengths that differ, or precision/recall outside [0, 1].

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from simlab.plots import show_precision_recall
    >>> fig = show_precision_recall([0.2, 0.5, 0.8], [0.5, 0.8, 1.0], [1.0, 0.9, 0.4], chosen=0.5)
    >>> fig.axes[0].get_legend_handles_labels()[1]
    ['precision', 'recall', 'F1', 'threshold = 0.50']
    >>> plt.close(fig)
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


def show_stage_curves(curves: dict, stage_names, *, ylabel: str = "cosine similarity",
                      title: str = ""):
    """One line per pair (or image) across the stages, shallow to deep, with a legend.

    Parameters
    ----------
    curves : dict
        ``{label: values}``, each a sequence of numbers with one value per stage (e.g. the cosine
        similarity of a pair at every stage, from :func:`simlab.embedding.embed_stages`).
    stage_names : sequence of str
        The stages, shallow to deep.
    ylabel : str, optional
        What the values are, and their units.
    title : str, optional
        Above the axes.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        For no curves or no stages, or a curve whose length differs from ``len(stage_names)``
        (naming it).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from simlab.plots import show_stage_curves
    >>> fig = show_stage_curves({"cat vs crop": [0.9, 0.8, 0.7]}, ["stage1", "stage2", "stage3"])
    >>> [label.get_text() for label in fig.axes[0].get_xticklabels()]
    ['stage1', 'stage2', 'stage3']
    >>> plt.close(fig)
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


def show_speed_recall(curves: dict, baselines: dict | None = None, *, title: str = "", k: int = 10):
    """Queries per second against recall@k: what an approximate index trades for its speed.

    Each curve becomes a line with its points labelled by their setting, each label beside its
    point where it overlaps no other label, point or line. Speed is on a log scale; recall runs to
    1 (found all ``k`` true neighbours).

    Parameters
    ----------
    curves : dict
        ``{index name: [(setting, queries_per_second, recall), ...]}``, one tuple per setting,
        e.g. ``{"IVF": [("nprobe=1", 65000.0, 0.64), ...]}``.
    baselines : dict, optional
        ``{name: queries per second}`` of exact methods (recall 1 by definition), drawn as
        horizontal lines.
    title : str, optional
        Above the axes.
    k : int, optional
        The k of recall@k, for the axis label.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        For an empty ``curves``, a curve without points, a recall outside [0, 1] or a speed that
        is not positive.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from simlab.plots import show_speed_recall
    >>> ivf = [("nprobe=1", 5000.0, 0.6), ("nprobe=8", 900.0, 0.95)]  # (setting, queries/s, recall)
    >>> fig = show_speed_recall({"IVF": ivf}, {"top_k": 300.0})
    >>> fig.axes[0].get_legend_handles_labels()[1]
    ['IVF', 'top_k (exact)']
    >>> plt.close(fig)
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

"""Lesson 03's schematic figures: masked average pooling, and the face-identity pipeline.

Pure matplotlib and NumPy, deterministic (fixed seed), drawn by ``tools/draw_diagrams.py``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Circle, Ellipse, FancyArrowPatch, Rectangle

GRID = 7  # the deepest stage's map of a 224 x 224 crop: 7 x 7 cells of 32 x 32 pixels


def _silhouette(side: int = 224) -> np.ndarray:
    """A person-like mask (head and shoulders), bool (side, side)."""
    y, x = np.mgrid[0:side, 0:side] / side
    head = (x - 0.45) ** 2 + (y - 0.42) ** 2 < 0.11 ** 2
    body = ((x - 0.45) / 0.24) ** 2 + ((y - 0.92) / 0.36) ** 2 < 1
    return head | body


def _cells(ax, values, cmap, vmax, title, text=True, outline=None):
    ax.imshow(values, cmap=cmap, vmin=0, vmax=vmax)
    ax.set_xticks(np.arange(-0.5, GRID), minor=True)
    ax.set_yticks(np.arange(-0.5, GRID), minor=True)
    ax.grid(which="minor", color="white", linewidth=0.8)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    if text:
        for (i, j), v in np.ndenumerate(values):
            if v >= 0.05:
                ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=6.5,
                        color="black" if v > 0.5 * vmax else "white")
    if outline is not None:
        for i, j in zip(*np.nonzero(outline), strict=True):
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="#ff7f00", linewidth=1.6))
    ax.set_title(title, fontsize=9)


def masked_pooling() -> plt.Figure:
    """A feature map's grid, the mask brought down to it, and the average over the subject's cells."""
    mask = _silhouette()
    share = mask.reshape(GRID, 32, GRID, 32).mean(axis=(1, 3))  # each cell's share of subject
    rng = np.random.default_rng(3)
    feature = rng.uniform(0.1, 0.6, (GRID, GRID)) + 0.4 * share  # one channel of the map F
    fig, axes = plt.subplots(1, 4, figsize=(8.2, 2.7), gridspec_kw={"width_ratios": [1, 1, 1, 0.9]})
    axes[0].imshow(mask, cmap="Greys_r")
    for k in range(1, GRID):
        axes[0].axhline(32 * k - 0.5, color="#6aa0d8", linewidth=0.6)
        axes[0].axvline(32 * k - 0.5, color="#6aa0d8", linewidth=0.6)
    axes[0].set_title("the mask on the\n224 x 224 crop", fontsize=9)
    axes[0].set_xticks([])
    axes[0].set_yticks([])
    _cells(axes[1], share, "Greys_r", 1, "m(x): each cell's share\nof subject (32 x 32 px)")
    _cells(axes[2], feature, "viridis", 1, "F(x): one of the C\nchannels of the map",
           text=False, outline=share > 0)
    subject = (share * feature).sum() / share.sum()
    plain = feature.mean()
    ax = axes[3]
    ax.axis("off")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.text(0.02, 0.84, r"masked pooling:", fontsize=9, weight="bold")
    ax.text(0.02, 0.66, r"$p = \frac{\sum_x m(x)\,F(x)}{\sum_x m(x)}$", fontsize=11)
    ax.text(0.02, 0.50, f"= {subject:.2f} (this channel):\nonly the outlined cells count,\n"
            "weighted by their share", fontsize=8, va="top")
    ax.text(0.02, 0.16, f"plain average of all 49\ncells: {plain:.2f}, background too", fontsize=8,
            va="top", color="#555555")
    fig.tight_layout(w_pad=0.6)
    return fig


H = 2.3  # the pipeline figure's height in data units (= inches: the axes keep an equal aspect)


def _box(ax, x, width, title, body, colour):
    ax.add_patch(Rectangle((x, 0.45), width, 1.35, facecolor=colour, edgecolor="#444444", linewidth=0.8))
    ax.text(x + width / 2, 2.05, title, ha="center", va="center", fontsize=9, weight="bold")
    ax.text(x + width / 2, 0.2, body, ha="center", va="center", fontsize=7.5)


def _arrow(ax, x0, x1):
    ax.add_patch(FancyArrowPatch((x0, 1.12), (x1, 1.12), arrowstyle="-|>", mutation_scale=10,
                                 color="#444444", linewidth=0.9))


def _face(ax, cx, cy, scale, landmarks=True, tilt=0.0):
    ax.add_patch(Ellipse((cx, cy), 0.62 * scale, 0.85 * scale, angle=tilt, facecolor="#f3d3b0",
                         edgecolor="#7a5a40", linewidth=0.8))
    if landmarks:  # dlib's 5 points: the outer and inner corner of each eye, the base of the nose
        turn = np.deg2rad(tilt)
        for dx, dy in [(-0.2, 0.1), (-0.07, 0.1), (0.07, 0.1), (0.2, 0.1), (0.0, -0.12)]:
            x = dx * np.cos(turn) - dy * np.sin(turn)
            y = dx * np.sin(turn) + dy * np.cos(turn)
            ax.add_patch(Circle((cx + x * scale, cy + y * scale), 0.03, color="#e0a000", zorder=3))


def face_pipeline() -> plt.Figure:
    """detect -> 5 landmarks -> aligned 150 x 150 crop -> 128-d vector -> distance against 0.6."""
    fig, ax = plt.subplots(figsize=(8.4, H))
    ax.set_xlim(0, 8.4)
    ax.set_ylim(0, H)
    ax.set_aspect("equal")
    ax.axis("off")
    steps = [(0.05, "1. detect", "HOG features + a linear\nclassifier: a face box", "#eef3fa"),
             (1.75, "2. landmarks", "5 points: the eye\ncorners, the nose", "#eef3fa"),
             (3.45, "3. align", "rotate, scale, crop\nto 150 x 150 pixels", "#eef3fa"),
             (5.15, "4. embed", "29-layer ResNet:\n128 numbers", "#eef3fa"),
             (6.85, "5. compare", "Euclidean distance\nbelow 0.6: same person", "#fbeedd")]
    width = 1.45
    for x, title, body, colour in steps:
        _box(ax, x, width, title, body, colour)
    for (x, *_), (nxt, *_) in zip(steps, steps[1:], strict=False):
        _arrow(ax, x + width + 0.02, nxt - 0.02)
    # 1: a photo with a tilted face and the detector's box
    _face(ax, 0.78, 1.12, 1.2, landmarks=False, tilt=18)
    ax.add_patch(Rectangle((0.32, 0.55), 0.92, 1.14, fill=False, edgecolor="#2a9d3a", linewidth=1.3))
    # 2: the same face with its 5 landmarks
    _face(ax, 2.48, 1.12, 1.2, tilt=18)
    # 3: the upright chip
    ax.add_patch(Rectangle((3.68, 0.6), 1.0, 1.04, facecolor="white", edgecolor="#444444", linewidth=0.6))
    _face(ax, 4.18, 1.12, 1.1)
    # 4: a 128-d vector as bars
    values = np.random.default_rng(0).normal(0, 1, 16)
    for k, v in enumerate(values):
        ax.add_patch(Rectangle((5.33 + 0.068 * k, 1.2), 0.05, 0.22 * np.clip(v, -2, 2),
                               color="#3b6fb6" if v > 0 else "#c0504d"))
    ax.text(5.87, 0.6, "(16 of the 128)", ha="center", fontsize=7)
    # 5: two photos of one person inside the 0.6 circle, another person outside
    ax.add_patch(Circle((7.4, 1.12), 0.45, fill=False, linestyle="--", edgecolor="#c07000"))
    ax.plot([7.4, 7.62], [1.12, 1.3], color="#444444", linewidth=0.8)
    for (px, py), c in [((7.4, 1.12), "#3b6fb6"), ((7.62, 1.3), "#3b6fb6"), ((8.05, 0.7), "#c0504d")]:
        ax.add_patch(Circle((px, py), 0.05, color=c, zorder=3))
    ax.text(7.4, 0.55, "radius 0.6", ha="center", fontsize=7, color="#c07000")
    fig.tight_layout(pad=0.2)
    return fig


FIGURES = {"03-masked-pooling": masked_pooling, "03-face-pipeline": face_pipeline}

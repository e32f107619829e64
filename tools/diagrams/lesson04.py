"""Lesson 04's schematic figures: IVF cells, the HNSW graph, sharding (pure matplotlib, fixed seeds)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyBboxPatch

GREY, BLUE, ORANGE, GREEN = "#9e9e9e", "#1f77b4", "#ff7f0e", "#2ca02c"


def _points(seed: int = 0, n: int = 160) -> np.ndarray:
    """2-D points in a few clusters, like image embeddings."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.2, 0.25], [0.75, 0.3], [0.35, 0.75], [0.8, 0.8], [0.55, 0.5]])
    which = rng.integers(0, len(centres), n)
    return np.clip(centres[which] + rng.normal(0, 0.08, (n, 2)), 0.02, 0.98)


def _kmeans(X: np.ndarray, k: int, seed: int = 0, rounds: int = 20) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centroids = X[rng.choice(len(X), k, replace=False)]
    for _ in range(rounds):
        cell = np.argmin(((X[:, None] - centroids[None]) ** 2).sum(-1), axis=1)
        centroids = np.array([X[cell == c].mean(0) if np.any(cell == c) else centroids[c] for c in range(k)])
    return centroids


def ivf_cells():
    """IVF: k-means centroids split the plane into cells; a query searches its nprobe nearest cells."""
    X = _points()
    centroids = _kmeans(X, 8)
    query, nprobe = np.array([0.5, 0.62]), 2
    g = np.linspace(0, 1, 200)
    gx, gy = np.meshgrid(g, g)
    grid = np.stack([gx.ravel(), gy.ravel()], 1)
    cell_of_grid = np.argmin(((grid[:, None] - centroids[None]) ** 2).sum(-1), axis=1).reshape(gx.shape)
    probed = np.argsort(((centroids - query) ** 2).sum(1))[:nprobe]
    cell = np.argmin(((X[:, None] - centroids[None]) ** 2).sum(-1), axis=1)

    fig, ax = plt.subplots(figsize=(6.0, 3.2))
    shade = np.isin(cell_of_grid, probed).astype(float)
    ax.contourf(gx, gy, shade, levels=[0.5, 1.5], colors=["#d6e6f5"])
    ax.contour(gx, gy, cell_of_grid, levels=np.arange(8) + 0.5, colors=GREY, linewidths=0.8)
    searched = np.isin(cell, probed)
    ax.scatter(*X[~searched].T, s=9, color=GREY, label="vectors in other cells (skipped)")
    ax.scatter(*X[searched].T, s=12, color=BLUE, label=f"vectors in the nprobe={nprobe} cells searched")
    ax.scatter(*centroids.T, s=70, marker="X", color="black", label="k-means centroids (nlist=8)")
    ax.scatter(*query, s=160, marker="*", color=ORANGE, edgecolor="black", zorder=5, label="query")
    ax.set(xlim=(0, 1), ylim=(0, 1), xticks=[], yticks=[], aspect="equal")
    ax.set_title("IVF: the query is compared with the vectors of its nprobe nearest cells only", fontsize=9)
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8, frameon=False)
    return fig


def hnsw_graph():
    """HNSW: layers of a proximity graph; a greedy walk from the entry point to the query's neighbours."""
    rng = np.random.default_rng(8)
    X = rng.uniform(0.05, 0.95, (40, 2))
    query = np.array([0.1, 0.2])
    layers = [np.arange(40), np.arange(12), np.arange(4)]  # each layer keeps a random subset of the one below
    fig, axes = plt.subplots(1, 3, figsize=(7.2, 2.8))
    entry = 0
    for level, ax in zip([2, 1, 0], axes, strict=True):
        members = layers[level]
        P = X[members]
        d = ((P[:, None] - P[None]) ** 2).sum(-1)
        links = min(3, len(members) - 1)
        for i in range(len(members)):
            for j in np.argsort(d[i])[1:links + 1]:
                ax.plot(*P[[i, j]].T, color=GREY, lw=0.6, zorder=1)
        ax.scatter(*P.T, s=14, color=BLUE, zorder=2)
        # greedy walk: move to the linked vector nearest the query until none is nearer
        here, path = int(np.flatnonzero(members == entry)[0]), []
        while True:
            path.append(here)
            nearer = [j for j in np.argsort(d[here])[1:links + 1]
                      if ((P[j] - query) ** 2).sum() < ((P[here] - query) ** 2).sum()]
            if not nearer:
                break
            here = min(nearer, key=lambda j: ((P[j] - query) ** 2).sum())
        ax.plot(*P[path].T, color=ORANGE, lw=2, zorder=3)
        ax.scatter(*P[path[0]], s=60, color=GREEN, edgecolor="black", zorder=4)
        ax.scatter(*query, s=140, marker="*", color=ORANGE, edgecolor="black", zorder=5)
        entry = int(members[path[-1]])
        ax.set(xlim=(0, 1), ylim=(0, 1), xticks=[], yticks=[], aspect="equal")
        ax.set_title(f"layer {level}: {len(members)} vectors", fontsize=9)
    axes[0].text(0.5, -0.1, "green: where the walk enters\norange: greedy steps to the query (star)",
                 transform=axes[0].transAxes, ha="center", va="top", fontsize=8)
    axes[2].text(0.5, -0.1, "the walk ends among the query's\nneighbours (ef_search candidates kept)",
                 transform=axes[2].transAxes, ha="center", va="top", fontsize=8)
    fig.suptitle("HNSW: start on the sparse top layer, walk greedily, go down a layer, repeat", fontsize=9)
    return fig


def sharding():
    """Sharding: the collection split over machines; each searches its shard, the top-k are merged."""
    fig, ax = plt.subplots(figsize=(6.6, 3.0))
    ax.set(xlim=(0, 10), ylim=(0, 5), xticks=[], yticks=[])
    ax.axis("off")

    def box(x, y, w, h, text, colour, size=8):
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05", facecolor=colour,
                                    edgecolor="black", lw=0.8, alpha=0.9))
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size)

    def arrow(a, b):
        ax.annotate("", xy=b, xytext=a, arrowprops={"arrowstyle": "->", "color": "black", "lw": 0.8})

    box(0.1, 2.0, 1.5, 1.0, "query", "#fde0c5")
    ys = [3.9, 2.5, 1.1]
    for k, y in enumerate(ys):
        box(3.0, y - 0.45, 2.6, 0.9, f"machine {k + 1}: shard {k + 1}\n(1/3 of the vectors)\nits own top-10",
            "#d6e6f5", size=7.5)
        arrow((1.6, 2.5), (3.0, y))
        arrow((5.6, y), (6.9, 2.5))
    box(6.9, 2.0, 3.0, 1.0, "merge: the 30 candidates,\nsorted by score;\nkeep the best 10", "#d9f0d3")
    ax.text(5.0, 0.15, "exact search in every shard: the merged top-10 equals one big index's top-10",
            ha="center", fontsize=8)
    return fig


FIGURES = {"04-ivf-cells": ivf_cells, "04-hnsw-graph": hnsw_graph, "04-sharding": sharding}

"""Schematic figures of lesson 02 (drawn by code; tools/draw_diagrams.py embeds them).

- ``02-unit-identity``: two unit vectors on the unit circle, the angle between them and the chord
  that joins their tips; beside it the chord length against the cosine, |a-b| = sqrt(2 - 2 cos):
  one falls as the other rises, so both put pairs in the same order.
- ``02-hamming-bits``: what the Hamming distance of two 64-bit hashes compares: two 8x8 grids of
  bits, position by position, the differing positions marked, and their count.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Arc, Circle

BLUE, ORANGE, GREY, RED = "#1f77b4", "#ff7f0e", "#888888", "#d62728"


def unit_identity() -> plt.Figure:
    """Left: unit vectors a and b, the angle and the chord; right: chord length against cosine."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.0, 3.2), gridspec_kw={"width_ratios": [1, 1.25]})
    alpha, beta = np.radians(15), np.radians(75)  # the angle between them: 60 degrees
    a, b = np.array([np.cos(alpha), np.sin(alpha)]), np.array([np.cos(beta), np.sin(beta)])
    left.add_patch(Circle((0, 0), 1, fill=False, color=GREY, lw=1, ls="--"))
    for v, name, colour in ((a, "a", BLUE), (b, "b", ORANGE)):
        left.annotate("", xy=v, xytext=(0, 0), arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 2})
        left.text(*(v * 1.12), name, color=colour, fontsize=12, ha="center", va="center", weight="bold")
    left.plot(*zip(a, b, strict=True), color=RED, lw=2.5)
    left.text(*((a + b) / 2 + [0.14, 0.1]), "|a - b|", color=RED, fontsize=11)
    left.add_patch(Arc((0, 0), 0.6, 0.6, theta1=15, theta2=75, color="black"))
    left.text(0.2, 0.24, "θ", fontsize=12)
    left.text(0, -0.5, "|a| = |b| = 1\ncos θ = a·b", fontsize=10, ha="center")
    left.set(xlim=(-1.15, 1.35), ylim=(-1.15, 1.3), aspect="equal", title="two unit vectors")
    left.axis("off")

    cos = np.linspace(-1, 1, 201)
    right.plot(cos, np.sqrt(2 - 2 * cos), color=RED, lw=2)
    right.plot([np.cos(beta - alpha)], [np.linalg.norm(a - b)], "o", color="black")
    right.annotate("the pair on the left\ncos 0.5, |a - b| 1.0", xy=(0.5, 1.0), xytext=(-0.55, 0.35),
                   fontsize=9, arrowprops={"arrowstyle": "->", "color": "black"})
    right.set(xlabel="cosine similarity cos θ", ylabel="Euclidean distance |a - b|", xlim=(-1.05, 1.05),
              ylim=(0, 2.1), title="|a - b|² = 2 - 2 cos θ")
    right.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def hamming_bits() -> plt.Figure:
    """Two 8x8 bit grids (a photo's hash and its copy's), the differing bits marked and counted."""
    rng = np.random.default_rng(2)
    first = rng.random((8, 8)) > 0.5
    flips = rng.random((8, 8)) < 0.18  # the copy differs in a few positions
    second = first ^ flips
    fig, axes = plt.subplots(1, 3, figsize=(7.0, 2.9))
    panels = [(first, "hash of photo A"), (second, "hash of its copy B"),
              (flips, f"A ≠ B: {flips.sum()} of 64 bits")]
    for ax, (bits, title) in zip(axes, panels, strict=True):
        ax.imshow(bits, cmap="Greys" if bits is not flips else "Reds", vmin=0, vmax=1.6)
        for (i, j), bit in np.ndenumerate(bits if bits is not flips else first):
            text = str(int(bit)) if bits is not flips else ("x" if flips[i, j] else "")
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if bits is not flips and bit else "black")
        ax.set_xticks(np.arange(-0.5, 8), minor=True)
        ax.set_yticks(np.arange(-0.5, 8), minor=True)
        ax.grid(which="minor", color=GREY, lw=0.5)
        ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
        ax.set_title(title, fontsize=10)
    fig.text(0.5, 0.02, "Hamming distance = the number of positions whose bits differ "
             "(bit i of A against bit i of B, never shifted)", ha="center", fontsize=9)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


FIGURES = {"02-unit-identity": unit_identity, "02-hamming-bits": hamming_bits}

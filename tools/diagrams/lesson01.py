"""Lesson 01's schematic figures: MobileNetV2 as a pyramid, and how much of the input one cell sees.

The numbers are MobileNetV2's for a 224 x 224 input, as the lesson measures them: the stage table
of section 2 (side, stride, channels) and the receptive fields its gradient cell measures. The
receptive fields are also computed here from the layers (every 3x3 convolution widens the field by
2 x the product of the strides before it), so the picture and the architecture cannot disagree.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Polygon, Rectangle

#: MobileNetV2 for a 224 x 224 input: (stage, side, stride, channels), from section 2's table.
STAGES = [("stage1", 112, 2, 16), ("stage2", 56, 4, 24), ("stage3", 28, 8, 32),
          ("stage4", 14, 16, 96), ("stage5", 7, 32, 1280)]
#: The stride of each 3x3 convolution in torchvision's mobilenet_v2 ``features``, block by block
#: (block 0: the stem; then each inverted-residual block's depthwise 3x3), and the block that
#: ends each stage (``features.1``, ``.3``, ``.6``, ``.13``, ``.18``).
BLOCK_STRIDES = [2, 1, 2, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1]
STAGE_ENDS = {"stage1": 1, "stage2": 3, "stage3": 6, "stage4": 13}
BLUE, ORANGE, GREY = "#3b6ea8", "#d9822b", "#8a8a8a"


def receptive_fields() -> dict[str, int]:
    """The side, in input pixels, of the square one cell of each stage sees (3x3 kernels)."""
    fields, side, jump = {}, 1, 1
    for block, stride in enumerate(BLOCK_STRIDES):
        side += 2 * jump
        jump *= stride
        for stage, end in STAGE_ENDS.items():
            if block == end:
                fields[stage] = side
    return fields


def pyramid():
    """The input and the five stages as stacks of maps: side to scale, channels as depth, and
    under each its side, stride and channel count."""
    fig, ax = plt.subplots(figsize=(7.6, 3.0))
    scale = 2.0 / 224  # axes units per pixel of side: the input is 2 units wide
    column = 1.55  # every block in a column of its own, so the labels never overlap
    blocks = [("input", 224, 1, 3), *STAGES]
    for i, (name, side, stride, channels) in enumerate(blocks):
        s = side * scale
        depth = 0.05 * np.log2(channels)  # more channels, a deeper stack (log scale)
        x = 2.4 + (i - 1) * column + (column - s - depth) / 2 if i else 0.0
        colour = GREY if name == "input" else BLUE
        ax.add_patch(Polygon([(x, s), (x + depth, s + depth), (x + depth + s, s + depth), (x + s, s)],
                             closed=True, facecolor=colour, alpha=0.35, edgecolor=colour))
        ax.add_patch(Polygon([(x + s, 0), (x + s + depth, depth), (x + s + depth, s + depth), (x + s, s)],
                             closed=True, facecolor=colour, alpha=0.55, edgecolor=colour))
        ax.add_patch(Rectangle((x, 0), s, s, facecolor="white", edgecolor=colour, linewidth=1.5))
        centre = x + (s + depth) / 2 if i else 1.0
        label = (f"{name}\n{side} x {side}\n{channels} channels" +
                 ("" if name == "input" else f"\nstride {stride}"))
        ax.text(centre, -0.12, label, ha="center", va="top", fontsize=8)
    x = 2.4 + (len(blocks) - 1) * column + 0.3
    ax.annotate("", xy=(x - 0.25, 2.45), xytext=(0.0, 2.45),
                arrowprops={"arrowstyle": "->", "color": ORANGE, "linewidth": 1.5})
    ax.text(x / 2, 2.52, "deeper: the side halves at each stride-2 step, the channels grow",
            ha="center", va="bottom", fontsize=9, color=ORANGE)
    ax.text(x / 2, 2.3, "(sides to scale; the depth of a stack grows with the log of its channels)",
            ha="center", va="top", fontsize=7.5, color=GREY)
    ax.set_xlim(-0.1, x + 0.1)
    ax.set_ylim(-0.95, 2.8)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.suptitle("MobileNetV2 on a 224 x 224 photo: five stages, shallow to deep", fontsize=10, y=0.98)
    return fig


def receptive_field():
    """A 224 x 224 input under stage4's 14 x 14 grid (one cell = 16 x 16 pixels), one cell
    marked, and the nested squares of input pixels that one cell of each stage sees."""
    fields = receptive_fields()
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.add_patch(Rectangle((0, 0), 224, 224, facecolor="#f2f2f2", edgecolor="black", linewidth=1.2))
    for k in range(1, 14):
        ax.plot([16 * k, 16 * k], [0, 224], color="#c8c8c8", linewidth=0.6)
        ax.plot([0, 224], [16 * k, 16 * k], color="#c8c8c8", linewidth=0.6)
    row, col = 5, 6  # the marked stage4 cell, off centre so that its field runs out of the photo
    cy, cx = 16 * row + 8, 16 * col + 8
    ax.add_patch(Rectangle((16 * col, 16 * row), 16, 16, facecolor=ORANGE, edgecolor=ORANGE))
    colours = {"stage1": "#2a9d8f", "stage2": "#6a4c93", "stage3": BLUE, "stage4": ORANGE}
    for stage, side in fields.items():
        ax.add_patch(Rectangle((cx - side / 2, cy - side / 2), side, side, fill=False,
                               edgecolor=colours[stage], linewidth=1.6,
                               linestyle="--" if side > 224 else "-"))
    ax.set_xlim(-35, 420)
    ax.set_ylim(250, -55)  # image coordinates: row 0 at the top
    ax.set_aspect("equal")
    ax.axis("off")
    notes = [("the input: 224 x 224 pixels", "black"),
             ("grey grid: stage4's 14 x 14 cells,", "#707070"),
             ("  each 16 x 16 pixels (its stride)", "#707070"),
             ("filled: one stage4 cell", ORANGE), ("", "black"),
             ("what one cell sees (receptive field):", "black")]
    notes += [(f"  {stage}: {side} x {side} pixels" + (" (dashed:" if side > 224 else ""),
               colours[stage]) for stage, side in fields.items()]
    notes += [("    more than the whole photo)", colours["stage4"])]
    for i, (text, colour) in enumerate(notes):
        ax.text(250, -40 + 20 * i, text, fontsize=8.5, color=colour, va="top")
    fig.suptitle("How much of the photo one cell sees", fontsize=10, y=0.97)
    return fig


FIGURES = {"01-pyramid": pyramid, "01-receptive-field": receptive_field}

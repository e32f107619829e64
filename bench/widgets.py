"""Benchmark: how fast the explorers answer a change, per kind of change, after the first pass.

Drives ``FeatureMapExplorer`` and ``PairSimilarityExplorer`` through their own API (setting
``.value``, as a slider or dropdown does) with the ImageNet MobileNetV2 and the kit's photos, and
prints for each kind of change the median and worst time over several changes (target: every
change <= 100 ms once the photo's forward pass is cached). For comparison, in the same run, the
way the explorers drew before: a matplotlib figure of the same panels rendered to PNG
(``figure_png``); the RATIO says how many times faster a change is now.

Run from the project root: ``.venv/bin/python bench/widgets.py`` (about half a minute).
"""

from __future__ import annotations

import statistics
import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from simlab import load_backbone
from simlab.kit import samples  # noqa: E402
from simlab.lessons.widgets import FeatureMapExplorer, PairSimilarityExplorer, figure_png  # noqa: E402
from simlab.viz import tensor_to_image  # noqa: E402

PHOTOS = ("chelsea", "coffee", "rocket", "astronaut")


def timed(change) -> float:
    start = time.perf_counter()
    change()
    return 1000 * (time.perf_counter() - start)


def matplotlib_feature_map(explorer) -> None:
    """The figure FeatureMapExplorer drew before (two panels and a colour bar)."""
    x, _ = explorer.features(explorer.image.value)
    fig, (left, right) = plt.subplots(1, 2, figsize=(7, 3.3))
    left.imshow(tensor_to_image(x))
    shown = right.imshow(explorer.current_map().numpy(), cmap="viridis")
    fig.colorbar(shown, ax=right, fraction=0.046)
    for ax in (left, right):
        ax.axis("off")
    fig.tight_layout()
    figure_png(fig)


def matplotlib_pair(explorer) -> None:
    """The figure PairSimilarityExplorer drew before (two photos and a title)."""
    fig, axes = plt.subplots(1, 2, figsize=(6.4, 3.9), layout="constrained")
    for ax, name in zip(axes, (explorer.left.value, explorer.right.value), strict=True):
        ax.imshow(explorer._network_view(name))
        ax.axis("off")
    fig.suptitle(explorer.summary)
    figure_png(fig)


def row(kind: str, times: list[float], before: float | None = None) -> None:
    med, worst = statistics.median(times), max(times)
    ratio = f"{before / med:8.1f}x" if before else ""
    verdict = "ok" if worst <= 100 else "SLOW"
    print(f"   {kind:34}{len(times):4}{med:10.1f}{worst:10.1f}  {verdict:5}{ratio}")


def main() -> None:
    backbone = load_backbone()
    found = samples()
    photos = {k: found[k] for k in PHOTOS}
    print("times in ms per change; 'before' = a matplotlib figure of the same panels, same run")
    print(f"   {'change':34}{'n':>4}{'median':>10}{'worst':>10}  {'<=100':5}{'RATIO before/now':>17}")

    print("FeatureMapExplorer")
    fm = FeatureMapExplorer(backbone, photos)
    first = [timed(lambda n=n: setattr(fm.image, "value", n)) for n in PHOTOS[1:]]
    print(f"   (first visit of a photo, forward pass included: median {statistics.median(first):.0f} ms)")
    before = statistics.median(timed(lambda: matplotlib_feature_map(fm)) for _ in range(5))
    stages = fm.backbone.stage_names
    row("stage", [timed(lambda s=s: setattr(fm.stage, "value", s))
                  for _ in range(3) for s in stages[1:] + stages[:1]], before)
    row("channel", [timed(lambda c=c: setattr(fm.channel, "value", c)) for c in range(1, 16)], before)
    row("photo (forward pass cached)", [timed(lambda n=n: setattr(fm.image, "value", n))
                                        for _ in range(3) for n in PHOTOS], before)

    print("PairSimilarityExplorer")
    pair = PairSimilarityExplorer(backbone, photos)
    before = statistics.median(timed(lambda: matplotlib_pair(pair)) for _ in range(5))
    row("left / right photo", [timed(lambda n=n, w=w: setattr(w, "value", n))
                               for w in (pair.left, pair.right) for n in PHOTOS * 2], before)
    row("stage", [timed(lambda s=s: setattr(pair.stage, "value", s))
                  for _ in range(3) for s in stages], before)
    row("metric", [timed(lambda m=m: setattr(pair.metric, "value", m))
                   for _ in range(3) for m in ("euclidean", "manhattan", "cosine")], before)


if __name__ == "__main__":
    main()

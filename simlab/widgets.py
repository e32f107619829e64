"""Interactive explorers for the lessons, built from ipywidgets.

- :class:`FeatureMapExplorer`: one photo, one stage, one channel of its feature map.
- :class:`PairSimilarityExplorer`: two photos, a stage and a metric, and their score.

The callbacks are plain methods with their own tests. Figures are rendered to PNG and shown in
an ``ipywidgets.Image``, so they update the same way in JupyterLab, in nbval and in tests. A
notebook can drive an explorer without a browser by setting the ``.value`` of its dropdowns and
sliders (e.g. ``explorer.stage.value = "stage3"``) and reading ``explorer.summary``.
"""

from __future__ import annotations

import io

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

from .backbones import Backbone
from .features import embed_stages, extract_features
from .metrics import METRICS, cosine_similarity, euclidean_distance, manhattan_distance
from .viz import tensor_to_image

__all__ = ["FeatureMapExplorer", "PairSimilarityExplorer"]

#: The single-pair function behind each metric of :class:`PairSimilarityExplorer`.
PAIR_METRICS = {
    "cosine": cosine_similarity,
    "euclidean": euclidean_distance,
    "manhattan": manhattan_distance,
}


class FeatureMapExplorer:
    """Pick an image, a stage and a channel; see the photo next to that channel's feature map.

    ``images`` is ``{name: image}`` (anything :func:`~simlab.images.load_image` accepts, e.g.
    :func:`~simlab.images.samples`). The network runs once per image, collecting every stage in
    one pass; changing the stage or the channel only redraws. ``forward_passes`` counts the
    passes so far.
    """

    def __init__(self, backbone: Backbone, images: dict, image: str | None = None,
                 stage: str | None = None, channel: int = 0):
        if not images:
            raise ValueError("FeatureMapExplorer needs at least one image in the dict")
        self.backbone = backbone
        self.images = dict(images)
        self.forward_passes = 0
        self._syncing = False
        self._cache: dict[str, tuple] = {}
        self.image = W.Dropdown(options=list(self.images), value=image or next(iter(self.images)),
                                description="image")
        first_stage = backbone.stage(stage).name if stage is not None else backbone.stage_names[0]
        self.stage = W.Dropdown(options=backbone.stage_names, value=first_stage,
                                description="stage")
        self.channel = W.IntSlider(value=0, min=0, max=1, description="channel",
                                   continuous_update=False)
        self.info = W.HTML()
        self.picture = W.Image(format="png")
        self._sync_channel_range(channel)
        for control in (self.image, self.stage, self.channel):
            control.observe(self._on_change, names="value")
        controls = W.HBox([self.image, self.stage, self.channel])
        self.widget = W.VBox([controls, self.info, self.picture])
        self.redraw()

    def features(self, name: str) -> tuple:
        """(preprocessed image, {stage: Tensor[C, H, W]}) for image ``name``, computed once."""
        if name not in self._cache:
            x = self.backbone.preprocess(self.images[name])
            maps = extract_features(self.backbone, x)
            self.forward_passes += 1
            self._cache[name] = (x, {k: v[0] for k, v in maps.items()})
        return self._cache[name]

    def current_map(self):
        """The selected channel's map, Tensor[H, W]."""
        return self.features(self.image.value)[1][self.stage.value][self.channel.value]

    @property
    def summary(self) -> str:
        """One line describing what is shown: image, stage, map shape, channel and its peak."""
        fmap = self.features(self.image.value)[1][self.stage.value]
        c, h, w = fmap.shape
        peak = float(fmap[self.channel.value].max())
        return (f"{self.image.value} | {self.stage.value} | {c} channels x {h} x {w} | "
                f"channel {self.channel.value} | peak {peak:.2f}")

    def _sync_channel_range(self, channel: int) -> None:
        # Changing max may clamp the value, which would fire a redraw of its own: hold it.
        self._syncing = True
        try:
            channels = self.backbone.stage(self.stage.value).channels
            self.channel.max = channels - 1
            self.channel.value = min(max(channel, 0), channels - 1)
        finally:
            self._syncing = False

    def _on_change(self, change) -> None:
        if self._syncing:
            return
        if change["owner"] is self.stage:
            self._sync_channel_range(self.channel.value)
        self.redraw()

    def redraw(self) -> None:
        """Redraw the figure for the current selection (uses the cached forward pass)."""
        x, _ = self.features(self.image.value)
        self.info.value = f"<code>{self.summary}</code>"
        fig, (left, right) = plt.subplots(1, 2, figsize=(7, 3.3))
        left.imshow(tensor_to_image(x))
        left.set_title(f"{self.image.value} (as the network sees it)", fontsize=9)
        shown = right.imshow(self.current_map().numpy(), cmap="viridis")
        right.set_title(f"{self.stage.value}, channel {self.channel.value}", fontsize=9)
        fig.colorbar(shown, ax=right, fraction=0.046)
        for ax in (left, right):
            ax.axis("off")
        fig.tight_layout()
        self.picture.value = figure_png(fig)

    def _ipython_display_(self):
        display(self.widget)


class PairSimilarityExplorer:
    """Pick two photos, a stage and a metric; see the photos side by side and their score.

    ``images`` is ``{name: image}`` with at least two entries (anything
    :func:`~simlab.images.load_image` accepts, e.g. :func:`~simlab.images.samples`). ``left`` and
    ``right`` name the photos shown first (default: the first name and the first other one),
    ``stage`` the stage whose pooled vectors are compared (default: the deepest), ``metric``
    one of ``"cosine"`` (similarity in [-1, 1], higher = more alike), ``"euclidean"`` or
    ``"manhattan"`` (distances >= 0 in the units of the features, lower = more alike).

    The average-pooled vectors of ALL images at ALL stages are computed once, with a single
    :func:`~simlab.features.embed_stages` call, the first time a score is needed (the first
    drawing, at construction). Changing any dropdown only looks the vectors up and redraws;
    ``embed_calls`` counts the calls, so it stays at 1. Drive it by setting ``left.value``,
    ``right.value``, ``stage.value`` or ``metric.value``; read :attr:`score` and :attr:`summary`.

    Raises ``ValueError`` for fewer than two images, a ``left`` or ``right`` not in ``images``,
    an unknown stage (listing the valid ones) or an unknown metric.
    """

    def __init__(self, backbone: Backbone, images: dict, left: str | None = None,
                 right: str | None = None, stage: str | None = None, metric: str = "cosine"):
        if len(images) < 2:
            raise ValueError(
                f"PairSimilarityExplorer needs at least two images in the dict, got {len(images)}"
            )
        self.backbone = backbone
        self.images = dict(images)
        names = list(self.images)
        for which, name in (("left", left), ("right", right)):
            if name is not None and name not in self.images:
                raise ValueError(f"{which}={name!r} is not an image name; choose from "
                                 f"{', '.join(map(str, names))}")
        if metric not in PAIR_METRICS:
            raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
        first_stage = backbone.resolve_stage(stage).name
        self.embed_calls = 0
        self._vectors: dict[str, np.ndarray] | None = None
        self._shown: dict[str, object] = {}
        left = names[0] if left is None else left
        if right is None:  # the first other photo
            right = next(n for n in names if n != left)
        self.left = W.Dropdown(options=names, value=left, description="left")
        self.right = W.Dropdown(options=names, value=right, description="right")
        self.stage = W.Dropdown(options=backbone.stage_names, value=first_stage,
                                description="stage")
        self.metric = W.Dropdown(options=list(PAIR_METRICS), value=metric, description="metric")
        self.info = W.HTML()
        self.picture = W.Image(format="png")
        for control in self.controls:
            control.observe(self._on_change, names="value")
        self.widget = W.VBox([W.HBox(self.controls[:2]), W.HBox(self.controls[2:]), self.info,
                              self.picture])
        self.redraw()

    @property
    def controls(self) -> tuple:
        """The four dropdowns: left, right, stage, metric."""
        return (self.left, self.right, self.stage, self.metric)

    def vectors(self, stage: str) -> np.ndarray:
        """Pooled vectors of every image at ``stage``: float32 (N, C), rows in ``images`` order.

        The first call runs the network once over all images for all stages; later calls reuse
        that result.
        """
        if self._vectors is None:
            self._vectors = embed_stages(self.backbone, list(self.images.values()))
            self.embed_calls += 1
        return self._vectors[self.backbone.stage(stage).name]

    def vector(self, name: str, stage: str | None = None) -> np.ndarray:
        """Pooled vector (C,) of image ``name`` at ``stage`` (default: the selected stage)."""
        return self.vectors(stage or self.stage.value)[list(self.images).index(name)]

    @property
    def score(self) -> float:
        """The selected metric between the selected photos at the selected stage (a float)."""
        compare = PAIR_METRICS[self.metric.value]
        return compare(self.vector(self.left.value), self.vector(self.right.value))

    @property
    def summary(self) -> str:
        """One line: ``"chelsea vs coffee | stage5 | cosine 0.41"``.

        The score has 2 decimals, except a distance between 0 and 1, which gets 3 significant
        digits (shallow-stage distances can be ~0.02, and "0.00" would read as identical).
        """
        metric = self.metric.value
        return (f"{self.left.value} vs {self.right.value} | {self.stage.value} | "
                f"{metric} {_format_score(self.score, metric)}")

    def _on_change(self, change) -> None:
        self.redraw()

    def _network_view(self, name: str):
        """Image ``name`` as the network sees it (resized, centre-cropped), cached."""
        if name not in self._shown:
            self._shown[name] = tensor_to_image(self.backbone.preprocess(self.images[name]))
        return self._shown[name]

    def redraw(self) -> None:
        """Recompute the score from the cached vectors and redraw; never reruns the network."""
        score = self.score
        metric = self.metric.value
        if metric == "cosine":
            reading = "cosine similarity: 1 = same direction, higher = more alike"
        else:
            reading = f"{metric} distance: 0 = identical, lower = more alike"
        self.info.value = f"<code>{self.summary}</code> &nbsp; <i>({reading})</i>"
        kind = "similarity" if metric == "cosine" else "distance"
        fig, axes = plt.subplots(1, 2, figsize=(6.4, 3.9), layout="constrained")
        for ax, name in zip(axes, (self.left.value, self.right.value), strict=True):
            ax.imshow(self._network_view(name))
            ax.set_title(name, fontsize=10)
            ax.axis("off")
        fig.suptitle(f"{self.stage.value}: {metric} {kind} = {_format_score(score, metric)}",
                     fontsize=12, fontweight="bold")
        self.picture.value = figure_png(fig)

    def _ipython_display_(self):
        display(self.widget)


def _format_score(value: float, metric: str) -> str:
    """2 decimals; 3 significant digits for a non-zero distance below 1 (never a false 0.00)."""
    if metric != "cosine" and 0 < abs(value) < 1:
        return f"{value:.3g}"
    return f"{value:.2f}"


def figure_png(fig, dpi: int = 80) -> bytes:
    """Render a matplotlib figure to PNG bytes (for an ``ipywidgets.Image``) and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()

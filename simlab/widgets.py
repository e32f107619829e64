"""Interactive explorers for the lessons, built from ipywidgets.

The callbacks are plain methods with their own tests. Figures are rendered to PNG and shown in
an ``ipywidgets.Image``, so they update the same way in JupyterLab, in nbval and in tests. A notebook can drive an explorer without a
browser by setting ``explorer.image.value``, ``explorer.stage.value`` or ``explorer.channel.value``
and reading ``explorer.summary``.
"""

from __future__ import annotations

import io

import ipywidgets as W
import matplotlib.pyplot as plt
from IPython.display import display

from .backbones import Backbone
from .features import extract_features
from .viz import tensor_to_image

__all__ = ["FeatureMapExplorer"]


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
        self.stage = W.Dropdown(options=backbone.stage_names,
                                value=backbone.stage(stage).name if stage else backbone.stage_names[0],
                                description="stage")
        self.channel = W.IntSlider(value=0, min=0, max=1, description="channel",
                                   continuous_update=False)
        self.info = W.HTML()
        self.picture = W.Image(format="png")
        self._sync_channel_range(channel)
        for control in (self.image, self.stage, self.channel):
            control.observe(self._on_change, names="value")
        self.widget = W.VBox([W.HBox([self.image, self.stage, self.channel]), self.info, self.picture])
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


def figure_png(fig, dpi: int = 80) -> bytes:
    """Render a matplotlib figure to PNG bytes (for an ``ipywidgets.Image``) and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()

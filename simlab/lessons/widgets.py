"""Interactive explorers for the lessons, built from ipywidgets.

- :class:`FeatureMapExplorer`: one photo, one stage, one channel of its feature map.
- :class:`PairSimilarityExplorer`: two photos, a stage and a metric, and their score.

The callbacks are plain methods with their own tests. Pictures are PNGs shown in an
``ipywidgets.Image``, so they update the same way in JupyterLab, in nbval and in tests. A
notebook can drive an explorer without a browser by setting the ``.value`` of its dropdowns and
sliders (e.g. ``explorer.stage.value = "stage3"``) and reading ``explorer.summary``.

The explorers answer a change within tens of milliseconds (``bench/widgets.py``): instead of
drawing a matplotlib figure again (200-300 ms, nearly all of it rendering the whole figure), a
picture is composed in NumPy from panels kept between changes: the photo as the network sees it
is made once per photo, the feature map is colour-mapped through a 256-entry look-up table, and
only the panels and labels that changed are drawn again before the PNG is encoded.
"""

from __future__ import annotations

import io
from functools import lru_cache

import ipywidgets as W
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import display
from PIL import Image, ImageDraw, ImageFont

from ..backbones import Backbone
from ..embedding import embed_stages
from ..features import extract_features
from ..metrics import METRICS, cosine_similarity, euclidean_distance, manhattan_distance
from ..viz import tensor_to_image

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
    :func:`~simlab.kit.samples`). The network runs once per image, collecting every stage in
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
        self._photo_panels: dict[str, bytes] = {}  # image name -> its photo panel (PNG), kept
        self.image = W.Dropdown(options=list(self.images), value=image or next(iter(self.images)),
                                description="image")
        first_stage = backbone.stage(stage).name if stage is not None else backbone.stage_names[0]
        self.stage = W.Dropdown(options=backbone.stage_names, value=first_stage,
                                description="stage")
        self.channel = W.IntSlider(value=0, min=0, max=1, description="channel",
                                   continuous_update=False)
        self.info = W.HTML()
        self.photo = W.Image(format="png")  # the photo panel: drawn once per photo
        self.picture = W.Image(format="png")  # the map panel and its colour bar: every change
        self.picture.add_class(FIGURE_CLASS)
        self._sync_channel_range(channel)
        for control in (self.image, self.stage, self.channel):
            control.observe(self._on_change, names="value")
        controls = W.HBox([self.image, self.stage, self.channel])
        self.widget = W.VBox([controls, self.info, W.HBox([self.photo, self.picture])])
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
        """Redraw the picture for the current selection (uses the cached forward pass).

        The photo panel (:attr:`photo`) is drawn once per photo and kept; only the map panel
        (:attr:`picture`: the map colour-mapped in NumPy, each channel on its own scale, bright =
        strong, with its colour bar) is drawn again.
        """
        name = self.image.value
        x, _ = self.features(name)
        self.info.value = f"<code>{self.summary}</code>"
        if name not in self._photo_panels:
            self._photo_panels[name] = encode_png(np.hstack([
                _panel(_to_uint8(tensor_to_image(x)), f"{name} (as the network sees it)"), _GAP]))
        if self.photo.value != self._photo_panels[name]:
            self.photo.value = self._photo_panels[name]
        fmap = self.current_map().numpy()
        lo, hi = float(fmap.min()), float(fmap.max())
        shown = _panel(colourise(fmap, lo, hi, PANEL), f"{self.stage.value}, channel {self.channel.value}")
        self.picture.value = encode_png(np.hstack([shown, _colour_bar(lo, hi, shown.shape[0])]))

    def _ipython_display_(self):
        display(self.widget)


class PairSimilarityExplorer:
    """Pick two photos, a stage and a metric; see the photos side by side and their score.

    ``images`` is ``{name: image}`` with at least two entries (anything
    :func:`~simlab.images.load_image` accepts, e.g. :func:`~simlab.kit.samples`). ``left`` and
    ``right`` name the photos shown first (default: the first name and the first other one),
    ``stage`` the stage whose pooled vectors are compared (default: the deepest), ``metric``
    one of ``"cosine"`` (similarity in [-1, 1], higher = more alike), ``"euclidean"`` or
    ``"manhattan"`` (distances >= 0 in the units of the features, lower = more alike).

    The average-pooled vectors of ALL images at ALL stages are computed once, with a single
    :func:`~simlab.embedding.embed_stages` call, the first time a score is needed (the first
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
        self._shown: dict[str, np.ndarray] = {}
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
        self.picture.add_class(FIGURE_CLASS)
        for control in self.controls:
            control.observe(self._on_change, names="value")
        # In an HBox the picture keeps its own size (a VBox would stretch it, blurring the photos).
        self.widget = W.VBox([W.HBox(self.controls[:2]), W.HBox(self.controls[2:]), self.info,
                              W.HBox([self.picture])])
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
            # Each photo is decoded once: for the vectors and for its panel (kept for redraws).
            inputs = torch.stack([self.backbone.preprocess(im) for im in self.images.values()])
            for name, x in zip(self.images, inputs, strict=True):
                self._shown.setdefault(name, _panel(_to_uint8(tensor_to_image(x)), name))
            self._vectors = embed_stages(self.backbone, inputs)
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

    def _network_view(self, name: str) -> np.ndarray:
        """Image ``name`` as the network sees it (resized, centre-cropped) with its title, cached."""
        if name not in self._shown:
            pixels = tensor_to_image(self.backbone.preprocess(self.images[name]))
            self._shown[name] = _panel(_to_uint8(pixels), name)
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
        photos = np.hstack([self._network_view(self.left.value), _GAP,
                            self._network_view(self.right.value)])
        title = _text_band(f"{self.stage.value}: {metric} {kind} = {_format_score(score, metric)}",
                           photos.shape[1], size=15)
        self.picture.value = encode_png(np.vstack([title, photos]))

    def _ipython_display_(self):
        display(self.widget)


def _format_score(value: float, metric: str) -> str:
    """2 decimals; 3 significant digits for a non-zero distance below 1 (never a false 0.00)."""
    if metric != "cosine" and 0 < abs(value) < 1:
        return f"{value:.3g}"
    return f"{value:.2f}"


PANEL = 224  # side of a picture panel, in pixels (the network's input size)
FIGURE_CLASS = "simlab-figure"  # CSS class of the picture that changes with every control
_BAR = 14  # width of the colour bar
_GAP = np.full((PANEL + 24, 12, 3), 255, np.uint8)  # white space between panels (24: title band)


@lru_cache(maxsize=8)
def _lookup(cmap: str) -> np.ndarray:
    """A colour map as a (256, 3) uint8 look-up table."""
    return (matplotlib.colormaps[cmap](np.linspace(0.0, 1.0, 256))[:, :3] * 255 + 0.5).astype(np.uint8)


def colourise(values: np.ndarray, lo: float, hi: float, side: int = PANEL, cmap: str = "viridis"
              ) -> np.ndarray:
    """A 2-D array as an RGB uint8 picture (side, side, 3): ``lo`` -> darkest, ``hi`` -> brightest.

    Each value becomes one of 256 colours of ``cmap`` (as matplotlib's ``imshow`` with
    ``vmin=lo, vmax=hi``), then every cell is repeated into a square block (nearest neighbour,
    no smoothing: one cell of the map stays one visible block). A constant map is all dark.
    """
    scaled = (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)
    rgb = _lookup(cmap)[np.clip(scaled * 255 + 0.5, 0, 255).astype(np.uint8)]
    h, w = values.shape
    if side % h == 0 and side % w == 0:
        return np.repeat(np.repeat(rgb, side // h, axis=0), side // w, axis=1)
    return np.asarray(Image.fromarray(rgb).resize((side, side), Image.Resampling.NEAREST))


def encode_png(rgb: np.ndarray) -> bytes:
    """PNG bytes of an RGB uint8 array (fast compression: the pictures are small)."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    return (np.clip(pixels, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


@lru_cache(maxsize=4)
def _font(size: int):
    return ImageFont.load_default(size=size)


def _text_band(text: str, width: int, size: int = 12, height: int = 24) -> np.ndarray:
    """A white band (height, width, 3) with ``text`` centred in black."""
    band = Image.new("RGB", (width, height), "white")
    ImageDraw.Draw(band).text((width / 2, height / 2), text, fill="black", font=_font(size), anchor="mm")
    return np.asarray(band)


def _panel(rgb: np.ndarray, title: str) -> np.ndarray:
    """A picture (side, side, 3) under its title band."""
    if rgb.shape[:2] != (PANEL, PANEL):
        rgb = np.asarray(Image.fromarray(rgb).resize((PANEL, PANEL), Image.Resampling.BILINEAR))
    return np.vstack([_text_band(title, PANEL), rgb])


def _colour_bar(lo: float, hi: float, height: int) -> np.ndarray:
    """A vertical colour bar with its top and bottom values, ``height`` pixels tall."""
    ramp = _lookup("viridis")[np.linspace(255, 0, PANEL).astype(np.uint8)]  # bright on top
    strip = Image.new("RGB", (_BAR + 64, height), "white")
    strip.paste(Image.fromarray(np.repeat(ramp[:, None], _BAR, axis=1)), (4, height - PANEL))
    draw = ImageDraw.Draw(strip)
    draw.text((_BAR + 8, height - PANEL), f"{hi:.3g}", fill="black", font=_font(11), anchor="lt")
    draw.text((_BAR + 8, height - 1), f"{lo:.3g}", fill="black", font=_font(11), anchor="lb")
    return np.asarray(strip)


def figure_png(fig, dpi: int = 80) -> bytes:
    """Render a matplotlib figure to PNG bytes (for an ``ipywidgets.Image``) and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()

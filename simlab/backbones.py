"""Pretrained CNN backbones seen as pyramids of named stages, shallow to deep.

Each backbone names the layers whose outputs the lessons look at. Stages are ordered shallow to
deep; every stage halves the resolution of the one before (its ``stride`` is how many input
pixels one feature-map position steps over) and usually adds channels.

For ResNet the stages are ``layer1`` .. ``layer4``, the same cut points as the well-known
practice of truncating ``model.children()`` after ``layer1``, ``layer2``, ``layer3`` (levels 1-3).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torchvision.models as tvm
import torchvision.transforms.v2.functional as TF
from torch import nn
from torchvision.models.feature_extraction import create_feature_extractor
from torchvision.transforms import InterpolationMode

from .images import as_mask, load_image
from .weights import fetch

#: Held while something is traced from a network (an extractor, an exported ONNX graph): tracing
#: patches torch for every thread, so two threads (e.g. embed_folder's) must never trace at once.
BUILD_LOCK = threading.RLock()

__all__ = ["BACKBONES", "Backbone", "Stage", "load_backbone", "load_state"]


@dataclass(frozen=True)
class Stage:
    """One level of the pyramid: ``name``, the graph ``node`` it reads, ``stride`` and ``channels``.

    ``channels_last`` is True for transformer stages that emit (N, H, W, C); the kit converts
    them to (N, C, H, W) so every stage looks alike.
    """

    name: str
    node: str
    stride: int
    channels: int
    channels_last: bool = False


@dataclass(frozen=True)
class _Spec:
    builder: callable
    enum: type  # torchvision weights enum; its IMAGENET1K_V1 entry gives URL and preprocessing
    stages: tuple[Stage, ...]


def _resnet_stages(widths):
    return tuple(
        Stage(f"layer{i}", f"layer{i}", 2 ** (i + 1), w) for i, w in enumerate(widths, start=1)
    )


BACKBONES: dict[str, _Spec] = {
    "mobilenet_v2": _Spec(
        tvm.mobilenet_v2,
        tvm.MobileNet_V2_Weights,
        (
            Stage("stage1", "features.1", 2, 16),
            Stage("stage2", "features.3", 4, 24),
            Stage("stage3", "features.6", 8, 32),
            Stage("stage4", "features.13", 16, 96),
            Stage("stage5", "features.18", 32, 1280),
        ),
    ),
    "resnet18": _Spec(tvm.resnet18, tvm.ResNet18_Weights, _resnet_stages([64, 128, 256, 512])),
    "resnet50": _Spec(tvm.resnet50, tvm.ResNet50_Weights, _resnet_stages([256, 512, 1024, 2048])),
    "vgg16": _Spec(
        tvm.vgg16,
        tvm.VGG16_Weights,
        tuple(
            Stage(f"pool{i}", f"features.{node}", 2**i, ch)
            for i, (node, ch) in enumerate([(4, 64), (9, 128), (16, 256), (23, 512), (30, 512)], 1)
        ),
    ),
    "swin_t": _Spec(
        tvm.swin_t,
        tvm.Swin_T_Weights,
        tuple(
            Stage(f"stage{i}", f"features.{2 * i - 1}", 2 ** (i + 1), 96 * 2 ** (i - 1), True)
            for i in range(1, 5)
        ),
    ),
}


@dataclass
class Backbone:
    """A model in eval mode with its stages and the preprocessing its weights were trained with.

    ``model`` is the torchvision module; ``stages`` lists :class:`Stage` shallow to deep;
    ``weights`` says where the parameters came from ("IMAGENET1K_V1", "random" or a file path).
    The feature extractors built for it (:meth:`feature_extractor`) are kept on it.
    """

    name: str
    model: nn.Module
    stages: tuple[Stage, ...]
    weights: str
    transform: nn.Module = field(repr=False)
    _extractors: dict = field(default_factory=dict, repr=False)

    def preprocess(self, image) -> torch.Tensor:
        """Turn any image :func:`~simlab.images.load_image` accepts into a Tensor[3, H, W].

        Resize, centre crop (224x224 for ImageNet weights) and ImageNet normalisation, exactly
        as the weights were trained. Raises :class:`~simlab.images.ImageError` on bad input.
        """
        return self.transform(load_image(image))

    def preprocess_mask(self, mask) -> torch.Tensor:
        """Bring a subject mask into the frame of :meth:`preprocess`: Tensor[H', W'] float in [0, 1].

        ``mask`` is a 2-D bool NumPy array (or torch bool tensor) (H, W), True on the subject,
        the size of ``load_image(image)``. It gets the same geometry as the photo: the short
        side resized to the weights' resize size (256, or 232 for swin_t), then the centre
        crop (224 x 224), so pixel (y, x) of the result covers pixel (y, x) of
        ``preprocess(image)``. The resize is bilinear with antialiasing whatever the photo's
        interpolation (bicubic would overshoot outside [0, 1]): each value is the fraction of
        that pixel covered by the subject, 1 inside, 0 outside, in between along the outline.
        Subject parts outside the centre crop are dropped, as they are for the photo.

        Raises ``ValueError`` when ``mask`` is not a 2-D boolean array, saying what it is.
        """
        m = torch.from_numpy(as_mask(mask).astype(np.float32))[None]
        m = TF.resize(m, list(self.transform.resize_size), interpolation=InterpolationMode.BILINEAR,
                      antialias=True)
        m = TF.center_crop(m, list(self.transform.crop_size))[0].clamp(0.0, 1.0)
        # Float rounding leaves 0.9999999 inside and 1e-8 outside: snap those to exactly 1 and 0.
        return torch.where((m - m.round()).abs() < 1e-5, m.round(), m)

    def stage(self, name: str) -> Stage:
        """The stage called ``name`` (or whose graph node is ``name``); ValueError lists valid names."""
        for s in self.stages:
            if name in (s.name, s.node):
                return s
        valid = ", ".join(s.name for s in self.stages)
        raise ValueError(f"{self.name} has no stage {name!r}; valid stages: {valid}")

    def resolve_stage(self, stage: str | None = None) -> Stage:
        """The stage called ``stage``, or the deepest stage when ``stage`` is ``None``.

        The one default-stage rule of the kit: every function with ``stage=None`` means the
        deepest stage. Any other value must name a stage (an empty string too raises the
        ``ValueError`` of :meth:`stage`, which lists the valid names).
        """
        return self.stages[-1] if stage is None else self.stage(stage)

    @property
    def stage_names(self) -> list[str]:
        """Stage names, shallow to deep."""
        return [s.name for s in self.stages]

    def feature_extractor(self, stages: Sequence[Stage]) -> nn.Module:
        """The part of the network that returns the maps of ``stages``, ``{stage name: Tensor}``.

        Built with torchvision's ``create_feature_extractor`` (eval mode) on the first request for
        this combination of stages and kept on the backbone, so later calls do not trace the
        model again. ``stages`` are :class:`Stage` objects of this backbone (see :meth:`stage`).
        """
        nodes = {s.node: s.name for s in stages}

        def build() -> nn.Module:
            return create_feature_extractor(self.model, return_nodes=nodes).eval()

        return self.cached(tuple(nodes), build)

    def cached(self, key, build, still_valid=None):
        """``build()`` once per ``key`` and keep the result on this backbone.

        Where what is built from the network lives: the traced extractors of
        :meth:`feature_extractor` and the inference engines of :mod:`simlab.engines`. When
        ``still_valid(kept)`` is given and returns False (e.g. the weights changed since), the
        object is built again. Threads that ask at once wait for one build (:data:`BUILD_LOCK`).
        """
        kept = self._extractors.get(key)
        if kept is None or (still_valid is not None and not still_valid(kept)):
            with BUILD_LOCK:
                kept = self._extractors.get(key)  # another thread may have built it meanwhile
                if kept is None or (still_valid is not None and not still_valid(kept)):
                    kept = self._extractors[key] = build()
        return kept

    def without_cache(self) -> Backbone:
        """A copy with the same network and nothing built from it: cheap to pickle."""
        return dataclasses.replace(self, _extractors={})

    def preprocessing_only(self) -> Backbone:
        """A copy that preprocesses photos and masks like this one but holds no network.

        For worker processes that only decode and crop (e.g. a ``DataLoader``'s): it is cheap to
        pickle, and no extractor built there is sent back.
        """
        return dataclasses.replace(self.without_cache(), model=nn.Identity())


def load_backbone(name: str = "mobilenet_v2", weights="default") -> Backbone:
    """Build backbone ``name`` in eval mode.

    ``name`` is one of :data:`BACKBONES` (mobilenet_v2, resnet18, resnet50, vgg16, swin_t).
    ``weights`` is ``"default"`` (ImageNet ``IMAGENET1K_V1``, fetched through
    :mod:`simlab.weights`, so it works offline once cached), ``None`` (random weights, for
    looking at the architecture or timing) or a path to a local state-dict file (``.pth``).

    Raises ``ValueError`` for an unknown name or weights value, :class:`~simlab.weights.WeightsError`
    when pretrained weights cannot be found, and ``ValueError`` naming the file when a local
    file cannot be read or does not fit the architecture.
    """
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; valid names: {', '.join(BACKBONES)}")
    spec = BACKBONES[name]
    model = spec.builder(weights=None)
    if weights is None:
        origin = "random"
    elif isinstance(weights, str) and weights == "default":
        load_state(model, fetch(name), name)
        origin = "IMAGENET1K_V1"
    elif isinstance(weights, (str, Path)):
        path = Path(weights)
        if not path.is_file():
            raise ValueError(
                f"weights={str(weights)!r}: no such file; use 'default', None or a .pth path"
            )
        load_state(model, path, name)
        origin = str(path)
    else:
        raise ValueError(f"weights={weights!r}: use 'default', None or a path to a .pth file")
    transform = spec.enum.IMAGENET1K_V1.transforms()
    return Backbone(name, model.eval(), spec.stages, origin, transform)


def load_state(model: nn.Module, path: Path, name: str) -> None:
    """Load the state-dict file at ``path`` into ``model`` (in place); ``name`` names the model
    in errors.

    Accepts a plain state dict or a checkpoint holding one under ``"state_dict"``. Raises
    ``ValueError`` naming the file when it is not a readable PyTorch file, holds no state dict, or
    does not fit the model (missing or unexpected keys, wrong shapes).
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many types for unreadable files
        raise ValueError(f"{path}: not a readable PyTorch state-dict file ({e})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path}: holds a {type(state).__name__}, not a state dict")
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        first = str(e).splitlines()[0:3]
        raise ValueError(f"{path}: does not fit {name}: {' '.join(first)}") from None

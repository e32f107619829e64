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

from .images import load_image
from .masks import as_mask
from .weights import fetch

#: Held while something is traced from a network (an extractor, an exported ONNX graph): tracing
#: patches torch for every thread, so two threads (e.g. embed_folder's) must never trace at once.
BUILD_LOCK = threading.RLock()

__all__ = ["BACKBONES", "Backbone", "Stage", "load_backbone", "load_state"]


@dataclass(frozen=True)
class Stage:
    """One level of the pyramid: its name, the graph node it reads, its stride and channels.

    Parameters
    ----------
    name : str
        The kit's name for the stage (``"stage3"``, ``"layer2"``, ``"pool4"``).
    node : str
        The torchvision graph node whose output the stage is (``"features.6"``).
    stride, channels : int
        Input pixels one feature-map position steps over; channels of the stage's map.
    channels_last : bool, optional
        True for transformer stages that emit (N, H, W, C); the kit converts them to
        (N, C, H, W) so every stage looks alike.

    Examples
    --------
    >>> from simlab.backbones import BACKBONES
    >>> BACKBONES["resnet18"].stages[0]
    Stage(name='layer1', node='layer1', stride=4, channels=64, channels_last=False)
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


#: The backbones :func:`load_backbone` knows, by name: each with its torchvision builder, weights
#: enum and :class:`Stage` list (``BACKBONES[name].stages``).
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

    Made by :func:`load_backbone`. The feature extractors built for it
    (:meth:`feature_extractor`) are kept on it.

    Parameters
    ----------
    name : str
        A key of :data:`BACKBONES`.
    model : torch.nn.Module
        The torchvision module, in eval mode.
    stages : tuple of Stage
        Shallow to deep.
    weights : str
        Where the parameters came from: ``"IMAGENET1K_V1"``, ``"random"`` or a file path.
    transform : torch.nn.Module
        The weights' preprocessing (resize, centre crop, ImageNet normalisation).

    Examples
    --------
    >>> from simlab.backbones import load_backbone
    >>> backbone = load_backbone("mobilenet_v2", weights=None)
    >>> backbone.name, backbone.weights, backbone.stage_names[-1]
    ('mobilenet_v2', 'random', 'stage5')
    """

    name: str
    model: nn.Module
    stages: tuple[Stage, ...]
    weights: str
    transform: nn.Module = field(repr=False)
    _extractors: dict = field(default_factory=dict, repr=False)

    def preprocess(self, image) -> torch.Tensor:
        """The network's input for one image: resized, centre-cropped and normalised.

        Exactly as the weights were trained: for ImageNet weights the short side resized to 256
        (232 for swin_t), a 224 x 224 centre crop and ImageNet normalisation.

        Parameters
        ----------
        image : str, pathlib.Path, PIL.Image.Image or numpy.ndarray
            Anything :func:`~simlab.images.load_image` accepts.

        Returns
        -------
        torch.Tensor
            float32, shape (3, 224, 224).

        Raises
        ------
        simlab.images.ImageError
            For a file or value that is not an image.

        Examples
        --------
        >>> from simlab.backbones import load_backbone
        >>> from simlab.kit import samples
        >>> load_backbone("mobilenet_v2", weights=None).preprocess(samples()["chelsea"]).shape
        torch.Size([3, 224, 224])
        """
        return self.transform(load_image(image))

    def preprocess_mask(self, mask) -> torch.Tensor:
        """A subject mask brought into the frame of :meth:`preprocess`: the fraction of subject per pixel.

        The mask gets the photo's resize and centre crop, so pixel (y, x) of the result covers
        pixel (y, x) of ``preprocess(image)``; subject parts outside the crop are dropped. The
        resize is bilinear with antialiasing (bicubic would overshoot outside [0, 1]).

        Parameters
        ----------
        mask : numpy.ndarray or torch.Tensor
            bool, shape (H, W), True on the subject, the size of ``load_image(image)``.

        Returns
        -------
        torch.Tensor
            float32, shape (224, 224): 1 inside the subject, 0 outside, in between along the
            outline.

        Raises
        ------
        ValueError
            When ``mask`` is not a 2-D boolean array, saying what it is.

        Examples
        --------
        >>> import numpy as np
        >>> from simlab.backbones import load_backbone
        >>> mask = np.zeros((256, 512), dtype=bool)
        >>> mask[:, :256] = True  # the left half
        >>> fraction = load_backbone("mobilenet_v2", weights=None).preprocess_mask(mask)
        >>> tuple(fraction.shape), float(fraction.mean())  # the crop keeps the middle 224 columns
        ((224, 224), 0.5)
        """
        m = torch.from_numpy(as_mask(mask).astype(np.float32))[None]
        m = TF.resize(m, list(self.transform.resize_size), interpolation=InterpolationMode.BILINEAR,
                      antialias=True)
        m = TF.center_crop(m, list(self.transform.crop_size))[0].clamp(0.0, 1.0)
        # Float rounding leaves 0.9999999 inside and 1e-8 outside: snap those to exactly 1 and 0.
        return torch.where((m - m.round()).abs() < 1e-5, m.round(), m)

    def stage(self, name: str) -> Stage:
        """The stage called ``name``, or whose graph node is ``name``.

        Parameters
        ----------
        name : str
            A stage name (``backbone.stage_names``) or graph node (``"features.6"``).

        Returns
        -------
        Stage

        Raises
        ------
        ValueError
            For any other name; the message lists the valid ones.

        Examples
        --------
        >>> from simlab.backbones import load_backbone
        >>> backbone = load_backbone("mobilenet_v2", weights=None)
        >>> backbone.stage("stage3")
        Stage(name='stage3', node='features.6', stride=8, channels=32, channels_last=False)
        >>> backbone.stage("stage9")
        Traceback (most recent call last):
        ...
        ValueError: mobilenet_v2 has no stage 'stage9'; valid stages: stage1, stage2, stage3, stage4, stage5
        """
        for s in self.stages:
            if name in (s.name, s.node):
                return s
        valid = ", ".join(s.name for s in self.stages)
        raise ValueError(f"{self.name} has no stage {name!r}; valid stages: {valid}")

    def resolve_stage(self, stage: str | None = None) -> Stage:
        """The stage called ``stage``, or the deepest stage when ``stage`` is ``None``.

        The one default-stage rule of the kit: every function with ``stage=None`` means the
        deepest stage.

        Parameters
        ----------
        stage : str or None, optional
            A stage name; ``None`` for the deepest.

        Returns
        -------
        Stage

        Raises
        ------
        ValueError
            For any other value, an empty string too (as :meth:`stage`, listing the valid names).

        Examples
        --------
        >>> from simlab.backbones import load_backbone
        >>> load_backbone("mobilenet_v2", weights=None).resolve_stage().name
        'stage5'
        """
        return self.stages[-1] if stage is None else self.stage(stage)

    @property
    def stage_names(self) -> list[str]:
        """Stage names, shallow to deep.

        Examples
        --------
        >>> from simlab.backbones import load_backbone
        >>> load_backbone("mobilenet_v2", weights=None).stage_names
        ['stage1', 'stage2', 'stage3', 'stage4', 'stage5']
        """
        return [s.name for s in self.stages]

    def feature_extractor(self, stages: Sequence[Stage]) -> nn.Module:
        """The part of the network that returns the maps of ``stages``.

        Built with torchvision's ``create_feature_extractor`` (eval mode) on the first request for
        this combination of stages and kept on the backbone, so later calls do not trace the
        model again.

        Parameters
        ----------
        stages : sequence of Stage
            Stages of this backbone (see :meth:`stage`).

        Returns
        -------
        torch.nn.Module
            Tensor[N, 3, H, W] -> ``{stage name: Tensor}`` (transformer stages as (N, H, W, C)).

        Examples
        --------
        >>> import torch
        >>> from simlab.backbones import load_backbone
        >>> backbone = load_backbone("mobilenet_v2", weights=None)
        >>> extractor = backbone.feature_extractor([backbone.stage("stage1")])
        >>> extractor(torch.zeros(1, 3, 64, 64))["stage1"].shape
        torch.Size([1, 16, 32, 32])
        """
        nodes = {s.node: s.name for s in stages}

        def build() -> nn.Module:
            return create_feature_extractor(self.model, return_nodes=nodes).eval()

        return self.cached(tuple(nodes), build)

    def cached(self, key, build, *, still_valid=None):
        """``build()`` once per ``key``, kept on this backbone.

        Where what is built from the network lives: the traced extractors of
        :meth:`feature_extractor` and the inference engines of :mod:`simlab.engines`. Threads
        that ask at once wait for one build (:data:`BUILD_LOCK`).

        Parameters
        ----------
        key : hashable
            What is built.
        build : callable
            ``build()`` returns the object.
        still_valid : callable, optional
            ``still_valid(kept) -> bool``; False (e.g. the weights changed since) builds it again.

        Returns
        -------
        object
            The kept object, or the one built now.

        Examples
        --------
        >>> from simlab.backbones import load_backbone
        >>> backbone = load_backbone("mobilenet_v2", weights=None)
        >>> backbone.cached("answer", lambda: 42), backbone.cached("answer", lambda: 0)
        (42, 42)
        """
        kept = self._extractors.get(key)
        if kept is None or (still_valid is not None and not still_valid(kept)):
            with BUILD_LOCK:
                kept = self._extractors.get(key)  # another thread may have built it meanwhile
                if kept is None or (still_valid is not None and not still_valid(kept)):
                    kept = self._extractors[key] = build()
        return kept

    def without_cache(self) -> Backbone:
        """A copy with the same network and nothing built from it: cheap to pickle.

        Examples
        --------
        >>> from simlab.backbones import load_backbone
        >>> backbone = load_backbone("mobilenet_v2", weights=None)
        >>> backbone.without_cache().model is backbone.model
        True
        """
        return dataclasses.replace(self, _extractors={})

    def preprocessing_only(self) -> Backbone:
        """A copy that preprocesses photos and masks like this one but holds no network.

        For worker processes that only decode and crop (e.g. a ``DataLoader``'s): it is cheap to
        pickle, and no extractor built there is sent back. Its ``model`` is ``nn.Identity()``.

        Examples
        --------
        >>> from simlab.backbones import load_backbone
        >>> load_backbone("mobilenet_v2", weights=None).preprocessing_only().model
        Identity()
        """
        return dataclasses.replace(self.without_cache(), model=nn.Identity())


def load_backbone(name: str = "mobilenet_v2", *, weights="default") -> Backbone:
    """Build backbone ``name`` in eval mode, with its stages and preprocessing.

    Parameters
    ----------
    name : str, optional
        One of :data:`BACKBONES`: mobilenet_v2, resnet18, resnet50, vgg16, swin_t.
    weights : "default", None, str or pathlib.Path, optional
        ``"default"``: ImageNet ``IMAGENET1K_V1``, fetched through :mod:`simlab.weights`, so it
        works offline once cached; ``None``: random weights, for looking at the architecture or
        timing; a path: a local state-dict file (``.pth``).

    Returns
    -------
    Backbone

    Raises
    ------
    ValueError
        For an unknown name or weights value, and, naming the file, when a local file cannot be
        read or does not fit the architecture.
    simlab.weights.WeightsError
        When pretrained weights cannot be found.

    Examples
    --------
    >>> from simlab.backbones import load_backbone
    >>> load_backbone().weights  # ImageNet MobileNetV2, from the weight cache
    'IMAGENET1K_V1'
    >>> load_backbone("resnet18", weights=None).stage_names
    ['layer1', 'layer2', 'layer3', 'layer4']
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
    """Load the state-dict file at ``path`` into ``model``, in place.

    Parameters
    ----------
    model : torch.nn.Module
        The network to fill.
    path : str or pathlib.Path
        A PyTorch file holding a plain state dict, or a checkpoint holding one under
        ``"state_dict"``.
    name : str
        Names the model in errors.

    Raises
    ------
    ValueError
        Naming the file, when it is not a readable PyTorch file, holds no state dict, or does not
        fit the model (missing or unexpected keys, wrong shapes).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import torch
    >>> from simlab.backbones import load_state
    >>> path = Path(tempfile.mkdtemp()) / "linear.pth"
    >>> torch.save(torch.nn.Linear(2, 1).state_dict(), path)
    >>> load_state(torch.nn.Linear(2, 1), path, "a linear layer")
    >>> load_state(torch.nn.Linear(3, 1), path, "a wider layer")
    Traceback (most recent call last):
    ...
    ValueError: .../linear.pth: does not fit a wider layer: Error(s) in loading state_dict for Linear: ...
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

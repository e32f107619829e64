"""Feature maps from every requested stage in one forward pass, and pooling them into vectors.

Built on torchvision's ``create_feature_extractor``: it traces the model once and keeps only the
part of the graph needed up to the deepest requested stage, so collecting stages 1-3 costs the
same as running to stage 3 alone (the blog-tutorial way, one truncated model per level, runs the
shared early layers again for every level).
"""

from __future__ import annotations

import numpy as np
import torch
from torchvision.models.feature_extraction import create_feature_extractor

from .backbones import Backbone

__all__ = ["embed", "embed_stages", "extract_features", "pool_map", "stage_table", "to_batch"]

POOLS = ("avg", "max", "gem")


def to_batch(backbone: Backbone, images) -> torch.Tensor:
    """Preprocess ``images`` into a Tensor[N, 3, H, W] for ``backbone``.

    ``images`` is one image or a list of them (anything :func:`~simlab.images.load_image`
    accepts), or an already preprocessed Tensor[3, H, W] or Tensor[N, 3, H, W].
    """
    if isinstance(images, torch.Tensor):
        if images.ndim == 3:
            images = images.unsqueeze(0)
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(
                f"a tensor of images must be (N, 3, H, W) or (3, H, W), got {tuple(images.shape)}"
            )
        return images
    if isinstance(images, (list, tuple)):
        if not images:
            raise ValueError("no images given: the list is empty")
        return torch.stack([backbone.preprocess(im) for im in images])
    return backbone.preprocess(images).unsqueeze(0)


def extract_features(backbone: Backbone, images, stages=None) -> dict[str, torch.Tensor]:
    """Feature maps of ``images`` at ``stages``, all from ONE forward pass.

    ``stages`` is a stage name, a list of names (shallow or deep, any order) or ``None`` for all.
    Returns ``{stage name: Tensor[N, C, H, W]}`` in the order requested; transformer stages
    are converted from (N, H, W, C). No gradients are tracked. Raises ``ValueError`` for an
    unknown stage (listing the valid ones) and :class:`~simlab.images.ImageError` for bad images.
    """
    if stages is None:
        wanted = list(backbone.stages)
    else:
        names = [stages] if isinstance(stages, str) else list(stages)
        if not names:
            raise ValueError(f"no stages requested; valid stages: {', '.join(backbone.stage_names)}")
        wanted = [backbone.stage(n) for n in names]
    key = tuple(s.node for s in wanted)
    if key not in backbone._extractors:
        nodes = {s.node: s.name for s in wanted}
        backbone._extractors[key] = create_feature_extractor(backbone.model, return_nodes=nodes).eval()
    batch = to_batch(backbone, images)
    # no_grad, not inference_mode: inference tensors refuse in-place edits such as
    # ``fmap /= fmap.max()`` outside inference mode, which students (and viz code) do.
    with torch.no_grad():
        out = backbone._extractors[key](batch)
    return {
        s.name: (out[s.name].permute(0, 3, 1, 2) if s.channels_last else out[s.name]).contiguous()
        for s in wanted
    }


def pool_map(fmap: torch.Tensor, method: str = "avg", p: float = 3.0) -> torch.Tensor:
    """Pool a Tensor[N, C, H, W] over positions into Tensor[N, C].

    ``method``: ``"avg"`` (global average), ``"max"`` (global max) or ``"gem"`` (generalised mean,
    ``mean(x.clamp(min=1e-6) ** p) ** (1/p)``; p=1 is average, large p approaches max).
    """
    if fmap.ndim != 4:
        raise ValueError(f"a feature map must be (N, C, H, W), got shape {tuple(fmap.shape)}")
    if method == "avg":
        return fmap.mean(dim=(2, 3))
    if method == "max":
        return fmap.amax(dim=(2, 3))
    if method == "gem":
        # Same formula, computed relative to the per-channel max so that a large p (which
        # approaches max pooling) neither overflows to inf nor underflows to 0 in float32.
        x = fmap.clamp(min=1e-6)
        top = x.amax(dim=(2, 3), keepdim=True)
        return (x / top).pow(p).mean(dim=(2, 3)).pow(1.0 / p) * top[:, :, 0, 0]
    raise ValueError(f"pool={method!r}: choose one of {', '.join(POOLS)}")


def embed(backbone: Backbone, images, stage: str | None = None, pool: str = "avg") -> np.ndarray:
    """One vector per image: the stage's feature map pooled over positions.

    Returns a float32 array (N, C), C being the stage's channel count; the deepest stage by
    default. ``pool`` is ``"avg"`` (default), ``"max"`` or ``"gem"`` (see :func:`pool_map`).
    """
    name = backbone.stage(stage).name if stage else backbone.stages[-1].name
    fmap = extract_features(backbone, images, [name])[name]
    return pool_map(fmap, pool).numpy().astype(np.float32)


def embed_stages(backbone: Backbone, images: list, stages=None, pool: str = "avg",
                 batch_size: int = 16) -> dict[str, np.ndarray]:
    """Pooled vectors of ``images`` at every requested stage, one forward pass per batch.

    Returns ``{stage name: float32 array (N, C)}``, shallow to deep (``stages=None``: all). Use it
    to compare how similarity changes with depth without running the network once per stage.
    """
    if not images:
        raise ValueError("no images given: the list is empty")
    parts: dict[str, list] = {}
    for start in range(0, len(images), batch_size):
        maps = extract_features(backbone, list(images[start:start + batch_size]), stages)
        for name, fmap in maps.items():
            parts.setdefault(name, []).append(pool_map(fmap, pool).numpy().astype(np.float32))
    return {name: np.concatenate(chunks) for name, chunks in parts.items()}


def stage_table(backbone: Backbone, size: int = 224) -> list[dict]:
    """The pyramid measured on a zero image of ``size`` x ``size``: one dict per stage with
    ``stage``, ``node``, ``stride``, ``channels``, ``height``, ``width`` and ``values`` (C*H*W)."""
    maps = extract_features(backbone, torch.zeros(1, 3, size, size))
    return [
        {"stage": s.name, "node": s.node, "stride": s.stride, "channels": m.shape[1],
         "height": m.shape[2], "width": m.shape[3], "values": m[0].numel()}
        for s, m in zip(backbone.stages, maps.values(), strict=True)
    ]


"""Feature maps from every requested stage in one forward pass, and pooling them into vectors.

Built on torchvision's ``create_feature_extractor``: it traces the model once and keeps only the
part of the graph needed up to the deepest requested stage, so collecting stages 1-3 costs the
same as running to stage 3 alone (the blog-tutorial way, one truncated model per level, runs the
shared early layers again for every level).

Comparing only the subject (lesson 03): given a bool mask per photo (True on the subject), the
mask is brought into the network's frame (:meth:`~simlab.backbones.Backbone.preprocess_mask`),
shrunk to the feature map's grid by area interpolation (each cell's weight is the fraction of it
covered by the subject) and the map is averaged with those weights, ``sum(F * m) / sum(m)``:
masked average pooling, the "prototype" of PANet (Wang et al., ICCV 2019).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as nnf

from .backbones import Backbone
from .images import as_mask, load_image

__all__ = [
    "embed",
    "embed_stages",
    "extract_features",
    "masked_inputs",
    "masked_pool",
    "match_heatmap",
    "pool_map",
    "stage_table",
    "subject_and_background",
    "to_batch",
]

POOLS = ("avg", "max", "gem")

#: A mask must keep at least this many pixels (of the 224 x 224 network input) after the resize
#: and centre crop; below that the prototype would be the average of (almost) nothing.
MIN_MASK_PIXELS = 1.0


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
    batch = to_batch(backbone, images)
    # no_grad, not inference_mode: inference tensors refuse in-place edits such as
    # ``fmap /= fmap.max()`` outside inference mode, which students (and viz code) do.
    with torch.no_grad():
        out = backbone.feature_extractor(wanted)(batch)
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


def masked_pool(fmap: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Masked average pooling: Tensor[N, C, H, W] and weights Tensor[N, h, w] -> Tensor[N, C].

    ``weights`` are per-pixel subject fractions in [0, 1] at any resolution (e.g. the 224 x 224
    output of :meth:`~simlab.backbones.Backbone.preprocess_mask`); they are resized to the map's
    H x W by area interpolation, so each cell is weighted by the fraction of it that is subject.
    Returns ``sum(F * m) / sum(m)`` over positions. Raises ``ValueError`` for wrong shapes,
    weights outside [0, 1], or a row whose weights are all zero (the result would be NaN).
    """
    if fmap.ndim != 4:
        raise ValueError(f"a feature map must be (N, C, H, W), got shape {tuple(fmap.shape)}")
    if weights.ndim != 3 or weights.shape[0] != fmap.shape[0]:
        raise ValueError(
            f"weights must be (N, h, w) with N = {fmap.shape[0]} like the map, got {tuple(weights.shape)}"
        )
    weights = weights.to(fmap.dtype)
    if not torch.isfinite(weights).all() or weights.min() < 0 or weights.max() > 1:
        raise ValueError("weights must be fractions in [0, 1]")
    w = nnf.interpolate(weights[:, None], size=fmap.shape[-2:], mode="area")
    total = w.sum(dim=(2, 3))  # (N, 1)
    empty = (total[:, 0] <= 1e-8).nonzero().flatten().tolist()
    if empty:
        raise ValueError(f"mask {empty[0]} has no weight on the {tuple(fmap.shape[-2:])} feature map")
    return (fmap * w).sum(dim=(2, 3)) / total


def masked_inputs(backbone: Backbone, images, masks) -> tuple[torch.Tensor, torch.Tensor]:
    """Check images and their subject masks; return the batch and the masks in the same frame.

    ``images`` is one image or a list (anything :func:`~simlab.images.load_image` accepts),
    ``masks`` one bool mask (H, W) per image, each the size of ``load_image(image)``: a list,
    a stacked (N, H, W) array, or a single 2-D mask for a single image. Returns
    ``(batch Tensor[N, 3, 224, 224], weights Tensor[N, 224, 224])``, the weights being
    :meth:`~simlab.backbones.Backbone.preprocess_mask` of each mask (subject fraction per pixel).

    Already preprocessed images (Tensor[3, H, W] or [N, 3, H, W]) take masks already in the
    network's frame: (H, W) each, bool or float fractions in [0, 1] (``preprocess_mask`` output).

    Raises ``ValueError`` when the counts differ, a mask is not 2-D boolean or has the wrong
    shape (naming its index, its shape and the image size), or when a mask keeps no subject
    pixel inside the centre crop.
    """
    if isinstance(images, torch.Tensor):
        batch = to_batch(backbone, images)
        mask_list = _mask_list(masks, batch.shape[0], single=images.ndim == 3)
        weights = torch.stack([_frame_mask(m, tuple(batch.shape[-2:]), i)
                               for i, m in enumerate(mask_list)])
    else:
        single = not isinstance(images, (list, tuple))
        image_list = [images] if single else list(images)
        if not image_list:
            raise ValueError("no images given: the list is empty")
        mask_list = _mask_list(masks, len(image_list), single=single)
        photos = [load_image(im) for im in image_list]
        weights = torch.stack([
            backbone.preprocess_mask(as_mask(m, photo.size, f"mask {i}"))
            for i, (m, photo) in enumerate(zip(mask_list, photos, strict=True))
        ])
        batch = torch.stack([backbone.preprocess(photo) for photo in photos])
    _check_area(backbone, weights, "subject")
    return batch, weights


def embed(backbone: Backbone, images, stage: str | None = None, pool: str = "avg",
          masks=None, engine: str = "auto") -> np.ndarray:
    """One vector per image: the stage's feature map pooled over positions.

    Returns a float32 array (N, C), C being the stage's channel count; the deepest stage by
    default. ``pool`` is ``"avg"`` (default), ``"max"`` or ``"gem"`` (see :func:`pool_map`).

    With ``masks`` (one bool (H, W) mask per image, True on the subject, each the size of
    ``load_image(image)``; see :func:`masked_inputs`), each vector is the subject's prototype:
    the map averaged with weights = the fraction of each cell covered by the subject after the
    same resize and centre crop as the photo (:func:`masked_pool`). Only ``pool="avg"`` is
    defined then. An all-True mask gives the plain average.

    ``engine`` runs the network: ``"torch"`` (PyTorch eager, as :func:`extract_features`),
    ``"onnx"`` (ONNX Runtime on the backbone up to the stage, exported once and kept in the
    embeddings cache folder, see :mod:`simlab.engines`) or ``"auto"`` (ONNX Runtime when it is
    installed, else PyTorch). Pooling is the same code for both; their vectors agree to 1e-4.

    Raises ``ValueError`` for an unknown stage, pool or engine, ``pool != "avg"`` with masks, a
    number of masks that differs from the number of images, a mask that is not 2-D boolean or
    not the size of its image, and a mask with no subject pixel inside the centre crop (never
    NaN); ``ImportError`` for ``engine="onnx"`` without ONNX Runtime.
    """
    from .engines import embedder  # late: engines builds on this module

    name = backbone.resolve_stage(stage).name
    if pool not in POOLS:
        raise ValueError(f"pool={pool!r}: choose one of {', '.join(POOLS)}")
    if masks is not None and pool != "avg":
        raise ValueError(
            f"pool={pool!r} with masks: masked pooling is an average over the subject, "
            "use pool='avg' (the default)"
        )
    run = embedder(backbone, name, engine)
    if masks is None:
        return run(to_batch(backbone, images), pool)
    batch, weights = masked_inputs(backbone, images, masks)
    return run(batch, weights=weights)


def subject_and_background(backbone: Backbone, images, masks,
                           stage: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The subject prototype and the background prototype of each image, from one forward pass.

    ``fg`` averages the stage's map with weights m (the subject fraction of each cell, as in
    ``embed(..., masks=masks)``), ``bg`` with weights 1 - m. Both are float32 arrays (N, C).
    With ``share`` = the mean of m over the map (``backbone.preprocess_mask(mask).mean()`` when
    the map size divides 224), the plain average ``embed(backbone, images)`` equals
    ``share * fg + (1 - share) * bg``: the whole-image vector is a mix of the two, weighted by
    area, which is how the background gets into a whole-image score.

    Raises ``ValueError`` as :func:`embed` does, and also when a mask leaves no background
    pixel inside the centre crop.
    """
    name = backbone.resolve_stage(stage).name
    batch, weights = masked_inputs(backbone, images, masks)
    _check_area(backbone, 1.0 - weights, "background")
    fmap = extract_features(backbone, batch, [name])[name]
    fg = masked_pool(fmap, weights)
    bg = masked_pool(fmap, 1.0 - weights)
    return fg.numpy().astype(np.float32), bg.numpy().astype(np.float32)


def match_heatmap(backbone: Backbone, image, reference, reference_mask,
                  stage: str | None = None) -> np.ndarray:
    """Where in ``image`` does the reference's subject appear? A cosine map at the stage's grid.

    The subject prototype of ``reference`` (masked average pooling with ``reference_mask``, a
    bool (H, W) mask the size of ``load_image(reference)``) is compared by cosine similarity
    with the feature vector at every position of ``image``'s map (deepest stage by default).
    Returns a float32 array (h, w) in [-1, 1], e.g. 7 x 7 at a stride-32 stage: cell (i, j)
    covers pixels [32 i, 32 (i + 1)) x [32 j, 32 (j + 1)) of ``backbone.preprocess(image)``,
    the centre crop the network saw (draw it with :func:`simlab.viz.show_match_heatmap`).
    A position whose feature vector is all zero scores 0. Stages that end in a ReLU (ResNet,
    VGG, MobileNetV2's stage5) have no negative features, so there the values lie in [0, 1];
    MobileNetV2's stages 1-4 end in a linear bottleneck and can give negative cosines.
    No gradients are tracked.

    ``image`` is ONE image (or a preprocessed Tensor[3, H, W]). Raises ``ValueError`` for
    several images, a bad mask (see :func:`masked_inputs`) or an unknown stage.
    """
    name = backbone.resolve_stage(stage).name
    if isinstance(image, (list, tuple)) or (isinstance(image, torch.Tensor) and image.ndim == 4
                                            and image.shape[0] != 1):
        raise ValueError("match_heatmap takes ONE image (and one reference), not a list or batch")
    ref_batch, ref_weights = masked_inputs(backbone, reference, reference_mask)
    if ref_batch.shape[0] != 1:
        raise ValueError("match_heatmap takes ONE reference image with one mask")
    prototype = masked_pool(extract_features(backbone, ref_batch, [name])[name], ref_weights)
    fmap = extract_features(backbone, image, [name])[name]
    cos = nnf.cosine_similarity(fmap, prototype[:, :, None, None], dim=1, eps=1e-8)
    return cos[0].clamp(-1.0, 1.0).numpy().astype(np.float32)


def embed_stages(backbone: Backbone, images: list, stages=None, pool: str = "avg",
                 batch_size: int = 16) -> dict[str, np.ndarray]:
    """Pooled vectors of ``images`` at every requested stage, one forward pass per batch.

    Returns ``{stage name: float32 array (N, C)}``, shallow to deep (``stages=None``: all). Use it
    to compare how similarity changes with depth without running the network once per stage.
    ``images`` may also be an already preprocessed Tensor[N, 3, H, W].
    """
    if len(images) == 0:
        raise ValueError("no images given: the list is empty")
    parts: dict[str, list] = {}
    for start in range(0, len(images), batch_size):
        chunk = images[start:start + batch_size]
        maps = extract_features(backbone, chunk if isinstance(chunk, torch.Tensor) else list(chunk), stages)
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



def _mask_list(masks, n: int, single: bool) -> list:
    """Split ``masks`` into one mask per image and check the count."""
    if masks is None:
        raise ValueError("no masks given: pass one bool (H, W) mask per image")
    if isinstance(masks, (np.ndarray, torch.Tensor)):
        if single and not (masks.ndim == 3 and masks.shape[0] == 1):
            return [masks]  # one image, one mask (as_mask reports a wrong shape)
        if masks.ndim == 2:
            masks = [masks]
        elif masks.ndim == 3:
            masks = list(masks)
        else:
            raise ValueError(f"masks must be one (H, W) mask per image, got an array of shape "
                             f"{tuple(masks.shape)}")
    masks = list(masks)
    if len(masks) != n:
        raise ValueError(
            f"{n} image{'s' if n != 1 else ''} but {len(masks)} mask{'s' if len(masks) != 1 else ''}: "
            "pass exactly one bool (H, W) mask per image, in the same order"
        )
    return masks


def _frame_mask(mask, shape: tuple[int, int], i: int) -> torch.Tensor:
    """A mask given for an already preprocessed image: bool, or fractions in [0, 1], of its size."""
    m = torch.as_tensor(mask.copy() if isinstance(mask, np.ndarray) else mask)
    if m.ndim != 2:
        raise ValueError(f"mask {i} must be 2-D (H, W), got shape {tuple(m.shape)}")
    if tuple(m.shape) != shape:
        raise ValueError(
            f"mask {i} has shape {tuple(m.shape)} but image {i} is a preprocessed tensor of "
            f"{shape[0]} x {shape[1]}: for preprocessed images pass backbone.preprocess_mask(mask)"
        )
    if m.dtype != torch.bool:
        if not m.is_floating_point():
            raise ValueError(f"mask {i} must be boolean or fractions in [0, 1], got {m.dtype}")
        if not torch.isfinite(m).all() or m.min() < 0 or m.max() > 1:
            raise ValueError(f"mask {i} holds values outside [0, 1]: it must be subject fractions")
    return m.to(torch.float32)


def _check_area(backbone: Backbone, weights: torch.Tensor, kind: str) -> None:
    """Refuse a mask whose subject (or background) vanishes inside the network's input."""
    area = weights.sum(dim=(1, 2))
    for i, a in enumerate(area.tolist()):
        if a < MIN_MASK_PIXELS:
            h, w = weights.shape[-2:]
            frame = _frame_text(backbone, h, w)
            if kind == "subject":
                raise ValueError(
                    f"mask {i} has no subject pixels inside the centre crop {frame} "
                    f"({a:.2g} pixels): the network never sees the subject; check that the mask "
                    "is not empty and that the subject is not at the very edge of the photo"
                )
            raise ValueError(
                f"mask {i} leaves no background pixels inside the centre crop {frame} "
                f"({a:.2g} pixels): the subject covers everything the network sees, so there is "
                "no background prototype"
            )


def _frame_text(backbone: Backbone, h: int, w: int) -> str:
    resize = getattr(backbone.transform, "resize_size", None)
    if resize:
        return f"({h} x {w}, after resizing the short side to {resize[0]})"
    return f"({h} x {w})"

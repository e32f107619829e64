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
from .images import load_image
from .masks import as_mask

__all__ = [
    "POOLS",
    "extract_features",
    "masked_inputs",
    "masked_pool",
    "match_heatmap",
    "pool_map",
    "subject_and_background",
    "to_batch",
]

POOLS = ("avg", "max", "gem")

#: A mask must keep at least this many pixels (of the 224 x 224 network input) after the resize
#: and centre crop; below that the prototype would be the average of (almost) nothing.
MIN_MASK_PIXELS = 1.0


def to_batch(backbone: Backbone, images) -> torch.Tensor:
    """Preprocess ``images`` into one batch for ``backbone``.

    Parameters
    ----------
    backbone : Backbone
        Its :meth:`~simlab.backbones.Backbone.preprocess` is applied to each image.
    images : image, list of images or torch.Tensor
        One image or a list (anything :func:`~simlab.images.load_image` accepts), or an already
        preprocessed Tensor[3, H, W] or Tensor[N, 3, H, W] (returned as is, batched).

    Returns
    -------
    torch.Tensor
        float32, shape (N, 3, H, W).

    Raises
    ------
    ValueError
        For an empty list or a tensor that is not (N, 3, H, W) or (3, H, W).
    simlab.images.ImageError
        For a bad image.

    Examples
    --------
    >>> from simlab.backbones import load_backbone
    >>> from simlab.features import to_batch
    >>> from simlab.kit import samples
    >>> to_batch(load_backbone(), [samples()["chelsea"], samples()["coffee"]]).shape
    torch.Size([2, 3, 224, 224])
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

    Parameters
    ----------
    backbone : Backbone
        From :func:`~simlab.backbones.load_backbone`.
    images : image, list of images or torch.Tensor
        As for :func:`to_batch`.
    stages : str or list of str, optional
        A stage name, or a list of names in any order; all stages by default.

    Returns
    -------
    dict of str to torch.Tensor
        ``{stage name: Tensor[N, C, H, W]}`` in the order requested (transformer stages converted
        from (N, H, W, C)). No gradients are tracked.

    Raises
    ------
    ValueError
        For an unknown stage (listing the valid ones) or an empty list of stages.
    simlab.images.ImageError
        For a bad image.

    Examples
    --------
    >>> import torch
    >>> from simlab.backbones import load_backbone
    >>> from simlab.features import extract_features
    >>> maps = extract_features(load_backbone(), torch.zeros(1, 3, 224, 224), ["stage1", "stage5"])
    >>> {stage: tuple(fmap.shape) for stage, fmap in maps.items()}
    {'stage1': (1, 16, 112, 112), 'stage5': (1, 1280, 7, 7)}
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


def pool_map(fmap: torch.Tensor, pool: str = "avg", *, p: float = 3.0) -> torch.Tensor:
    """Pool a feature map over positions: one value per channel.

    Parameters
    ----------
    fmap : torch.Tensor
        Shape (N, C, H, W).
    pool : {"avg", "max", "gem"}, optional
        Global average, global max, or generalised mean ``mean(x.clamp(min=1e-6) ** p) ** (1/p)``.
    p : float, optional
        GeM's exponent: 1 is the average, a large p approaches the max.

    Returns
    -------
    torch.Tensor
        Shape (N, C).

    Raises
    ------
    ValueError
        For a map that is not 4-D or an unknown pool.

    Examples
    --------
    >>> import torch
    >>> from simlab.features import pool_map
    >>> fmap = torch.arange(4.0).reshape(1, 1, 2, 2)  # one channel: 0 1 / 2 3
    >>> pool_map(fmap, "avg"), pool_map(fmap, "max"), pool_map(fmap, "gem", p=1.0)
    (tensor([[1.5000]]), tensor([[3.]]), tensor([[1.5000]]))
    """
    if fmap.ndim != 4:
        raise ValueError(f"a feature map must be (N, C, H, W), got shape {tuple(fmap.shape)}")
    if pool == "avg":
        return fmap.mean(dim=(2, 3))
    if pool == "max":
        return fmap.amax(dim=(2, 3))
    if pool == "gem":
        # Same formula, computed relative to the per-channel max so that a large p (which
        # approaches max pooling) neither overflows to inf nor underflows to 0 in float32.
        x = fmap.clamp(min=1e-6)
        top = x.amax(dim=(2, 3), keepdim=True)
        return (x / top).pow(p).mean(dim=(2, 3)).pow(1.0 / p) * top[:, :, 0, 0]
    raise ValueError(f"pool={pool!r}: choose one of {', '.join(POOLS)}")


def masked_pool(fmap: torch.Tensor, subject_fraction: torch.Tensor) -> torch.Tensor:
    """Masked average pooling: average each channel of a feature map over the subject only.

    Parameters
    ----------
    fmap : torch.Tensor
        Feature maps, shape (N, C, H, W).
    subject_fraction : torch.Tensor
        Per-pixel subject fractions in [0, 1], shape (N, h, w) at any resolution (e.g. the
        224 x 224 output of :meth:`~simlab.backbones.Backbone.preprocess_mask`). They are resized
        to the map's H x W by area interpolation, so each cell counts with the fraction of it
        that is subject.

    Returns
    -------
    torch.Tensor
        Shape (N, C): ``sum(F * m) / sum(m)`` over positions.

    Raises
    ------
    ValueError
        For wrong shapes, fractions outside [0, 1], or a row with no subject at all (the result
        would be NaN).

    Examples
    --------
    >>> import torch
    >>> from simlab.features import masked_pool
    >>> fmap = torch.arange(4.0).reshape(1, 1, 2, 2)  # one channel: 0 1 / 2 3
    >>> masked_pool(fmap, torch.tensor([[[1.0, 1.0], [0.0, 0.0]]]))  # the top row only
    tensor([[0.5000]])
    """
    if fmap.ndim != 4:
        raise ValueError(f"a feature map must be (N, C, H, W), got shape {tuple(fmap.shape)}")
    if subject_fraction.ndim != 3 or subject_fraction.shape[0] != fmap.shape[0]:
        raise ValueError(f"subject_fraction must be (N, h, w) with N = {fmap.shape[0]} like the map, "
                         f"got {tuple(subject_fraction.shape)}")
    fraction = subject_fraction.to(fmap.dtype)
    if not torch.isfinite(fraction).all() or fraction.min() < 0 or fraction.max() > 1:
        raise ValueError("subject_fraction must be fractions in [0, 1]")
    w = nnf.interpolate(fraction[:, None], size=fmap.shape[-2:], mode="area")
    total = w.sum(dim=(2, 3))  # (N, 1)
    empty = (total[:, 0] <= 1e-8).nonzero().flatten().tolist()
    if empty:
        raise ValueError(f"mask {empty[0]} has no weight on the {tuple(fmap.shape[-2:])} feature map")
    return (fmap * w).sum(dim=(2, 3)) / total


def masked_inputs(backbone: Backbone, images, masks) -> tuple[torch.Tensor, torch.Tensor]:
    """Check images and their subject masks; the batch and the masks in the network's frame.

    Parameters
    ----------
    backbone : Backbone
        Whose preprocessing is applied to images and masks.
    images : image, list of images or torch.Tensor
        As for :func:`to_batch`.
    masks : list of numpy.ndarray, numpy.ndarray or torch.Tensor
        One bool (H, W) mask per image, True on the subject, each the size of
        ``load_image(image)``: a list, a stacked (N, H, W) array, or one 2-D mask for one image.
        Already preprocessed images take masks already in the network's frame: (H, W) each,
        bool or fractions in [0, 1] (:meth:`~simlab.backbones.Backbone.preprocess_mask` output).

    Returns
    -------
    batch : torch.Tensor
        float32, shape (N, 3, 224, 224).
    subject_fraction : torch.Tensor
        float32, shape (N, 224, 224): the subject fraction of each pixel
        (:meth:`~simlab.backbones.Backbone.preprocess_mask` of each mask).

    Raises
    ------
    ValueError
        When the counts differ, a mask is not 2-D boolean or has the wrong shape (naming its
        index, its shape and the image size), or a mask keeps no subject pixel inside the centre
        crop.

    Examples
    --------
    >>> import numpy as np
    >>> from simlab.backbones import load_backbone
    >>> from simlab.features import masked_inputs
    >>> photo = np.zeros((256, 256, 3), dtype=np.uint8)
    >>> mask = np.zeros((256, 256), dtype=bool)
    >>> mask[:, :128] = True
    >>> batch, fraction = masked_inputs(load_backbone("mobilenet_v2", weights=None), [photo], [mask])
    >>> tuple(batch.shape), tuple(fraction.shape), float(fraction.mean())
    ((1, 3, 224, 224), (1, 224, 224), 0.5)
    """
    if isinstance(images, torch.Tensor):
        batch = to_batch(backbone, images)
        mask_list = _mask_list(masks, batch.shape[0], single=images.ndim == 3)
        subject_fraction = torch.stack([_frame_mask(m, tuple(batch.shape[-2:]), i)
                               for i, m in enumerate(mask_list)])
    else:
        single = not isinstance(images, (list, tuple))
        image_list = [images] if single else list(images)
        if not image_list:
            raise ValueError("no images given: the list is empty")
        mask_list = _mask_list(masks, len(image_list), single=single)
        photos = [load_image(im) for im in image_list]
        subject_fraction = torch.stack([
            backbone.preprocess_mask(as_mask(m, photo.size, name=f"mask {i}"))
            for i, (m, photo) in enumerate(zip(mask_list, photos, strict=True))
        ])
        batch = torch.stack([backbone.preprocess(photo) for photo in photos])
    _check_area(backbone, subject_fraction, "subject")
    return batch, subject_fraction


def subject_and_background(backbone: Backbone, images, masks,
                           stage: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The subject prototype and the background prototype of each image, from one forward pass.

    ``fg`` averages the stage's map with weights m (the subject fraction of each cell, as in
    ``embed(..., masks=masks)`` of :mod:`simlab.embedding`), ``bg`` with weights 1 - m. With
    ``share`` = the mean of m over the map (``backbone.preprocess_mask(mask).mean()`` when the map
    size divides 224), the plain average ``embed(backbone, images)`` equals
    ``share * fg + (1 - share) * bg``: the whole-image vector mixes the two by area, which is
    how the background gets into a whole-image score.

    Parameters
    ----------
    backbone : Backbone
        From :func:`~simlab.backbones.load_backbone`.
    images, masks
        As for :func:`masked_inputs`.
    stage : str, optional
        A stage name; the deepest by default.

    Returns
    -------
    fg, bg : numpy.ndarray
        float32, shape (N, C) each.

    Raises
    ------
    ValueError
        As :func:`masked_inputs` does, for an unknown stage, and when a mask leaves no
        background pixel inside the centre crop.

    Examples
    --------
    >>> import numpy as np
    >>> from simlab.backbones import load_backbone
    >>> from simlab.features import subject_and_background
    >>> photo = np.zeros((256, 256, 3), dtype=np.uint8)
    >>> mask = np.zeros((256, 256), dtype=bool)
    >>> mask[:, :128] = True
    >>> fg, bg = subject_and_background(load_backbone(), [photo], [mask], "stage3")
    >>> fg.shape, bg.shape
    ((1, 32), (1, 32))
    """
    name = backbone.resolve_stage(stage).name
    batch, subject_fraction = masked_inputs(backbone, images, masks)
    _check_area(backbone, 1.0 - subject_fraction, "background")
    fmap = extract_features(backbone, batch, [name])[name]
    fg = masked_pool(fmap, subject_fraction)
    bg = masked_pool(fmap, 1.0 - subject_fraction)
    return fg.numpy().astype(np.float32), bg.numpy().astype(np.float32)


def match_heatmap(backbone: Backbone, image, reference, reference_mask,
                  stage: str | None = None) -> np.ndarray:
    """Where in ``image`` does the reference's subject appear? A cosine map at the stage's grid.

    The subject prototype of ``reference`` (masked average pooling with ``reference_mask``) is
    compared by cosine similarity with the feature vector at every position of ``image``'s map.
    Draw it with :func:`simlab.overlays.show_match_heatmap`. No gradients are tracked.

    Parameters
    ----------
    backbone : Backbone
        From :func:`~simlab.backbones.load_backbone`.
    image : image or torch.Tensor
        ONE image (anything :func:`~simlab.images.load_image` accepts) or a preprocessed
        Tensor[3, H, W].
    reference : image
        The photo whose subject is looked for.
    reference_mask : numpy.ndarray
        bool, shape (H, W), True on the subject, the size of ``load_image(reference)``.
    stage : str, optional
        A stage name; the deepest by default.

    Returns
    -------
    numpy.ndarray
        float32, shape (h, w), in [-1, 1]: e.g. 7 x 7 at a stride-32 stage, cell (i, j) covering
        pixels [32 i, 32 (i + 1)) x [32 j, 32 (j + 1)) of ``backbone.preprocess(image)``. A
        position whose feature vector is all zero scores 0. Stages that end in a ReLU (ResNet,
        VGG, MobileNetV2's stage5) have no negative features, so there the values lie in [0, 1];
        MobileNetV2's stages 1-4 end in a linear bottleneck and can give negative cosines.

    Raises
    ------
    ValueError
        For several images, a bad mask (see :func:`masked_inputs`) or an unknown stage.

    Examples
    --------
    >>> import numpy as np
    >>> from simlab.backbones import load_backbone
    >>> from simlab.features import match_heatmap
    >>> from simlab.kit import samples
    >>> mug = np.zeros((256, 256, 3), dtype=np.uint8)
    >>> mask = np.zeros((256, 256), dtype=bool)
    >>> mask[64:192, 64:192] = True
    >>> match_heatmap(load_backbone(), samples()["coffee"], mug, mask).shape
    (7, 7)
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


def _check_area(backbone: Backbone, subject_fraction: torch.Tensor, kind: str) -> None:
    """Refuse a mask whose subject (or background) vanishes inside the network's input."""
    area = subject_fraction.sum(dim=(1, 2))
    for i, a in enumerate(area.tolist()):
        if a < MIN_MASK_PIXELS:
            h, w = subject_fraction.shape[-2:]
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

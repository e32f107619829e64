"""Photos into vectors: a backbone's feature map at one stage (or several), pooled over positions.

:func:`embed` is the one call a lesson needs (PyTorch by default; ONNX Runtime on request, see
:mod:`simlab.engines`); :func:`embed_stages` gives every stage from one forward pass per batch.
A whole folder goes through :func:`simlab.collection.embed_folder`, which caches its vectors.
"""

from __future__ import annotations

import numpy as np
import torch

from .backbones import Backbone
from .engines import get_embedder
from .features import POOLS, extract_features, masked_inputs, pool_map, to_batch

__all__ = ["embed", "embed_stages"]


def embed(backbone: Backbone, images, stage: str | None = None, *, pool: str = "avg", masks=None,
          engine: str = "torch") -> np.ndarray:
    """One vector per image: the stage's feature map pooled over positions.

    Parameters
    ----------
    backbone : Backbone
        From :func:`~simlab.backbones.load_backbone`.
    images : image or list of images
        Anything :func:`~simlab.images.load_image` accepts, or a list of them.
    stage : str, optional
        A stage name of the backbone (``backbone.stage_names``); the deepest by default.
    pool : {"avg", "max", "gem"}, optional
        How the map is pooled over positions (:func:`~simlab.features.pool_map`).
    masks : list of numpy.ndarray, optional
        One bool (H, W) mask per image, True on the subject, each the size of
        ``load_image(image)``: each vector is then the subject's prototype, the map averaged with
        weights = the share of each cell covered by the subject after the same resize and centre
        crop as the photo (masked average pooling; only ``pool="avg"``). An all-True mask gives
        the plain average.
    engine : {"torch", "onnx", "auto"}, optional
        ``"torch"`` (default): PyTorch eager, as :func:`~simlab.features.extract_features`;
        ``"onnx"``: ONNX Runtime on the backbone exported up to the stage, kept in the cache
        folder (:mod:`simlab.engines`); ``"auto"``: ONNX Runtime when installed. Pooling is the
        same code for all; their vectors agree to 1e-4.

    Returns
    -------
    numpy.ndarray
        float32, shape (N, C), C the stage's channel count.

    Raises
    ------
    ValueError
        For an unknown stage, pool or engine, ``pool != "avg"`` with masks, a number of masks
        other than the number of images, a mask that is not 2-D boolean or not the size of its
        image, or a mask with no subject pixel inside the centre crop (never NaN).
    ImportError
        For ``engine="onnx"`` without ONNX Runtime.

    Examples
    --------
    >>> from simlab.backbones import load_backbone
    >>> from simlab.embedding import embed
    >>> from simlab.kit import samples
    >>> embed(load_backbone(), [samples()["chelsea"], samples()["coffee"]]).shape
    (2, 1280)
    """
    name = backbone.resolve_stage(stage).name
    if pool not in POOLS:
        raise ValueError(f"pool={pool!r}: choose one of {', '.join(POOLS)}")
    if masks is not None and pool != "avg":
        raise ValueError(
            f"pool={pool!r} with masks: masked pooling is an average over the subject, "
            "use pool='avg' (the default)"
        )
    run = get_embedder(backbone, name, engine)
    if masks is None:
        return run(to_batch(backbone, images), pool)
    batch, subject_fraction = masked_inputs(backbone, images, masks)
    return run(batch, subject_fraction=subject_fraction)


def embed_stages(backbone: Backbone, images, stages=None, *, pool: str = "avg",
                 batch_size: int = 16) -> dict[str, np.ndarray]:
    """Pooled vectors of ``images`` at every requested stage, one forward pass per batch.

    Parameters
    ----------
    backbone : Backbone
        From :func:`~simlab.backbones.load_backbone`.
    images : list of images or torch.Tensor
        A list of anything :func:`~simlab.images.load_image` accepts, or a preprocessed
        Tensor[N, 3, H, W].
    stages : str or list of str, optional
        Stage names; all of them, shallow to deep, by default.
    pool : {"avg", "max", "gem"}, optional
        As for :func:`embed`.
    batch_size : int, optional
        Images per forward pass (PyTorch eager).

    Returns
    -------
    dict of str to numpy.ndarray
        ``{stage name: float32 array (N, C)}``, shallow to deep: how similarity changes with depth,
        without running the network once per stage.

    Raises
    ------
    ValueError
        For no images, an unknown stage or pool.

    Examples
    --------
    >>> from simlab.backbones import load_backbone
    >>> from simlab.embedding import embed_stages
    >>> from simlab.kit import samples
    >>> vectors = embed_stages(load_backbone(), [samples()["chelsea"]], ["stage1", "stage5"])
    >>> {stage: v.shape for stage, v in vectors.items()}
    {'stage1': (1, 16), 'stage5': (1, 1280)}
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

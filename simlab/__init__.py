"""simlab: the helper package of the image-similarity course kit (one module per concept)."""

from .backbones import Backbone, Stage, load_backbone
from .features import embed, embed_stages, extract_features, pool_map, stage_table
from .hashes import hash_bits
from .images import ImageError, labelled_pairs, load_image, samples
from .metrics import (
    cosine_similarity,
    distance_to_similarity,
    edit_distance,
    euclidean_distance,
    hamming_distance,
    manhattan_distance,
    pairwise,
    top_k,
)
from .weights import WeightsError

__all__ = [
    "Backbone",
    "ImageError",
    "Stage",
    "WeightsError",
    "cosine_similarity",
    "distance_to_similarity",
    "edit_distance",
    "embed",
    "embed_stages",
    "euclidean_distance",
    "extract_features",
    "hamming_distance",
    "hash_bits",
    "labelled_pairs",
    "load_backbone",
    "load_image",
    "manhattan_distance",
    "pairwise",
    "pool_map",
    "samples",
    "stage_table",
    "top_k",
]

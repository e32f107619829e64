"""simlab: the helper package of the image-similarity course kit (one module per concept)."""

from .backbones import Backbone, Stage, load_backbone
from .features import (
    embed,
    embed_stages,
    extract_features,
    match_heatmap,
    pool_map,
    stage_table,
    subject_and_background,
)
from .hashes import hash_bits
from .images import (
    ImageError,
    as_mask,
    labelled_pairs,
    load_image,
    paste_subject,
    replace_background,
    samples,
)
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
from .subject import available_methods, segment_subject
from .weights import WeightsError

__all__ = [
    "Backbone",
    "ImageError",
    "Stage",
    "WeightsError",
    "as_mask",
    "available_methods",
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
    "match_heatmap",
    "pairwise",
    "paste_subject",
    "pool_map",
    "replace_background",
    "samples",
    "segment_subject",
    "stage_table",
    "subject_and_background",
    "top_k",
]

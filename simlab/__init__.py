"""simlab: the helper package of the image-similarity course kit (one module per concept)."""

from .backbones import Backbone, Stage, load_backbone
from .features import embed, embed_stages, extract_features, pool_map, stage_table
from .images import ImageError, load_image, samples
from .weights import WeightsError

__all__ = [
    "Backbone",
    "ImageError",
    "Stage",
    "WeightsError",
    "embed",
    "embed_stages",
    "extract_features",
    "load_backbone",
    "load_image",
    "pool_map",
    "samples",
    "stage_table",
]

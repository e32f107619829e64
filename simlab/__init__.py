"""simlab: image similarity on a laptop's CPU, the library of the image-similarity course kit.

The entry points below cover a whole use, from a photo to a similar one; every module has more
(``simlab.metrics``, ``simlab.evaluation``, ``simlab.search``, ...). The course's own code lives
apart: ``simlab.lessons`` (exercise checks, widgets), ``simlab.kit`` (the kit's photos and
labelled pairs) and ``simlab.teacher`` (the student edition, the ``simlab`` command).

``simlab.search`` (FAISS indexes) is imported on its own, ``from simlab.search import
build_index``, so that FAISS is loaded only where it is used.
"""

from .backbones import load_backbone
from .collection import Collection, embed_folder
from .embedding import embed, embed_stages
from .evaluation import best_threshold
from .faces import face_embeddings, same_person
from .features import extract_features
from .hashes import hash_bits
from .images import ImageError, load_image
from .metrics import cosine_similarity, pairwise, top_k
from .people import find_person, group_people
from .subject import segment_subject
from .weights import WeightsError

__all__ = [
    "Collection",
    "ImageError",
    "WeightsError",
    "best_threshold",
    "cosine_similarity",
    "embed",
    "embed_folder",
    "embed_stages",
    "extract_features",
    "face_embeddings",
    "find_person",
    "group_people",
    "hash_bits",
    "load_backbone",
    "load_image",
    "pairwise",
    "same_person",
    "segment_subject",
    "top_k",
]

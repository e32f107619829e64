"""simlab.features: every requested stage from one forward pass, and pooling maps into vectors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from simlab.backbones import load_backbone
from simlab.embedding import embed
from simlab.features import extract_features, pool_map, to_batch
from simlab.images import ImageError, load_image
from simlab.kit import samples


@pytest.fixture(scope="module")
def swin_t():
    torch.manual_seed(0)
    return load_backbone("swin_t", weights=None)


@pytest.fixture(scope="module")
def photos(kit_photos):
    return [kit_photos["chelsea"], kit_photos["coffee"]]


@pytest.fixture
def small_batch():
    torch.manual_seed(3)
    return torch.randn(2, 3, 64, 64)


class ForwardCounter:
    """Counts calls of a module (the model's first layer) through a forward hook."""

    def __init__(self, module: torch.nn.Module):
        self.calls = 0
        self._handle = module.register_forward_hook(self._hook)

    def _hook(self, module, args, output):
        self.calls += 1

    def remove(self):
        self._handle.remove()


def first_layer(backbone) -> torch.nn.Module:
    if backbone.name == "swin_t":
        return backbone.model.features[0][0]  # patch-embedding convolution
    return backbone.model.conv1


# --- one forward pass -----------------------------------------------------------------------


@pytest.mark.parametrize("which", ["random_resnet18", "swin_t"])
def test_all_stages_come_from_one_forward_pass(which, request, small_batch):
    bb = request.getfixturevalue(which)
    counter = ForwardCounter(first_layer(bb))
    try:
        # a stage combination not used before (the extractor is built on this call) ...
        three = bb.stage_names[:3][::-1]
        out = extract_features(bb, small_batch, three)
        assert counter.calls == 1
        assert list(out) == three
        # ... and again, when it is cached
        extract_features(bb, small_batch, three)
        assert counter.calls == 2
        extract_features(bb, small_batch)  # all stages
        assert counter.calls == 3
    finally:
        counter.remove()


# --- shapes and order -----------------------------------------------------------------------


def test_shapes_are_nchw(random_resnet18, small_batch):
    out = extract_features(random_resnet18, small_batch)
    assert list(out) == random_resnet18.stage_names  # None means all, shallow to deep
    for stage in random_resnet18.stages:
        fmap = out[stage.name]
        assert isinstance(fmap, torch.Tensor)
        assert tuple(fmap.shape) == (2, stage.channels, 64 // stage.stride, 64 // stage.stride)
        assert fmap.dtype == torch.float32
        assert not fmap.requires_grad


def test_maps_are_ordinary_tensors(random_resnet18, swin_t, small_batch):
    """Students normalise maps in place for display; that must work on every backbone."""
    for bb in (random_resnet18, swin_t):
        fmap = extract_features(bb, small_batch, bb.stage_names[0])[bb.stage_names[0]]
        assert not fmap.requires_grad
        fmap -= fmap.amin()
        fmap /= fmap.amax()
        assert float(fmap.min()) == 0.0 and float(fmap.max()) == 1.0


def test_swin_stages_are_converted_from_nhwc(swin_t, small_batch):
    out = extract_features(swin_t, small_batch)
    for stage in swin_t.stages:
        fmap = out[stage.name]
        assert stage.channels_last
        assert tuple(fmap.shape) == (2, stage.channels, 64 // stage.stride, 64 // stage.stride)
        assert fmap.is_contiguous()
    # the values are the model's own (N, H, W, C) output, transposed, not just reshaped
    features = swin_t.model.features
    with torch.no_grad():
        nhwc = features[1](features[0](small_batch))
    assert nhwc.shape[-1] == swin_t.stages[0].channels
    assert torch.allclose(out["stage1"], nhwc.permute(0, 3, 1, 2), atol=1e-5)


def test_order_follows_the_request(random_resnet18, small_batch):
    deep_first = extract_features(random_resnet18, small_batch, ["layer3", "layer1", "layer2"])
    shallow_first = extract_features(random_resnet18, small_batch, ["layer1", "layer2", "layer3"])
    assert list(deep_first) == ["layer3", "layer1", "layer2"]
    assert list(shallow_first) == ["layer1", "layer2", "layer3"]
    for name in shallow_first:
        assert torch.allclose(deep_first[name], shallow_first[name])


def test_a_single_stage_name(random_resnet18, small_batch):
    out = extract_features(random_resnet18, small_batch, "layer2")
    assert list(out) == ["layer2"]
    both = extract_features(random_resnet18, small_batch, ["layer2", "layer4"])
    assert torch.allclose(out["layer2"], both["layer2"])


# --- what counts as images ------------------------------------------------------------------


def test_single_image_list_and_tensor_agree(random_resnet18, photos):
    cat, mug = photos
    single = extract_features(random_resnet18, cat, "layer4")["layer4"]
    assert tuple(single.shape) == (1, 512, 7, 7)

    listed = extract_features(random_resnet18, [cat, mug], "layer4")["layer4"]
    assert tuple(listed.shape) == (2, 512, 7, 7)
    assert torch.allclose(listed[0], single[0], atol=1e-5)
    assert not torch.allclose(listed[1], single[0], atol=1e-3)  # the second image is its own

    # the same photo as a path, a PIL image and an array, and as preprocessed tensors
    as_pil = load_image(cat)
    mixed = extract_features(random_resnet18, [str(cat), as_pil, np.asarray(as_pil)], "layer4")["layer4"]
    for row in mixed:
        assert torch.allclose(row, single[0], atol=1e-5)
    x = random_resnet18.preprocess(cat)
    for batch in (x, x.unsqueeze(0), torch.stack([x, x])):
        out = extract_features(random_resnet18, batch, "layer4")["layer4"]
        assert torch.allclose(out[0], single[0], atol=1e-5)


def test_to_batch_shapes(random_resnet18, photos):
    assert tuple(to_batch(random_resnet18, photos[0]).shape) == (1, 3, 224, 224)
    assert tuple(to_batch(random_resnet18, photos).shape) == (2, 3, 224, 224)
    assert tuple(to_batch(random_resnet18, tuple(photos)).shape) == (2, 3, 224, 224)


def test_empty_list_is_refused(random_resnet18):
    with pytest.raises(ValueError, match="empty"):
        extract_features(random_resnet18, [])


@pytest.mark.parametrize(
    "shape", [(64, 64), (1, 64, 64), (2, 1, 64, 64), (2, 64, 64, 3), (1, 2, 3, 64, 64)]
)
def test_wrong_tensor_shapes_are_refused(random_resnet18, shape):
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        extract_features(random_resnet18, torch.zeros(shape))


def test_no_stages_and_unknown_stage_are_refused(random_resnet18, small_batch):
    with pytest.raises(ValueError, match="layer1"):
        extract_features(random_resnet18, small_batch, [])
    with pytest.raises(ValueError, match="valid stages: layer1, layer2, layer3, layer4"):
        extract_features(random_resnet18, small_batch, "stage5")


def test_bad_image_in_a_list_names_the_file(random_resnet18, photos, tmp_path):
    broken = tmp_path / "broken_photo.jpg"
    broken.write_text("not a jpeg")
    with pytest.raises(ImageError, match="broken_photo.jpg"):
        extract_features(random_resnet18, [photos[0], broken])
    with pytest.raises(ImageError, match="broken_photo.jpg"):
        embed(random_resnet18, [photos[0], broken])


# --- pooling into vectors -------------------------------------------------------------------


@pytest.mark.parametrize("pool", ["avg", "max", "gem"])
def test_embed_returns_float32_rows(random_resnet18, photos, pool):
    vectors = embed(random_resnet18, photos, pool=pool)
    assert isinstance(vectors, np.ndarray)
    assert vectors.dtype == np.float32
    assert vectors.shape == (2, random_resnet18.stages[-1].channels)  # deepest stage by default
    assert np.isfinite(vectors).all()


def test_embed_is_the_pooled_feature_map(random_resnet18, photos):
    fmap = extract_features(random_resnet18, photos, "layer4")["layer4"]
    np.testing.assert_allclose(
        embed(random_resnet18, photos, engine="torch"), fmap.mean(dim=(2, 3)).numpy(), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        embed(random_resnet18, photos, pool="max", engine="torch"), fmap.amax(dim=(2, 3)).numpy(),
        rtol=1e-5, atol=1e-6
    )
    shallow = extract_features(random_resnet18, photos, "layer2")["layer2"]
    got = embed(random_resnet18, photos, stage="layer2", engine="torch")
    assert got.shape == (2, 128)
    np.testing.assert_allclose(got, shallow.mean(dim=(2, 3)).numpy(), rtol=1e-5, atol=1e-6)
    # the default engine (ONNX Runtime) computes the same map, to float rounding
    scale = float(np.abs(fmap.mean(dim=(2, 3)).numpy()).max())
    np.testing.assert_allclose(embed(random_resnet18, photos), fmap.mean(dim=(2, 3)).numpy(), rtol=0,
                               atol=1e-4 * scale)


def test_embed_single_image_matches_its_row(random_resnet18, photos):
    one = embed(random_resnet18, photos[1])
    assert one.shape == (1, 512)
    np.testing.assert_allclose(one[0], embed(random_resnet18, photos)[1], rtol=1e-4, atol=1e-6)


def test_gem_lies_between_avg_and_max(random_resnet18, photos):
    avg = embed(random_resnet18, photos, pool="avg")
    gem = embed(random_resnet18, photos, pool="gem")
    mx = embed(random_resnet18, photos, pool="max")
    assert (gem >= avg - 1e-5).all() and (gem <= mx + 1e-5).all()
    assert (gem > avg + 1e-4).any()  # not simply the average


def test_gem_with_p_1_is_avg(random_resnet18, small_batch):
    fmap = extract_features(random_resnet18, small_batch, "layer4")["layer4"]
    assert (fmap >= 0).all()  # after ReLU
    assert torch.allclose(pool_map(fmap, "gem", p=1.0), pool_map(fmap, "avg"), atol=1e-5)
    # p=3 (the default) is the textbook formula
    naive = fmap.clamp(min=1e-6).pow(3).mean(dim=(2, 3)).pow(1 / 3)
    assert torch.allclose(pool_map(fmap, "gem"), naive, rtol=1e-5, atol=1e-6)


def test_gem_with_large_p_approaches_max():
    """A large p must give (nearly) the max, not inf (overflow) or 0 (underflow)."""
    fmap = torch.tensor([[[[0.5, 0.25], [0.1, 0.2]], [[40.0, 10.0], [5.0, 0.0]]]])
    for p in (50.0, 200.0):
        got = pool_map(fmap, "gem", p=p)
        assert torch.isfinite(got).all(), got
        assert torch.allclose(got, torch.tensor([[0.5, 40.0]]), rtol=0.03), (p, got)


def test_unknown_pool_is_refused(random_resnet18, small_batch):
    with pytest.raises(ValueError, match="avg, max, gem"):
        embed(random_resnet18, small_batch, pool="median")
    with pytest.raises(ValueError, match="avg, max, gem"):
        pool_map(torch.zeros(1, 2, 3, 3), "sum")


def test_pool_map_wants_a_4d_map():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        pool_map(torch.zeros(2, 3), "avg")


def test_embed_separates_different_photos(random_resnet18, tmp_path):
    """Sanity: a photo is more like a slightly changed copy of itself than like another photo."""
    found = samples()
    cat = load_image(found["chelsea"])
    brighter = Image.eval(cat, lambda v: min(255, v + 10))
    v = embed(random_resnet18, [cat, brighter, found["brick"]])
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    assert v[0] @ v[1] > v[0] @ v[2]

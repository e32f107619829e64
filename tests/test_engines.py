"""simlab.engines: ONNX Runtime gives the vectors PyTorch gives, for every backbone, and its
exported graph is cached by (backbone, weights, stage) and rebuilt when one of them changes."""

from __future__ import annotations

import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF

from simlab import embed, load_backbone, registry
from simlab.backbones import BACKBONES
from simlab.engines import Embedder, get_embedder, resolve_engine, weights_fingerprint
from simlab.features import to_batch
from simlab.kit import samples

PHOTOS = ("chelsea", "coffee", "astronaut")


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch):
    """Every test starts as a new Python process would: no session, graph or failure remembered."""
    registry.clear()


@pytest.fixture(scope="module")
def photos():
    found = samples()
    return [found[n] for n in PHOTOS]


@pytest.fixture(scope="module")
def mobilenet():
    return load_backbone()  # the real ImageNet weights, offline from the weight cache


def assert_agree(onnx, torch_vectors):
    """The engines agree to 1e-4 of the vectors' scale (random weights can make tiny features)."""
    assert onnx.dtype == np.float32 and onnx.shape == torch_vectors.shape
    scale = float(np.abs(torch_vectors).max())
    assert scale > 0 and np.isfinite(onnx).all()
    assert float(np.abs(onnx - torch_vectors).max()) <= 1e-4 * max(scale, 1.0)


@pytest.mark.parametrize("name", [n if n == "mobilenet_v2" else pytest.param(n, marks=pytest.mark.slow)
                                  for n in BACKBONES])  # the others export large graphs: make test
def test_onnx_equals_torch_for_every_backbone_random_weights(name, photos, tmp_path):
    torch.manual_seed(0)
    bb = load_backbone(name, weights=None)
    batch = to_batch(bb, photos)
    for stage in (bb.stages[0].name, bb.stages[-1].name):
        fast = Embedder(bb, stage, "onnx", cache_dir=tmp_path)
        slow = Embedder(bb, stage, "torch")
        assert fast.engine == "onnx" and slow.engine == "torch"
        for pool in ("avg", "max", "gem"):
            assert_agree(fast(batch, pool), slow(batch, pool))


@pytest.mark.slow  # seconds: make test runs it, make check does not
def test_onnx_equals_torch_with_the_real_mobilenet_weights(mobilenet, photos):
    batch = to_batch(mobilenet, photos)
    weights = torch.zeros(len(photos), 224, 224)
    weights[:, 40:180, 60:200] = 1.0  # a subject box: masked average pooling
    for stage in mobilenet.stage_names:
        fast, slow = get_embedder(mobilenet, stage, "onnx"), get_embedder(mobilenet, stage, "torch")
        for pool in ("avg", "max", "gem"):
            a, b = fast(batch, pool), slow(batch, pool)
            assert np.abs(b).max() > 0.1  # pretrained features, not (almost) zeros
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-4)
        np.testing.assert_allclose(fast(batch, subject_fraction=weights),
                                   slow(batch, subject_fraction=weights),
                                   rtol=0, atol=1e-4)
    np.testing.assert_allclose(embed(mobilenet, photos), embed(mobilenet, photos, engine="torch"),
                               rtol=0, atol=1e-4)


def test_uint8_batches_are_normalised_like_preprocess(mobilenet, photos):
    run = get_embedder(mobilenet, engine="onnx")
    floats = to_batch(mobilenet, photos)
    mean = torch.tensor(mobilenet.transform.mean).view(1, 3, 1, 1)
    std = torch.tensor(mobilenet.transform.std).view(1, 3, 1, 1)
    pixels = ((floats * std + mean) * 255).round().clamp(0, 255).to(torch.uint8)
    np.testing.assert_allclose(run(pixels), run(floats), rtol=0, atol=1e-4)
    by_torchvision = TF.normalize(TF.convert_image_dtype(pixels, torch.float), mean=mobilenet.transform.mean,
                                  std=mobilenet.transform.std)
    assert torch.equal(run.normalise(pixels), by_torchvision)  # the very same numbers
    assert pixels.dtype == torch.uint8  # the caller's batch is left as it was


def test_auto_is_onnx_when_installed_else_torch(monkeypatch):
    assert resolve_engine("auto") == "onnx" and resolve_engine("torch") == "torch"
    monkeypatch.setattr("simlab.engines.onnx_available", lambda: False)
    assert resolve_engine("auto") == "torch"
    with pytest.raises(ImportError, match=r"pip install \"simlab\[fast\]\""):
        resolve_engine("onnx")
    with pytest.raises(ValueError, match="auto, torch, onnx"):
        resolve_engine("tensorrt")


def test_the_graph_is_exported_once_per_key_and_kept_on_disk(mobilenet, photos, tmp_path, monkeypatch):
    batch = to_batch(mobilenet, photos)
    first = Embedder(mobilenet, "stage3", "onnx", cache_dir=tmp_path)
    expected = first(batch)
    files = sorted((tmp_path / "onnx").glob("*.onnx"))
    assert [f.name for f in files] == [first.key() + ".onnx"]
    assert files[0].name.startswith("mobilenet_v2-stage3-any-")

    def no_export(self, size):
        raise AssertionError("exported again although the graph is in the cache")

    monkeypatch.setattr(Embedder, "_export", no_export)
    registry.clear()  # as in a new Python process
    np.testing.assert_array_equal(Embedder(mobilenet, "stage3", "onnx", cache_dir=tmp_path)(batch),
                                  expected)


def test_a_new_key_means_a_new_graph(photos, tmp_path):
    torch.manual_seed(1)
    bb = load_backbone("resnet18", weights=None)
    batch = to_batch(bb, photos)
    keys = {Embedder(bb, "layer2", "onnx", cache_dir=tmp_path).key(),
            Embedder(bb, "layer3", "onnx", cache_dir=tmp_path).key()}
    before = get_embedder(bb, "layer2", "onnx", cache_dir=tmp_path)(batch)
    fingerprint = weights_fingerprint(bb.model)
    with torch.no_grad():
        bb.model.layer1[0].conv1.weight.mul_(0.5)  # fine-tuned in place
    assert weights_fingerprint(bb.model) != fingerprint
    changed = get_embedder(bb, "layer2", "onnx", cache_dir=tmp_path)
    keys.add(changed.key())
    assert len(keys) == 3
    after = changed(batch)
    assert np.abs(after - before).max() > 1e-3  # the new weights are used, not the old graph
    assert_agree(after, Embedder(bb, "layer2", "torch")(batch))


def test_a_damaged_graph_file_is_exported_again(mobilenet, photos, tmp_path, monkeypatch):
    batch = to_batch(mobilenet, photos[:1])
    run = Embedder(mobilenet, "stage2", "onnx", cache_dir=tmp_path)
    expected = run(batch)
    path = tmp_path / "onnx" / f"{run.key()}.onnx"
    path.write_bytes(path.read_bytes()[:1000])
    registry.clear()
    with pytest.warns(UserWarning, match="damaged exported graph"):
        got = Embedder(mobilenet, "stage2", "onnx", cache_dir=tmp_path)(batch)
    np.testing.assert_array_equal(got, expected)
    assert path.stat().st_size > 10_000


def test_without_a_cache_folder_nothing_is_written(mobilenet, photos, tmp_path, monkeypatch):
    monkeypatch.setenv("SIMLAB_CACHE", str(tmp_path / "default"))
    run = Embedder(mobilenet, "stage1", "onnx", cache_dir=None)
    run(to_batch(mobilenet, photos[:1]))
    assert not (tmp_path / "default").exists()


@pytest.mark.slow  # seconds: make test runs it, make check does not
def test_swin_gets_a_graph_per_input_size(photos, tmp_path):
    torch.manual_seed(0)
    bb = load_backbone("swin_t", weights=None)
    run, reference = Embedder(bb, "stage2", "onnx", cache_dir=tmp_path), Embedder(bb, "stage2", "torch")
    for size in (224, 160):
        batch = torch.randn(2, 3, size, size)
        assert_agree(run(batch), reference(batch))
    assert len(list((tmp_path / "onnx").glob("swin_t-stage2-*.onnx"))) == 2


def test_auto_falls_back_to_torch_when_the_export_fails(mobilenet, photos, tmp_path, monkeypatch):
    def broken(self, size):
        raise RuntimeError("unsupported operator")

    monkeypatch.setattr(Embedder, "_export", broken)
    batch = to_batch(mobilenet, photos[:2])
    with pytest.warns(UserWarning, match="cannot be exported to ONNX.*using PyTorch instead"):
        got = Embedder(mobilenet, "stage4", "auto", cache_dir=tmp_path)(batch)
    np.testing.assert_allclose(got, Embedder(mobilenet, "stage4", "torch")(batch), rtol=0, atol=1e-6)
    with pytest.raises(RuntimeError, match="unsupported operator.*engine='torch'"):
        Embedder(mobilenet, "stage4", "onnx", cache_dir=tmp_path)(batch)


def _embed_in_worker(run, pixels):
    return run(pixels)


@pytest.mark.slow  # seconds: make test runs it, make check does not
def test_an_embedder_is_built_once_and_used_in_another_process(mobilenet, photos, tmp_path):
    """What a Dask worker does: receive the pickled embedder, then embed uint8 batches."""
    run = Embedder(mobilenet, "stage5", "onnx", cache_dir=tmp_path)
    floats = to_batch(mobilenet, photos)
    mean = torch.tensor(mobilenet.transform.mean).view(1, 3, 1, 1)
    std = torch.tensor(mobilenet.transform.std).view(1, 3, 1, 1)
    pixels = ((floats * std + mean) * 255).round().clamp(0, 255).to(torch.uint8)
    expected = run(pixels)
    shipped = pickle.dumps(run)
    for f in (tmp_path / "onnx").glob("*.onnx"):
        f.unlink()  # the other process may not see this folder: the graph travels in the pickle
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        got = pool.submit(_embed_in_worker, pickle.loads(shipped), pixels).result(timeout=300)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)

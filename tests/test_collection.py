"""simlab.collection: embedding a folder in batches, with an on-disk cache that survives a kill."""

from __future__ import annotations

import gc
import hashlib
import os
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import simlab
import simlab.cache
from simlab import collection, engines, pipeline, registry
from simlab.backbones import load_backbone
from simlab.cache import content_hash
from simlab.collection import Collection, UnreadableFilesWarning, embed_folder
from simlab.embedding import embed
from simlab.engines import Embedder, onnx_available
from simlab.images import image_files
from simlab.kit import samples
from simlab.subject import segment_subject


@pytest.fixture(scope="module")
def backbone(pretrained):
    """ImageNet MobileNetV2 (conftest.py), offline from the weight cache."""
    return pretrained


@pytest.fixture
def folder(photo_folder):
    """Six small photos of the kit (JPEG and PNG) and two drawn images, one in a subfolder."""
    return photo_folder


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def drawn(seed: int, size=(64, 48)) -> Image.Image:
    """A small image of random coloured blocks, different for every seed."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
    return Image.fromarray(blocks).resize(size, Image.Resampling.NEAREST)


def run(folder, backbone, cache, **kw) -> Collection:
    kw = {"batch_size": 3, "num_workers": 0, "progress": False, **kw}
    return embed_folder(folder, backbone, cache_dir=cache, **kw)


def shards(cache: Path) -> list[Path]:
    return sorted(cache.glob("*/shard-*.npz"))


class ForwardCounter:
    """Counts forward passes, whatever the engine: every batch goes through Embedder.feature_map."""

    def __init__(self, backbone):
        self.calls = 0
        self._original = Embedder.feature_map
        counter = self

        def counted(embedder, images):
            counter.calls += 1
            return counter._original(embedder, images)

        Embedder.feature_map = counted

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        Embedder.feature_map = self._original


def assert_same(actual, expected, atol=1e-5):
    expected = np.asarray(expected)
    assert actual.shape == expected.shape and actual.dtype == np.float32
    assert np.abs(expected).max() > 0.01  # pretrained features, not (almost) zeros
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=atol)


# --- finding and hashing files ------------------------------------------------------------------


def test_image_files_by_suffix_sorted_recursive_and_without_hidden(tmp_path):
    for name in ("b.JPG", "a.png", "sub/c.webp", "sub/deeper/d.TIFF", "notes.txt", "photo.jpg.bak",
                 ".hidden.jpg", "._a.jpg", ".ipynb_checkpoints/a-checkpoint.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "folder.png").mkdir()  # a directory with an image name is no image
    assert [p.relative_to(tmp_path).as_posix() for p in image_files(tmp_path)] == [
        "a.png", "b.JPG", "sub/c.webp", "sub/deeper/d.TIFF"]
    assert [p.name for p in image_files(str(tmp_path), recursive=False)] == ["a.png", "b.JPG"]


def test_an_iphone_folder_of_heic_photos_is_embedded_like_jpegs(tmp_path, backbone):
    import pillow_heif
    from PIL import Image

    photos = samples()
    for name in ["chelsea", "coffee"]:
        image = Image.open(photos[name]).convert("RGB")
        image.save(tmp_path / f"{name}.jpg", quality=95)
        pillow_heif.from_pillow(image).save(tmp_path / f"IMG_{name}.HEIC", quality=95)
    assert [p.name for p in image_files(tmp_path)] == ["IMG_chelsea.HEIC", "IMG_coffee.HEIC", "chelsea.jpg",
                                                        "coffee.jpg"]
    found = embed_folder(tmp_path, backbone, cache_dir=None, progress=False, num_workers=0)
    assert not found.failed and len(found) == 4
    heic, jpeg = found.vectors[:2], found.vectors[2:]
    cosine = (heic * jpeg).sum(1) / np.linalg.norm(heic, axis=1) / np.linalg.norm(jpeg, axis=1)
    assert cosine.min() > 0.98  # the same photo through two lossy codecs


def test_content_hash_is_the_sha256_of_the_bytes(tmp_path):
    data = os.urandom(3 * 2**20 + 17)  # several read chunks
    (tmp_path / "a.bin").write_bytes(data)
    assert content_hash(tmp_path / "a.bin") == hashlib.sha256(data).hexdigest()
    (tmp_path / "empty").write_bytes(b"")
    assert content_hash(str(tmp_path / "empty")) == hashlib.sha256(b"").hexdigest()


def test_weights_fingerprint_tells_weights_apart_and_is_fast(backbone):
    torch.manual_seed(0)
    random = load_backbone("mobilenet_v2", weights=None)
    start = time.perf_counter()
    fp = engines.weights_fingerprint(backbone.model)
    assert time.perf_counter() - start < 1.0  # ~15 ms; generous for slow CI machines
    assert fp == engines.weights_fingerprint(load_backbone().model)
    assert fp != engines.weights_fingerprint(random.model)
    before = engines.weights_fingerprint(random.model)
    with torch.no_grad():
        random.model.classifier[1].bias[0] += 1e-3  # one number changed
    assert engines.weights_fingerprint(random.model) != before


# --- the vectors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [None, 0, 2])  # None: the default, decoding threads
def test_vectors_equal_embed_in_path_order(folder, backbone, cache, workers):
    c = run(folder, backbone, cache, num_workers=workers, batch_size=2)
    assert c.paths == image_files(folder) and len(c.paths) == 8
    assert c.paths == sorted(c.paths) and folder / "more" / "drawn0.png" in c.paths
    assert (c.computed, c.from_cache, c.failed) == (8, 0, [])
    assert c.vectors.shape == (8, 1280)
    assert_same(c.vectors, embed(backbone, c.paths))
    assert c.cache_dir is not None and c.cache_dir.parent == cache
    assert len(c) == 8 and "8 images (0 from cache, 8 embedded)" in repr(c)


@pytest.mark.slow  # seconds: make test runs it, make check does not
def test_other_stage_and_pool_equal_embed(folder, backbone):
    c = run(folder, backbone, None, stage="stage4", pool="gem")
    assert c.vectors.shape == (8, 96) and c.cache_dir is None
    assert_same(c.vectors, embed(backbone, c.paths, stage="stage4", pool="gem"))


def test_a_list_of_paths_keeps_its_order_and_its_copies(folder, backbone, cache):
    paths = image_files(folder)[::-1][:4]
    paths.append(paths[0])
    c = run(paths, backbone, cache)
    assert c.paths == paths
    assert_same(c.vectors, embed(backbone, paths))


def test_default_cache_dir_is_simlab_cache(folder, backbone, tmp_path, monkeypatch):
    monkeypatch.setenv("SIMLAB_CACHE", str(tmp_path / "env-cache"))
    c = embed_folder(folder, backbone, batch_size=4, num_workers=0, progress=False)
    assert c.cache_dir.parent == tmp_path / "env-cache"
    assert (c.cache_dir / "config.json").is_file() and shards(tmp_path / "env-cache")
    none = embed_folder(folder, backbone, cache_dir=None, batch_size=4, num_workers=0, progress=False)
    assert none.cache_dir is None and none.computed == 8
    assert_same(none.vectors, c.vectors)


# --- the cache ------------------------------------------------------------------------------------


def test_second_run_runs_no_forward_pass(folder, backbone, cache, monkeypatch):
    first = run(folder, backbone, cache)
    assert len(shards(cache)) == 3  # 8 images in batches of 3

    def no_loader(*args, **kwargs):
        raise AssertionError("a DataLoader was built although every vector is cached")

    monkeypatch.setattr(pipeline, "DataLoader", no_loader)
    with ForwardCounter(backbone) as counter:
        second = run(folder, backbone, cache)
    assert counter.calls == 0
    assert (second.computed, second.from_cache) == (0, 8)
    assert second.paths == first.paths
    np.testing.assert_array_equal(second.vectors, first.vectors)
    assert "8 images (8 from cache, 0 embedded)" in second.summary()
    assert len(shards(cache)) == 3  # nothing written


def test_only_new_and_edited_files_are_embedded_and_renames_hit(folder, backbone, cache):
    run(folder, backbone, cache)
    drawn(7).save(folder / "new.png")
    with ForwardCounter(backbone) as counter:
        added = run(folder, backbone, cache)
    assert (added.computed, added.from_cache, counter.calls) == (1, 8, 1)

    im = Image.open(folder / "coffee.jpg")
    im.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(folder / "coffee.jpg")  # same name, new content
    edited = run(folder, backbone, cache)
    assert (edited.computed, edited.from_cache) == (1, 8)
    assert_same(edited.vectors, embed(backbone, edited.paths))

    (folder / "rocket.jpg").rename(folder / "more" / "launch.jpg")  # renamed and moved
    (folder / "more" / "copy.png").write_bytes((folder / "new.png").read_bytes())  # an identical copy
    with ForwardCounter(backbone) as counter:
        moved = run(folder, backbone, cache)
    assert counter.calls == 0
    assert (moved.computed, moved.from_cache) == (0, 10)
    row = {p.name: v for p, v in zip(moved.paths, moved.vectors, strict=True)}
    np.testing.assert_array_equal(row["copy.png"], row["new.png"])


def test_identical_files_are_embedded_once(tmp_path, backbone, cache):
    for name in ("a.png", "b.png", "c.png"):
        drawn(3).save(tmp_path / name)
    with ForwardCounter(backbone) as counter:
        c = run(tmp_path, backbone, cache)
    assert counter.calls == 1 and c.computed == 3 and c.vectors.shape == (3, 1280)
    assert c.vectors[0].tobytes() == c.vectors[2].tobytes()


@pytest.mark.parametrize("variant", [
    {"stage": "stage4"},
    {"pool": "max"},
    {"mask_method": "grabcut"},
    {"weights": None},
])
def test_other_configurations_do_not_reuse_entries(folder, backbone, cache, variant):
    base = run(folder, backbone, cache)
    kw = dict(variant)
    other_backbone = backbone
    if "weights" in kw:
        torch.manual_seed(0)
        other_backbone = load_backbone("mobilenet_v2", weights=kw.pop("weights"))
    other = run(folder, other_backbone, cache, **kw)
    assert (other.computed, other.from_cache) == (len(other.paths), 0)
    assert other.cache_dir != base.cache_dir
    again = run(folder, other_backbone, cache, **kw)  # each configuration finds its own entries
    assert (again.computed, again.from_cache) == (0, len(other.paths))
    np.testing.assert_array_equal(again.vectors, other.vectors)
    assert run(folder, backbone, cache).from_cache == 8


def test_config_json_says_what_the_vectors_are(folder, backbone, cache):
    c = run(folder, backbone, cache, stage="stage3", pool="max")
    text = (c.cache_dir / "config.json").read_text()
    for word in ('"mobilenet_v2"', '"stage3"', '"max"', '"IMAGENET1K_V1"', '"crop_size"',
                 engines.weights_fingerprint(backbone.model)):
        assert word in text
    assert c.config["stage"] == "stage3" and c.cache_dir.name.startswith("mobilenet_v2-stage3-max-")


def test_a_damaged_shard_is_skipped_with_a_warning_and_embedded_again(folder, backbone, cache):
    first = run(folder, backbone, cache)
    victim = shards(cache)[1]
    victim.write_bytes(os.urandom(300))
    with pytest.warns(UserWarning, match="damaged cache file"):
        second = run(folder, backbone, cache)
    assert (second.computed, second.from_cache) == (3, 5)
    np.testing.assert_allclose(second.vectors, first.vectors, atol=1e-6)
    assert not victim.exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert run(folder, backbone, cache).from_cache == 8  # repaired: no warning any more


@pytest.mark.filterwarnings("error::ResourceWarning")  # an unclosed file, raised when it is collected
@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")  # ... and reported here
def test_a_shard_cut_short_is_recomputed_and_its_file_closed(folder, backbone, cache):
    first = run(folder, backbone, cache)
    victim = shards(cache)[0]
    victim.write_bytes(victim.read_bytes()[:200])  # a zip archive cut short, as by a full disk
    with pytest.warns(UserWarning, match="damaged cache file"):
        second = run(folder, backbone, cache)
    gc.collect()  # np.load left the file it opened itself open here: that warns now, as an error
    assert second.computed > 0 and second.computed + second.from_cache == 8
    np.testing.assert_allclose(second.vectors, first.vectors, atol=1e-6)


def test_a_shard_of_the_wrong_shape_counts_as_damaged(folder, backbone, cache):
    c = run(folder, backbone, cache)
    np.savez(c.cache_dir / "shard-0-wrong.npz", hashes=np.array(["x" * 64]), vectors=np.ones((1, 7), "f4"))
    with pytest.warns(UserWarning, match="shard-0-wrong.npz: damaged"):
        assert run(folder, backbone, cache).from_cache == 8


def test_temporary_files_are_never_read_and_old_ones_removed(folder, backbone, cache):
    c = run(folder, backbone, cache)
    fresh, stale = c.cache_dir / ".tmp-fresh.part", c.cache_dir / ".tmp-stale.part"
    for tmp in (fresh, stale):
        tmp.write_bytes(b"PK\x03\x04 half a zip")  # as left by a run killed while writing
    old = time.time() - simlab.cache.STALE_TEMP_S - 60
    os.utime(stale, (old, old))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = run(folder, backbone, cache)
    assert (again.computed, again.from_cache) == (0, 8)
    assert fresh.exists() and not stale.exists()  # a fresh one may belong to a run still writing


def test_many_shards_are_merged_into_one(folder, backbone, cache, monkeypatch):
    first = run(folder, backbone, cache, batch_size=1)
    assert len(shards(cache)) == 8
    monkeypatch.setattr(simlab.cache, "COMPACT_ABOVE", 4)
    second = run(folder, backbone, cache)
    assert len(shards(cache)) == 1 and second.from_cache == 8
    third = run(folder, backbone, cache)
    assert third.from_cache == 8
    np.testing.assert_array_equal(third.vectors, first.vectors)


# --- unreadable files -----------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [None, 0, 2])
def test_unreadable_files_are_reported_not_fatal(folder, backbone, cache, workers):
    (folder / "bad.jpg").write_text("this is a text file, not a photo")
    (folder / "zero.png").write_bytes(b"")
    data = (folder / "coffee.jpg").read_bytes()
    (folder / "more" / "truncated.jpg").write_bytes(data[: len(data) // 2])
    with pytest.warns(UnreadableFilesWarning, match=r"3 of 11 files could not be embedded") as record:
        c = run(folder, backbone, cache, num_workers=workers, batch_size=2)
    assert issubclass(record[0].category, UserWarning)  # shown by default
    message = str(record[0].message)
    assert "bad.jpg" in message and "zero.png" in message and "truncated.jpg" in message
    reasons = {p.name: r for p, r in c.failed}
    assert set(reasons) == {"bad.jpg", "zero.png", "truncated.jpg"}
    assert "not an image file" in reasons["bad.jpg"]
    assert "empty (0 bytes)" in reasons["zero.png"]
    assert "truncated" in reasons["truncated.jpg"]
    assert len(c.paths) == 8 and not set(reasons) & {p.name for p in c.paths}
    assert_same(c.vectors, embed(backbone, c.paths))
    assert "3 unreadable: bad.jpg" in c.summary()


def test_missing_files_in_a_list_are_reported(folder, backbone, cache):
    paths = image_files(folder)[:2] + [folder / "gone.jpg", folder / "more"]
    with pytest.warns(UserWarning, match="2 of 4"):
        c = run(paths, backbone, cache)
    assert [p.name for p in c.paths] == [p.name for p in paths[:2]]
    assert [r for _, r in c.failed] == [f"{folder / 'gone.jpg'}: no such file",
                                        f"{folder / 'more'}: is a directory, not an image file"]


# --- kill and resume --------------------------------------------------------------------------------

SLOW_RUN = """
import sys, time
from simlab.backbones import load_backbone
from simlab.collection import embed_folder

backbone = load_backbone()
backbone.model.features[0].register_forward_hook(lambda *args: time.sleep(0.3))  # a slow network
embed_folder(sys.argv[1], backbone, cache_dir=sys.argv[2], batch_size=2, num_workers=0, progress=False)
print("finished")
"""


def log_text(tmp_path) -> str:
    return (tmp_path / "slow_run.log").read_text(errors="replace")


@pytest.mark.slow
def test_a_killed_run_keeps_its_batches_and_the_next_run_resumes(tmp_path, backbone):
    folder, cache = tmp_path / "many", tmp_path / "cache"
    folder.mkdir()
    for i in range(12):  # six batches of two: killed after the second, resumed from there
        drawn(100 + i).save(folder / f"img{i:02d}.png")
    script = tmp_path / "slow_run.py"
    script.write_text(textwrap.dedent(SLOW_RUN))
    env = dict(os.environ, PYTHONPATH=str(Path(simlab.__file__).parent.parent))
    log = open(tmp_path / "slow_run.log", "wb")  # a file, not a pipe: a full pipe would block the run
    proc = subprocess.Popen([sys.executable, str(script), str(folder), str(cache)], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while len(shards(cache)) < 2:
            assert proc.poll() is None, f"the run ended before it was killed: {log_text(tmp_path)}"
            assert time.monotonic() < deadline, "no shard was written within 120 s"
            time.sleep(0.05)
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        log.close()
    assert proc.returncode != 0  # killed mid-run, not finished
    written = len(shards(cache))
    assert 2 <= written < 6
    (shards(cache)[0].parent / ".tmp-cut.part").write_bytes(b"PK\x03\x04 cut short")

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no damaged shard, no temporary file read
        resumed = embed_folder(folder, backbone, cache_dir=cache, batch_size=4, num_workers=0,
                               progress=False)
    assert resumed.from_cache >= 2 * 2 and resumed.from_cache == 2 * written
    assert resumed.computed == 12 - resumed.from_cache
    clean = embed_folder(folder, backbone, cache_dir=None, batch_size=4, num_workers=0, progress=False)
    assert_same(resumed.vectors, clean.vectors)


# --- subject masks ------------------------------------------------------------------------------------


def test_grabcut_vectors_equal_masked_embed(folder, backbone, cache):
    paths = [p for p in image_files(folder) if p.stem in ("chelsea", "coffee", "rocket")]
    c = run(paths, backbone, cache, mask_method="grabcut", batch_size=2)
    assert c.paths == paths and c.failed == []
    masks = [segment_subject(p, "grabcut") for p in paths]
    assert_same(c.vectors, embed(backbone, paths, masks=masks))
    assert np.abs(c.vectors - embed(backbone, paths)).max() > 0.05  # the mask changed something


def test_an_empty_subject_is_a_failed_file_not_nan(folder, backbone, cache, monkeypatch):
    def fake_segment(image, method):
        h, w = np.asarray(image).shape[:2]
        mask = np.zeros((h, w), bool)
        if w == 64:  # the drawn images: drawn0 has no subject, drawn1 one outside the centre crop
            if image.getpixel((0, 0)) == drawn(1).getpixel((0, 0)):
                mask[:, :2] = True
        else:
            mask[h // 4: 3 * h // 4, w // 4: 3 * w // 4] = True
        return mask

    monkeypatch.setattr(collection.subject, "segment_subject", fake_segment)
    with pytest.warns(UserWarning, match="2 of 8"):
        c = run(folder, backbone, cache, mask_method="person")
    reasons = {p.name: r for p, r in c.failed}
    assert "found no subject" in reasons["drawn0.png"]
    assert "outside the centre crop" in reasons["drawn1.bmp"]
    assert len(c.paths) == 6 and np.isfinite(c.vectors).all()


# --- scheduling: decoding threads by default, worker processes when asked ------------------------


class Spy:
    """Records every worker process started (DataLoader workers are multiprocessing processes) and
    the thread that decoded each photo."""

    def __init__(self, monkeypatch):
        import multiprocessing.process
        import threading

        self.processes, self.decoded_in = [], []
        start, item = multiprocessing.process.BaseProcess.start, pipeline.PhotoDataset.__getitem__

        def counted_start(process):
            self.processes.append(process)
            return start(process)

        def named_item(images, i):
            self.decoded_in.append(threading.current_thread().name)
            return item(images, i)

        monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", counted_start)
        monkeypatch.setattr(pipeline.PhotoDataset, "__getitem__", named_item)


@pytest.fixture
def jpegs_of_several_sizes(tmp_path) -> list[Path]:
    """Seven JPEGs: the kit's photos at 160 px, at 1024 x 768 (web size) and at 2400 x 1800
    (decoded at a reduced scale by default), and a greyscale one."""
    found = samples()
    paths = []
    sizes = [("chelsea", (160, 120)), ("coffee", (1024, 768)), ("rocket", (768, 1024)),
             ("astronaut", (2400, 1800)), ("motorcycle_left", (1800, 2400)), ("flower", (1024, 768)),
             ("brick", (2400, 1800))]
    for i, (name, size) in enumerate(sizes):
        im = Image.open(found[name]).convert("L" if name == "brick" else "RGB").resize(size)
        paths.append(tmp_path / f"{i}-{name}.jpg")
        im.save(paths[-1], quality=90)
    return paths


@pytest.mark.parametrize("engine", ["onnx", "torch"])
def test_threads_give_the_vectors_of_embed_for_jpegs_of_several_sizes(
        jpegs_of_several_sizes, backbone, engine, monkeypatch):
    spy = Spy(monkeypatch)
    paths = jpegs_of_several_sizes
    full = embed_folder(paths, backbone, cache_dir=None, batch_size=2, progress=False, engine=engine,
                        jpeg_draft=False)  # 4 batches on the threads
    assert full.paths == paths and not full.failed
    assert_same(full.vectors, embed(backbone, paths), atol=1e-4)
    drafted = embed_folder(paths, backbone, cache_dir=None, batch_size=3, progress=False, engine=engine)
    one_by_one = embed_folder(paths, backbone, cache_dir=None, batch_size=3, progress=False, engine=engine,
                              num_workers=0)  # the same decoding, in this thread
    assert_same(drafted.vectors, one_by_one.vectors, atol=1e-4)
    assert not spy.processes  # threads, not processes
    assert all(n.startswith("simlab-embed") for n in spy.decoded_in[:2 * len(paths)])
    assert spy.decoded_in[-len(paths):] == ["MainThread"] * len(paths)  # num_workers=0


def test_threads_on_a_fresh_backbone_trace_it_safely_and_agree_with_embed(folder, monkeypatch):
    torch.manual_seed(1)
    fresh = load_backbone("mobilenet_v2", weights=None)  # nothing traced yet: the first batch traces
    spy = Spy(monkeypatch)
    c = embed_folder(folder, fresh, cache_dir=None, batch_size=1, progress=False, engine="torch")
    assert len(spy.decoded_in) == 8 and all(n.startswith("simlab-embed") for n in spy.decoded_in)
    np.testing.assert_allclose(c.vectors, embed(fresh, c.paths, engine="torch"), rtol=1e-4, atol=1e-5)


def test_even_batches_cover_every_photo_once_one_batch_per_thread_at_least():
    assert pipeline._even_batches(16, 16, 2) == [range(0, 8), range(8, 16)]
    assert pipeline._even_batches(1, 16, 2) == [range(0, 1)]
    for n in range(1, 200, 7):
        for batch_size, threads in ((16, 2), (5, 3), (1, 2), (32, 8)):
            batches = pipeline._even_batches(n, batch_size, threads)
            assert [i for b in batches for i in b] == list(range(n))
            assert max(map(len, batches)) <= batch_size
            assert len(batches) % threads == 0 or len(batches) == n  # every thread gets as many
            assert max(map(len, batches)) - min(map(len, batches)) <= 1


def test_small_and_large_folders_start_no_worker_process_by_default(folder, backbone, monkeypatch):
    spy = Spy(monkeypatch)
    one_batch = embed_folder(folder, backbone, cache_dir=None, progress=False)  # 8 photos, batch 16
    several = embed_folder(folder, backbone, cache_dir=None, batch_size=2, progress=False)
    assert spy.processes == []
    assert len(spy.decoded_in) == 16 and all(n.startswith("simlab-embed") for n in spy.decoded_in)
    np.testing.assert_allclose(several.vectors, one_batch.vectors, rtol=1e-4, atol=1e-5)


@pytest.mark.slow  # seconds: make test runs it, make check does not
def test_num_workers_is_honoured(folder, backbone, monkeypatch):
    spy = Spy(monkeypatch)
    run(folder, backbone, None, num_workers=0, batch_size=2)
    assert spy.processes == [] and spy.decoded_in == ["MainThread"] * 8
    c = run(folder, backbone, None, num_workers=2, batch_size=2)
    assert len(spy.processes) == 2 and len(spy.decoded_in) == 8  # decoded in the workers, not here
    assert_same(c.vectors, embed(backbone, c.paths))


def test_a_preprocessing_of_one_s_own_is_not_run_on_the_threads(folder, backbone, monkeypatch):
    import dataclasses

    from torchvision import transforms

    t = backbone.transform  # the same steps, as torchvision modules (they may not run while a thread traces)
    own = dataclasses.replace(backbone.without_cache(), transform=transforms.Compose([
        transforms.Resize(t.resize_size), transforms.CenterCrop(t.crop_size), transforms.ToTensor(),
        transforms.Normalize(t.mean, t.std)]))
    spy = Spy(monkeypatch)
    c = embed_folder(folder, own, cache_dir=None, progress=False)  # one batch: in this thread
    assert spy.decoded_in == ["MainThread"] * 8
    assert_same(c.vectors, embed(own, c.paths), atol=1e-4)


def test_a_run_that_fails_leaves_no_thread_behind(folder, backbone, monkeypatch):
    import threading

    calls = []

    def failing(embedder, images, pool="avg", *, subject_fraction=None):
        calls.append(len(images))
        raise RuntimeError("the forward pass failed")

    monkeypatch.setattr(Embedder, "__call__", failing)
    with pytest.raises(RuntimeError, match="the forward pass failed"):
        embed_folder(folder, backbone, cache_dir=None, batch_size=1, progress=False)
    assert 1 <= len(calls) <= pipeline.embedding_threads() + 1  # batches still queued were dropped
    assert not [t for t in threading.enumerate() if t.name.startswith("simlab-embed")]


def test_the_onnx_export_is_not_repeated_in_one_process_without_a_cache(folder, backbone, monkeypatch):
    registry.clear()  # as in a new process
    exports = []
    export = Embedder._export
    monkeypatch.setattr(Embedder, "_export", lambda self, size: exports.append(size) or export(self, size))
    first = embed_folder(folder, backbone, cache_dir=None, progress=False, engine="onnx")
    second = embed_folder(folder, backbone, cache_dir=None, batch_size=3, progress=False, engine="onnx")
    assert len(exports) == 1
    np.testing.assert_allclose(second.vectors, first.vectors, rtol=1e-4, atol=1e-5)


# --- clear errors -----------------------------------------------------------------------------------


def test_clear_errors(tmp_path, folder, backbone, monkeypatch):
    monkeypatch.setenv("SIMLAB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ValueError, match=r"nowhere: no such folder"):
        embed_folder(tmp_path / "nowhere", backbone)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no photos here")
    with pytest.raises(ValueError, match=r"no image files in .*empty"):
        embed_folder(tmp_path / "empty", backbone)
    with pytest.raises(ValueError, match="is a file, not a folder"):
        embed_folder(folder / "drawn1.bmp", backbone)
    with pytest.raises(ValueError, match="list of paths is empty"):
        embed_folder([], backbone)
    with pytest.raises(ValueError, match=r"pool='median': choose one of avg, max, gem"):
        embed_folder(folder, backbone, pool="median")
    with pytest.raises(ValueError, match=r"no stage 'stage9'; valid stages: stage1, .*stage5"):
        embed_folder(folder, backbone, stage="stage9")
    with pytest.raises(ValueError, match=r"mask_method='magic'.*grabcut"):
        embed_folder(folder, backbone, mask_method="magic")
    with pytest.raises(ValueError, match=r"pool='max' with mask_method='grabcut'"):
        embed_folder(folder, backbone, pool="max", mask_method="grabcut")
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match=rf"batch_size must be a whole number >= 1, got {bad!r}"):
            embed_folder(folder, backbone, batch_size=bad)
    with pytest.raises(ValueError, match="num_workers must be a whole number >= 0, got -1"):
        embed_folder(folder, backbone, num_workers=-1)
    with pytest.raises(ValueError, match="unknown backbone 'alexnet'"):
        embed_folder(folder, "alexnet")


@pytest.mark.skipif(not onnx_available(), reason="needs ONNX Runtime")
def test_the_onnx_graph_is_kept_once_in_the_cache_folder_s_onnx_folder(tmp_path, folder, backbone):
    registry.clear()  # as in a new process: the graph is exported and written
    embed_folder(folder, backbone, cache_dir=tmp_path, engine="onnx", progress=False)
    graphs = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.onnx"))
    assert len(graphs) == 1 and graphs[0].startswith("onnx/") and graphs[0].count("/") == 1, graphs

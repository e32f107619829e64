"""Reduced-size JPEG decoding (load_image(reduce_to=), embed_folder(jpeg_draft=)) and the engine
choice of embed_folder: what changes the vectors is in the cache key, what does not is not."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from simlab import load_backbone, load_image, registry
from simlab.collection import embed_folder
from simlab.kit import samples


@pytest.fixture(scope="module")
def backbone():
    return load_backbone()


@pytest.fixture(scope="module")
def large_jpeg(tmp_path_factory):
    """The kit's cat upscaled to 2048 x 1362 pixels (2.8 MP), as a camera JPEG."""
    path = tmp_path_factory.mktemp("large") / "chelsea_large.jpg"
    im = Image.open(samples()["chelsea"]).convert("RGB")
    im.resize((2048, round(2048 * im.height / im.width)), Image.Resampling.LANCZOS).save(path, quality=92)
    return path


def test_a_large_jpeg_is_decoded_at_the_smallest_scale_that_covers(large_jpeg):
    assert load_image(large_jpeg).size == (2048, 1362)
    assert load_image(large_jpeg, reduce_to=256).size == (512, 341)  # 1/4: 1/8 would be 170 < 256
    assert load_image(large_jpeg, reduce_to=512).size == (1024, 681)  # 1/2
    assert load_image(large_jpeg, reduce_to=700).size == (2048, 1362)  # under twice: in full


def test_small_jpegs_and_other_formats_are_decoded_in_full(tmp_path, large_jpeg):
    small = samples()["coffee"]  # 600 x 400: less than twice 256
    assert load_image(small, reduce_to=256).size == load_image(small).size
    png = tmp_path / "large.png"
    Image.open(large_jpeg).save(png)
    assert load_image(png, reduce_to=256).size == (2048, 1362)
    with pytest.raises(ValueError, match="reduce_to=0"):
        load_image(large_jpeg, reduce_to=0)


def test_a_reduced_decode_is_still_upright(tmp_path, large_jpeg):
    sideways = tmp_path / "sideways.jpg"
    im = Image.open(large_jpeg)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view"
    im.save(sideways, exif=exif, quality=92)
    assert load_image(sideways).size == (1362, 2048)
    assert load_image(sideways, reduce_to=256).size == (341, 512)


def test_jpeg_draft_changes_only_large_photos_and_is_part_of_the_cache_key(tmp_path, backbone,
                                                                           large_jpeg):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "large.jpg").write_bytes(large_jpeg.read_bytes())
    (folder / "small.jpg").write_bytes(samples()["coffee"].read_bytes())
    kw = {"cache_dir": tmp_path / "cache", "num_workers": 0, "progress": False}
    drafted = embed_folder(folder, backbone, **kw)  # the default: jpeg_draft=True
    full = embed_folder(folder, backbone, jpeg_draft=False, **kw)
    assert full.computed == 2 and full.cache_dir != drafted.cache_dir
    assert drafted.config["preprocess"]["jpeg_draft"] == 512
    assert full.config["preprocess"]["jpeg_draft"] is None
    np.testing.assert_array_equal(drafted.vectors[1], full.vectors[1])  # small: decoded the same way
    a, b = drafted.vectors[0], full.vectors[0]
    cosine = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    assert 0.995 < cosine < 1.0  # a different decode, the same picture
    assert embed_folder(folder, backbone, jpeg_draft=False, **kw).from_cache == 2


def test_the_engine_is_not_part_of_the_cache_key(tmp_path, backbone, monkeypatch):
    registry.clear()  # as a new process: export or load the graph
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("chelsea", "rocket", "brick"):
        (folder / f"{name}.jpg").write_bytes(samples()[name].read_bytes())
    kw = {"cache_dir": tmp_path / "cache", "num_workers": 0, "progress": False}
    fast = embed_folder(folder, backbone, engine="onnx", **kw)
    assert (tmp_path / "cache" / "onnx").is_dir()  # the exported graph lives beside the vectors
    again = embed_folder(folder, backbone, engine="torch", **kw)
    assert (again.computed, again.from_cache) == (0, 3)  # both engines give the same vectors
    eager = embed_folder(folder, backbone, engine="torch", cache_dir=None, num_workers=0, progress=False)
    np.testing.assert_allclose(fast.vectors, eager.vectors, rtol=0, atol=1e-4)
    with pytest.raises(ValueError, match="engine='gpu'"):
        embed_folder(folder, backbone, engine="gpu")


def test_embedding_threads_one_per_core():
    from simlab.pipeline import embedding_threads

    assert embedding_threads(1) == 1 and embedding_threads(4) == 4
    assert embedding_threads() >= 1


def test_the_thread_split_uses_every_core_once():
    from simlab.pipeline import thread_split

    assert thread_split(1) == (0, 1)  # one core: decode in this process
    for cores in (2, 3, 4, 8, 16):
        workers, threads = thread_split(cores)
        assert workers >= 1 and threads >= 1 and workers + threads == cores

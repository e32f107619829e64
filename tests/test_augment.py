"""Planted near-duplicates: what the copies are, where they go, what is refused."""

import numpy as np
import pytest
from PIL import Image

from simlab.augment import ALTERATIONS, alter, plant_duplicates
from simlab.images import load_image
from simlab.kit import samples


@pytest.fixture(scope="module")
def photo():
    return load_image(samples()["chelsea"])


def test_flip_is_a_mirror_image(photo):
    flipped = np.asarray(alter(photo, "flip"))
    assert np.array_equal(flipped, np.asarray(photo)[:, ::-1])


def test_crop_keeps_70_to_85_percent_of_each_side_and_is_repeatable(photo):
    a, b = alter(photo, "crop", seed=3), alter(photo, "crop", seed=3)
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert 0.70 * photo.width - 1 <= a.width <= 0.85 * photo.width
    assert 0.70 * photo.height - 1 <= a.height <= 0.85 * photo.height
    assert not np.array_equal(np.asarray(alter(photo, "crop", seed=4)), np.asarray(a))  # another seed


def test_colour_changes_colours_not_geometry(photo):
    c = alter(photo, "colour")
    assert c.size == photo.size
    diff = np.abs(np.asarray(c, dtype=float) - np.asarray(photo, dtype=float)).mean()
    assert diff > 10  # a visible change, in grey levels


def test_plant_duplicates_writes_originals_and_copies(tmp_path):
    photos = {k: v for k, v in samples().items() if k in ("coffee", "rocket")}
    planted = plant_duplicates(photos, tmp_path / "album")
    assert len(planted) == 2 * len(ALTERATIONS)
    names = sorted(p.name for p in (tmp_path / "album").iterdir())
    copies = [f"{n}__{k}.jpg" for n in photos for k in ALTERATIONS]
    assert names == sorted([f"{n}.jpg" for n in photos] + copies)
    for original, copy in planted:
        assert copy.stem.split("__")[0] == original.stem
        with Image.open(copy) as im:
            assert im.format == "JPEG"
    small = tmp_path / "album" / "coffee__recompress.jpg"
    assert small.stat().st_size < (tmp_path / "album" / "coffee.jpg").stat().st_size / 5


def test_unknown_kind_and_duplicate_names_are_refused(tmp_path, photo):
    with pytest.raises(ValueError, match="unknown alteration 'blur'.*crop, flip"):
        alter(photo, "blur")
    with pytest.raises(ValueError, match="unknown alteration"):
        plant_duplicates(samples(), tmp_path, kinds=("crop", "rotate"))
    a, b = tmp_path / "x" / "cat.png", tmp_path / "y" / "cat.png"
    for p in (a, b):
        p.parent.mkdir()
        photo.save(p)
    with pytest.raises(ValueError, match="same file name"):
        plant_duplicates([a, b], tmp_path / "out")

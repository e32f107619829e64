"""Tests of simlab.hashes on the kit's photos: format, near-duplicates, and errors."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from simlab.hashes import HASH_METHODS, hash_bits
from simlab.images import ImageError, load_image
from simlab.kit import samples
from simlab.metrics import hamming_distance

METHODS = sorted(HASH_METHODS)


@pytest.fixture(scope="module")
def photos() -> dict[str, Image.Image]:
    paths = samples()
    return {
        name: load_image(paths[name])
        for name in ("motorcycle_left", "motorcycle_right", "chelsea", "coffee")
    }


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("hash_size", [4, 8, 16])
def test_length_and_alphabet(photos, method, hash_size):
    bits = hash_bits(photos["chelsea"], method=method, hash_size=hash_size)
    assert isinstance(bits, str)
    assert len(bits) == hash_size**2
    assert set(bits) <= {"0", "1"}
    assert "0" in bits and "1" in bits  # a real photo does not hash to a constant


def test_accepts_what_load_image_accepts(photos):
    path = samples()["coffee"]
    expected = hash_bits(photos["coffee"])
    assert hash_bits(path) == expected
    assert hash_bits(str(path)) == expected
    assert hash_bits(np.asarray(photos["coffee"])) == expected


@pytest.mark.parametrize("method", METHODS)
def test_two_views_of_the_motorcycle_are_closer_than_motorcycle_and_coffee(photos, method):
    h = {name: hash_bits(im, method=method) for name, im in photos.items()}
    views = hamming_distance(h["motorcycle_left"], h["motorcycle_right"])
    unrelated = hamming_distance(h["motorcycle_left"], h["coffee"])
    assert views < unrelated


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", ["motorcycle_left", "chelsea", "coffee"])
def test_recompressed_or_resized_copies_stay_close(photos, method, name):
    image = photos[name]
    original = hash_bits(image, method=method)
    w, h = image.size
    copies = {
        "JPEG quality 30": _jpeg(image, 30),
        "resized to 80%": image.resize((w * 4 // 5, h * 4 // 5), Image.Resampling.BILINEAR),
        "resized to 50%": image.resize((w // 2, h // 2), Image.Resampling.LANCZOS),
    }
    for what, copy in copies.items():
        assert hamming_distance(original, hash_bits(copy, method=method)) <= 4, what  # of 64 bits


def test_unknown_method_lists_valid_ones(photos):
    with pytest.raises(
        ValueError, match="unknown hash method 'md5'; choose one of phash, dhash, ahash, whash"
    ):
        hash_bits(photos["coffee"], method="md5")


@pytest.mark.parametrize("hash_size", [1, 0, 2.5, True])
def test_bad_hash_size(photos, hash_size):
    with pytest.raises(ValueError, match="hash_size must be a whole number >= 2"):
        hash_bits(photos["coffee"], hash_size=hash_size)


def test_whash_needs_power_of_two(photos):
    with pytest.raises(ValueError, match="power of 2.*got 6"):
        hash_bits(photos["coffee"], method="whash", hash_size=6)
    assert len(hash_bits(photos["coffee"], method="phash", hash_size=6)) == 36


def test_bad_image_raises_image_error(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        hash_bits(tmp_path / "missing.jpg")

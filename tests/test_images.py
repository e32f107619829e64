"""load_image: every kind of input a student may pass comes out as upright RGB, or fails with a
message that names the file (or array) and the reason."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from simlab.images import ImageError, load_image
from simlab.kit import ASSETS, RELATIONS, hand_drawn_masks, labelled_pairs, samples

ORIENTATION = 0x0112  # EXIF tag


def rgb(im: Image.Image) -> np.ndarray:
    assert isinstance(im, Image.Image)
    assert im.mode == "RGB"
    return np.asarray(im).astype(int)


def refused(source, *words: str) -> str:
    """Assert load_image refuses ``source`` with an ImageError mentioning all ``words``."""
    with pytest.raises(ImageError) as info:
        load_image(source)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    return message


# --- files of every mode -------------------------------------------------------------------


def test_rgb_file_round_trips(tmp_path):
    path = tmp_path / "plain.png"
    Image.new("RGB", (6, 4), (10, 20, 30)).save(path)
    out = load_image(path)
    assert out.size == (6, 4)
    assert (rgb(out) == [10, 20, 30]).all()
    assert load_image(str(path)).size == (6, 4)  # a str path works as well as a Path


def test_grayscale_file(tmp_path):
    path = tmp_path / "gray.png"
    im = Image.new("L", (5, 3), 77)
    im.putpixel((0, 0), 200)
    im.save(path)
    out = rgb(load_image(path))
    assert out.shape == (3, 5, 3)
    assert (out[0, 0] == 200).all()
    assert (out[2, 4] == 77).all()


def test_rgba_transparent_pixels_become_white(tmp_path):
    path = tmp_path / "rgba.png"
    im = Image.new("RGBA", (4, 4), (0, 0, 0, 0))  # fully transparent black
    im.putpixel((1, 1), (200, 10, 20, 255))  # one opaque red pixel
    im.putpixel((2, 2), (0, 0, 0, 128))  # half-transparent black: mid grey on white
    im.save(path)
    out = rgb(load_image(path))
    assert (out[0, 0] == 255).all()
    assert list(out[1, 1]) == [200, 10, 20]
    assert np.all(np.abs(out[2, 2] - 127) <= 2)


def test_la_transparent_pixels_become_white(tmp_path):
    path = tmp_path / "la.png"
    Image.new("LA", (3, 3), (0, 0)).save(path)
    assert (rgb(load_image(path)) == 255).all()


def _palette_image() -> Image.Image:
    im = Image.new("P", (4, 4), 0)
    im.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 9))
    im.putpixel((1, 0), 1)  # red
    im.putpixel((2, 0), 2)  # blue
    return im


def test_palette_without_transparency(tmp_path):
    path = tmp_path / "palette.png"
    _palette_image().save(path)
    assert Image.open(path).mode == "P"
    out = rgb(load_image(path))
    assert list(out[0, 0]) == [0, 0, 0]  # index 0 is black, not transparent
    assert list(out[0, 1]) == [255, 0, 0]
    assert list(out[0, 2]) == [0, 0, 255]


def test_palette_with_transparency(tmp_path):
    path = tmp_path / "palette_t.png"
    _palette_image().save(path, transparency=0)  # index 0 (black) is transparent
    with Image.open(path) as check:
        assert check.mode == "P" and "transparency" in check.info
    out = rgb(load_image(path))
    assert list(out[0, 0]) == [255, 255, 255]
    assert list(out[3, 3]) == [255, 255, 255]
    assert list(out[0, 1]) == [255, 0, 0]
    assert list(out[0, 2]) == [0, 0, 255]


def test_16bit_png_is_scaled_not_clipped(tmp_path):
    path = tmp_path / "deep.png"
    a = np.zeros((2, 3), dtype=np.uint16)
    a[0] = [0, 32768, 65535]
    a[1] = [16384, 49152, 200]
    Image.fromarray(a).save(path)
    with Image.open(path) as check:
        assert check.mode.startswith("I")  # really a 16-bit file
    out = rgb(load_image(path))
    grey = out[..., 0]
    assert (out == grey[..., None]).all()
    assert grey[0, 0] == 0
    assert abs(grey[0, 1] - 128) <= 1  # mid grey, not clipped to 255
    assert grey[0, 2] == 255
    assert abs(grey[1, 0] - 64) <= 1
    assert abs(grey[1, 1] - 191) <= 1
    assert grey[1, 2] <= 1  # 200 of 65535 is almost black


def test_cmyk_jpeg_keeps_its_colour(tmp_path):
    path = tmp_path / "cmyk.jpg"
    colour = (200, 40, 60)
    Image.new("RGB", (32, 32), colour).convert("CMYK").save(path, quality=95)
    with Image.open(path) as check:
        assert check.mode == "CMYK"
    out = rgb(load_image(path))
    assert np.abs(out[16, 16] - colour).max() <= 12


def _landscape_with_marked_corner() -> Image.Image:
    """A 60x30 (wide) black picture with a red block in its top-left corner."""
    im = Image.new("RGB", (60, 30), (0, 0, 0))
    im.paste((255, 0, 0), (0, 0, 12, 6))
    return im


def _is_red(pixel) -> bool:
    return pixel[0] > 200 and pixel[1] < 60 and pixel[2] < 60


@pytest.mark.parametrize(
    ("orientation", "red_corner"),
    [
        (6, "top-right"),  # camera turned clockwise: stored top-left is displayed top-right
        (8, "bottom-left"),  # camera turned anticlockwise: stored top-left is displayed bottom-left
    ],
)
def test_exif_rotated_jpeg_comes_out_upright(tmp_path, orientation, red_corner):
    path = tmp_path / f"rotated{orientation}.jpg"
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    _landscape_with_marked_corner().save(path, exif=exif, quality=95)
    with Image.open(path) as check:
        assert check.size == (60, 30) and check.getexif()[ORIENTATION] == orientation

    out = load_image(path)
    assert out.size == (30, 60)  # portrait: width 30, height 60
    a = rgb(out)
    corners = {
        "top-left": a[2, 2],
        "top-right": a[2, -3],
        "bottom-left": a[-3, 2],
        "bottom-right": a[-3, -3],
    }
    assert [name for name, px in corners.items() if _is_red(px)] == [red_corner]


def test_exif_orientation_applied_to_pil_image_too(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    _landscape_with_marked_corner().save(path, exif=exif, quality=95)
    with Image.open(path) as im:
        out = load_image(im)
    assert out.size == (30, 60)
    assert _is_red(rgb(out)[2, -3])


# --- iPhone photos (HEIC/HEIF) ----------------------------------------------------------------


def _heic(path, image, **options):
    """Write ``image`` as HEIC with pillow-heif's own encoder (what an iPhone writes)."""
    import pillow_heif

    pillow_heif.from_pillow(image).save(path, quality=95, **options)


def test_heic_photo_loads_like_the_jpeg_of_it(tmp_path):
    photo = load_image(samples()["chelsea"])
    _heic(tmp_path / "IMG_0001.HEIC", photo)
    out = load_image(tmp_path / "IMG_0001.HEIC")
    assert out.size == photo.size
    assert np.abs(rgb(out) - rgb(photo)).mean() < 4  # lossy, like a JPEG of it


@pytest.mark.parametrize(("orientation", "red_corner"), [(6, "top-right"), (8, "bottom-left")])
def test_heic_taken_sideways_comes_out_upright_like_the_jpeg(tmp_path, orientation, red_corner):
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    _heic(tmp_path / "sideways.heic", _landscape_with_marked_corner(), exif=exif.tobytes())
    out = load_image(tmp_path / "sideways.heic")
    assert out.size == (30, 60)
    a = rgb(out)
    corners = {"top-right": a[2, -3], "bottom-left": a[-3, 2], "top-left": a[2, 2]}
    assert [name for name, px in corners.items() if _is_red(px)] == [red_corner]


def test_a_damaged_heic_names_the_file(tmp_path):
    _heic(tmp_path / "photo.heic", load_image(samples()["coffee"]))
    data = (tmp_path / "photo.heic").read_bytes()
    (tmp_path / "cut.heic").write_bytes(data[: len(data) // 3])
    refused(tmp_path / "cut.heic", "cut.heic")


# --- arrays ---------------------------------------------------------------------------------


def test_array_gray_uint8():
    a = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    out = rgb(load_image(a))
    assert out.shape == (3, 4, 3)
    assert (out == a[..., None]).all()


def test_array_rgb_uint8():
    a = np.zeros((3, 4, 3), dtype=np.uint8)
    a[1, 2] = [1, 2, 3]
    out = rgb(load_image(a))
    assert out.shape == (3, 4, 3)
    assert (out == a).all()


def test_array_rgba_uint8_composited_on_white():
    a = np.zeros((2, 2, 4), dtype=np.uint8)
    a[0, 0] = [10, 20, 30, 255]  # opaque
    # the rest is transparent black
    out = rgb(load_image(a))
    assert list(out[0, 0]) == [10, 20, 30]
    assert list(out[1, 1]) == [255, 255, 255]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_array_float_in_unit_range(dtype):
    a = np.array([[0.0, 0.5, 1.0]], dtype=dtype)
    out = rgb(load_image(a))
    assert out.shape == (1, 3, 3)
    assert list(out[0, :, 0]) == [0, 128, 255]

    colour = np.zeros((2, 2, 3), dtype=dtype)
    colour[..., 0] = 1.0
    assert (rgb(load_image(colour)) == [255, 0, 0]).all()

    rgba = np.zeros((2, 2, 4), dtype=dtype)
    rgba[0, 0] = [0.0, 0.0, 1.0, 1.0]
    out = rgb(load_image(rgba))
    assert list(out[0, 0]) == [0, 0, 255]
    assert list(out[1, 1]) == [255, 255, 255]


def test_array_channels_first_is_refused_with_a_hint():
    message = refused(np.zeros((3, 20, 30), dtype=np.uint8), "channels-first", "(3, 20, 30)")
    assert "transpose(1, 2, 0)" in message


def test_array_wrong_dtype_is_refused():
    refused(np.zeros((4, 4, 3), dtype=np.int64), "int64", "uint8")


def test_array_float_out_of_range_is_refused():
    message = refused(np.full((4, 4, 3), 255.0), "[0, 1]")
    assert "255" in message  # says what it found


def test_array_nan_is_refused():
    a = np.zeros((4, 4), dtype=np.float32)
    a[1, 1] = np.nan
    refused(a, "NaN")


def test_array_wrong_shape_is_refused():
    refused(np.zeros((4, 4, 2), dtype=np.uint8), "(4, 4, 2)")
    refused(np.zeros((2, 4, 4, 3), dtype=np.uint8), "(2, 4, 4, 3)")


def test_other_types_are_refused():
    refused([[0, 1], [1, 0]], "list")


# --- bad files ------------------------------------------------------------------------------


def test_missing_path(tmp_path):
    refused(tmp_path / "nowhere.jpg", "nowhere.jpg", "no such file")


def test_directory(tmp_path):
    folder = tmp_path / "photos_dir"
    folder.mkdir()
    refused(folder, "photos_dir", "directory")


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    refused(path, "empty.jpg", "empty")


def test_truncated_jpeg(tmp_path):
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    whole = tmp_path / "whole.jpg"
    Image.fromarray(noise).save(whole, quality=90)
    data = whole.read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 2])
    assert load_image(whole).size == (64, 64)  # the whole file is fine
    refused(cut, "cut.jpg", "truncated")


def test_text_file_named_jpg(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a picture\n")
    refused(path, "notes.jpg", "not an image")


@pytest.fixture
def pixel_limit(monkeypatch):
    """Pillow's decompression-bomb limit at 1000 pixels: it warns above 1000, errors above 2000."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    return 1000


def test_image_under_pixel_limit_loads(tmp_path, pixel_limit):
    path = tmp_path / "small.png"
    Image.new("RGB", (30, 30)).save(path)  # 900 pixels
    assert load_image(path).size == (30, 30)


def test_decompression_bomb_warning_zone_is_refused(tmp_path, pixel_limit):
    path = tmp_path / "big.png"
    Image.new("RGB", (40, 30)).save(path)  # 1200 pixels: Pillow would only warn
    refused(path, "big.png", "decompression-bomb")


def test_decompression_bomb_error_zone_is_refused(tmp_path, pixel_limit):
    path = tmp_path / "huge.png"
    Image.new("RGB", (50, 50)).save(path)  # 2500 pixels: more than twice the limit
    refused(path, "huge.png", "decompression-bomb")


# --- the kit's photos -----------------------------------------------------------------------

EXPECTED_SAMPLES = {
    "astronaut", "chelsea", "coffee", "rocket", "motorcycle_left", "motorcycle_right",
    "brick", "grass", "gravel",
}


def test_samples_lists_the_kit_photos():
    found = samples()
    assert EXPECTED_SAMPLES <= set(found)
    assert list(found) == sorted(found)
    for name, path in found.items():
        assert path.is_file(), path
        assert path.stem == name


@pytest.mark.parametrize("name", sorted(EXPECTED_SAMPLES))
def test_each_sample_loads(name):
    im = load_image(samples()[name])
    assert im.mode == "RGB"
    assert min(im.size) >= 64
    assert np.asarray(im).std() > 5  # a real picture, not a blank


def test_labelled_pairs_use_the_kits_vocabulary():
    pairs = labelled_pairs()
    relations = [r for _, _, r in pairs]
    assert set(relations) == set(RELATIONS)
    for a, b, relation in pairs:
        assert a.is_file() and b.is_file()
        same_source = a.stem.split("__")[0] == b.stem.split("__")[0]
        assert (relation == "near_duplicate") == same_source, (a.name, b.name, relation)
    same_subject = {(a.stem, b.stem) for a, b, r in pairs if r == "same_subject"}
    assert same_subject == {("motorcycle_left", "motorcycle_right")}


def test_hand_drawn_masks_cover_the_pasted_people():
    masks = hand_drawn_masks()
    assert set(masks) == {"astronaut", "grace_hopper"}
    for person, mask in masks.items():
        assert mask.shape == (448, 448) and mask.dtype == bool
        pasted = np.asarray(Image.open(ASSETS / "composites" / f"{person}_mask.png")) > 0
        # the outline and the segmenter's cut-out agree on most of the person, not on every pixel
        assert 0.6 < (mask & pasted).sum() / (mask | pasted).sum() < 0.99, person

def test_source_photo_names_the_photo_a_copy_comes_from():
    from simlab.kit import ASSETS, source_photo

    assert source_photo(ASSETS / "variants" / "chelsea__crop.jpg") == "chelsea"
    assert source_photo("photos/motorcycle_left.jpg") == "motorcycle_left"


def _kit_like_pairs():
    """Pairs named like the kit's: 4 photos with 2 copies each, 2 plain photos, a stereo pair."""
    from itertools import combinations

    copied = ["cat", "cup", "dog", "sky"]
    pairs = []
    for name in copied:
        files = [f"photos/{name}.jpg", f"variants/{name}__crop.jpg", f"variants/{name}__flip.jpg"]
        pairs += [(a, b, "near_duplicate") for a, b in combinations(files, 2)]
    pairs.append(("photos/left.jpg", "photos/right.jpg", "same_subject"))
    everyone = [f"photos/{n}.jpg" for n in [*copied, "brick", "grass", "left", "right"]]
    pairs += [(a, b, "different") for a, b in combinations(everyone, 2) if {a, b} != {"photos/left.jpg",
                                                                                     "photos/right.jpg"}]
    return pairs


@pytest.mark.parametrize("seed", [0, 1, 2, 7])
def test_split_pairs_shares_no_photo_and_balances_the_near_duplicates(seed):
    from simlab.kit import source_photo, split_pairs

    pairs = _kit_like_pairs()
    tune, held_out = split_pairs(pairs, seed=seed)
    sources = [{source_photo(p) for a, b, _ in half for p in (a, b)} for half in (tune, held_out)]
    assert sources[0] and sources[1] and not sources[0] & sources[1]
    # a pair is in a half only when both its photos are; pairs across the halves are in neither
    for a, b, relation in pairs:
        where = [i for i, s in enumerate(sources) if {source_photo(a), source_photo(b)} <= s]
        assert [(a, b, relation) in half for half in (tune, held_out)] == [i in where for i in (0, 1)]
    # tuples come back as they were, in their original order
    assert tune == [p for p in pairs if p in tune] and held_out == [p for p in pairs if p in held_out]
    # the copied photos are dealt two and two: both halves get 6 near-duplicate pairs
    assert [sum(r == "near_duplicate" for *_, r in half) for half in (tune, held_out)] == [6, 6]
    # the stereo pair's two photos are linked: always in one half, with their pair
    assert ("photos/left.jpg", "photos/right.jpg", "same_subject") in tune + held_out
    assert split_pairs(pairs, seed=seed) == (tune, held_out)  # repeatable


def test_split_pairs_seeds_give_different_splits():
    from simlab.kit import split_pairs

    pairs = _kit_like_pairs()
    assert len({tuple(split_pairs(pairs, seed=s)[0]) for s in range(10)}) > 1


def test_split_pairs_on_the_kit_pairs():
    from simlab.kit import split_pairs

    pairs = labelled_pairs()
    tune, held_out = split_pairs(pairs)
    counts = [sum(r == "near_duplicate" for *_, r in half) for half in (tune, held_out)]
    assert counts == [40, 40]  # 8 photos with copies, 4 in each half
    assert all(any(r == "different" for *_, r in half) for half in (tune, held_out))


@pytest.mark.parametrize("pairs, match", [
    ([("a.jpg",)], "two image paths"),
    ([("a.jpg", "a__crop.jpg", "near_duplicate")], "at least two"),
    ([("a.jpg", "b.jpg", "same_subject")], "at least two"),
])
def test_split_pairs_refuses_what_cannot_be_split(pairs, match):
    from simlab.kit import split_pairs

    with pytest.raises(ValueError, match=match):
        split_pairs(pairs)


# --- the kit's photos of people -------------------------------------------------------------


def test_people_photos_by_set_with_their_people():
    from simlab.kit import PEOPLE_SETS, people_photos, person_in

    sets = {s: people_photos(s) for s in PEOPLE_SETS}
    assert {s: len(p) for s, p in sets.items()} == {"whitehouse": 4, "astronauts": 16, "lisa": 8,
                                                     "london": 204}
    assert people_photos() == {k: v for s in PEOPLE_SETS for k, v in sets[s].items()}  # names are unique
    people = {s: {person_in(n) for n in photos} for s, photos in sets.items()}
    assert {s: len(p) for s, p in people.items()} == {"whitehouse": 2, "astronauts": 8, "lisa": 1,
                                                       "london": 102}
    assert person_in("obama3") == person_in(sets["whitehouse"]["obama"]) == "Barack Obama"
    assert person_in("biden") == "Joe Biden" and person_in("001_smiling") == "London 001"
    for s, photos in sets.items():  # every person of a set but the White House has two photos or more
        counts = {p: sum(person_in(n) == p for n in photos) for p in people[s]}
        assert min(counts.values()) >= (1 if s == "whitehouse" else 2), (s, counts)


def test_people_photos_errors():
    from simlab.kit import people_photos, person_in

    with pytest.raises(ValueError, match="unknown set.*'nasa'.*astronauts"):
        people_photos("nasa")
    with pytest.raises(ValueError, match="chelsea: not one of the kit's photos of people"):
        person_in("chelsea")


# --- real pairs ---------------------------------------------------------------------------------


def test_real_pairs_are_real_files_of_the_kits_vocabulary():
    from simlab.kit import ORIGINS, labelled_pairs, source_groups, source_photo

    real, scripted, both = labelled_pairs("real"), labelled_pairs(), labelled_pairs(None)
    assert len(both) == len(real) + len(scripted) and ORIGINS == ("scripted", "real")
    counts = {r: sum(rel == r for _, _, rel in real) for r in RELATIONS}
    assert counts == {"near_duplicate": 18, "same_subject": 10, "different": 56}
    for a, b, relation in real:
        assert load_image(a).size and load_image(b).size  # every file reads
        if relation == "near_duplicate":  # copies of one photo share its name
            assert source_photo(a) == source_photo(b)
        else:
            assert source_photo(a) != source_photo(b)
    assert all("real" in (a.parent.name, b.parent.name) for a, b, _ in real)
    groups = source_groups(real)
    assert groups["box_in_scene"] == groups["box"] and groups["grace_hopper"] != groups["plumeria"]
    assert len({groups[source_photo(a)] for a, _, rel in real if rel != "different"}) == 15  # 5 + 10 units
    with pytest.raises(ValueError, match="origin='photos'"):
        labelled_pairs("photos")

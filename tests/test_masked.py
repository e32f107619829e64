"""Comparing only the subject: masks in the network's frame, masked average pooling, subject and
background prototypes, match heatmaps, masked pixels, and the figures that show them."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from PIL import Image

from simlab.backbones import load_backbone
from simlab.embedding import embed
from simlab.features import extract_features, match_heatmap, subject_and_background
from simlab.images import IMAGENET_MEAN_RGB, load_image
from simlab.masks import as_mask, replace_background
from simlab.overlays import show_mask_overlay, show_masks, show_match_heatmap
from simlab.viz import tensor_to_image


@pytest.fixture(scope="module")
def photos(kit_photos):
    return {name: load_image(kit_photos[name]) for name in ("astronaut", "chelsea", "coffee")}


def box_mask(image: Image.Image, top: float, bottom: float, left: float, right: float):
    """A bool mask the size of ``image``, True inside the box given as fractions of the photo."""
    w, h = image.size
    m = np.zeros((h, w), dtype=bool)
    m[round(top * h):round(bottom * h), round(left * w):round(right * w)] = True
    return m


def assert_close(actual, expected, rtol: float = 1e-4) -> None:
    """allclose relative to the scale of ``expected``: with random weights MobileNetV2's deep
    activations are ~1e-9, so a fixed atol would make every comparison pass."""
    expected = np.asarray(expected, dtype=np.float64)
    scale = np.abs(expected).max()
    assert scale > 0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def differ(a, b, by: float = 1e-2) -> bool:
    """True when a and b differ by more than ``by`` relative to their scale."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.abs(a - b).max() > by * np.abs(b).max()


def cell_weights(backbone, mask, size=(7, 7)) -> np.ndarray:
    """Subject fraction of each feature-map cell (what masked pooling weights by)."""
    w = backbone.preprocess_mask(mask)[None, None]
    return torch.nn.functional.interpolate(w, size=size, mode="area")[0, 0].numpy()


# --- the mask in the network's frame ------------------------------------------------------------


def test_preprocess_mask_is_a_224_map_of_fractions(random_mobilenet, photos):
    cat = photos["chelsea"]
    mask = box_mask(cat, 0.2, 0.7, 0.3, 0.6)
    m = random_mobilenet.preprocess_mask(mask)
    assert isinstance(m, torch.Tensor) and m.dtype == torch.float32
    assert tuple(m.shape) == tuple(random_mobilenet.preprocess(cat).shape[-2:]) == (224, 224)
    assert float(m.min()) == 0.0 and float(m.max()) == 1.0
    assert ((m > 0) & (m < 1)).any()  # soft along the outline
    assert torch.equal(random_mobilenet.preprocess_mask(torch.from_numpy(mask)), m)  # torch bool works
    assert torch.equal(random_mobilenet.preprocess_mask(np.ones_like(mask)), torch.ones(224, 224))


@pytest.mark.parametrize("name", ["mobilenet_v2", "swin_t"])  # 256 bilinear, 232 bicubic
@pytest.mark.parametrize("width, height", [(451, 300), (300, 451)])  # landscape and portrait
def test_preprocess_mask_lands_where_preprocess_puts_the_pixels(name, width, height):
    backbone = load_backbone(name, weights=None)
    pixels = np.full((height, width, 3), 20, dtype=np.uint8)
    top, left = int(0.55 * height), int(0.3 * width)  # off centre, inside the crop
    pixels[top:top + 60, left:left + 80] = 235
    mask = np.zeros((height, width), dtype=bool)
    mask[top:top + 60, left:left + 80] = True

    bright = tensor_to_image(backbone.preprocess(pixels)).mean(axis=2) > 0.5
    subject = backbone.preprocess_mask(mask).numpy() > 0.5
    assert bright.sum() > 1000  # the square is in the crop
    iou = (bright & subject).sum() / (bright | subject).sum()
    assert iou > 0.97, iou
    ys, xs = np.nonzero(bright)
    ms, mx = np.nonzero(subject)
    assert abs(ys.mean() - ms.mean()) < 0.5 and abs(xs.mean() - mx.mean()) < 0.5


@pytest.mark.parametrize(
    "mask, message",
    [
        (np.zeros((8, 8)), "mask must be boolean, got float64: threshold it, e.g. mask > 0.5"),
        (np.zeros((8, 8), np.uint8), "mask must be boolean, got uint8: threshold it, e.g. mask > 0"),
        (torch.zeros(8, 8), "mask must be boolean, got float32"),
        ([[True, False]], "mask must be a 2-D boolean NumPy array (H, W), got a list"),
        (np.zeros((8, 8, 3), bool), "mask must be 2-D (H, W), got shape (8, 8, 3)"),
        (np.zeros((8, 8, 1), bool), "got shape (8, 8, 1); drop the extra axis with mask.squeeze()"),
    ],
)
def test_preprocess_mask_says_what_is_wrong_with_a_mask(random_mobilenet, mask, message):
    with pytest.raises(ValueError) as err:
        random_mobilenet.preprocess_mask(mask)
    assert message in str(err.value)


def test_as_mask_checks_the_size_against_the_image():
    assert as_mask(np.ones((3, 5), bool), (5, 3)).shape == (3, 5)
    with pytest.raises(ValueError) as err:
        as_mask(np.ones((4, 5), bool), (5, 3), name="mask 2")
    assert str(err.value).startswith(
        "mask 2 has shape (4, 5) but its image is 5 wide and 3 high: the mask must have shape (3, 5)")
    with pytest.raises(ValueError, match=r"transposed\? use mask.T"):
        as_mask(np.ones((5, 3), bool), (5, 3))


# --- masked average pooling ------------------------------------------------------------------------


def test_an_all_true_mask_gives_the_plain_average(random_mobilenet, photos):
    images = [photos["chelsea"], photos["coffee"]]  # two sizes
    masks = [np.ones(im.size[::-1], dtype=bool) for im in images]
    masked = embed(random_mobilenet, images, masks=masks)
    assert masked.dtype == np.float32 and masked.shape == (2, 1280)
    assert_close(masked, embed(random_mobilenet, images))
    # a stage other than the deepest
    assert_close(embed(random_mobilenet, images, stage="stage3", masks=masks),
                 embed(random_mobilenet, images, stage="stage3"))


def test_a_left_half_mask_is_the_weighted_mean_of_the_map(random_mobilenet):
    """448 x 448 -> 256 -> crop 224: the photo's left half is crop columns 0..111, i.e. 3.5 of
    the 7 stride-32 cells; each cell counts with the fraction of it that is subject."""
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (448, 448, 3), dtype=np.uint8)
    left = np.zeros((448, 448), dtype=bool)
    left[:, :224] = True

    fmap = extract_features(random_mobilenet, pixels, "stage5")["stage5"][0].numpy()  # (1280, 7, 7)
    weights = np.zeros((7, 7))
    weights[:, :3] = 1.0
    weights[:, 3] = 0.5
    manual = (fmap * weights).sum(axis=(1, 2)) / weights.sum()
    assert_close(embed(random_mobilenet, pixels, masks=left)[0], manual)
    # and the masked vector is not the plain average
    assert differ(manual, fmap.mean(axis=(1, 2)))


def test_masks_may_be_a_single_mask_a_list_or_a_stack(random_mobilenet, photos):
    cat = photos["chelsea"]
    mask = box_mask(cat, 0.1, 0.9, 0.2, 0.7)
    one = embed(random_mobilenet, cat, masks=mask)
    assert one.shape == (1, 1280)
    assert_close(embed(random_mobilenet, [cat], masks=[mask]), one)
    assert_close(embed(random_mobilenet, [cat, cat], masks=np.stack([mask, mask]))[1], one[0])
    assert differ(one, embed(random_mobilenet, cat))


def test_preprocessed_tensors_take_masks_in_the_network_frame(random_mobilenet, photos):
    cat = photos["chelsea"]
    mask = box_mask(cat, 0.1, 0.9, 0.2, 0.7)
    x = random_mobilenet.preprocess(cat)
    from_photo = embed(random_mobilenet, cat, masks=mask)
    from_tensor = embed(random_mobilenet, x, masks=random_mobilenet.preprocess_mask(mask))
    assert_close(from_tensor, from_photo)
    with pytest.raises(ValueError, match="backbone.preprocess_mask"):
        embed(random_mobilenet, x, masks=mask)  # a mask the size of the photo, not of the tensor


def test_subject_and_background_mix_into_the_plain_average(random_mobilenet, photos):
    images = [photos["astronaut"], photos["coffee"]]
    masks = [box_mask(images[0], 0.1, 1.0, 0.2, 0.75), box_mask(images[1], 0.05, 0.8, 0.2, 0.6)]
    fg, bg = subject_and_background(random_mobilenet, images, masks)
    assert fg.dtype == bg.dtype == np.float32 and fg.shape == bg.shape == (2, 1280)
    assert_close(fg, embed(random_mobilenet, images, masks=masks))
    plain = embed(random_mobilenet, images)
    for i, mask in enumerate(masks):
        share = float(random_mobilenet.preprocess_mask(mask).mean())
        assert 0.2 < share < 0.8
        assert_close(share * fg[i] + (1 - share) * bg[i], plain[i])
        assert differ(fg[i], bg[i]) and differ(fg[i], plain[i])


# --- errors ---------------------------------------------------------------------------------------


def test_the_number_of_masks_must_match(random_mobilenet, photos):
    cat, mug = photos["chelsea"], photos["coffee"]
    with pytest.raises(ValueError, match="2 images but 1 mask: pass exactly one"):
        embed(random_mobilenet, [cat, mug], masks=[box_mask(cat, 0, 1, 0, 1)])
    with pytest.raises(ValueError, match="1 image but 2 masks"):
        subject_and_background(random_mobilenet, [cat], [box_mask(cat, 0, 1, 0, 1)] * 2)


def test_a_mask_of_the_wrong_size_names_its_index_and_both_sizes(random_mobilenet, photos):
    cat, mug = photos["chelsea"], photos["coffee"]  # 451 x 300 and 600 x 400
    with pytest.raises(ValueError) as err:
        embed(random_mobilenet, [cat, mug], masks=[box_mask(cat, 0, 1, 0, 1), box_mask(cat, 0, 1, 0, 1)])
    assert "mask 1 has shape (300, 451) but its image is 600 wide and 400 high" in str(err.value)
    assert "must have shape (400, 600)" in str(err.value)


def test_a_mask_that_is_not_boolean_is_refused_with_its_index(random_mobilenet, photos):
    cat = photos["chelsea"]
    soft = box_mask(cat, 0, 1, 0, 1).astype(float)
    with pytest.raises(ValueError, match="mask 0 must be boolean, got float64: threshold it"):
        embed(random_mobilenet, [cat], masks=[soft])


def test_an_empty_mask_is_refused_not_nan(random_mobilenet, photos):
    cat = photos["chelsea"]
    empty = np.zeros((300, 451), dtype=bool)
    with pytest.raises(ValueError, match="mask 1 has no subject pixels inside the centre crop"):
        embed(random_mobilenet, [cat, cat], masks=[box_mask(cat, 0, 1, 0, 1), empty])
    # a subject only in the strip that the centre crop cuts off (451 -> 385 wide -> 224 kept)
    edge = np.zeros((300, 451), dtype=bool)
    edge[:, :20] = True
    with pytest.raises(ValueError, match="mask 0 has no subject pixels inside the centre crop"):
        embed(random_mobilenet, cat, masks=edge)
    with pytest.raises(ValueError, match="no subject pixels"):
        subject_and_background(random_mobilenet, cat, edge)


def test_a_subject_that_covers_everything_has_no_background(random_mobilenet, photos):
    cat = photos["chelsea"]
    with pytest.raises(ValueError, match="mask 0 leaves no background pixels inside the centre crop"):
        subject_and_background(random_mobilenet, cat, np.ones((300, 451), dtype=bool))
    # the background may lie outside the crop only: the network does not see it either
    inner = np.zeros((300, 451), dtype=bool)
    inner[:, 60:391] = True
    with pytest.raises(ValueError, match="no background pixels"):
        subject_and_background(random_mobilenet, cat, inner)


def test_masked_pooling_is_average_pooling(random_mobilenet, photos):
    cat = photos["chelsea"]
    with pytest.raises(ValueError, match="pool='max' with masks.*use pool='avg'"):
        embed(random_mobilenet, cat, pool="max", masks=box_mask(cat, 0, 1, 0, 1))


# --- match heatmap ---------------------------------------------------------------------------------


def test_match_heatmap_shape_range_and_values(random_mobilenet, photos):
    cat, mug = photos["chelsea"], photos["coffee"]
    mask = box_mask(mug, 0.1, 0.8, 0.2, 0.6)
    hm = match_heatmap(random_mobilenet, cat, mug, mask)
    assert isinstance(hm, np.ndarray) and hm.dtype == np.float32 and hm.shape == (7, 7)
    assert np.isfinite(hm).all() and hm.min() >= -1 and hm.max() <= 1
    assert match_heatmap(random_mobilenet, cat, mug, mask, stage="stage4").shape == (14, 14)
    # each cell is the cosine between the cat's feature vector there and the mug's prototype
    prototype = embed(random_mobilenet, mug, masks=mask)[0]
    fmap = extract_features(random_mobilenet, cat, "stage5")["stage5"][0].numpy()
    v = fmap[:, 2, 5]
    expected = v @ prototype / (np.linalg.norm(v) * np.linalg.norm(prototype))
    assert hm[2, 5] == pytest.approx(expected, abs=1e-5)


def test_match_heatmap_takes_one_image(random_mobilenet, photos):
    cat = photos["chelsea"]
    with pytest.raises(ValueError, match="ONE image"):
        match_heatmap(random_mobilenet, [cat, cat], cat, box_mask(cat, 0, 1, 0, 1))
    with pytest.raises(ValueError, match="mask 0 has no subject pixels"):
        match_heatmap(random_mobilenet, cat, cat, np.zeros((300, 451), dtype=bool))


@pytest.mark.parametrize("box", [(0.25, 0.75, 0.25, 0.75), (0.0, 0.5, 0.0, 0.5)],
                         ids=["central rectangle", "top-left quadrant"])
def test_match_heatmap_of_a_photo_with_itself_lights_up_the_masked_region(pretrained, photos, box):
    """Measured with ImageNet MobileNetV2 at stage5: inside ~0.9 vs outside ~0.5 for the central
    rectangle, ~0.73 vs ~0.55 for the top-left quadrant; the best cell lies in the mask in both,
    so it is not just a preference for the centre of the photo."""
    astronaut = photos["astronaut"]
    mask = box_mask(astronaut, *box)
    hm = match_heatmap(pretrained, astronaut, astronaut, mask)
    inside = cell_weights(pretrained, mask) > 0.5
    assert hm[inside].mean() > hm[~inside].mean() + 0.1
    assert inside[np.unravel_index(hm.argmax(), hm.shape)]


# --- masked pixels ---------------------------------------------------------------------------------


def test_replace_background_keeps_the_subject_and_paints_the_rest(photos):
    astronaut = photos["astronaut"]
    mask = box_mask(astronaut, 0.1, 0.9, 0.2, 0.6)
    out = replace_background(astronaut, mask)
    assert isinstance(out, Image.Image) and out.mode == "RGB" and out.size == astronaut.size
    before, after = np.asarray(astronaut), np.asarray(out)
    np.testing.assert_array_equal(after[mask], before[mask])
    assert (after[~mask] == IMAGENET_MEAN_RGB).all()
    assert IMAGENET_MEAN_RGB == (124, 116, 104)
    painted = np.asarray(replace_background(astronaut, mask, colour=(0, 255, 0)))
    assert (painted[~mask] == (0, 255, 0)).all()
    assert (np.asarray(astronaut) == before).all()  # the input is not changed


def test_the_default_background_is_neutral_for_the_network(random_mobilenet, photos):
    grey = replace_background(photos["chelsea"], np.zeros((300, 451), dtype=bool))
    assert float(random_mobilenet.preprocess(grey).abs().max()) < 0.01  # ~0 after normalisation


def test_replace_background_refuses_bad_masks_and_colours(photos):
    astronaut = photos["astronaut"]  # 512 x 512
    with pytest.raises(ValueError, match="shape \\(300, 451\\) but its image is 512 wide and 512 high"):
        replace_background(astronaut, np.ones((300, 451), dtype=bool))
    with pytest.raises(ValueError, match="mask must be boolean, got float64"):
        replace_background(astronaut, np.ones((512, 512)))
    with pytest.raises(ValueError, match="colour must be three integers 0..255"):
        replace_background(astronaut, np.ones((512, 512), dtype=bool), colour=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="colour must be three integers 0..255"):
        replace_background(astronaut, np.ones((512, 512), dtype=bool), colour=(0, 300, 0))


# --- figures -------------------------------------------------------------------------------------


def test_mask_overlay_tints_the_subject_outlines_it_and_states_its_share(photos):
    cat = photos["chelsea"]
    mask = box_mask(cat, 0.0, 0.5, 0.0, 0.5)
    fig = show_mask_overlay(cat, mask, title="chelsea", colour=(0, 0, 1), alpha=0.5)
    ax = fig.axes[0]
    assert ax.get_title() == "chelsea\nsubject 25% of the photo"
    shown = np.asarray(ax.images[0].get_array())
    photo = np.asarray(cat) / 255.0
    np.testing.assert_allclose(shown[~mask], photo[~mask])  # background untouched
    np.testing.assert_allclose(shown[mask], 0.5 * photo[mask] + 0.5 * np.array([0, 0, 1.0]))
    assert ax.collections  # the outline


def test_mask_overlay_draws_into_a_given_axes_and_refuses_bad_input(photos):
    cat = photos["chelsea"]
    fig, axes = plt.subplots(1, 2)
    assert show_mask_overlay(cat, box_mask(cat, 0, 1, 0, 0.5), ax=axes[1]) is fig
    assert axes[1].images and not axes[0].images
    assert axes[1].get_title() == "subject 50% of the photo"
    with pytest.raises(ValueError, match="but its image is 451 wide and 300 high"):
        show_mask_overlay(cat, np.ones((10, 10), dtype=bool))
    with pytest.raises(ValueError, match="not a matplotlib colour"):
        show_mask_overlay(cat, box_mask(cat, 0, 1, 0, 1), colour="no-such-colour")
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\]"):
        show_mask_overlay(cat, box_mask(cat, 0, 1, 0, 1), alpha=2)


def test_show_masks_draws_a_row_of_overlays(photos):
    overlays = {name: (im, box_mask(im, 0.2, 0.8, 0.2, 0.8)) for name, im in photos.items()}
    fig = show_masks(overlays)
    drawn = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title().split("\n")[0] for ax in drawn] == list(photos)
    assert all("subject 36% of the photo" in ax.get_title() for ax in drawn)
    with pytest.raises(ValueError, match="the mask of 'chelsea' has shape"):
        show_masks({"chelsea": (photos["chelsea"], np.ones((5, 5), dtype=bool))})
    with pytest.raises(ValueError, match=r"overlays\['x'\] must be an \(image, mask\) pair"):
        show_masks({"x": photos["chelsea"]})
    with pytest.raises(ValueError, match="no overlays"):
        show_masks({})


def test_match_heatmap_figure_shows_the_network_crop_under_the_map(random_mobilenet, photos):
    mug, cat = photos["coffee"], photos["chelsea"]
    mask = box_mask(mug, 0.1, 0.8, 0.2, 0.6)
    hm = match_heatmap(random_mobilenet, cat, mug, mask)
    fig = show_match_heatmap(cat, hm, mug, mask, title="cat vs mug", backbone=random_mobilenet)
    drawn = [ax for ax in fig.axes if ax.images]
    assert len(drawn) == 2  # reference on the left, the photo with its map on the right
    ref_ax, ax = drawn
    assert ref_ax.get_title().startswith("reference subject")
    assert ax.get_title() == f"cat vs mug\n7 x 7 positions, max {hm.max():.2f}"
    photo, overlay = ax.images
    grey = tensor_to_image(random_mobilenet.preprocess(cat)) @ np.array([0.299, 0.587, 0.114])
    np.testing.assert_allclose(photo.get_array(), grey)  # a grey copy: no colour under the map
    assert photo.get_cmap().name == "gray"
    assert overlay.get_array().shape == (224, 224) and 0 < overlay.get_alpha() < 1
    assert overlay.get_clim() == (min(0.0, float(hm.min())), 1.0)
    bar = next(a for a in fig.axes if a not in drawn)
    assert bar.get_ylabel() == "cosine to the reference subject"
    # the reference panel shows the crop the prototype came from, with the cropped mask
    np.testing.assert_allclose(ref_ax.images[0].get_array().shape, (224, 224, 3))

    # a preprocessed tensor needs no backbone; without a reference there is one panel
    fig = show_match_heatmap(random_mobilenet.preprocess(cat), hm, vmin=-1, vmax=1)
    drawn = [ax for ax in fig.axes if ax.images]
    assert len(drawn) == 1 and drawn[0].images[1].get_clim() == (-1, 1)


def test_match_heatmap_figure_refuses_what_it_cannot_draw_honestly(random_mobilenet, photos):
    cat = photos["chelsea"]
    hm = np.zeros((7, 7), dtype=np.float32)
    with pytest.raises(ValueError, match="pass backbone=... so it is shown as the network saw it"):
        show_match_heatmap(cat, hm)
    with pytest.raises(ValueError, match=r"cosines in \[-1, 1\]"):
        show_match_heatmap(random_mobilenet.preprocess(cat), hm + 3)
    with pytest.raises(ValueError, match="2-D"):
        show_match_heatmap(random_mobilenet.preprocess(cat), np.zeros(7))
    with pytest.raises(ValueError, match="reference and reference_mask together"):
        show_match_heatmap(cat, hm, reference=cat, backbone=random_mobilenet)


def test_paste_subject_puts_the_masked_pixels_where_asked():
    from simlab.masks import paste_subject

    subject = np.zeros((20, 20, 3), dtype=np.uint8)
    subject[..., 0] = 255  # red
    mask = np.zeros((20, 20), dtype=bool)
    mask[5:15, 5:15] = True
    background = np.full((100, 200, 3), 255, dtype=np.uint8)  # white
    composite, pasted = paste_subject(subject, mask, background, scale=2.0, centre=(0.25, 0.5))
    assert composite.size == (200, 100) and pasted.shape == (100, 200)
    assert pasted.sum() == 20 * 20  # the 10x10 subject doubled
    ys, xs = np.nonzero(pasted)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (40, 59, 40, 59)  # centred at (50, 50)
    pixels = np.asarray(composite)
    assert (pixels[pasted] == (255, 0, 0)).all() and (pixels[~pasted] == 255).all()


def test_paste_subject_refuses_bad_scale_and_mask():
    from simlab.masks import paste_subject

    image = np.zeros((10, 10, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="scale must be a positive number"):
        paste_subject(image, np.ones((10, 10), dtype=bool), image, scale=0)
    with pytest.raises(ValueError, match="must be boolean"):
        paste_subject(image, np.ones((10, 10)), image)

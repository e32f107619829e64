"""The explorers: callbacks driven by setting .value, as a notebook does."""

import numpy as np
import pytest
import torch

import simlab.embedding
from simlab import embed
from simlab.kit import samples
from simlab.lessons.widgets import FeatureMapExplorer, PairSimilarityExplorer, _format_score
from simlab.metrics import cosine_similarity, euclidean_distance, manhattan_distance


@pytest.fixture
def explorer(random_mobilenet):
    photos = samples()
    return FeatureMapExplorer(random_mobilenet, {k: photos[k] for k in ("chelsea", "coffee")},
                              stage="stage2")


def test_starts_on_the_requested_image_and_stage(explorer):
    assert explorer.image.value == "chelsea"
    assert explorer.stage.value == "stage2"
    assert explorer.summary.startswith("chelsea | stage2 | 24 channels x 56 x 56 | channel 0")
    assert bytes(explorer.picture.value[:4]) == b"\x89PNG"  # the figure was drawn


def test_starts_on_the_requested_channel_and_shows_its_map(random_mobilenet):
    # Lesson 01 builds the explorer on the state its prose talks about; the saved picture is that.
    photos = samples()
    shown = FeatureMapExplorer(random_mobilenet, {k: photos[k] for k in ("chelsea", "coffee")},
                               image="coffee", stage="stage4", channel=40)
    assert shown.summary.startswith("coffee | stage4 | 96 channels x 14 x 14 | channel 40 | peak ")
    assert (shown.channel.value, shown.channel.max) == (40, 95)
    _, maps = shown.features("coffee")
    assert torch.equal(shown.current_map(), maps["stage4"][40])
    assert shown.summary in shown.info.value
    other = FeatureMapExplorer(random_mobilenet, {"coffee": photos["coffee"]}, stage="stage4", channel=39)
    assert bytes(shown.picture.value) != bytes(other.picture.value), "the picture is not channel 40's"
    # a channel beyond the stage is clamped to its last one, and the network ran once
    clamped = FeatureMapExplorer(random_mobilenet, {"coffee": photos["coffee"]}, stage="stage1", channel=40)
    assert clamped.channel.value == 15 and clamped.forward_passes == 1


def test_the_lesson_sequence_two_images_two_passes(explorer):
    # What lesson 01 asks the reader to try: another stage and channel, then another photo.
    explorer.stage.value = "stage4"
    explorer.channel.value = 40
    assert explorer.summary.startswith("chelsea | stage4 | 96 channels x 14 x 14 | channel 40")
    explorer.image.value = "coffee"
    assert explorer.summary.startswith("coffee | stage4 | 96 channels x 14 x 14 | channel 40")
    assert explorer.forward_passes == 2


def test_changing_stage_or_channel_never_reruns_the_network(explorer):
    assert explorer.forward_passes == 1
    for stage in explorer.backbone.stage_names:
        explorer.stage.value = stage
        explorer.channel.value = 5
    assert explorer.forward_passes == 1
    assert explorer.summary.startswith("chelsea | stage5 | 1280 channels x 7 x 7 | channel 5")


def test_new_image_runs_once_and_is_cached(explorer):
    explorer.image.value = "coffee"
    explorer.image.value = "chelsea"
    explorer.image.value = "coffee"
    assert explorer.forward_passes == 2


def test_channel_slider_follows_the_stage(explorer):
    explorer.stage.value = "stage5"
    assert explorer.channel.max == 1279
    explorer.channel.value = 1000
    explorer.stage.value = "stage1"  # only 16 channels: the channel is clamped
    assert explorer.channel.max == 15
    assert explorer.channel.value == 15
    assert explorer.current_map().shape == (112, 112)


def test_figure_is_redrawn_on_every_change(explorer):
    seen = {bytes(explorer.picture.value)}
    explorer.stage.value = "stage4"
    seen.add(bytes(explorer.picture.value))
    explorer.channel.value = 9
    seen.add(bytes(explorer.picture.value))
    explorer.image.value = "coffee"
    seen.add(bytes(explorer.picture.value))
    assert len(seen) == 4


def test_figure_shows_the_selected_map(explorer):
    explorer.stage.value = "stage3"
    explorer.channel.value = 7
    x, maps = explorer.features("chelsea")
    assert torch.equal(explorer.current_map(), maps["stage3"][7])
    assert "stage3" in explorer.info.value and "channel 7" in explorer.info.value


def test_empty_image_dict_is_refused(random_mobilenet):
    with pytest.raises(ValueError, match="at least one image"):
        FeatureMapExplorer(random_mobilenet, {})


def test_unknown_stage_is_refused(random_mobilenet):
    with pytest.raises(ValueError, match="valid stages: stage1"):
        FeatureMapExplorer(random_mobilenet, {"cat": samples()["chelsea"]}, stage="layer9")


# --- PairSimilarityExplorer -----------------------------------------------------------------------

PAIR_PHOTOS = ("chelsea", "coffee", "motorcycle_left")


@pytest.fixture(scope="module")
def photos():
    every = samples()
    return {k: every[k] for k in PAIR_PHOTOS}


@pytest.fixture(scope="module")
def shared_pairs(random_mobilenet, photos):
    return PairSimilarityExplorer(random_mobilenet, photos)


@pytest.fixture
def pairs(shared_pairs):
    """One explorer for the module (the network is slow on a busy CPU), back at its defaults."""
    for control, value in zip(shared_pairs.controls, ("chelsea", "coffee", "stage5", "cosine"),
                              strict=True):
        control.value = value
    return shared_pairs


def _picture(explorer) -> bytes:
    return bytes(explorer.picture.value)


def test_pair_explorer_starts_on_the_first_two_photos_at_the_deepest_stage(pairs):
    assert (pairs.left.value, pairs.right.value) == ("chelsea", "coffee")
    assert (pairs.stage.value, pairs.metric.value) == ("stage5", "cosine")
    assert list(pairs.metric.options) == ["cosine", "euclidean", "manhattan"]
    assert pairs.summary == f"chelsea vs coffee | stage5 | cosine {pairs.score:.2f}"
    assert pairs.summary in pairs.info.value
    assert _picture(pairs)[:4] == b"\x89PNG"


@pytest.mark.parametrize(("left", "right", "stage"), [
    ("chelsea", "coffee", "stage5"),
    ("motorcycle_left", "coffee", "stage2"),
])
def test_pair_score_is_the_cosine_of_the_embedded_vectors(random_mobilenet, photos, pairs, left, right,
                                                          stage):
    pairs.left.value, pairs.right.value, pairs.stage.value = left, right, stage
    a, b = embed(random_mobilenet, [photos[left], photos[right]], stage=stage)
    assert isinstance(pairs.score, float)
    assert pairs.score == pytest.approx(cosine_similarity(a, b), abs=1e-5)


def test_pair_score_uses_the_chosen_distance(random_mobilenet, photos, pairs):
    pairs.stage.value = "stage3"
    a, b = embed(random_mobilenet, [photos["chelsea"], photos["coffee"]], stage="stage3")
    pairs.metric.value = "euclidean"
    assert pairs.score == pytest.approx(euclidean_distance(a, b), rel=1e-4, abs=1e-5)
    pairs.metric.value = "manhattan"
    assert pairs.score == pytest.approx(manhattan_distance(a, b), rel=1e-4, abs=1e-5)


def test_every_dropdown_updates_score_summary_and_picture(pairs):
    seen = [(pairs.score, pairs.summary, _picture(pairs))]
    for control, value in ((pairs.left, "motorcycle_left"), (pairs.right, "chelsea"),
                           (pairs.stage, "stage3"), (pairs.metric, "euclidean")):
        control.value = value
        score, summary, picture = pairs.score, pairs.summary, _picture(pairs)
        assert score != seen[-1][0], control.description
        assert summary != seen[-1][1], control.description
        assert picture != seen[-1][2], control.description
        seen.append((score, summary, picture))
    assert pairs.summary.startswith("motorcycle_left vs chelsea | stage3 | euclidean ")
    assert pairs.summary in pairs.info.value


def test_the_network_runs_once_for_all_images_and_stages(random_mobilenet, photos, monkeypatch):
    passes = []
    real = simlab.embedding.extract_features
    monkeypatch.setattr(simlab.embedding, "extract_features",
                        lambda *args, **kwargs: passes.append(1) or real(*args, **kwargs))
    explorer = PairSimilarityExplorer(random_mobilenet, photos)
    assert explorer.embed_calls == 1 and len(passes) == 1
    for stage in random_mobilenet.stage_names:
        explorer.stage.value = stage
    for metric in explorer.metric.options:
        explorer.metric.value = metric
    explorer.left.value, explorer.right.value = "motorcycle_left", "coffee"
    explorer.left.value = explorer.right.value
    assert explorer.embed_calls == 1 and len(passes) == 1
    assert explorer.vectors("stage1").shape == (3, 16)
    assert explorer.vectors("stage5").shape == (3, 1280)


def test_identical_photos_score_cosine_one_and_distance_zero(pairs):
    pairs.right.value = pairs.left.value
    for stage in ("stage1", "stage5"):
        pairs.stage.value = stage
        pairs.metric.value = "cosine"
        assert pairs.score == pytest.approx(1.0, abs=1e-6)
        assert pairs.summary == f"chelsea vs chelsea | {stage} | cosine 1.00"
        for metric in ("euclidean", "manhattan"):
            pairs.metric.value = metric
            assert pairs.score == 0.0
            assert pairs.summary == f"chelsea vs chelsea | {stage} | {metric} 0.00"


def test_pair_explorer_starts_where_asked(random_mobilenet, photos):
    explorer = PairSimilarityExplorer(random_mobilenet, photos, left="coffee", stage="stage2",
                                      metric="manhattan")
    assert (explorer.left.value, explorer.right.value) == ("coffee", "chelsea")
    assert explorer.summary.startswith("coffee vs chelsea | stage2 | manhattan ")
    assert np.array_equal(explorer.vector("coffee", "stage2"), explorer.vectors("stage2")[1])


def test_small_distances_never_print_as_zero():
    assert _format_score(0.0213, "euclidean") == "0.0213"
    assert _format_score(25.304, "manhattan") == "25.30"
    assert _format_score(0.0, "euclidean") == "0.00"
    assert _format_score(0.004, "cosine") == "0.00"  # cosine keeps 2 decimals


def test_pair_explorer_as_lesson_02_opens_it_and_a_student_tries_it(pretrained):
    """Lesson 02's explorer with ImageNet weights: the cat and its grey mirror image are unlike at
    stage1 and alike at stage5 (the lesson's section 5); the two motorcycle views are alike; the
    distance dropdown gives the distance of the stage's vectors. The network runs once."""
    from simlab.kit import ASSETS

    every = samples()
    images = {name: every[name] for name in ("chelsea", "motorcycle_left", "motorcycle_right")}
    images["chelsea__mirror_grey"] = ASSETS / "variants" / "chelsea__mirror_grey.jpg"
    explorer = PairSimilarityExplorer(pretrained, images, left="chelsea", right="chelsea__mirror_grey",
                                      stage="stage1")
    assert explorer.summary == f"chelsea vs chelsea__mirror_grey | stage1 | cosine {explorer.score:.2f}"
    shallow = explorer.score
    explorer.stage.value = "stage5"
    assert shallow < 0.2 and explorer.score > 0.8

    explorer.left.value, explorer.right.value = "motorcycle_right", "motorcycle_left"
    assert explorer.summary == f"motorcycle_right vs motorcycle_left | stage5 | cosine {explorer.score:.2f}"
    assert explorer.score > 0.9
    explorer.stage.value, explorer.metric.value = "stage1", "euclidean"
    a, b = embed(pretrained, [images["motorcycle_right"], images["motorcycle_left"]], stage="stage1")
    assert explorer.score == pytest.approx(euclidean_distance(a, b), rel=1e-4, abs=1e-5)
    assert explorer.summary.endswith(f"| stage1 | euclidean {_format_score(explorer.score, 'euclidean')}")
    assert explorer.summary in explorer.info.value
    assert explorer.embed_calls == 1


def test_pair_explorer_refuses_bad_arguments(random_mobilenet, photos):
    with pytest.raises(ValueError, match="at least two images"):
        PairSimilarityExplorer(random_mobilenet, {"cat": photos["chelsea"]})
    with pytest.raises(ValueError, match="right='dog' is not an image name; choose from chelsea"):
        PairSimilarityExplorer(random_mobilenet, photos, right="dog")
    with pytest.raises(ValueError, match="unknown metric 'cityblock'"):
        PairSimilarityExplorer(random_mobilenet, photos, metric="cityblock")
    with pytest.raises(ValueError, match="valid stages: stage1"):
        PairSimilarityExplorer(random_mobilenet, photos, stage="layer9")


def test_the_photo_panel_is_kept_and_only_the_map_is_drawn_again(explorer):
    photo = bytes(explorer.photo.value)
    assert photo[:4] == b"\x89PNG"
    explorer.stage.value = "stage3"
    explorer.channel.value = 4
    assert bytes(explorer.photo.value) == photo  # same photo: its panel is not drawn again
    explorer.image.value = "coffee"
    assert bytes(explorer.photo.value) != photo


def test_the_map_is_colour_mapped_like_imshow():
    import matplotlib

    from simlab.lessons.widgets import colourise

    values = np.array([[0.0, 1.0], [2.0, 4.0]])
    rgb = colourise(values, 0.0, 4.0, side=4)
    assert rgb.shape == (4, 4, 3) and rgb.dtype == np.uint8
    viridis = matplotlib.colormaps["viridis"]
    for (i, j), v in np.ndenumerate(values):
        expected = np.round(np.array(viridis(v / 4.0)[:3]) * 255)
        assert np.abs(rgb[2 * i, 2 * j].astype(int) - expected).max() <= 2  # 256-colour table
        assert (rgb[2 * i:2 * i + 2, 2 * j:2 * j + 2] == rgb[2 * i, 2 * j]).all()  # one block per cell
    assert (colourise(np.ones((7, 7)), 1.0, 1.0, side=14) == rgb[0, 0]).all()  # constant: darkest

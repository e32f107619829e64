"""The feature-map explorer: callbacks driven by setting .value, as a notebook does."""

import pytest
import torch

from simlab import load_backbone, samples
from simlab.widgets import FeatureMapExplorer


@pytest.fixture(scope="module")
def backbone():
    torch.manual_seed(0)
    return load_backbone("mobilenet_v2", weights=None)


@pytest.fixture
def explorer(backbone):
    photos = samples()
    return FeatureMapExplorer(backbone, {k: photos[k] for k in ("chelsea", "coffee")}, stage="stage2")


def test_starts_on_the_requested_image_and_stage(explorer):
    assert explorer.image.value == "chelsea"
    assert explorer.stage.value == "stage2"
    assert explorer.summary.startswith("chelsea | stage2 | 24 channels x 56 x 56 | channel 0")
    assert bytes(explorer.picture.value[:4]) == b"\x89PNG"  # the figure was drawn


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


def test_empty_image_dict_is_refused(backbone):
    with pytest.raises(ValueError, match="at least one image"):
        FeatureMapExplorer(backbone, {})


def test_unknown_stage_is_refused(backbone):
    with pytest.raises(ValueError, match="valid stages: stage1"):
        FeatureMapExplorer(backbone, {"cat": samples()["chelsea"]}, stage="layer9")

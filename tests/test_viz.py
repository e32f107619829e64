"""Figures: the right number of panels, titles that say what is shown, clear errors."""

import numpy as np
import pytest
import torch

from simlab import load_backbone, samples
from simlab.viz import show_feature_maps, show_images, tensor_to_image


def test_feature_map_grid_labels_channels_and_shape():
    fmap = torch.rand(24, 56, 56)
    fig = show_feature_maps(fmap, channels=[3, 0, 7], title="stage2", ncols=3)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["ch 3", "ch 0", "ch 7"]
    assert fig._suptitle.get_text() == "stage2  24 channels x 56 x 56"


def test_feature_map_grid_defaults_to_two_rows():
    fig = show_feature_maps(torch.rand(1, 40, 7, 7), ncols=8)
    assert len([ax for ax in fig.axes if ax.images]) == 16


def test_feature_map_grid_refuses_missing_channels_and_bad_shapes():
    with pytest.raises(ValueError, match=r"channels \[16\] do not exist: this map has channels 0..15"):
        show_feature_maps(torch.rand(16, 4, 4), channels=[1, 16])
    with pytest.raises(ValueError, match="Tensor\\[C, H, W\\]"):
        show_feature_maps(torch.rand(4, 4))


def test_tensor_to_image_undoes_normalisation():
    backbone = load_backbone("mobilenet_v2", weights=None)
    photo = samples()["coffee"]
    pixels = tensor_to_image(backbone.preprocess(photo))
    assert pixels.shape == (224, 224, 3)
    assert 0.0 <= pixels.min() and pixels.max() <= 1.0
    assert 0.2 < pixels.mean() < 0.8  # a real photo, not a normalised tensor around 0


def test_show_images_accepts_paths_arrays_and_dicts():
    photos = samples()
    fig = show_images({"cat": photos["chelsea"], "noise": np.random.rand(8, 8, 3)})
    assert [ax.get_title() for ax in fig.axes] == ["cat", "noise"]

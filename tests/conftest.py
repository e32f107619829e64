"""Fixtures shared by the unit tests (nbval's set-up for the lessons is in ../conftest.py).

The backbones are built once per test session: building one costs up to a few seconds on a busy
CPU, and several test modules need the same ones. Tests must not change them (no training, no
edited weights); a test that needs to change a model builds its own.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # unit tests draw figures without a screen

import matplotlib.pyplot as plt  # noqa: E402 - after choosing the backend
import pytest  # noqa: E402
import torch  # noqa: E402

from simlab.backbones import Backbone, load_backbone  # noqa: E402
from simlab.images import samples  # noqa: E402


def _random(name: str) -> Backbone:
    torch.manual_seed(0)  # the same random weights in every test module
    return load_backbone(name, weights=None)


@pytest.fixture(scope="session")
def pretrained() -> Backbone:
    """ImageNet MobileNetV2, offline from the weight cache (``make setup`` fetched it)."""
    return load_backbone()


@pytest.fixture(scope="session")
def random_mobilenet() -> Backbone:
    """MobileNetV2 with random weights (``torch.manual_seed(0)``): architecture without download."""
    return _random("mobilenet_v2")


@pytest.fixture(scope="session")
def random_resnet18() -> Backbone:
    """ResNet-18 with random weights (``torch.manual_seed(0)``)."""
    return _random("resnet18")


@pytest.fixture(scope="session")
def kit_photos() -> dict[str, Path]:
    """The kit's photos, ``simlab.images.samples()``: ``{name: path}``."""
    return samples()


@pytest.fixture
def torch_home(tmp_path, monkeypatch) -> Path:
    """An empty weight cache: ``TORCH_HOME`` in ``tmp_path``. Returns the checkpoint folder
    (``$TORCH_HOME/hub/checkpoints``), which does not exist yet."""
    home = tmp_path / "torch_home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # a torch.hub.set_dir() would win over TORCH_HOME
    return home / "hub" / "checkpoints"


@pytest.fixture(autouse=True)
def _close_figures():
    """Every figure a test draws is closed after it (matplotlib keeps them all otherwise)."""
    yield
    plt.close("all")

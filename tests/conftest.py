"""Fixtures shared by the unit tests (nbval's set-up for the lessons is in ../conftest.py).

The backbones are built once per test session: building one costs up to a few seconds on a busy
CPU, and several test modules need the same ones. Tests must not change them (no training, no
edited weights); a test that needs to change a model builds its own.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # unit tests draw figures without a screen

import matplotlib.pyplot as plt  # noqa: E402 - after choosing the backend
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from simlab.backbones import Backbone, load_backbone  # noqa: E402
from simlab.kit import samples  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def own_cache_folder(tmp_path_factory):
    """Every test's default cache (vectors, exported ONNX graphs) is one temporary folder of this
    test session, never the user's ``~/.cache/simlab``; the weight files still come from the real
    weight cache (``make setup`` fetched them; the tests run offline)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SIMLAB_CACHE", str(tmp_path_factory.mktemp("simlab-cache")))
        yield


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
    """The kit's photos, ``simlab.kit.samples()``: ``{name: path}``."""
    return samples()


#: An answer given in a solution region (not an empty ``{}``, ``[]`` or ``None`` to start from).
ANSWER_LINE = re.compile(r"(answer_\w+|why_\w+|prediction_\w+|my_\w+)\s*=\s*(?!\{\}|\[\]|None)")


@pytest.fixture(scope="session")
def teacher_answers() -> tuple[list[str], list[str]]:
    """What must never reach a student: (answer lines, reasons of the multiple-choice options).

    The answer lines are those of the teacher's notebooks that give an answer: an assignment to an
    ``answer_*``, ``why_*``, ``prediction_*`` or ``my_*`` variable in a solution region (not an
    empty ``{}``/``[]``/``None`` start), and every ``assert``/``graded(`` line of a hidden test
    (which must hold no answer, but must not reach a student either).
    The reasons come from the teacher's answer key, ``notebooks/choices.toml``.
    """
    import nbformat

    from simlab.teacher.answer_key import read_answer_key

    repo = Path(__file__).resolve().parents[1]
    lines = []
    for path in sorted((repo / "notebooks").glob("0*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for region in ("SOLUTION", "HIDDEN TESTS"):
                inside = cell.source.partition(f"### BEGIN {region}")[2].partition(f"### END {region}")[0]
                for line in map(str.strip, inside.splitlines()):
                    if (region == "HIDDEN TESTS" and line.startswith(("assert", "graded("))
                            or ANSWER_LINE.match(line)):
                        lines.append(line)
    reasons = [reason for _, options in read_answer_key(repo / "notebooks" / "choices.toml").values()
               for reason in options.values()]
    assert len(lines) >= 30 and 'why_2 = "B"' in lines and len(reasons) >= 20
    return lines, reasons


#: The kit's photos in :func:`photo_folder`.
FOLDER_PHOTOS = ("chelsea", "coffee", "astronaut", "rocket", "motorcycle_left", "flower")


@pytest.fixture
def photo_folder(tmp_path) -> Path:
    """A folder of six small photos of the kit (128 px; JPEG and PNG, with an upper-case
    suffix among them) and two drawn images of random coloured blocks (seeds 0 and 1; PNG in a
    subfolder ``more/`` and BMP), for the collection and cluster tests."""
    from PIL import Image

    root = tmp_path / "photos"
    (root / "more").mkdir(parents=True)
    found = samples()
    for i, name in enumerate(FOLDER_PHOTOS):
        im = Image.open(found[name])
        im.thumbnail((128, 128))
        im.save(root / (f"{name}.jpg" if i % 2 else f"{name}.PNG"))
    for seed, name in ((0, "more/drawn0.png"), (1, "drawn1.bmp")):
        blocks = np.random.default_rng(seed).integers(0, 256, (6, 8, 3), dtype=np.uint8)
        Image.fromarray(blocks).resize((64, 48), Image.Resampling.NEAREST).save(root / name)
    return root


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


if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs the tests in parallel (pytest-xdist) beside the lessons' kernels: one
    # PyTorch thread per worker keeps OpenMP threads from spinning against each other.
    torch.set_num_threads(1)

"""The kit as a library: its wheel holds the photos, and a wheel install finds them.

The test builds the wheel from a copy of the sources (so the checkout gets no ``build/``), checks
that it holds every asset and the ``simlab`` command, installs it with ``--no-deps`` into a fresh
virtual environment, and loads the kit's photos from there. That environment sees the
dependencies of the environment running the tests through a ``.pth`` file naming its
site-packages: the editable install of the checkout that lives there is not activated by it
(``.pth`` files in a folder named that way are not run), so ``simlab`` can only come from the
wheel. No network: no build isolation, no index.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO / "simlab" / "assets"
NOT_SHIPPED = {"build_assets.py"}  # builds the assets in a checkout; needs scikit-image

#: Run inside the new environment: where simlab and its photos are, and that they load.
PROBE = """
import json, sys
import simlab
from simlab import load_image
from simlab.kit import labelled_pairs, samples
from simlab.kit import ASSETS
photos = samples()
pairs = labelled_pairs()
sizes = {name: load_image(path).size for name, path in photos.items()}
files = {str(p) for a, b, _ in pairs for p in (a, b)}
print(json.dumps({
    "simlab": simlab.__file__, "assets": str(ASSETS), "photos": {k: str(v) for k, v in photos.items()},
    "sizes": sizes, "pairs": len(pairs), "pair_files": sorted(files),
    "composites": sorted(p.name for p in (ASSETS / "composites").iterdir()),
}))
"""


def run(cmd: list, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{done.stdout}\n{done.stderr}"
    return done


def asset_files() -> set[str]:
    """The files the wheel must hold, as wheel member names (``simlab/assets/...``)."""
    return {
        p.relative_to(REPO).as_posix()
        for p in ASSETS.rglob("*")
        if p.is_file() and p.name not in NOT_SHIPPED and "__pycache__" not in p.parts
    }


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "simlab", src / "simlab", ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--wheel-dir", dist, src], cwd=src)
    (built,) = dist.glob("simlab-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel installed (--no-deps); returns its python."""
    env = tmp_path_factory.mktemp("venv")
    venv.create(env, with_pip=False, clear=True)
    python = env / "bin" / "python"
    site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                    cwd=env).stdout.strip())
    ours = sysconfig.get_paths()
    (site / "kit_dependencies.pth").write_text(
        "\n".join(dict.fromkeys([ours["purelib"], ours["platlib"]])) + "\n")
    run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps",
         "--no-index", wheel], cwd=env)
    return python


def test_wheel_holds_the_assets_and_the_command(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (info,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        entry_points = archive.read(info).decode()
    expected = asset_files()
    assert len(expected) >= 50  # 13 photos, 32 variants, 10 composites, pairs.csv, ATTRIBUTION.md
    assert {"simlab/assets/pairs.csv", "simlab/assets/ATTRIBUTION.md"} <= expected
    missing = expected - names
    assert not missing, f"assets missing from {wheel.name}: {sorted(missing)[:10]}"
    assert "simlab/assets/build_assets.py" not in names
    assert "simlab/teacher/cli.py" in names and "simlab/__main__.py" in names
    assert "simlab/lessons/checks.py" in names and "simlab/kit.py" in names
    assert "simlab = simlab.teacher.cli:main" in entry_points


def test_the_wheel_holds_no_answer(wheel, teacher_answers):
    """No answer key in plain text in the installed package: not the teacher's TOML, no reason of
    a multiple-choice option, no answer line or hidden test of the teacher's notebooks."""
    lines, reasons = teacher_answers
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert "simlab/lessons/choices.json" in names and not any(n.endswith(".toml") for n in names)
        text = "\n".join(archive.read(n).decode("utf-8", "replace") for n in names
                         if n.endswith((".py", ".json", ".csv", ".md", ".txt", "METADATA")))
    assert not [reason for reason in reasons if reason[-40:] in text], "a choice's reason is in the wheel"
    leaked = [line for line in lines if line in text]
    assert not leaked, f"answers in the wheel: {leaked}"


def test_installed_wheel_finds_its_photos(installed, tmp_path):
    out = json.loads(run([installed, "-c", PROBE], cwd=tmp_path).stdout)
    site = Path(out["simlab"]).parent
    assert site.parent.name == "site-packages" and str(installed.parents[1]) in out["simlab"], (
        f"simlab was imported from {out['simlab']}, not from the wheel install")
    assert Path(out["assets"]) == site / "assets"
    in_checkout = sorted(p.stem for p in (ASSETS / "photos").iterdir() if p.suffix in {".jpg", ".png"})
    assert sorted(out["photos"]) == in_checkout
    assert all(Path(p).is_relative_to(site) for p in out["photos"].values())
    assert all(w >= 64 and h >= 64 for w, h in out["sizes"].values())
    assert out["pairs"] > 100
    assert all(Path(p).is_relative_to(site) and Path(p).is_file() for p in out["pair_files"])
    assert out["composites"] == sorted(p.name for p in (ASSETS / "composites").iterdir())


def test_installed_command_and_module_entry(installed, tmp_path):
    """``simlab list`` (the console script) and ``python -m simlab list`` print the same table."""
    script = run([installed.parent / "simlab", "list"], cwd=tmp_path).stdout
    module = run([installed, "-m", "simlab", "list"], cwd=tmp_path).stdout
    assert script == module
    assert script.split()[0] == "mobilenet_v2"
    usage = subprocess.run([installed.parent / "simlab", "frobnicate"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
    assert usage.returncode == 2 and "usage: simlab" in usage.stderr

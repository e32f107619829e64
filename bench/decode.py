"""Benchmark: reduced-size JPEG decoding (Pillow ``draft``) for large photos, speed and effect.

``embed_folder`` resizes every photo so that its short side is 256 pixels (then crops 224). A
12-megapixel phone photo (4032 x 3024) is decoded in full and then thrown away 99% of it. The
JPEG decoder can instead decode at 1/2, 1/4 or 1/8 of the size directly from the DCT
coefficients (``simlab.images.load_image(path, reduce_to=...)``). This script measures, in one
run, for three settings:

- ``full``: decode in full, then resize (as before);
- ``draft 1x``: the smallest DCT scale whose short side still covers the 256 pixels needed;
- ``draft 2x``: the smallest DCT scale that keeps at least twice that (512), so the final
  antialiased resize still averages over >= 2 x 2 decoded pixels;

the time to decode + resize + crop one photo, and the cosine similarity between the MobileNetV2
vectors (deepest stage, and stage3) of the draft and of the full decode, on

(a) the kit's 13 photos as they are (short sides 300-512: only the 512-pixel ones are reduced);
(b) the kit's photos upscaled to 12 megapixels (Lanczos, JPEG quality 90);
(c) real large JPEGs shipped with scikit-image (retina 1411 x 1411, hubble_deep_field
    1000 x 872): fine detail up to the pixel, where a reduced decode differs most.

Run from the project root: ``.venv/bin/python bench/decode.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torchvision.transforms.functional as TF
from PIL import Image

from simlab import load_backbone
from simlab.engines import get_embedder
from simlab.images import load_image
from simlab.kit import samples

SETTINGS = {"full": None, "draft 1x": 256, "draft 2x": 512}
MEGAPIXELS = 12e6
ROUNDS = 3


def upscaled(folder: Path) -> list[Path]:
    """The kit's photos resized to about 12 megapixels each, saved as JPEG (quality 90)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, path in samples().items():
        im = Image.open(path).convert("RGB")
        scale = math.sqrt(MEGAPIXELS / (im.width * im.height))
        im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
        out.append(folder / f"{name}.jpg")
        im.save(out[-1], quality=90)
    return out


def real_large() -> list[Path]:
    import skimage

    data = Path(skimage.__file__).parent / "data"
    return [data / "retina.jpg", data / "hubble_deep_field.jpg"]


def pixels(backbone, path: Path, reduce_to) -> torch.Tensor:
    """uint8 Tensor[3, 224, 224], as embed_folder's workers make it."""
    t = backbone.transform
    photo = load_image(path, reduce_to=reduce_to)
    photo = TF.center_crop(TF.resize(photo, t.resize_size, interpolation=t.interpolation,
                                     antialias=t.antialias), t.crop_size)
    return TF.pil_to_tensor(photo)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def measure(backbone, title: str, paths: list[Path]) -> None:
    size = Image.open(paths[0]).size
    print(f"\n{title}: {len(paths)} JPEGs (first {size[0]} x {size[1]})")
    print(f"   {'setting':10}{'ms/photo':>10}{'speed-up':>10}{'decoded short side':>20}"
          f"{'cos stage5 min/mean':>22}{'cos stage3 min':>16}")
    deep, mid = get_embedder(backbone, "stage5", "torch"), get_embedder(backbone, "stage3", "torch")
    batches, times = {}, {}
    for name, reduce_to in SETTINGS.items():
        best = math.inf
        for _ in range(ROUNDS):
            start = time.perf_counter()
            batch = torch.stack([pixels(backbone, p, reduce_to) for p in paths])
            best = min(best, time.perf_counter() - start)
        batches[name], times[name] = batch, best
    full5, full3 = deep(batches["full"]), mid(batches["full"])
    for name, reduce_to in SETTINGS.items():
        sides = [min(load_image(p, reduce_to=reduce_to).size) for p in paths]
        c5, c3 = cosines(deep(batches[name]), full5), cosines(mid(batches[name]), full3)
        print(f"   {name:10}{1000 * times[name] / len(paths):10.1f}{times['full'] / times[name]:9.1f}x"
              f"{min(sides):>11}..{max(sides):<7}{c5.min():>13.4f} / {c5.mean():.4f}{c3.min():>12.4f}")


def main() -> None:
    torch.set_num_threads(2)
    backbone = load_backbone("mobilenet_v2")
    print("MobileNetV2 (ImageNet), resize 256 + centre crop 224, vectors by PyTorch; times: decode + "
          f"resize + crop, best of {ROUNDS}; cosine: draft vs full decode")
    measure(backbone, "(a) the kit's photos", list(samples().values()))
    with tempfile.TemporaryDirectory() as tmp:
        measure(backbone, "(b) the kit's photos upscaled to 12 MP", upscaled(Path(tmp)))
    measure(backbone, "(c) real large JPEGs (scikit-image)", real_large())


if __name__ == "__main__":
    main()

"""Benchmark: time per image of each subject-segmentation method of ``simlab.subject``.

What it measures, in one run, on the kit's photos (``simlab.samples()``, 13 photos of 300x451
to 500x741 pixels), CPU, torch's default thread count:

- ``person``    MediaPipe's selfie segmenter (ai-edge-litert), when its model is available;
- ``grabcut``   OpenCV GrabCut from the default box (the image minus a 5% margin), 5 iterations;
- ``deeplabv3`` and ``lraspp``: torchvision's VOC segmenters. Their pretrained weights are
  usually not available offline; the benchmark then builds them with RANDOM weights, which
  take exactly as long to run (same architecture, same 520-pixel input) but segment nothing
  meaningful. The table says which weights were used.

Each call is ``segment_subject(image, method=...)`` on an already decoded PIL image, so the
time covers preprocessing, the model, resizing the mask back and thresholding, but not reading
the JPEG. Models are loaded and warmed up on one photo first (the load time is printed
separately). Then ROUNDS rounds go over all photos; within a photo the methods run one after
the other, in an order that rotates every round, so background load hits all alike. The table
gives the median and the fastest ms/image over all (photo, round) calls; RATIOS divide each
median by the median of the fastest method, all from this same run.

A second part times ``simlab.embed`` (MobileNetV2, deepest stage, one batch) with and without
``masks=`` (masked average pooling), the masks coming from ``segment_subject(method="auto")``
on the photos that have a subject; the segmentation itself is not in that time. It is skipped
when ``embed`` has no ``masks=``.

A third part times the face-identity pipeline of ``simlab.faces`` on the photos with a face
(the four in ``simlab.people_photos()``, 396x900 to 720x900, plus the astronaut and Grace Hopper):
dlib's HOG face detection, then the 5-point alignment and the 128-d identity vector of the
largest face, next to a MobileNetV2 embedding of the same photo (batch of one, ``embed``'s
default engine), in the same
rounds; ratios are to MobileNetV2. The face part is skipped when the dlib models are missing.

Run from the project root (about 2 minutes on 2 cores):

    .venv/bin/python bench/subject.py
"""

from __future__ import annotations

import inspect
import os
import statistics
import sys
import time
import warnings

import torch

from simlab import load_image, samples, subject
from simlab.subject import available_methods, segment_subject

ROUNDS = 3
METHODS = ("person", "deeplabv3", "lraspp", "grabcut")


def prepare_methods() -> dict[str, str]:
    """{method: what weights it runs with}; injects random-weight VOC models where needed."""
    usable = available_methods()
    labels = {}
    if "person" not in usable:
        try:
            subject._person_confidence(load_image(samples()["astronaut"]))  # fetches if it can
            usable.append("person")
        except Exception as e:  # noqa: BLE001 - reported, the benchmark goes on without it
            print(f"person: not available here ({type(e).__name__}: {str(e).splitlines()[0]})")
    random_models = {}
    for method in METHODS:
        if method == "person" and "person" in usable:
            labels[method] = "MediaPipe selfie_segmentation.tflite"
        elif method == "grabcut":
            labels[method] = "no model"
        elif method in subject._VOC_MODELS:
            if method in usable:
                labels[method] = "pretrained VOC weights"
            else:
                spec = subject._VOC_MODELS[method]
                random_models[method] = spec.builder(
                    weights=None, weights_backbone=None, num_classes=21, **spec.options
                ).eval()
                labels[method] = "RANDOM weights (timing only)"
    if random_models:
        real = subject._load_voc_model

        def load(method):
            return random_models[method] if method in random_models else real(method)

        subject._load_voc_model = load
    return labels


def time_call(image, method: str) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no subject found" on the textures
        start = time.perf_counter()
        segment_subject(image, method=method)
        return time.perf_counter() - start


def segmentation_table(methods: dict[str, str], photos: dict) -> dict[str, float]:
    first = next(iter(photos.values()))
    print("load + first call (model loading, warm-up):")
    for method in methods:
        print(f"  {method:10} {time_call(first, method) * 1000:8.0f} ms")
    print()

    times: dict[str, list[float]] = {m: [] for m in methods}
    order = list(methods)
    for r in range(ROUNDS):
        for image in photos.values():
            for method in order:
                times[method].append(time_call(image, method))
        order = order[1:] + order[:1]
        print(f"  round {r + 1}/{ROUNDS} done", file=sys.stderr)

    medians = {m: statistics.median(t) * 1000 for m, t in times.items()}
    n = len(photos) * ROUNDS
    print(f"Segmentation, ms per image ({len(photos)} photos x {ROUNDS} rounds = {n} calls per method)")
    print(f"  {'method':10} {'median':>9} {'fastest':>9}  weights")
    for method, label in methods.items():
        print(f"  {method:10} {medians[method]:9.1f} {min(times[method]) * 1000:9.1f}  {label}")
    print()
    fastest = min(medians, key=medians.get)
    print(f"RATIOS (median ms/image, this run; 1.0 = {fastest})")
    for method in methods:
        print(f"  {method:10} {medians[method] / medians[fastest]:8.1f}x")
    print()
    return medians


def embedding_part(photos: dict) -> None:
    """Masked versus plain embedding time; runs once simlab.features.embed accepts masks=."""
    from simlab import embed, load_backbone

    if "masks" not in inspect.signature(embed).parameters:
        print("Masked vs plain embedding: skipped (simlab.features.embed has no masks= yet)")
        return
    backbone = load_backbone("mobilenet_v2", weights=None)  # random weights: same cost
    images, masks = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for image in photos.values():  # the masks a student gets: method="auto"
            mask = segment_subject(image)
            if mask.mean() >= subject.MIN_SHARE:  # the textures have no subject
                images.append(image)
                masks.append(mask)
    embed(backbone, images[:1])  # warm-up
    embed(backbone, images[:1], masks=masks[:1])
    plain, masked = [], []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        embed(backbone, images)
        plain.append(time.perf_counter() - start)
        start = time.perf_counter()
        embed(backbone, images, masks=masks)
        masked.append(time.perf_counter() - start)
    per_image = 1000 / len(images)
    p, m = statistics.median(plain) * per_image, statistics.median(masked) * per_image
    print(f"Embedding (mobilenet_v2, random weights, deepest stage, batch of the {len(images)} photos"
          f" with a subject, median of {ROUNDS} runs)")
    print(f"  plain  {p:8.1f} ms/image")
    print(f"  masked {m:8.1f} ms/image   ratio masked/plain {m / p:.2f}x (masks given, not computed)")


def face_part() -> None:
    """ms per photo: face detection, alignment + identity vector, and a MobileNetV2 embedding."""
    import numpy as np

    from simlab import embed, faces, load_backbone, people_photos

    try:
        detector, landmarks, recognizer = faces._models()
    except Exception as e:  # noqa: BLE001 - reported, the benchmark goes on without it
        print(f"Face identity: skipped ({type(e).__name__}: {str(e).splitlines()[0]})")
        return
    photos = {n: load_image(p) for n, p in people_photos().items()}
    photos |= {n: load_image(samples()[n]) for n in ("astronaut", "grace_hopper")}
    backbone = load_backbone("mobilenet_v2", weights=None)  # random weights: same cost
    times = {"detect": [], "align + embed": [], "mobilenet_v2": []}
    for _ in range(ROUNDS):
        for image in photos.values():
            pixels = np.ascontiguousarray(np.asarray(image))
            start = time.perf_counter()
            box = max(detector(pixels, faces.UPSAMPLE), key=lambda r: r.area())
            times["detect"].append(time.perf_counter() - start)
            start = time.perf_counter()
            recognizer.compute_face_descriptor(pixels, landmarks(pixels, box))
            times["align + embed"].append(time.perf_counter() - start)
            start = time.perf_counter()
            embed(backbone, image)
            times["mobilenet_v2"].append(time.perf_counter() - start)
    medians = {k: statistics.median(v) * 1000 for k, v in times.items()}
    print(f"Face identity, ms per photo ({len(photos)} photos x {ROUNDS} rounds; "
          f"{', '.join(sorted({f'{im.width}x{im.height}' for im in photos.values()}))})")
    for kind, ms in medians.items():
        print(f"  {kind:14} {ms:8.1f} ms   {ms / medians['mobilenet_v2']:5.2f}x MobileNetV2")


def main() -> None:
    started = time.perf_counter()
    photos = {name: load_image(path) for name, path in samples().items()}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print("simlab subject-segmentation benchmark")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"{os.cpu_count()} CPUs, load average {load:.2f} at start")
    sizes = sorted({f"{im.width}x{im.height}" for im in photos.values()})
    print(f"{len(photos)} photos: {', '.join(sizes)} (width x height)")
    print()
    methods = prepare_methods()
    segmentation_table(methods, photos)
    embedding_part(photos)
    print()
    face_part()
    print(f"\ntotal benchmark time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

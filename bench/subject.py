"""Benchmark: time per image of each subject-segmentation method of ``simlab.subject``.

What it measures, in one run, on the kit's photos (``simlab.kit.samples()``, 13 photos of 300x451
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
(the four of ``simlab.kit.people_photos("whitehouse")``, 512x512, plus the astronaut and Grace
Hopper, 512x512 and 512x600): dlib's HOG face detection, then the 5-point alignment and the
128-d identity vector of the largest face, next to a MobileNetV2 embedding of the same photo
(batch of one, ``embed``'s default engine), in the same rounds; ratios are to MobileNetV2.

A fourth part times the four public functions of ``simlab.faces`` (``detect_faces``,
``face_landmarks``, ``face_embeddings``, ``same_person`` against a reference vector) on a phone
photo against the same photo at 512 px; the target is at most 3x. The photos are made in a
temporary directory from the kit's ``lisa2`` (480x640): enlarged with Lanczos to 3024x4032
(12 megapixels), with Gaussian noise (sigma 6, fixed seed) so that it decodes like a real photo,
saved as JPEG quality 92 (about 3 MB, like a phone's); that photo reduced with Lanczos to
384x512, JPEG quality 92; and the 12-MP pixels as HEIC quality 90 (pillow-heif, x265 preset
"ultrafast" so that writing it takes seconds, not 40 s; decoding costs about the same as with
the default preset; the noise makes it about 10 MB, more than an iPhone's 2-3 MB). Every call
gets the file path, so reading and decoding the file is part of the time, as it is for a user.
The models are loaded and warmed up first. FACE_ROUNDS rounds call every (photo, function) once,
in an order that rotates every round; the table gives median ms per call and the ratios to the
512-px photo. "new" is the default (faces searched on a copy reduced to ``faces.DETECT_SIDE``);
"old" is ``detect_side=None`` (the full photo searched, as before): it takes 5-9 s a call, so
each function runs it ONCE, in rounds spread over the run (its column is one call, not a
median); ``same_person`` has no ``detect_side``, so its old time is that of
``same_person(face_embeddings(path, detect_side=None)[0], reference)``, what it computed before.
The HEIC column is shown for what it costs; the target is for the JPEG. The part ends with the
Euclidean distances between the identity vectors of the 12-MP photo (new and old path), the
512-px photo and the HEIC, to show that the results agree (same person below 0.6). Both face
parts are skipped when the dlib models are missing.

Run from the project root (about 4 minutes on 2 cores):

    .venv/bin/python bench/subject.py

or only the two face parts (about 1.5 minutes):

    .venv/bin/python bench/subject.py --faces
"""

from __future__ import annotations

import argparse
import inspect
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

from simlab import load_image, subject
from simlab.kit import samples
from simlab.subject import available_methods, segment_subject

ROUNDS = 3
FACE_ROUNDS = 5  # rounds of the phone-photo face part
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
    """Masked versus plain embedding time; embed accepts masks=."""
    from simlab import embed, load_backbone

    if "masks" not in inspect.signature(embed).parameters:
        print("Masked vs plain embedding: skipped (embed has no masks= yet)")
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

    from simlab import embed, faces, load_backbone
    from simlab.kit import people_photos

    try:
        detector, landmarks, recognizer = faces._models()
    except Exception as e:  # noqa: BLE001 - reported, the benchmark goes on without it
        print(f"Face identity: skipped ({type(e).__name__}: {str(e).splitlines()[0]})")
        return
    photos = {n: load_image(p) for n, p in people_photos("whitehouse").items()}
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


def phone_photos(folder: Path) -> dict[str, Path]:
    """Write the test photos of :func:`phone_face_part` to ``folder``: {label: path}."""
    import numpy as np
    import pillow_heif
    from PIL import Image

    from simlab.kit import people_photos

    source = load_image(people_photos("lisa")["lisa2"])  # 480x640
    big = np.asarray(source.resize((3024, 4032), Image.Resampling.LANCZOS), dtype=np.float32)
    noise = np.random.default_rng(0).standard_normal(big.shape, dtype=np.float32) * 6
    photo = Image.fromarray(np.clip(np.rint(big + noise), 0, 255).astype(np.uint8))
    paths = {"512 px": folder / "phone_512.jpg", "12 MP": folder / "phone_12mp.jpg",
             "HEIC": folder / "phone_12mp.heic"}
    photo.save(paths["12 MP"], quality=92)
    photo.resize((384, 512), Image.Resampling.LANCZOS).save(paths["512 px"], quality=92)
    pillow_heif.from_pillow(photo).save(paths["HEIC"], quality=90, enc_params={"preset": "ultrafast"})
    return paths


def phone_face_part() -> None:
    """ms per call of the four public functions of simlab.faces: a 12-MP photo against 512 px."""
    import numpy as np
    from PIL import Image

    from simlab import faces
    from simlab.kit import people_photos

    try:
        faces.load_models()
    except Exception as e:  # noqa: BLE001 - reported, the benchmark goes on without it
        print(f"Faces on a phone photo: skipped ({type(e).__name__}: {str(e).splitlines()[0]})")
        return
    reference = faces.face_embeddings(people_photos("lisa")["lisa1"])[0]  # another photo of her
    functions = {
        "detect_faces": lambda path, side: faces.detect_faces(path, detect_side=side),
        "face_landmarks": lambda path, side: faces.face_landmarks(path, detect_side=side),
        "face_embeddings": lambda path, side: faces.face_embeddings(path, detect_side=side)[0],
        "same_person": lambda path, side: (  # same_person has no detect_side: the default, or as before
            faces.same_person(path, reference) if side is not None
            else faces.same_person(faces.face_embeddings(path, detect_side=None)[0], reference)),
    }
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        paths = phone_photos(Path(folder))
        made = time.perf_counter() - start
        print(f"Faces on a phone photo (test photos made from lisa2 in {made:.0f} s):")
        for label, path in paths.items():
            with Image.open(path) as im:
                size = f"{im.width}x{im.height}"
                print(f"  {label:7} {size:>9} {im.format:5} {path.stat().st_size / 1e6:5.2f} MB")
        for function in functions.values():  # warm-up, not timed
            function(paths["512 px"], faces.DETECT_SIDE)

        new = faces.DETECT_SIDE
        cases = {"512 px": (paths["512 px"], new), "12 MP new": (paths["12 MP"], new),
                 "12 MP old": (paths["12 MP"], None), "HEIC new": (paths["HEIC"], new)}
        old_round = {f: i * FACE_ROUNDS // len(functions) for i, f in enumerate(functions)}  # spread out
        times: dict[tuple[str, str], list[float]] = {}
        results: dict[tuple[str, str], object] = {}
        calls = [(case, f) for f in functions for case in cases if case != "12 MP old"]
        for r in range(FACE_ROUNDS):
            todo = calls + [("12 MP old", f) for f, when in old_round.items() if when == r]
            shift = r * 5 % len(todo)
            for case, f in todo[shift:] + todo[:shift]:
                path, side = cases[case]
                start = time.perf_counter()
                results[case, f] = functions[f](path, side)
                times.setdefault((case, f), []).append(time.perf_counter() - start)
            print(f"  round {r + 1}/{FACE_ROUNDS} done", file=sys.stderr)

    ms = {k: statistics.median(v) * 1000 for k, v in times.items()}
    columns = list(cases)
    ratio_names = {"12 MP new": "new/512", "12 MP old": "old/512", "HEIC new": "HEIC/512"}
    print(f"median ms per call, file path given ({FACE_ROUNDS} rounds; \"12 MP old\" = detect_side=None, "
          "ONE call per function); ratios to 512 px")
    print(f"  {'function':16}" + "".join(f"{c:>11}" for c in columns)
          + "".join(f"{ratio_names[c]:>12}" for c in columns[1:]))
    for f in functions:
        print(f"  {f:16}" + "".join(f"{ms[c, f]:11.0f}" for c in columns)
              + "".join(f"{ms[c, f] / ms['512 px', f]:11.1f}x" for c in columns[1:]))
    ratios = {f: ms["12 MP new", f] / ms["512 px", f] for f in functions}
    worst = max(ratios, key=ratios.get)
    old = [ms["12 MP old", f] / ms["512 px", f] for f in functions]
    print(f"TARGET 12 MP JPEG / 512 px <= 3x for all four: {'MET' if ratios[worst] <= 3 else 'NOT MET'}, "
          f"largest {ratios[worst]:.1f}x ({worst}); old path {min(old):.0f}x to {max(old):.0f}x")
    print("boxes (detect_faces): " + "; ".join(f"{c} {results[c, 'detect_faces']}" for c in columns))
    vectors = {c: results[c, "face_embeddings"].astype(np.float64) for c in columns}
    print(f"identity vectors, Euclidean distance (same person below {faces.THRESHOLD}):")
    for a, b in [("12 MP new", "12 MP old"), ("12 MP new", "512 px"), ("12 MP old", "512 px"),
                 ("HEIC new", "12 MP new")]:
        print(f"  {a:9} - {b:9}  {np.linalg.norm(vectors[a] - vectors[b]):.3f}")
    print("same_person(photo, vector of lisa1): "
          + "; ".join(f"{c} {results[c, 'same_person'].distance:.3f} "
                      f"{'same' if results[c, 'same_person'].same else 'NOT same'}" for c in columns))


def main() -> None:
    parser = argparse.ArgumentParser(description="Time simlab.subject, masked embedding and simlab.faces.")
    parser.add_argument("--faces", action="store_true", help="only the two face parts (about 1.5 minutes)")
    args = parser.parse_args()
    started = time.perf_counter()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    if args.faces:
        print("simlab face benchmark")
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
              f"{os.cpu_count()} CPUs, load average {load:.2f} at start")
        print()
    else:
        photos = {name: load_image(path) for name, path in samples().items()}
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
    print()
    phone_face_part()
    print(f"\ntotal benchmark time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

"""Benchmark: a photo collection end to end, from embedding a folder to searching a million vectors.

What it measures, in one run, CPU:

1. **Folder embedding** (``simlab.collection.embed_folder``, MobileNetV2 ImageNet weights, deepest
   stage, average pooling, batches of 16, no cache) in images per second, on two folders:
   (a) the kit's album, 130 photos: two sets of the kit's 13 photos and their planted copies
   (``simlab.augment``, a different seed each; 170-741 pixels a side), and (b) 26 phone-size
   photos: the kit's 13 photos upscaled to 12 megapixels (Lanczos), saved at two JPEG
   qualities. For each folder:

   - a **plain loop**: Pillow, the weights' transforms, PyTorch eager, batches of 16, in this
     process (what one writes without the kit);
   - **torch, as before**: ``engine="torch", jpeg_draft=False`` with 2 workers (the kit before
     ONNX Runtime and reduced-size decoding);
   - **onnx**: ``engine="onnx", jpeg_draft=False``;
   - **onnx + draft** (the default now): ``engine="onnx", jpeg_draft=True``;
   - next to the **bare forward passes** on ready batches (decoded and preprocessed beforehand,
     not timed): PyTorch eager, and ONNX Runtime with 2 threads, the limit for the folder.

   RATIOs are against "torch, as before" and against the bare ONNX forward pass; peak memory is
   this process's high-water mark above its size before the run (VmHWM, reset through
   ``/proc/self/clear_refs``; DataLoader workers are separate processes and not included).
   Then the scheduling of ``embed_folder`` on the album (onnx + draft): 1 to 3 threads that
   each decode and embed whole batches (the default: one per core,
   ``simlab.pipeline.embedding_threads``), and DataLoader worker processes x ONNX Runtime
   threads (``num_workers=``, ``simlab.pipeline.thread_split``).
   Finally the cache: a second run on the unchanged album reads every vector from the cache.
2. **Search** in N = 100,000 and 1,000,000 synthetic unit vectors of dimension 256 that cluster
   like image embeddings (``simlab.search.synthetic_embeddings``), 1,000 held-out queries, k = 10:
   ``simlab.metrics.top_k`` (NumPy/torch, blocks of <= 256 MB), FAISS exact (``IndexFlatIP``),
   FAISS IVF (default nlist, two nprobe) and FAISS HNSW (default M, two ef_search), each built
   once by ``simlab.search.build_index``. For each: build time, queries per second, recall@10
   against the exact neighbours, and peak memory above what the vectors themselves take (the
   process's high-water mark, VmHWM, reset before each method via ``/proc/self/clear_refs``;
   Linux only, else "n/a").

3. **A Dask cluster** (``embed_folder(..., client=...)``, :mod:`simlab.cluster`): the folder of 1.
   embedded by one process as above against a 2-worker ``LocalCluster`` (one thread each;
   workers started without Dask's ``MALLOC_TRIM_THRESHOLD_``, which slows torch, see the README)
   on the same 2 cores, no cache, best of three alternating rounds after a warm-up (target
   >= 0.85x: the scheduling overhead is small); the cluster's start-up; overhead per task
   (:func:`simlab.cluster.task_overhead`, empty tasks returning a batch's vectors) against decode
   + forward per image on one worker, and its share of a task. ``--skip-cluster`` leaves it out,
   ``--only-cluster`` runs only it.

4. **Folders of phone and web photos** (``--phone`` runs only this part, about 6 minutes;
   ``--skip-phone`` leaves it out): 16 and 64 JPEGs made from the kit's 13 photos, cropped to
   4032 x 3024 (12 MP, ~3 MB at quality 90) and to 1024 x 768 (web size), Lanczos, with
   Gaussian noise of sigma 6 so that they decode like real photos; no cache. In interleaved
   rounds (in a new order each round, each round started once the CPUs are idle, if they become
   so within a minute), ms per photo, median and best:

   - **reduced decode, one core**: ``load_image(path, reduce_to=512)`` for each photo in turn,
     the reference (target: the kit at most this per photo on 12-MP photos);
   - **kit before**: ``embed_folder`` with the scheduling it had before threads:
     ``num_workers`` DataLoader worker processes as ``thread_split`` gives (1 x 1 ONNX Runtime
     thread on 2 cores; a single batch all in this process);
   - **kit now**: ``embed_folder(folder)`` as it is (a thread per core, each decoding and
     embedding whole batches);
   - **imagededup** 0.3.3 (``pip install -e '.[bench]'``; skipped, and said so, without it), the
     tool a user would pick instead: ``CNN().encode_images(image_dir=folder)`` with its default
     model (MobileNetV3-small cut at the average pooling) and its default workers (0: decoding
     in the calling process). ``CNN`` downloads the model's ImageNet weights, which cannot be
     had offline, so the same architecture is built with random weights: the same layers and
     arithmetic, so the same speed, but encodings that mean nothing (only speed is compared).
     Both are warmed up first (the kit's ONNX graph exported, imagededup's model built), as in
     a session that has embedded a folder before; the export a first call with
     ``cache_dir=None`` pays once per process is printed on its own.

Ratios are of two things measured in this run. Run from the project root (about 20 minutes on
2 cores; ``--sizes`` with no number skips the search, ``--skip-folder`` the folders):

    .venv/bin/python bench/collection.py
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import re
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

import simlab.pipeline
from simlab import load_backbone
from simlab.augment import plant_duplicates
from simlab.collection import embed_folder
from simlab.engines import Embedder
from simlab.evaluation import recall_at_k
from simlab.features import extract_features, pool_map
from simlab.images import image_files, load_image
from simlab.kit import samples
from simlab.metrics import top_k
from simlab.search import build_index, search, synthetic_embeddings

BATCH = 16
ROUNDS = 2
COPIES = 2  # sets of the kit's photos with planted copies in the album: 2 x 13 x 5 = 130 images
QUALITIES = (90, 80)  # the 12-MP folder: the kit's 13 photos at two JPEG qualities
DIM, QUERIES, K = 256, 1000, 10
IVF_NPROBE = (8, 32)  # cells searched, of build_index's default nlist = 4 sqrt(N)
HNSW_EF = (64, 128)  # candidates kept while searching the graph (build_index's default M = 32)
SPLITS = ((0, 2), (1, 1), (1, 2), (2, 1), (2, 2))  # (DataLoader workers, ONNX Runtime threads)
THREADS = (1, 2, 3)  # embed_folder's threads, each decoding and embedding whole batches


# ------------------------------------------------------------------------------ 1. a folder
def album(folder: Path) -> list[Path]:
    for seed in range(COPIES):  # other crops and colours for every seed
        plant_duplicates(samples(), folder / f"set{seed}", seed=seed)
    return image_files(folder)


def phone_photos(folder: Path) -> list[Path]:
    folder.mkdir(parents=True)
    for name, path in samples().items():
        im = Image.open(path).convert("RGB")
        scale = math.sqrt(12e6 / (im.width * im.height))
        im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
        for q in QUALITIES:
            im.save(folder / f"{name}-q{q}.jpg", quality=q)
    return image_files(folder)


def plain_loop(backbone, paths: list[Path], stage: str) -> None:
    """What one writes without the kit: Pillow, the weights' transforms, eager, batches of 16."""
    for i in range(0, len(paths), BATCH):
        batch = torch.stack([backbone.transform(Image.open(p).convert("RGB")) for p in paths[i:i + BATCH]])
        with torch.no_grad():
            pool_map(extract_features(backbone, batch, [stage])[stage])


def bare(run, batches: list[torch.Tensor]) -> None:
    for batch in batches:
        run(batch)


def _best(job) -> tuple[float, float | None]:
    """(best seconds of ROUNDS runs, peak MB above the start of the worst run)."""
    times, peaks = [], []
    for _ in range(ROUNDS):
        _, seconds, peak = _measure(job)
        times.append(seconds)
        peaks.append(peak)
    return min(times), (None if None in peaks else max(peaks))


def bench_folder_kind(backbone, title: str, paths: list[Path]) -> float:
    stage = backbone.stages[-1].name
    n = len(paths)
    batches = [torch.stack([backbone.preprocess(p) for p in paths[i:i + BATCH]])
               for i in range(0, n, BATCH)]
    eager, onnx = Embedder(backbone, stage, "torch"), Embedder(backbone, stage, "onnx", threads=2)
    jobs = {
        "plain loop (Pillow, eager)": lambda: plain_loop(backbone, paths, stage),
        "torch, as before": lambda: embed_folder(paths, backbone, cache_dir=None, progress=False,
                                                 engine="torch", jpeg_draft=False, num_workers=2),
        "onnx": lambda: embed_folder(paths, backbone, cache_dir=None, progress=False, engine="onnx",
                                     jpeg_draft=False),
        "onnx + draft (default)": lambda: embed_folder(paths, backbone, cache_dir=None, progress=False),
        "bare forward, PyTorch eager": lambda: bare(eager, batches),
        "bare forward, ONNX Runtime": lambda: bare(onnx, batches),
    }
    embed_folder(paths[:2 * BATCH], backbone, cache_dir=None, progress=False)  # warm-up: export,
    embed_folder(paths[:2 * BATCH], backbone, cache_dir=None, progress=False, engine="torch")  # traces
    bare(onnx, batches[:1])
    bare(eager, batches[:1])
    results = {name: _best(job) for name, job in jobs.items()}
    rate = {name: n / seconds for name, (seconds, _) in results.items()}
    print(f"\n   {title}: {n} photos, best of {ROUNDS}")
    print(f"   {'':30}{'images/s':>10}{'vs torch before':>17}{'vs bare ONNX':>14}{'peak MB':>9}")
    for name, (_, peak) in results.items():
        mb = "n/a" if peak is None else f"{peak:,.0f}"
        print(f"   {name:30}{rate[name]:10.1f}{rate[name] / rate['torch, as before']:16.2f}x"
              f"{rate[name] / rate['bare forward, ONNX Runtime']:13.2f}x{mb:>9}")
    return rate["bare forward, ONNX Runtime"]


def bench_split(backbone, paths: list[Path]) -> None:
    print(f"\n   scheduling, album, onnx + draft ({torch.get_num_threads()} torch threads; default: "
          f"{simlab.pipeline.embedding_threads()} threads, each decoding and embedding whole batches):")
    real_threads, real_split = simlab.pipeline.embedding_threads, simlab.pipeline.thread_split
    try:
        for threads in THREADS:
            simlab.pipeline.embedding_threads = lambda cores=None, t=threads: t
            seconds, _ = _best(lambda: embed_folder(paths, backbone, cache_dir=None, progress=False))
            print(f"   {threads} threads, a batch each:      {len(paths) / seconds:6.1f} images/s")
        for workers, threads in SPLITS:
            simlab.pipeline.thread_split = lambda cores=None, s=(workers, threads): s
            job = lambda w=workers: embed_folder(paths, backbone, cache_dir=None,  # noqa: E731
                                                 progress=False, num_workers=w)
            seconds, _ = _best(job)
            print(f"   {workers} worker processes x {threads} threads: {len(paths) / seconds:6.1f} images/s")
    finally:
        simlab.pipeline.embedding_threads, simlab.pipeline.thread_split = real_threads, real_split


def bench_folder() -> None:
    backbone = load_backbone("mobilenet_v2")
    print(f"\n1. Folder embedding: MobileNetV2 {backbone.stages[-1].name}, average pooling, batch {BATCH}, "
          f"no cache; torch threads {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as tmp:
        paths = album(Path(tmp) / "album")
        bench_folder_kind(backbone, f"(a) the kit's album ({COPIES} sets of 13 photos and planted copies)",
                          paths)
        bench_folder_kind(backbone, "(b) phone photos: the kit's 13 upscaled to 12 MP, 2 JPEG qualities",
                          phone_photos(Path(tmp) / "phone"))
        bench_split(backbone, paths)

        cache = Path(tmp) / "cache"
        start = time.perf_counter()
        first = embed_folder(paths, backbone, cache_dir=cache, progress=False)
        t_first = time.perf_counter() - start
        start = time.perf_counter()
        second = embed_folder(paths, backbone, cache_dir=cache, progress=False)
        t_second = time.perf_counter() - start
        print(f"\n   cache: first run {t_first:.2f} s ({first.computed} embedded), second run on the "
              f"unchanged album {t_second:.2f} s ({second.from_cache} from the cache): "
              f"RATIO {t_first / t_second:.0f}x")


# ------------------------------------------------------------------------------ 2. search
def _status_mb(field: str) -> float | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    return int(re.search(rf"{field}:\s+(\d+)", text).group(1)) / 1024


def _reset_peak() -> float | None:
    """Reset the high-water mark to the current RSS; return the current RSS in MB."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return None
    return _status_mb("VmRSS")


def _measure(run):
    """(result, seconds, peak MB above the RSS before) of ``run()``."""
    before = _reset_peak()
    start = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - start
    peak = _status_mb("VmHWM")
    return result, seconds, (None if before is None or peak is None else peak - before)


def bench_search(n: int) -> None:
    data = synthetic_embeddings(n + QUERIES, dim=DIM, seed=0)
    gallery, queries = data[:n], data[n:]
    del data
    print(f"\n2. Search: N = {n:,} vectors of dimension {DIM} ({gallery.nbytes / 2**20:,.0f} MB), "
          f"{QUERIES} queries, k = {K}")
    print(f"   {'method':40}{'build s':>9}{'queries/s':>11}{'recall@10':>11}{'peak MB':>9}")

    (truth, _), t_top_k, peak = _measure(lambda: top_k(queries, gallery, k=K, metric="cosine"))
    qps_top_k = QUERIES / t_top_k
    _row("simlab.metrics.top_k (exact)", 0.0, qps_top_k, 1.0, peak)

    def run(name: str, index, t_build: float, peak_build) -> float:
        search(index, queries[:10], k=K)  # warm-up: the first call pays set-up costs
        (found, _), t, peak = _measure(lambda: search(index, queries, k=K))
        qps = QUERIES / t
        _row(name, t_build, qps, recall_at_k(found, truth), _max(peak_build, peak))
        return qps

    flat, t_build, peak_build = _measure(lambda: build_index(gallery, "exact"))
    qps_flat = run("FAISS exact (IndexFlatIP)", flat, t_build, peak_build)
    del flat
    print(f"   RATIO FAISS exact / top_k queries/s: {qps_flat / qps_top_k:.2f}x")

    ivf, t_build, peak_build = _measure(lambda: build_index(gallery, "ivf"))
    for nprobe in IVF_NPROBE:
        ivf.nprobe = nprobe
        qps = run(f"FAISS IVF nlist={ivf.nlist} nprobe={nprobe}", ivf, t_build, peak_build)
        print(f"   {'':40}RATIO vs FAISS exact {qps / qps_flat:.1f}x, vs top_k {qps / qps_top_k:.1f}x")
    del ivf

    hnsw, t_build, peak_build = _measure(lambda: build_index(gallery, "hnsw"))
    for ef in HNSW_EF:
        hnsw.hnsw.efSearch = ef
        qps = run(f"FAISS HNSW M={hnsw.hnsw.nb_neighbors(1)} ef_search={ef}", hnsw, t_build, peak_build)
        print(f"   {'':40}RATIO vs FAISS exact {qps / qps_flat:.1f}x, vs top_k {qps / qps_top_k:.1f}x")


def _row(name: str, build_s: float, qps: float, recall: float, peak) -> None:
    mb = "n/a" if peak is None else f"{peak:,.0f}"
    print(f"   {name:40}{build_s:9.2f}{qps:11,.0f}{recall:11.3f}{mb:>9}")


def _max(a, b):
    return None if a is None or b is None else max(a, b)


# ------------------------------------------------------------------------------ 3. a Dask cluster
def bench_cluster() -> None:
    """Single process vs a 2-worker LocalCluster on the same cores; overhead per task (issue 13)."""
    import dask
    from dask.distributed import Client, LocalCluster

    from simlab.cluster import batch_spec, embed_batch, task_overhead

    backbone = load_backbone("mobilenet_v2")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        for seed in range(COPIES):
            plant_duplicates(samples(), folder / f"set{seed}", seed=seed)
        paths = image_files(folder)
        n = len(paths)
        embed_folder(paths[:BATCH], backbone, cache_dir=None, batch_size=BATCH, progress=False)  # warm-up

        # Dask gives its workers MALLOC_TRIM_THRESHOLD_=65536, which slows torch's forward pass
        # about 1.6x (README); the workers here start without it, as the README recommends.
        environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
        environ.pop("MALLOC_TRIM_THRESHOLD_", None)
        dask.config.set({"distributed.nanny.pre-spawn-environ": environ})
        start = time.perf_counter()
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
        client = Client(cluster)
        t_start = time.perf_counter() - start
        try:
            start = time.perf_counter()  # the workers import torch and build the backbone
            embed_folder(paths[:2 * BATCH], backbone, cache_dir=None, batch_size=BATCH, client=client,
                         progress=False)
            t_warm = time.perf_counter() - start
            local, remote = [], []
            for _ in range(ROUNDS):  # alternate, so background load hits both alike
                start = time.perf_counter()
                embed_folder(folder, backbone, cache_dir=None, batch_size=BATCH, progress=False)
                local.append(time.perf_counter() - start)
                start = time.perf_counter()
                embed_folder(folder, backbone, cache_dir=None, batch_size=BATCH, client=client,
                             progress=False)
                remote.append(time.perf_counter() - start)
            overhead = task_overhead(client, tasks=400, result_shape=(BATCH, 1280))
            spec = batch_spec(backbone)
            tasks = [client.submit(embed_batch, spec, [str(p) for p in paths[i:i + BATCH]])
                     for i in range(0, n, BATCH)]
            per_image = sum(r.seconds for r in client.gather(tasks)) / n
        finally:
            client.close()
            cluster.close()
        t_local, t_remote = min(local), min(remote)
        tasks_per_run = -(-n // BATCH)
        print(f"\n3. A Dask cluster: the same {n} photos, MobileNetV2 stage5, batch {BATCH} "
              f"(one task per batch: {tasks_per_run} tasks), no cache, best of {ROUNDS}")
        print(f"   one process (DataLoader workers, {torch.get_num_threads()} torch threads): "
              f"{n / t_local:6.1f} images/s")
        print(f"   LocalCluster, 2 workers x 1 thread:            {n / t_remote:6.1f} images/s "
              "(workers without MALLOC_TRIM_THRESHOLD_)")
        print(f"   RATIO cluster / one process:                   {t_local / t_remote:.2f}x   "
              "(target >= 0.85)")
        print(f"   cluster start-up {t_start:.2f} s; first run of {2 * BATCH} images (workers import torch "
              f"and build the backbone) {t_warm:.2f} s")
        print(f"   decode + forward on one worker: {per_image * 1000:.1f} ms/image; overhead per task "
              f"(empty tasks): {overhead * 1000:.2f} ms")
        print(f"   RATIO overhead / task of {BATCH} images: {overhead / (BATCH * per_image + overhead):.1%}; "
              f"of 1 image: {overhead / (per_image + overhead):.1%}")


# ------------------------------------------------------------------------------ 4. phone and web photos
PHOTO_KINDS = {"12-MP phone photos (4032 x 3024)": (4032, 3024), "web-size photos (1024 x 768)": (1024, 768)}
FOLDER_SIZES = (16, 64)
NOISE = 6  # grey levels: sensor-like noise, so a 12-MP JPEG is ~3 MB and decodes like a real photo
PHONE_ROUNDS = 5


def noisy_photos(folder: Path, n: int, size: tuple[int, int], seed: int = 0) -> list[Path]:
    """``n`` JPEGs (quality 90) of the kit's photos, cropped to ``size`` (or its transpose, for
    portrait photos), resized with Lanczos, with Gaussian noise of ``NOISE`` grey levels; in
    ``folder/<k>`` the first k of them for k in ``FOLDER_SIZES`` (hard links)."""
    rng = np.random.default_rng(seed)
    photos = list(samples().values())
    made, scaled = [], {}
    (folder / "all").mkdir(parents=True)
    for i in range(n):
        source = photos[i % len(photos)]
        if source not in scaled:
            im = Image.open(source).convert("RGB")
            fit = size if im.width >= im.height else size[::-1]
            scaled[source] = np.asarray(ImageOps.fit(im, fit, Image.Resampling.LANCZOS), dtype=np.float32)
        pixels = scaled[source] + rng.normal(0, NOISE, scaled[source].shape).astype(np.float32)
        made.append(folder / "all" / f"photo{i:03d}.jpg")
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(made[-1], quality=90)
    for k in FOLDER_SIZES:
        (folder / str(k)).mkdir()
        for path in made[:k]:
            os.link(path, folder / str(k) / path.name)
    return made


def imagededup_encoder():
    """``(encode, note)``: imagededup's ``CNN().encode_images`` with its default model and workers,
    or ``(None, why not)`` when imagededup is not installed.

    Its default model is MobileNetV3-small with ImageNet weights, which ``torchvision`` downloads
    when ``imagededup.methods`` is imported (the default argument of ``CNN``). Offline that fails,
    so the same architecture is built with random weights (``weights=None``): the same layers and
    the same arithmetic, so the same speed; the encodings themselves mean nothing.
    """
    try:
        import imagededup
    except ImportError:
        return None, "imagededup is not installed (pip install -e '.[bench]')"
    import torchvision.models

    real = torchvision.models.mobilenet_v3_small
    torchvision.models.mobilenet_v3_small = lambda *args, weights=None, **kw: real(weights=None, **kw)
    try:
        from imagededup.methods import CNN
        from imagededup.utils.models import CustomModel, MobilenetV3

        model = CustomModel(name=MobilenetV3.name, model=MobilenetV3(), transform=MobilenetV3.transform)
    finally:
        torchvision.models.mobilenet_v3_small = real
    logging.disable(logging.INFO)  # it logs every step of every call to stderr
    try:
        cnn = CNN(verbose=False, model_config=model)
    finally:
        logging.disable(logging.NOTSET)
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("imagededup"):
            logging.getLogger(name).setLevel(logging.WARNING)
    note = (f"imagededup {imagededup.__version__}, CNN().encode_images, MobileNetV3-small with random "
            "weights (its ImageNet weights are downloaded, not offline), its default 0 workers")
    return (lambda folder: cnn.encode_images(image_dir=folder)), note


def bench_phone() -> None:
    """The kit before and now, a one-core reduced decode, and imagededup, on phone and web photos."""
    backbone = load_backbone("mobilenet_v2")
    stage = backbone.stages[-1].name
    reduce_to = 2 * max(backbone.transform.resize_size)
    before_workers, before_threads = simlab.pipeline.thread_split()
    encode, note = imagededup_encoder()
    print(f"\n4. Folders of phone and web photos: MobileNetV2 {stage}, batch {BATCH}, no cache; ms per "
          f"photo, median / best of {PHONE_ROUNDS} interleaved rounds; torch threads "
          f"{torch.get_num_threads()}")
    print(f"   before: {before_workers} DataLoader worker process(es) x {before_threads} ONNX Runtime "
          f"thread(s) (num_workers={before_workers}; one batch: all in this process); now: "
          f"{simlab.pipeline.embedding_threads()} threads of this process, each decoding and embedding "
          "whole batches (ONNX Runtime on one thread)")
    print(f"   reference: load_image(path, reduce_to={reduce_to}) alone, one photo after the other "
          "(one core)")
    print(f"   peer: {note}")
    export = Embedder(backbone, stage, "onnx", cache_dir=None)
    start = time.perf_counter()
    export._export(None)
    print(f"   the ONNX export a first call with cache_dir=None pays, once per process: "
          f"{time.perf_counter() - start:.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        for title, size in PHOTO_KINDS.items():
            folder = Path(tmp) / f"{size[0]}x{size[1]}"
            start = time.perf_counter()
            paths = noisy_photos(folder, max(FOLDER_SIZES), size)
            megabytes = sum(p.stat().st_size for p in paths) / len(paths) / 1e6
            print(f"\n   {title}: the kit's 13 photos, Lanczos, noise sigma {NOISE}, JPEG q90, "
                  f"{megabytes:.1f} MB each (made in {time.perf_counter() - start:.0f} s)")
            embed_folder(folder / str(FOLDER_SIZES[0]), backbone, cache_dir=None, progress=False)  # warm-ups
            embed_folder(paths[:2 * BATCH], backbone, cache_dir=None, progress=False,
                         num_workers=before_workers)
            if encode is not None:
                encode(folder / str(FOLDER_SIZES[0]))
            for n in FOLDER_SIZES:
                _phone_rows(backbone, folder / str(n), reduce_to, before_workers, encode)


def _cpu_idle() -> tuple[int, int] | None:
    """(idle, total) CPU ticks since boot, all cores (Linux); None elsewhere."""
    try:
        ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return None
    return ticks[3] + ticks[4], sum(ticks)


def _wait_until_idle(share: float = 0.9, patience: float = 60.0) -> bool:
    """Wait (at most ``patience`` seconds) until the CPUs were >= ``share`` idle for half a second:
    other jobs on a shared machine take cores from a two-core run more than from a one-core one.
    Whether it became idle (always True where /proc/stat is missing)."""
    deadline = time.perf_counter() + patience
    while time.perf_counter() < deadline:
        before = _cpu_idle()
        if before is None:
            return True
        time.sleep(0.5)
        after = _cpu_idle()
        if (after[0] - before[0]) >= share * max(1, after[1] - before[1]):
            return True
    return False


def _phone_rows(backbone, folder: Path, reduce_to: int, before_workers: int, encode) -> None:
    paths = image_files(folder)
    n = len(paths)
    jobs = {
        "reduced decode, one core": lambda: [load_image(p, reduce_to=reduce_to) for p in paths],
        "kit before": lambda: embed_folder(folder, backbone, cache_dir=None, progress=False,
                                           num_workers=before_workers),
        "kit now (default)": lambda: embed_folder(folder, backbone, cache_dir=None, progress=False),
    }
    if encode is not None:
        jobs["imagededup"] = lambda: encode(folder)
    times = {name: [] for name in jobs}
    busy = 0
    for r in range(PHONE_ROUNDS):  # interleaved, in a different order each round: load hits all alike
        busy += not _wait_until_idle()
        names = list(jobs)
        for name in names[r % len(names):] + names[:r % len(names)]:
            start = time.perf_counter()
            jobs[name]()
            times[name].append(time.perf_counter() - start)
    ms = {name: 1000 * statistics.median(t) / n for name, t in times.items()}
    best = {name: 1000 * min(t) / n for name, t in times.items()}
    print(f"   {n} photos{'':22}{'median':>8}{'best':>8}  ms/photo ({busy} of {PHONE_ROUNDS} rounds started "
          f"on a busy machine, load average {os.getloadavg()[0]:.1f})")
    for name in jobs:
        print(f"   {name:30}{ms[name]:8.1f}{best[name]:8.1f}")
    now = "kit now (default)"
    print(f"   RATIO kit now / one-core decode: {ms[now] / ms['reduced decode, one core']:.2f} "
          f"(best {best[now] / best['reduced decode, one core']:.2f}; target <= 1 on 12-MP photos); "
          f"kit before / now: {ms['kit before'] / ms[now]:.2f}x (best {best['kit before'] / best[now]:.2f}x)")
    if encode is not None:
        print(f"   RATIO imagededup / kit now: {ms['imagededup'] / ms[now]:.2f}x faster "
              f"(best {best['imagededup'] / best[now]:.2f}x); / kit before: "
              f"{ms['imagededup'] / ms['kit before']:.2f}x")
    else:
        print("   imagededup comparison skipped: not installed (pip install -e '.[bench]')")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--skip-folder", action="store_true")
    parser.add_argument("--skip-cluster", action="store_true")
    parser.add_argument("--only-cluster", action="store_true")
    parser.add_argument("--phone", action="store_true", help="run only section 4 (phone and web photos)")
    parser.add_argument("--skip-phone", action="store_true")
    args = parser.parse_args()
    print(f"torch threads: {torch.get_num_threads()}")
    if args.phone:
        bench_phone()
        return
    if not args.skip_folder and not args.only_cluster:
        bench_folder()
    if not args.skip_cluster:
        bench_cluster()
    if args.only_cluster:
        return
    if not args.skip_phone:
        bench_phone()
    for n in args.sizes:
        bench_search(n)


if __name__ == "__main__":
    main()

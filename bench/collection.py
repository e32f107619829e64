"""Benchmark: a photo collection end to end, from embedding a folder to searching a million vectors.

What it measures, in one run, CPU, torch's and FAISS's default thread counts:

1. **Folder embedding** (``simlab.collection.embed_folder``, MobileNetV2, deepest stage, average
   pooling) on a folder of 260 photos: four sets of the kit's photos and their planted copies
   (``simlab.augment``, a different seed each), no cache, default workers, against
   the **bare model**: the same batches, decoded and preprocessed beforehand (not timed), run
   through the same forward pass and pooling. The ratio folder / bare says whether loading is the
   bottleneck (target >= 0.9: the DataLoader's workers decode while the model computes). The
   folder's first run writes the cache; the second run on the unchanged folder reads it; their
   ratio is the cache-hit speed-up.
2. **Search** in N = 100,000 and 1,000,000 synthetic unit vectors of dimension 256 that cluster
   like image embeddings (``simlab.search.synthetic_embeddings``), 1,000 held-out queries, k = 10:
   ``simlab.metrics.top_k`` (NumPy/torch, blocks of <= 256 MB), FAISS exact (``IndexFlatIP``),
   FAISS IVF (default nlist, two nprobe) and FAISS HNSW (default M, two ef_search), each built
   once by ``simlab.search.build_index``. For each: build time, queries per second, recall@10
   against the exact neighbours, and peak memory above what the vectors themselves take (the
   process's high-water mark, VmHWM, reset before each method via ``/proc/self/clear_refs``;
   Linux only, else "n/a").

3. **A Dask cluster** (``embed_folder(..., client=...)``, :mod:`simlab.cluster`): the folder of 1.
   embedded by one process as above (DataLoader workers, torch's threads) against a 2-worker
   ``LocalCluster`` (one thread each; workers started without Dask's ``MALLOC_TRIM_THRESHOLD_``,
   which slows torch, see the README) on the same 2 cores, no cache, best of three alternating
   rounds after a warm-up (target >= 0.85x: the scheduling overhead is small); the cluster's
   start-up; overhead per task (:func:`simlab.cluster.task_overhead`, empty tasks returning a
   batch's vectors) against decode + forward per image on one worker, and its share of a task.
   ``--skip-cluster`` leaves it out, ``--only-cluster`` runs only it.

Ratios are of two things measured in this run. Run from the project root (about 10 minutes on
2 cores; ``--sizes 100000`` for a quick run of the search part):

    .venv/bin/python bench/collection.py
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

import torch

from simlab import load_backbone, samples
from simlab.augment import plant_duplicates
from simlab.collection import embed_folder, image_files
from simlab.features import extract_features, pool_map
from simlab.metrics import top_k
from simlab.search import build_index, recall_at_k, search, synthetic_embeddings

BATCH = 16
ROUNDS = 3
COPIES = 4  # sets of the kit's photos with planted copies in the folder: 4 x 13 x 5 = 260 images
DIM, QUERIES, K = 256, 1000, 10
IVF_NPROBE = (8, 32)  # cells searched, of build_index's default nlist = 4 sqrt(N)
HNSW_EF = (64, 128)  # candidates kept while searching the graph (build_index's default M = 32)


# ------------------------------------------------------------------------------ 1. a folder
def bare_forward(backbone, batches: list[torch.Tensor], stage: str) -> float:
    """Seconds for the model alone on preprocessed batches (the same forward and pooling)."""
    start = time.perf_counter()
    with torch.no_grad():  # as embed_folder
        for batch in batches:
            pool_map(extract_features(backbone, batch, [stage])[stage])
    return time.perf_counter() - start


def bench_folder() -> None:
    backbone = load_backbone("mobilenet_v2")
    stage = backbone.stages[-1].name
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        for seed in range(COPIES):  # other crops and colours for every seed: a folder large enough
            plant_duplicates(samples(), folder / f"set{seed}", seed=seed)  # to amortise start-up
        paths = image_files(folder)
        tensors = [backbone.preprocess(p) for p in paths]
        batches = [torch.stack(tensors[i:i + BATCH]) for i in range(0, len(tensors), BATCH)]
        bare_forward(backbone, batches[:1], stage)  # warm-up: trace the extractor, touch the weights
        embed_folder(paths[:BATCH], backbone, cache_dir=None, batch_size=BATCH, progress=False)

        bare, folder_times = [], []
        for _ in range(ROUNDS):  # alternate, so background load hits both alike
            bare.append(bare_forward(backbone, batches, stage))
            start = time.perf_counter()
            embed_folder(folder, backbone, cache_dir=None, batch_size=BATCH, progress=False)
            folder_times.append(time.perf_counter() - start)
        n = len(paths)
        t_bare, t_folder = min(bare), min(folder_times)
        print(f"\n1. Folder embedding: {n} photos ({COPIES} sets of the kit's {len(samples())} with "
              f"planted copies), MobileNetV2 {stage}, batch {BATCH}, best of {ROUNDS}")
        print(f"   bare model (preprocessed batches): {n / t_bare:6.1f} images/s")
        print(f"   embed_folder, no cache:            {n / t_folder:6.1f} images/s")
        print(f"   RATIO embed_folder / bare model:   {t_bare / t_folder:.2f}x   (target >= 0.9)")

        cache = Path(tmp) / "cache"
        start = time.perf_counter()
        first = embed_folder(folder, backbone, cache_dir=cache, batch_size=BATCH, progress=False)
        t_first = time.perf_counter() - start
        start = time.perf_counter()
        second = embed_folder(folder, backbone, cache_dir=cache, batch_size=BATCH, progress=False)
        t_second = time.perf_counter() - start
        print(f"   first run, writing the cache:      {t_first:6.2f} s ({first.computed} embedded)")
        print(f"   second run, unchanged folder:      {t_second:6.2f} s ({second.computed} embedded, "
              f"{second.from_cache} from the cache)")
        print(f"   RATIO cache-hit speed-up:          {t_first / t_second:.0f}x")


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
    data = synthetic_embeddings(n + QUERIES, DIM, seed=0)
    gallery, queries = data[:n], data[n:]
    del data
    print(f"\n2. Search: N = {n:,} vectors of dimension {DIM} ({gallery.nbytes / 2**20:,.0f} MB), "
          f"{QUERIES} queries, k = {K}")
    print(f"   {'method':40}{'build s':>9}{'queries/s':>11}{'recall@10':>11}{'peak MB':>9}")

    (truth, _), t_top_k, peak = _measure(lambda: top_k(queries, gallery, K, "cosine"))
    qps_top_k = QUERIES / t_top_k
    _row("simlab.metrics.top_k (exact)", 0.0, qps_top_k, 1.0, peak)

    def run(name: str, index, t_build: float, peak_build) -> float:
        search(index, queries[:10], K)  # warm-up: the first call pays set-up costs
        (found, _), t, peak = _measure(lambda: search(index, queries, K))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--skip-folder", action="store_true")
    parser.add_argument("--skip-cluster", action="store_true")
    parser.add_argument("--only-cluster", action="store_true")
    args = parser.parse_args()
    print(f"torch threads: {torch.get_num_threads()}")
    if not args.skip_folder and not args.only_cluster:
        bench_folder()
    if not args.skip_cluster:
        bench_cluster()
    if args.only_cluster:
        return
    for n in args.sizes:
        bench_search(n)


if __name__ == "__main__":
    main()

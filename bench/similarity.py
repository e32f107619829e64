"""Benchmark: all-pairs cosine similarity and top-k search, simlab against scikit-learn.

One run, random float32 vectors of length 1280 (MobileNetV2's last stage) with a fixed seed:

1. all-pairs similarity for N = 1,000, 5,000 and 20,000 with ``simlab.metrics.pairwise`` and
   with scikit-learn's ``cosine_similarity``: time and peak memory of each;
2. the per-pair loop that blog tutorials write (``cosine_similarity(v1.reshape(1, -1),
   v2.reshape(1, -1))`` inside two for-loops), timed on a 200 x 200 sample and scaled to N;
3. ``simlab.metrics.top_k(k=10)`` for 20,000 queries against the same 20,000 vectors.

Peak memory: each method runs once in a fresh subprocess, which resets the kernel's resident-set
high-water mark (``/proc/self/clear_refs``) just before the call and reads ``VmHWM`` after it.
That counts BLAS and NumPy buffers that ``tracemalloc`` misses. Where ``/proc`` is missing
(macOS), ``resource.getrusage`` gives the process's lifetime peak instead.
Time: one more subprocess per N calls scikit-learn and simlab alternately, so background load
hurts both alike; the table shows the fastest call of each, and the RATIOS also the median of
the paired (same-round) ratios. All ratios come from numbers measured in this same run.

Run: ``.venv/bin/python bench/similarity.py`` (about 3 minutes on 2 cores, about 5 GB of RAM).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

DIM = 1280
SEED = 0
SIZES = (1_000, 5_000, 20_000)
REPEATS = {1_000: 15, 5_000: 5, 20_000: 2}  # alternating sklearn/simlab calls in one process
LOOP_SAMPLE = 200  # the blog loop is timed on LOOP_SAMPLE x LOOP_SAMPLE pairs
TOP_K = 10
TOP_K_N = 20_000


def vectors(n: int) -> np.ndarray:
    """The benchmark data: ``n`` random float32 vectors of length DIM, the same in every process."""
    return np.random.default_rng(SEED).standard_normal((n, DIM), dtype=np.float32)


# ---------------------------------------------------------------------------------------------
# Child process: one task, measured
# ---------------------------------------------------------------------------------------------


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset this process's peak resident set size (Linux >= 4.0); False if not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_kb(reset_worked: bool) -> int:
    if reset_worked:
        return _status_kb("VmHWM")
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS, kB on Linux


def child(task: str, n: int, repeats: int) -> dict:
    from sklearn.metrics.pairwise import cosine_similarity

    from simlab.metrics import pairwise, top_k

    tasks = {
        "sklearn": lambda X: cosine_similarity(X),
        "simlab": lambda X: pairwise(X),
        "top_k": lambda X: top_k(X, X, k=TOP_K),
    }
    X = vectors(n)
    if task == "time":  # sklearn and simlab alternately in one process, under the same load
        times = {"sklearn": [], "simlab": []}
        for _ in range(repeats):
            for name in times:
                start = time.perf_counter()
                result = tasks[name](X)
                times[name].append(time.perf_counter() - start)
                del result
        return times
    run = tasks[task]
    before_kb = _status_kb("VmRSS") or 0
    reset_worked = _reset_peak()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = run(X)
        times.append(time.perf_counter() - start)
        del result
    return {
        "seconds": min(times),
        "all_seconds": times,
        "peak_extra_mb": (_peak_kb(reset_worked) - before_kb) / 1024,
        "peak_reset": reset_worked,
    }


def measure(task: str, n: int, repeats: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", task, str(n), str(repeats)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"child {task} N={n} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------
# Parent process: the table
# ---------------------------------------------------------------------------------------------


def blog_loop_seconds_per_pair() -> float:
    """Time the tutorial's double for-loop on LOOP_SAMPLE x LOOP_SAMPLE pairs."""
    from sklearn.metrics.pairwise import cosine_similarity

    X = vectors(LOOP_SAMPLE)
    scores = np.empty((LOOP_SAMPLE, LOOP_SAMPLE), dtype=np.float32)
    start = time.perf_counter()
    for i in range(LOOP_SAMPLE):
        for j in range(LOOP_SAMPLE):
            scores[i, j] = cosine_similarity(X[i].reshape(1, -1), X[j].reshape(1, -1))[0, 0]
    seconds = time.perf_counter() - start
    from simlab.metrics import pairwise

    assert np.allclose(scores, pairwise(X), atol=1e-5), "the loop and pairwise disagree"
    return seconds / LOOP_SAMPLE**2


def agreement() -> tuple[float, float]:
    """Max |simlab - sklearn| on N=1000, and the share of top_k rows equal to a full argsort."""
    from sklearn.metrics.pairwise import cosine_similarity

    from simlab.metrics import pairwise, top_k

    X = vectors(1_000)
    full = pairwise(X)
    diff = float(np.abs(full - cosine_similarity(X)).max())
    idx, _ = top_k(X, X, k=TOP_K, block_rows=97)  # many blocks
    expected = np.argsort(-full, axis=1, kind="stable")[:, :TOP_K]
    return diff, float((idx == expected).all(axis=1).mean())


def fmt_s(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.3f} s"


def main() -> None:
    import sklearn
    from threadpoolctl import threadpool_info

    blas = [
        f"{p['internal_api']} {p.get('version')} ({p['num_threads']} threads)"
        for p in threadpool_info()
        if p["user_api"] == "blas"
    ]
    print("simlab similarity benchmark")
    print(
        f"d = {DIM} float32, seed {SEED}; {os.cpu_count()} CPU cores; Python "
        f"{platform.python_version()}, NumPy {np.__version__}, scikit-learn {sklearn.__version__}"
    )
    print(f"BLAS: {'; '.join(blas)}")
    print()
    started = time.perf_counter()

    diff, top_k_exact = agreement()
    print(f"check: max |simlab.pairwise - sklearn cosine_similarity| at N=1,000 = {diff:.2e}")
    print(f"check: top_k rows identical to argsort of the full matrix (N=1,000): {top_k_exact:.1%}")
    print()

    per_pair = blog_loop_seconds_per_pair()
    print(
        f"blog loop: {per_pair * 1e6:.0f} us per pair "
        f"(timed on {LOOP_SAMPLE} x {LOOP_SAMPLE} = {LOOP_SAMPLE**2:,} pairs)"
    )
    print()

    rows, everything = [], []
    for n in SIZES:
        memory = {task: measure(task, n, 1) for task in ("sklearn", "simlab")}  # one call each
        timing = measure("time", n, REPEATS[n])  # alternating calls in one process
        everything += memory.values()
        seconds = {task: timing[task] + [memory[task]["seconds"]] for task in memory}
        best = {task: min(ts) for task, ts in seconds.items()}
        peak = {task: memory[task]["peak_extra_mb"] for task in memory}
        paired = float(np.median(np.divide(timing["simlab"], timing["sklearn"])))
        rows.append((n, best, peak, per_pair * n * n, paired))
        print(
            f"  N={n:,} seconds: sklearn {[round(t, 3) for t in seconds['sklearn']]}, "
            f"simlab {[round(t, 3) for t in seconds['simlab']]}",
            flush=True,
        )

    top = measure("top_k", TOP_K_N, 1)
    everything.append(top)
    print()

    print("All-pairs cosine similarity, N x N (time: fastest run; peak: extra RSS during the call)")
    header = (
        f"{'N':>7} {'result':>8} | {'sklearn':>9} {'simlab':>9} {'simlab/':>8} | "
        f"{'sklearn':>9} {'simlab':>9} | {'blog loop':>10} {'loop/':>9}"
    )
    print(header)
    print(
        f"{'':>7} {'MB':>8} | {'time':>9} {'time':>9} {'sklearn':>8} | "
        f"{'peak MB':>9} {'peak MB':>9} | {'(scaled)':>10} {'simlab':>9}"
    )
    print("-" * len(header))
    for n, best, peak, loop_s, _ in rows:
        print(
            f"{n:>7,} {n * n * 4 / 2**20:>8.0f} | {fmt_s(best['sklearn']):>9} "
            f"{fmt_s(best['simlab']):>9} {best['simlab'] / best['sklearn']:>8.2f} | "
            f"{peak['sklearn']:>9.0f} {peak['simlab']:>9.0f} | {fmt_s(loop_s):>10} "
            f"{loop_s / best['simlab']:>9,.0f}"
        )
    print()

    n, best, peak, _, _ = rows[-1]
    print(f"top_k(k={TOP_K}): {TOP_K_N:,} queries x {TOP_K_N:,} gallery vectors")
    print(
        f"  time {fmt_s(top['seconds'])}, peak extra RSS {top['peak_extra_mb']:.0f} MB "
        f"(the full {n:,} x {n:,} matrix alone is {n * n * 4 / 2**20:.0f} MB)"
    )
    print(
        f"  top_k / pairwise: time {top['seconds'] / best['simlab']:.2f}x, "
        f"peak memory {top['peak_extra_mb'] / peak['simlab']:.2f}x"
    )
    print()
    print("RATIOS (this run)")
    for n, best, peak, loop_s, paired in rows:
        print(
            f"  N={n:>6,}: simlab/sklearn time {best['simlab'] / best['sklearn']:.2f} "
            f"(median of paired runs {paired:.2f}), "
            f"simlab/sklearn peak memory {peak['simlab'] / peak['sklearn']:.2f}, "
            f"blog loop/simlab time {loop_s / best['simlab']:,.0f}"
        )
    print(
        f"  top_k/pairwise at N={n:,}: time {top['seconds'] / best['simlab']:.2f}, "
        f"peak memory {top['peak_extra_mb'] / peak['simlab']:.2f}"
    )
    if not all(m["peak_reset"] for m in everything):
        print("  (peak memory is the lifetime peak of each process: /proc/self/clear_refs missing)")
    print(f"\ntotal benchmark time {fmt_s(time.perf_counter() - started)}")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
    else:
        main()

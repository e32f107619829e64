"""Cost of collecting stages 1-3 of a CNN: one truncated model per level vs one forward pass.

What it measures, for ResNet-50 (layer1, layer2, layer3) and MobileNetV2 (its first three
stages, ``backbone.stages[:3]``), random weights (``weights=None``), 224x224 input, batch 1
and batch 16, CPU with torch's default thread count:

  (a) per level  - the blog-tutorial way: one truncated ``nn.Sequential`` per level
                   (ResNet: ``model.children()`` cut after layer1/layer2/layer3; MobileNetV2:
                   ``model.features[:i+1]`` for each stage node ``features.i``), each level
                   run separately on the same input;
  (b) one pass   - ``simlab.extract_features(backbone, batch, stages=[the 3 stages])``;
  (c) deepest    - ``simlab.extract_features(backbone, batch, stages=[deepest of the 3])``.

It first checks that (a) and (b) return the same tensors (``torch.allclose``), then times the
three ways under ``torch.inference_mode()`` after warm-up, interleaved in rounds (the order
rotates every round) so machine noise hits all alike, and reports the median per way. The
number of rounds (7-15) is fitted to a time budget per row; the load average is printed
because other work on the machine slows and blurs the timings.
Ratios are against (c); the target is one pass <= 1.05x the deepest stage alone.

Run it from the project root (a few minutes on 2 CPU cores; longer when the machine is busy):

    .venv/bin/python bench/extract.py

Torch uses its default thread count; ``OMP_NUM_THREADS=1 .venv/bin/python bench/extract.py``
runs single-threaded, which is steadier when other processes compete for the cores.

Exits 1 if (a) and (b) disagree; a missed speed target is reported (MISS) but not an error.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

import torch
from torch import nn

from simlab import extract_features, load_backbone

SIZE = 224
BATCHES = (1, 16)
MIN_ROUNDS, MAX_ROUNDS = 7, 15
BUDGET_S = 20.0  # timed seconds per (backbone, batch); rounds are fitted between the two bounds
TARGET = 1.05
MIN_SAMPLE_S = 0.2  # fast calls are repeated (interleaved) so each round lasts at least this


def per_level_models(backbone) -> list[nn.Module]:
    """One truncated model per stage of ``backbone.stages[:3]``, the blog-tutorial way."""
    model = backbone.model
    stages = backbone.stages[:3]
    if backbone.name.startswith("resnet"):
        names = [n for n, _ in model.named_children()]
        children = list(model.children())
        return [nn.Sequential(*children[: names.index(s.node) + 1]).eval() for s in stages]
    if backbone.name == "mobilenet_v2":
        idx = [int(s.node.split(".")[1]) for s in stages]
        return [nn.Sequential(*model.features[: i + 1]).eval() for i in idx]
    raise ValueError(f"no per-level recipe for {backbone.name}")


def methods(backbone, levels):
    names = [s.name for s in backbone.stages[:3]]
    deepest = names[-1]

    def per_level(x):
        with torch.inference_mode():
            return {n: m(x) for n, m in zip(names, levels, strict=True)}

    def one_pass(x):
        with torch.inference_mode():
            return extract_features(backbone, x, stages=names)

    def deepest_alone(x):
        with torch.inference_mode():
            return extract_features(backbone, x, stages=[deepest])

    return {"per level": per_level, "one pass": one_pass, "deepest": deepest_alone}


def check_same(ways, x) -> tuple[bool, float]:
    a = ways["per level"](x)
    b = ways["one pass"](x)
    ok = list(a) == list(b) and all(
        a[k].shape == b[k].shape and torch.allclose(a[k], b[k]) for k in a
    )
    diff = max((a[k] - b[k]).abs().max().item() for k in a) if ok else float("nan")
    return ok, diff


def time_ways(ways, x) -> tuple[dict[str, float], list[float], int]:
    """Median milliseconds per batch for each way, interleaved in rounds.

    Also returns the one-pass/deepest ratio of every round (paired, so it shows how much the
    machine's noise moves the ratio) and the number of rounds.
    """
    first = {}
    for k, f in ways.items():  # warm-up (the extractors were built by check_same), timed roughly
        t0 = time.perf_counter()
        f(x)
        first[k] = time.perf_counter() - t0
    # repeats per sample from the slowest way (same for all ways), rounds from the time budget
    reps = max(1, round(MIN_SAMPLE_S / max(first["per level"], 1e-6)))
    per_round = reps * sum(first.values())
    rounds = min(MAX_ROUNDS, max(MIN_ROUNDS, int(BUDGET_S / per_round)))
    samples = {k: [] for k in ways}
    order = list(ways)
    for r in range(rounds):
        spent = dict.fromkeys(ways, 0.0)
        for _ in range(reps):  # alternate call by call, so bursts of load hit every way alike
            for k in order[r % 3 :] + order[: r % 3]:
                t0 = time.perf_counter()
                ways[k](x)
                spent[k] += time.perf_counter() - t0
        for k in ways:
            samples[k].append(spent[k] / reps * 1000)
    paired = [o / d for o, d in zip(samples["one pass"], samples["deepest"], strict=True)]
    return {k: statistics.median(v) for k, v in samples.items()}, paired, rounds


def _load() -> str:
    """1/5/15-minute load averages: other work on the machine inflates and blurs the timings."""
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def _warn_if_busy() -> None:
    """Say so when other processes already load the machine (checked before timing starts)."""
    cpus = os.cpu_count() or 1
    if hasattr(os, "getloadavg") and os.getloadavg()[0] > 0.5 * cpus:
        print(
            f"WARNING: 1-minute load {os.getloadavg()[0]:.2f} on {cpus} CPUs; other processes "
            "compete for the cores, so these timings are noisy; rerun on an idle machine"
        )


def main() -> int:
    torch.manual_seed(0)
    start = time.perf_counter()
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, input {SIZE}x{SIZE}, "
        f"random weights, median ms per batch over {MIN_ROUNDS}-{MAX_ROUNDS} interleaved rounds"
    )
    print(f"load average before: {_load()}")
    _warn_if_busy()
    rows, all_same = [], True
    for name in ("resnet50", "mobilenet_v2"):
        backbone = load_backbone(name, weights=None)
        levels = per_level_models(backbone)
        ways = methods(backbone, levels)
        stage_names = [s.name for s in backbone.stages[:3]]
        x = torch.randn(2, 3, SIZE, SIZE)
        same, diff = check_same(ways, x)
        all_same &= same
        print(
            f"{name} stages {', '.join(stage_names)}: per level == one pass "
            f"(torch.allclose): {same}" + (f" (max abs diff {diff:.3g})" if same else "")
        )
        for n in BATCHES:
            x = torch.randn(n, 3, SIZE, SIZE)
            rows.append((name, n, *time_ways(ways, x)))

    print()
    head = (
        f"{'backbone':<13}{'batch':>6}{'per level':>11}{'one pass':>10}{'deepest':>9}"
        f"{'img/s 1pass':>13}{'lvl/deep':>10}{'1pass/deep':>12}{'per-round range':>17}"
        f"{'rounds':>8}  target<={TARGET}"
    )
    print(head)
    print("-" * len(head))
    for name, n, ms, paired, rounds in rows:
        lvl = ms["per level"] / ms["deepest"]
        one = ms["one pass"] / ms["deepest"]
        verdict = "PASS" if one <= TARGET else "MISS"
        print(
            f"{name:<13}{n:>6}{ms['per level']:>11.1f}{ms['one pass']:>10.1f}"
            f"{ms['deepest']:>9.1f}{n / ms['one pass'] * 1000:>13.1f}{lvl:>9.2f}x"
            f"{one:>11.3f}x{f'{min(paired):.2f}-{max(paired):.2f}x':>17}{rounds:>8}  {verdict}"
        )
    print(
        "\nratios are of the medians; 'per-round range' is the spread of one pass/deepest over "
        "the rounds"
    )
    print(f"load average after: {_load()}; total run time {time.perf_counter() - start:.0f} s")
    if not all_same:
        print("ERROR: per-level and one-pass features differ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

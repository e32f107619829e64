"""simlab.cluster: embed_folder on a Dask cluster (a LocalCluster on 127.0.0.1, so offline)."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from dask.distributed import Client, LocalCluster
from PIL import Image

from simlab import cluster
from simlab.backbones import load_backbone
from simlab.cache import Store
from simlab.collection import embed_folder
from simlab.images import image_files


def local_cluster() -> Client:
    """Two single-threaded worker processes on this machine, reachable on loopback only."""
    return Client(LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None))


@pytest.fixture(scope="module")
def client():
    with local_cluster() as c:
        yield c
        c.cluster.close()


@pytest.fixture(scope="module")
def backbone(pretrained):
    return pretrained  # ImageNet MobileNetV2, offline from the weight cache (conftest.py)


@pytest.fixture
def folder(photo_folder):
    """The photo folder of conftest.py (six photos, two drawn images) and three broken files."""
    root = photo_folder
    (root / "bad.jpg").write_text("this is a text file, not a photo")
    (root / "zero.png").write_bytes(b"")
    data = (root / "coffee.jpg").read_bytes()
    (root / "more" / "truncated.jpg").write_bytes(data[: len(data) // 2])
    return root


def quiet(run):
    """``run()`` with the warning about unreadable files caught; returns (result, warning text)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run()
    return result, [str(w.message) for w in caught]


def shards(cache: Path) -> list[Path]:
    return sorted(cache.glob("*/shard-*.npz"))


def worker_builds(client) -> dict[str, int]:
    return client.run(lambda: sys.modules["simlab.cluster"]._builds if "simlab.cluster" in sys.modules else 0)


# --- importing -------------------------------------------------------------------------------------


@pytest.mark.slow  # a Dask cluster or a new Python process
def test_import_simlab_does_not_import_dask():
    code = ("import sys, simlab; from simlab import embed_folder; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- the same vectors, the same cache, the same failures ------------------------------------------------


@pytest.mark.slow  # a Dask cluster or a new Python process
def test_cluster_run_equals_local_run_and_shares_its_cache(client, backbone, folder, tmp_path, capsys):
    local, local_warnings = quiet(lambda: embed_folder(folder, backbone, cache_dir=tmp_path / "a",
                                                       batch_size=3, num_workers=0, progress=False))
    before = worker_builds(client)
    remote, remote_warnings = quiet(lambda: embed_folder(folder, backbone, cache_dir=tmp_path / "b",
                                                         batch_size=3, client=client))
    assert "embedding on 2 Dask workers" in capsys.readouterr().err  # the progress bar
    broken = {"bad.jpg", "zero.png", "truncated.jpg"}
    assert remote.paths == local.paths == [p for p in image_files(folder) if p.name not in broken]
    assert remote.vectors.dtype == np.float32 and remote.vectors.shape == (8, 1280)
    np.testing.assert_allclose(remote.vectors, local.vectors, rtol=0, atol=1e-5)
    assert remote.failed == local.failed and len(remote.failed) == 3
    assert remote_warnings == local_warnings and "3 of 11 files could not be embedded" in remote_warnings[0]
    assert (remote.computed, remote.from_cache) == (8, 0)
    # 4 tasks of 3 paths: each worker built the backbone at most once and reused it
    built = {w: n - before.get(w, 0) for w, n in worker_builds(client).items()}
    assert set(built.values()) <= {0, 1} and sum(built.values()) >= 1

    # the same layout: a local run reads the cluster's cache, and the cluster the local one's
    assert remote.cache_dir.name == local.cache_dir.name and len(shards(tmp_path / "b")) == 4
    from_b, _ = quiet(lambda: embed_folder(folder, backbone, cache_dir=tmp_path / "b", progress=False))
    assert (from_b.computed, from_b.from_cache) == (0, 8)
    np.testing.assert_array_equal(from_b.vectors, remote.vectors)
    from_a, _ = quiet(lambda: embed_folder(folder, backbone, cache_dir=tmp_path / "a", client=client))
    assert (from_a.computed, from_a.from_cache) == (0, 8)


@pytest.mark.slow  # a Dask cluster or a new Python process
def test_relative_paths_and_no_cache_report_failures_as_locally(client, backbone, folder, monkeypatch):
    monkeypatch.chdir(folder)  # the workers started elsewhere: they get absolute paths
    paths = [Path("coffee.jpg"), Path("bad.jpg"), Path("gone.jpg"), Path("more/drawn0.png"),
             Path("coffee.jpg")]
    local, local_warnings = quiet(lambda: embed_folder(paths, backbone, cache_dir=None, num_workers=0,
                                                       progress=False))
    remote, remote_warnings = quiet(lambda: embed_folder(paths, backbone, cache_dir=None, batch_size=2,
                                                         client=client, progress=False))
    assert remote.paths == local.paths == [paths[0], paths[3], paths[4]]
    assert remote.failed == local.failed
    assert [r for _, r in remote.failed] == ["bad.jpg: not an image file Pillow can read",
                                             "gone.jpg: no such file"]
    assert remote_warnings == local_warnings
    np.testing.assert_allclose(remote.vectors, local.vectors, rtol=0, atol=1e-5)


@pytest.mark.slow  # a Dask cluster or a new Python process
def test_other_stage_pool_and_a_weights_file(client, backbone, folder, tmp_path):
    torch.manual_seed(0)
    random = load_backbone("mobilenet_v2", weights=None)
    with pytest.raises(ValueError, match="random weights cannot be rebuilt on the workers"):
        embed_folder(folder, random, cache_dir=None, client=client)
    torch.save(random.model.state_dict(), tmp_path / "random.pth")
    saved = load_backbone("mobilenet_v2", weights=tmp_path / "random.pth")
    names = ("coffee.jpg", "rocket.jpg", "chelsea.PNG", "drawn1.bmp", "more/drawn0.png")
    paths = [folder / name for name in names]
    remote = embed_folder(paths, saved, stage="stage4", pool="gem", cache_dir=None, client=client,
                          progress=False)
    local = embed_folder(paths, saved, stage="stage4", pool="gem", cache_dir=None, progress=False)
    assert remote.vectors.shape == (5, 96)
    np.testing.assert_allclose(remote.vectors, local.vectors, rtol=0, atol=1e-5)


@pytest.mark.slow  # a Dask cluster or a new Python process
def test_weights_changed_in_memory_are_refused_by_the_workers(client, folder):
    changed = load_backbone()
    with torch.no_grad():
        changed.model.features[0][0].weight.mul_(1.5)
    with pytest.raises(ValueError, match=r"differs from the client's in weights_sha256"):
        embed_folder(folder, changed, cache_dir=None, client=client, progress=False)


def test_clear_errors_before_any_task(backbone, folder):
    with pytest.raises(TypeError, match=r"client must be a dask.distributed.Client.*got a str"):
        embed_folder(folder, backbone, cache_dir=None, client="tcp://scheduler:8786")
    with pytest.raises(ValueError, match="engine='tensorrt': choose one of auto, torch, onnx"):
        cluster.batch_spec(backbone, engine="tensorrt")
    spec = dataclasses.replace(cluster.batch_spec(backbone), engine="tensorrt")
    with pytest.raises(ValueError, match="engine='tensorrt': this worker supports torch, onnx"):
        cluster.embed_batch(spec, [])


def test_embed_batch_in_this_process(backbone, folder):
    spec = cluster.batch_spec(backbone)  # engine "auto" is resolved here, on the client
    assert (spec.backbone, spec.weights, spec.stage, spec.pool, spec.engine) == (
        "mobilenet_v2", "default", "stage5", "avg", "onnx")
    assert cluster.batch_spec(backbone, engine="torch").engine == "torch"
    paths = [str(folder / "coffee.jpg"), str(folder / "bad.jpg"), str(folder / "rocket.jpg")]
    result = cluster.embed_batch(spec, paths)
    assert result.ok == [0, 2] and [i for i, _ in result.errors] == [1]
    assert result.errors[0][1].startswith(f"{paths[1]}: ")
    expected = embed_folder([paths[0], paths[2]], backbone, cache_dir=None, num_workers=0, progress=False)
    np.testing.assert_allclose(result.vectors, expected.vectors, rtol=0, atol=1e-5)
    again = cluster.embed_batch(spec, paths[:1])
    assert again.built is False and again.seconds > 0


@pytest.mark.slow  # a Dask cluster or a new Python process
def test_task_overhead_is_a_small_positive_time(client):
    overhead = cluster.task_overhead(client, tasks=40)
    assert 0 < overhead < 1.0  # milliseconds here; a second would mean something is broken
    with pytest.raises(ValueError, match="tasks=0"):
        cluster.task_overhead(client, tasks=0)


# --- failures mid-run ---------------------------------------------------------------------------------


def many_images(root: Path, n: int) -> Path:
    root.mkdir()
    for i in range(n):
        blocks = np.random.default_rng(100 + i).integers(0, 256, (6, 8, 3), dtype=np.uint8)
        Image.fromarray(blocks).resize((64, 48), Image.Resampling.NEAREST).save(root / f"img{i:02d}.png")
    return root


def slow_down_workers(client, seconds_per_image: float) -> None:
    """Make image loading on the current workers slow (a restarted worker is fast again)."""
    def patch():
        import simlab.pipeline as c

        load = c.load_image
        c.load_image = lambda path, **options: (time.sleep(seconds_per_image), load(path, **options))[1]

    client.run(patch)


@pytest.mark.slow  # a Dask cluster or a new Python process
def test_a_killed_worker_costs_nothing_but_time(backbone, tmp_path):
    folder = many_images(tmp_path / "many", 32)
    cache = tmp_path / "cache"
    with local_cluster() as client:
        slow_down_workers(client, 0.15)  # 4 images per task: 0.6 s a task, 8 tasks
        pids = client.run(os.getpid)
        victim_address, victim = sorted(pids.items())[0]
        at_kill = {}

        def kill_when_busy():
            deadline = time.monotonic() + 120
            while not shards(cache) and time.monotonic() < deadline:  # the first batch has arrived
                time.sleep(0.02)
            at_kill["tasks"] = client.processing(workers=[victim_address])[victim_address]
            at_kill["shards"] = len(shards(cache))
            os.kill(victim, signal.SIGKILL)

        killer = threading.Thread(target=kill_when_busy)
        killer.start()
        try:
            remote = embed_folder(folder, backbone, cache_dir=cache, batch_size=4, client=client,
                                  progress=False)
        finally:
            killer.join()
        assert at_kill["tasks"] and at_kill["shards"] < 8  # killed with a task, mid-run
        assert victim not in client.run(os.getpid).values()  # the nanny started a new process
        client.cluster.close()
    assert (remote.computed, len(remote.paths), remote.failed) == (32, 32, [])
    local = embed_folder(folder, backbone, cache_dir=None, num_workers=0, progress=False)
    np.testing.assert_allclose(remote.vectors, local.vectors, rtol=0, atol=1e-5)
    again = embed_folder(folder, backbone, cache_dir=cache, progress=False)
    assert again.from_cache == 32


@pytest.mark.slow  # a Dask cluster or a new Python process
def test_interrupting_the_client_keeps_finished_batches(client, backbone, tmp_path, monkeypatch):
    folder = many_images(tmp_path / "many", 24)
    cache = tmp_path / "cache"
    write = Store.write
    written = []

    def write_then_interrupt(store, hashes, vectors):
        write(store, hashes, vectors)
        written.append(len(hashes))
        if len(written) == 2:
            raise KeyboardInterrupt  # Ctrl-C (or the kernel's stop button) between two batches

    monkeypatch.setattr(Store, "write", write_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        embed_folder(folder, backbone, cache_dir=cache, batch_size=3, client=client, progress=False)
    monkeypatch.setattr(Store, "write", write)
    assert written == [3, 3] and len(shards(cache)) == 2
    deadline = time.monotonic() + 30
    while client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)):
        assert time.monotonic() < deadline, "tasks were left running on the cluster"
        time.sleep(0.05)
    resumed = embed_folder(folder, backbone, cache_dir=cache, batch_size=3, client=client, progress=False)
    assert (resumed.from_cache, resumed.computed) == (6, 18)
    local = embed_folder(folder, backbone, cache_dir=None, num_workers=0, progress=False)
    np.testing.assert_allclose(resumed.vectors, local.vectors, rtol=0, atol=1e-5)

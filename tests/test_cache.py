"""simlab.cache: rows found again by file content; one row per file, or any number (faces)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simlab import cache
from simlab.cache import Store, atomic_write, cached_rows, default_cache_dir


def test_ragged_rows_round_trip_with_files_of_no_row(tmp_path):
    store = Store(tmp_path, {"kind": "test"}, 3, name=("faces",), ragged=True)
    rows = [np.ones((2, 3), np.float32), np.zeros((0, 3), np.float32), np.full((1, 3), 7, np.float32)]
    store.write(["a", "b", "c"], rows)
    loaded = Store(tmp_path, {"kind": "test"}, 3, name=("faces",), ragged=True).load()
    assert sorted(loaded) == ["a", "b", "c"]
    for key, expected in zip("abc", rows, strict=True):
        np.testing.assert_array_equal(loaded[key], expected)
    assert store.directory.name.startswith("faces-") and (store.directory / "config.json").is_file()


def test_a_ragged_shard_that_does_not_add_up_is_damaged(tmp_path):
    store = Store(tmp_path, {}, 2, ragged=True)
    np.savez(store.directory / "shard-1.npz", hashes=np.array(["a", "b"]), counts=np.array([1, 2]),
             vectors=np.zeros((2, 2), np.float32))
    with pytest.warns(UserWarning, match="damaged cache file"):
        assert store.load() == {}
    assert not (store.directory / "shard-1.npz").exists()


def test_many_ragged_shards_are_merged(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "COMPACT_ABOVE", 2)
    store = Store(tmp_path, {}, 2, ragged=True)
    for i in range(4):
        store.write([str(i)], [np.full((i, 2), i, np.float32)])
    assert len(store.load()) == 4 and len(list(store.directory.glob("shard-*"))) == 1
    assert {k: v.shape for k, v in store.load().items()} == {str(i): (i, 2) for i in range(4)}


def test_cached_rows_computes_each_content_once_and_reports_failures(tmp_path):
    for name, data in [("a", b"one"), ("b", b"two"), ("copy_of_a", b"one"), ("bad", b"bad")]:
        (tmp_path / name).write_bytes(data)
    paths = [tmp_path / n for n in ["a", "b", "copy_of_a", "missing", "bad"]]
    store = Store(tmp_path / "cache", {}, 1)
    asked = []

    def compute(todo, keys):
        asked.append([p.name for p in todo])
        rows = {k: np.array([len(p.read_bytes())], np.float32) for p, k in zip(todo, keys, strict=True)
                if p.name != "bad"}
        if rows:
            store.write(list(rows), np.stack(list(rows.values())))
        return rows, {k: f"{p}: broken" for p, k in zip(todo, keys, strict=True) if p.name == "bad"}

    found = cached_rows(paths, store, compute)
    assert asked == [["a", "b", "bad"]]  # the copy has the content of a: computed once
    assert sorted(found.rows) == [0, 1, 2] and (found.computed, found.from_cache) == (3, 0)
    assert found.failed == {3: f"{paths[3]}: no such file", 4: f"{paths[4]}: broken"}
    again = cached_rows(paths, store, compute)
    assert asked[-1] == ["bad"] and (again.computed, again.from_cache) == (0, 3)


def test_atomic_write_leaves_nothing_behind_when_it_fails(tmp_path):
    def fail(f):
        f.write(b"half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "x.bin", fail)
    assert list(tmp_path.iterdir()) == []
    atomic_write(tmp_path / "sub" / "x.bin", b"whole")
    assert (tmp_path / "sub" / "x.bin").read_bytes() == b"whole"


def test_the_tests_never_write_to_the_users_cache():
    assert default_cache_dir().name.startswith("simlab-cache")  # tests/conftest.py: own_cache_folder
    assert Path.home() / ".cache" not in default_cache_dir().parents

"""Tests of simlab.search: agreement with metrics.top_k, recall of IVF and HNSW, near duplicates,
the synthetic data, every error message, and one property (hypothesis, 300 examples).

torch is imported before faiss on purpose: both bring an OpenMP runtime, and the notebooks import
torch (through simlab) first. A subprocess checks the other order.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import torch  # before faiss: see the module docstring

# isort: split
import faiss
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from simlab.evaluation import recall_at_k
from simlab.metrics import pairwise, top_k
from simlab.search import build_index, near_duplicate_groups, search, synthetic_embeddings


def gaussian(n: int, d: int, seed: int) -> np.ndarray:
    """Random float32 rows of random lengths: no structure, ties practically impossible."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, d)) * rng.uniform(0.1, 10, (n, 1))).astype(np.float32)


@pytest.fixture(scope="module")
def clustered():
    """20,000 synthetic embeddings, 300 held-out queries and their exact 10 nearest neighbours."""
    data = synthetic_embeddings(20_300, seed=3)
    gallery, queries = data[:20_000], data[20_000:]
    truth, _ = search(build_index(gallery), queries)
    return gallery, queries, truth


def as_sets(indices: np.ndarray) -> list[set[int]]:
    return [set(row) for row in indices.tolist()]


# ---------------------------------------------------------------------------------------------
# Exact search = metrics.top_k
# ---------------------------------------------------------------------------------------------


def test_exact_search_equals_top_k():
    gallery, queries = gaussian(500, 32, 0), gaussian(40, 32, 1)
    gallery_before, queries_before = gallery.copy(), queries.copy()
    index = build_index(gallery)
    assert index.ntotal == 500 and index.d == 32
    indices, scores = search(index, queries, k=7)
    expected_indices, expected_scores = top_k(queries, gallery, k=7, metric="cosine")
    assert indices.shape == scores.shape == (40, 7)
    assert indices.dtype == np.int64 and scores.dtype == np.float32
    assert as_sets(indices) == as_sets(expected_indices)
    np.testing.assert_array_equal(indices, expected_indices)  # no ties in this data: same order
    np.testing.assert_allclose(scores, expected_scores, atol=1e-5)
    assert (np.diff(scores, axis=1) <= 0).all()  # best first
    np.testing.assert_array_equal(gallery, gallery_before)  # the caller's arrays are untouched
    np.testing.assert_array_equal(queries, queries_before)


def test_torch_float64_and_list_input():
    gallery = torch.from_numpy(gaussian(200, 16, 2).astype(np.float64)).requires_grad_()
    queries = gaussian(10, 16, 3)
    before = gallery.detach().clone()
    indices, scores = search(build_index(gallery), torch.from_numpy(queries), k=5)
    expected_indices, expected_scores = top_k(queries, gallery.detach().numpy(), k=5)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-5)
    assert torch.equal(gallery.detach(), before)
    indices, _ = search(build_index(gallery.detach().numpy().tolist()), queries.tolist(), k=5)
    np.testing.assert_array_equal(indices, expected_indices)


def test_each_vector_finds_itself_first():
    X = gaussian(300, 8, 4)
    for kind in ("exact", "hnsw"):
        indices, scores = search(build_index(X, kind), X, k=3)
        np.testing.assert_array_equal(indices[:, 0], np.arange(300))
        np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-6)
        assert scores.max() <= 1.0  # clipped like top_k


def test_torch_and_faiss_share_the_process():
    """Interleaved torch and FAISS work in one process (two OpenMP runtimes) stays correct."""
    X = gaussian(3000, 64, 5)
    index = build_index(X)
    for _ in range(3):
        t = torch.from_numpy(X)
        torch_scores = (t @ t[:100].T).numpy()
        indices, _ = search(index, X[:100], k=1)
        np.testing.assert_array_equal(indices[:, 0], np.arange(100))
        np.testing.assert_allclose(torch_scores, X @ X[:100].T, rtol=1e-4, atol=1e-2)
    assert faiss.omp_get_max_threads() >= 1 and torch.get_num_threads() >= 1


@pytest.mark.slow  # seconds: make test runs it, make check does not
def test_faiss_imported_before_torch_in_a_fresh_process():
    code = textwrap.dedent(
        """
        import faiss, numpy as np, torch
        x = np.random.default_rng(0).standard_normal((2000, 32)).astype("float32")
        index = faiss.IndexFlatIP(32)
        index.add(x)
        _, nearest = index.search(x[:50], 1)
        t = torch.from_numpy(x)
        assert (nearest[:, 0] == np.arange(50)).all()
        assert torch.allclose(t[:50] @ t.T, torch.from_numpy(x[:50] @ x.T), atol=1e-3)
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


# ---------------------------------------------------------------------------------------------
# IVF and HNSW
# ---------------------------------------------------------------------------------------------


def test_ivf_probing_every_cell_is_exact():
    gallery, queries = gaussian(2000, 32, 6), gaussian(50, 32, 7)
    index = build_index(gallery, "ivf", nlist=16, nprobe=16)
    assert isinstance(index, faiss.IndexIVFFlat)
    assert index.nlist == 16 and index.nprobe == 16
    indices, scores = search(index, queries, k=10)
    expected_indices, expected_scores = top_k(queries, gallery, k=10)
    assert as_sets(indices) == as_sets(expected_indices)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-5)


def test_ivf_defaults():
    index = build_index(gaussian(10_000, 8, 8), "ivf")
    assert index.nlist == 256  # min(4 * sqrt(10_000) = 400, 10_000 // 39 = 256)
    assert index.nprobe == 16  # 256 // 16
    assert index.metric_type == faiss.METRIC_INNER_PRODUCT
    small = build_index(gaussian(100, 8, 9), "ivf")
    assert small.nlist == 2 and small.nprobe == 1  # 100 // 39
    assert build_index(gaussian(100, 8, 9), "ivf", nlist=1, nprobe=5).nprobe == 1  # at most nlist


def test_ivf_and_hnsw_defaults_reach_high_recall(clustered):
    gallery, queries, truth = clustered
    ivf = build_index(gallery, "ivf")
    hnsw = build_index(gallery, "hnsw")
    assert isinstance(hnsw, faiss.IndexHNSWFlat)
    assert hnsw.hnsw.efSearch == 64 and hnsw.hnsw.efConstruction == 40
    # Measured 1.000 (IVF, nlist=512, nprobe=32) and 0.998-1.000 (HNSW) for three seeds.
    assert recall_at_k(search(ivf, queries)[0], truth) >= 0.95
    assert recall_at_k(search(hnsw, queries)[0], truth) >= 0.95
    # One cell of 512 misses many neighbours (measured 0.47-0.49): recall does measure something.
    ivf.nprobe = 1
    assert recall_at_k(search(ivf, queries)[0], truth) < 0.8


def test_missing_results_are_minus_one_and_minus_inf():
    rng = np.random.default_rng(10)
    centres = np.eye(8, dtype=np.float32)[[0, 4]]
    X = np.repeat(centres, 40, axis=0) + 0.01 * rng.standard_normal((80, 8)).astype(np.float32)
    index = build_index(X, "ivf", nlist=2, nprobe=1)
    indices, scores = search(index, X[:3], k=60)  # the probed cell holds 40 vectors
    assert (indices[:, :40] >= 0).all() and (indices[:, 40:] == -1).all()
    assert np.isfinite(scores[:, :40]).all() and (scores[:, 40:] == -np.inf).all()
    exact, _ = search(build_index(X), X[:3], k=60)
    assert recall_at_k(indices, exact) == pytest.approx(40 / 60)


# ---------------------------------------------------------------------------------------------
# recall_at_k
# ---------------------------------------------------------------------------------------------


def test_recall_at_k_values():
    truth = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    assert recall_at_k(truth, truth) == 1.0
    assert recall_at_k(truth[:, ::-1], truth) == 1.0  # order does not matter
    assert recall_at_k(truth + 100, truth) == 0.0
    found = np.array([[4, 3, 10, 11], [5, 6, 7, 8]])  # 2/4 and 4/4
    assert recall_at_k(found, truth) == 0.75
    assert recall_at_k([[1, 9], [9, 2]], [[1, 2], [1, 2]]) == 0.5  # lists; 1/2 in each row
    assert recall_at_k(np.array([[1, 1, 1, -1]]), np.array([[1, 2, 3, 4]])) == 0.25  # repeats once
    assert recall_at_k([[3, -1, -1]], [[3, -1, -1]]) == pytest.approx(1 / 3)  # -1 is never found
    assert isinstance(recall_at_k(truth, truth), float)
    assert recall_at_k(torch.tensor([[0, 1]]), np.array([[1, 0]], dtype=np.uint32)) == 1.0


# ---------------------------------------------------------------------------------------------
# near_duplicate_groups
# ---------------------------------------------------------------------------------------------


def test_near_duplicate_groups_finds_planted_groups():
    rng = np.random.default_rng(11)
    d = 64
    base = rng.standard_normal((20, d))  # random directions: |cosine| < 0.5 between them
    a = base[0] / np.linalg.norm(base[0])
    u = base[1] - (base[1] @ a) * a
    u /= np.linalg.norm(u)
    theta = np.arccos(0.97)  # a~b and b~c at 0.97, a and c at cos(2 theta) = 0.88
    chain = [np.cos(t) * a + np.sin(t) * u for t in (0.0, theta, 2 * theta)]
    copies = [3 * base[5] + 1e-3 * rng.standard_normal(d) for _ in range(2)]  # lengths differ
    rows = np.vstack([base[2:], chain, copies])  # base[5] is row 3; chain: 18-20; copies: 21, 22
    order = rng.permutation(len(rows))  # shuffle so that the groups are not contiguous
    X = rows[order]
    position = np.argsort(order)  # where each original row went
    chain_group = sorted(position[[18, 19, 20]].tolist())
    copy_group = sorted([*position[[21, 22]].tolist(), position[3].item()])
    assert near_duplicate_groups(X, 0.95) == sorted([chain_group, copy_group])
    # At 0.99 the chain falls apart; the copies of base[5] stay together.
    assert near_duplicate_groups(X, 0.99) == [copy_group]
    assert near_duplicate_groups(X, 0.95, k=1) == sorted([chain_group, copy_group])
    assert np.array_equal(X, rows[order])  # untouched


def test_near_duplicate_groups_exact_copies_and_crowds():
    rng = np.random.default_rng(12)
    v = rng.standard_normal(32)
    w_dir = rng.standard_normal(32)
    w_dir -= (w_dir @ v) / (v @ v) * v
    w = 0.97 * v / np.linalg.norm(v) + np.sqrt(1 - 0.97**2) * w_dir / np.linalg.norm(w_dir)
    # Two tight crowds of 6, 0.97 apart: each row's 3 nearest are in its own crowd, so the link
    # between the crowds is found only by the range search for rows whose k nearest all count.
    crowds = [v + 1e-4 * rng.standard_normal(32) for _ in range(6)]
    crowds += [w * np.linalg.norm(v) + 1e-4 * rng.standard_normal(32) for _ in range(6)]
    X = np.vstack([rng.standard_normal((5, 32)), crowds])
    assert near_duplicate_groups(X, 0.95, k=3) == [list(range(5, 17))]
    assert near_duplicate_groups(X, 0.999, k=3) == [list(range(5, 11)), list(range(11, 17))]
    exact = np.vstack([X[:5], X[:2], X[3:4]])  # rows 5 and 6 copy 0 and 1; row 7 copies 3
    assert near_duplicate_groups(exact, 1.0) == [[0, 5], [1, 6], [3, 7]]
    # In float32 the cosine of (1, 1) and (2, 2) comes out 0.99999994: still a copy at 1.0.
    assert near_duplicate_groups([[1.0, 1.0], [2.0, 2.0], [1.0, 0.0]], 1.0) == [[0, 1]]
    assert near_duplicate_groups(X[:5], 0.99) == []
    assert near_duplicate_groups(X[:1], 0.5) == []


# ---------------------------------------------------------------------------------------------
# synthetic_embeddings
# ---------------------------------------------------------------------------------------------


def test_synthetic_embeddings_shape_dtype_and_seed():
    X = synthetic_embeddings(1000, dim=64, n_clusters=5, seed=1)
    assert X.shape == (1000, 64) and X.dtype == np.float32
    np.testing.assert_array_equal(X, synthetic_embeddings(1000, dim=64, n_clusters=5, seed=1))
    assert not np.array_equal(X, synthetic_embeddings(1000, dim=64, n_clusters=5, seed=2))
    longer = synthetic_embeddings(20_000, dim=64, n_clusters=5, seed=1)  # spans two blocks
    np.testing.assert_array_equal(X, longer[:1000])  # the first rows do not depend on n
    assert np.isfinite(longer).all()
    assert synthetic_embeddings(1).shape == (1, 256)


def test_synthetic_embeddings_are_clustered():
    X = synthetic_embeddings(3000, seed=4)
    uniform = np.random.default_rng(4).uniform(-1, 1, X.shape).astype(np.float32)

    def mean_nearest_cosine(V):
        return search(build_index(V), V, k=2)[1][:, 1].mean()  # [:, 0] is the vector itself

    assert mean_nearest_cosine(X) > 0.8  # measured 0.87
    assert mean_nearest_cosine(uniform) < 0.3  # measured 0.22
    # Only n_clusters directions: with spread 0 every vector is a noisy copy of a centre.
    tight = synthetic_embeddings(500, n_clusters=4, spread=0.0, seed=4)
    groups = near_duplicate_groups(tight, 0.95)
    assert len(groups) == 4 and sum(map(len, groups)) == 500


# ---------------------------------------------------------------------------------------------
# Error messages
# ---------------------------------------------------------------------------------------------


def test_build_index_errors():
    X = gaussian(100, 8, 13)
    with pytest.raises(ValueError, match="unknown index kind 'flat'; choose one of exact, ivf, hnsw"):
        build_index(X, "flat")
    with pytest.raises(ValueError, match=r"vectors is empty \(shape \(0, 8\)\)"):
        build_index(np.ones((0, 8)))
    with pytest.raises(ValueError, match=r"vectors has shape \(8,\), a single vector"):
        build_index(np.ones(8))
    with pytest.raises(ValueError, match=r"vectors has shape \(2, 2, 2\).*2-D array"):
        build_index(np.ones((2, 2, 2)))
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"vectors contains NaN or infinity \(first at row 3, column 2"):
        build_index(bad, "hnsw")
    bad[3, 2] = np.inf
    with pytest.raises(ValueError, match="vectors contains NaN or infinity"):
        build_index(bad)
    zero = X.copy()
    zero[7] = 0
    with pytest.raises(ValueError, match="row 7 of vectors is a zero vector"):
        build_index(zero, "ivf")
    with pytest.raises(
        ValueError, match=r"too few vectors to train nlist=3 cells.*\(117\).*only 100.*nlist <= 2"
    ):
        build_index(X, "ivf", nlist=3)
    with pytest.raises(ValueError, match="needs at least 39 vectors.*only 38; use kind='exact'"):
        build_index(X[:38], "ivf")
    with pytest.raises(ValueError, match="nlist=1 cells.*only 38; use kind='exact'"):
        build_index(X[:38], "ivf", nlist=1)
    for name in ("nlist", "nprobe"):
        with pytest.raises(ValueError, match=f"{name} must be a whole number >= 1, got 0"):
            build_index(X, "ivf", **{name: 0})
    for name in ("hnsw_m", "ef_construction", "ef_search"):
        with pytest.raises(ValueError, match=f"{name} must be a whole number >= 1, got 2.5"):
            build_index(X, "hnsw", **{name: 2.5})


def test_search_errors():
    index = build_index(gaussian(10, 8, 14))
    with pytest.raises(ValueError, match="queries have 5 columns but the index holds vectors of width 8"):
        search(index, np.ones((2, 5)))
    for k in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="k must be a whole number >= 1"):
            search(index, np.ones((2, 8)), k=k)
    with pytest.raises(ValueError, match="k=11 but the index holds only 10 vectors: ask for at most 10"):
        search(index, np.ones((2, 8)), k=11)
    with pytest.raises(ValueError, match="row 1 of queries is a zero vector"):
        search(index, np.vstack([np.ones(8), np.zeros(8)]), k=1)
    with pytest.raises(ValueError, match=r"queries has shape \(8,\), a single vector.*reshape\(1, -1\)"):
        search(index, np.ones(8))
    with pytest.raises(ValueError, match="index must be a FAISS index made by build_index, got ndarray"):
        search(np.ones((10, 8)), np.ones((2, 8)))


def test_recall_at_k_errors():
    with pytest.raises(ValueError, match=r"found has shape \(2, 3\) and truth has shape \(2, 4\)"):
        recall_at_k(np.zeros((2, 3), dtype=int), np.zeros((2, 4), dtype=int))
    with pytest.raises(ValueError, match=r"found has shape \(3,\), but a non-empty \(Nq, k\) array"):
        recall_at_k(np.arange(3), np.arange(3))
    with pytest.raises(ValueError, match=r"found has shape \(0, 10\), but a non-empty"):
        recall_at_k(np.zeros((0, 10), dtype=int), np.zeros((0, 10), dtype=int))
    with pytest.raises(ValueError, match="truth must hold integer indices, but it has dtype float64"):
        recall_at_k(np.zeros((1, 2), dtype=int), np.zeros((1, 2)))


def test_near_duplicate_groups_errors():
    X = gaussian(10, 4, 15)
    for threshold in (1.01, -1.5, float("nan"), "0.9", None):
        with pytest.raises(ValueError, match=r"threshold must be a cosine similarity in \[-1, 1\]"):
            near_duplicate_groups(X, threshold)
    with pytest.raises(ValueError, match="k must be a whole number >= 1, got 0"):
        near_duplicate_groups(X, 0.9, k=0)
    with pytest.raises(ValueError, match="row 0 of vectors is a zero vector"):
        near_duplicate_groups(np.zeros((3, 4)), 0.9)


def test_synthetic_embeddings_errors():
    for name in ("n", "dim", "n_clusters", "intrinsic_dim"):
        with pytest.raises(ValueError, match=f"{name} must be a whole number >= 1, got 0"):
            synthetic_embeddings(**{"n": 10, name: 0})
    with pytest.raises(ValueError, match="spread must be a number >= 0, got -1"):
        synthetic_embeddings(10, spread=-1)


# ---------------------------------------------------------------------------------------------
# Property (hypothesis)
# ---------------------------------------------------------------------------------------------

entries = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def nonzero_rows(M: np.ndarray) -> np.ndarray:
    """Shift rows of (nearly) zero length by +1 so cosine is defined; this makes some ties."""
    return np.where(np.linalg.norm(M, axis=1, keepdims=True) > 1e-3, M, M + 1.0)


@st.composite
def gallery_and_queries(draw):
    n, m, d = draw(st.integers(1, 12)), draw(st.integers(1, 5)), draw(st.integers(1, 8))
    gallery = draw(arrays(np.float64, (n, d), elements=entries).map(nonzero_rows))
    queries = draw(arrays(np.float64, (m, d), elements=entries).map(nonzero_rows))
    return gallery, queries


@settings(max_examples=50 if os.environ.get("SIMLAB_QUICK") else 300, deadline=None)  # see test_metrics
@given(gallery_and_queries())
def test_exact_top1_is_the_best_pairwise_cosine(data):
    gallery, queries = data
    indices, scores = search(build_index(gallery), queries, k=1)
    cosines = pairwise(queries, gallery)
    best = cosines.max(axis=1)
    np.testing.assert_allclose(scores[:, 0], best, atol=1e-5)
    # The row found scores the best too (ties may pick another row of the same score).
    np.testing.assert_allclose(cosines[np.arange(len(queries)), indices[:, 0]], best, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# pair_precision_recall


def test_pair_precision_recall_counts_pairs_within_groups():
    from simlab.evaluation import pair_precision_recall

    labels = ["a", "a", "a", "b", "b", "c"]  # true pairs: (0,1) (0,2) (1,2) (3,4)
    assert pair_precision_recall([[0, 1, 2], [3, 4]], labels) == (1.0, 1.0)
    # one group too many: 0..4 together finds 10 pairs, 4 of them true
    assert pair_precision_recall([[0, 1, 2, 3, 4]], labels) == (0.4, 1.0)
    # links before chaining: two true links of four found
    assert pair_precision_recall([[0, 1], [1, 2], [2, 3], [4, 5]], labels) == (0.5, 0.5)
    assert pair_precision_recall([], labels) == (0.0, 0.0)
    assert pair_precision_recall([[2, 0]], np.array([7, 8, 7])) == (1.0, 1.0)  # any order, any labels


def test_pair_precision_recall_agrees_with_near_duplicate_groups():
    from simlab.evaluation import pair_precision_recall

    rng = np.random.default_rng(0)
    centres = rng.standard_normal((5, 32))
    labels = np.repeat(np.arange(5), 4)
    X = centres[labels] + 0.01 * rng.standard_normal((20, 32))
    assert pair_precision_recall(near_duplicate_groups(X, 0.99), labels) == (1.0, 1.0)


@pytest.mark.parametrize("groups, labels, match", [
    ([[0, 1]], ["a", "b"], "no two rows share a label"),
    ([[0, 5]], ["a", "a"], "outside 0..1"),
])
def test_pair_precision_recall_refuses(groups, labels, match):
    from simlab.evaluation import pair_precision_recall

    with pytest.raises(ValueError, match=match):
        pair_precision_recall(groups, labels)

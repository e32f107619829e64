"""Tests of simlab.metrics: hand-computed values, every error message, and properties.

The property tests draw float64 vectors with entries in [-1e3, 1e3] (1000 examples each) and
check the metric axioms, agreement with scipy.spatial.distance, and that the matrix functions
agree with plain loops over pairs.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import scipy.spatial.distance as ssd
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from simlab import metrics
from simlab.metrics import (
    cosine_similarity,
    distance_to_similarity,
    edit_distance,
    euclidean_distance,
    hamming_distance,
    manhattan_distance,
    pairwise,
    top_k,
)

#: Examples per property: 1000 in `make test` (and CI); `make check` sets SIMLAB_QUICK=1 for a
#: quick developer loop with 100.
MANY = settings(max_examples=100 if os.environ.get("SIMLAB_QUICK") else 1000, deadline=None)

PAIR_FUNCTIONS = {
    "cosine": cosine_similarity,
    "euclidean": euclidean_distance,
    "manhattan": manhattan_distance,
}

# ---------------------------------------------------------------------------------------------
# Hypothesis strategies
# ---------------------------------------------------------------------------------------------

entries = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def vectors(n: int):
    return arrays(np.float64, n, elements=entries)


def same_length_vectors(count: int, max_len: int = 10):
    return st.integers(1, max_len).flatmap(lambda n: st.tuples(*[vectors(n)] * count))


def with_nonzero_rows(M: np.ndarray) -> np.ndarray:
    """Shift rows of (nearly) zero length by +1, so cosine is defined for every example.

    The shifted rows come out as (near-)duplicates of one another, which exercises ties.
    """
    return np.where(np.linalg.norm(M, axis=1, keepdims=True) > 1e-3, M, M + 1.0)


def matrix_pair(max_rows: int = 6, max_dim: int = 6):
    """(X, Y) float64 with the same number of columns and no (nearly) zero row."""
    return st.tuples(
        st.integers(1, max_rows), st.integers(1, max_rows), st.integers(1, max_dim)
    ).flatmap(
        lambda s: st.tuples(
            arrays(np.float64, (s[0], s[2]), elements=entries).map(with_nonzero_rows),
            arrays(np.float64, (s[1], s[2]), elements=entries).map(with_nonzero_rows),
        )
    )


def not_near_zero(*vs) -> bool:
    """Cosine is ill-conditioned for vectors of (nearly) zero length; skip those."""
    return all(np.linalg.norm(v, axis=-1).min() > 1e-3 for v in vs)


def length_scale(*vs) -> float:
    return max(float(np.linalg.norm(v, axis=-1).max()) for v in vs)


def distance_tolerance(*vs) -> float:
    """Absolute tolerance for distances computed by different formulas from the same vectors.

    scikit-learn's Euclidean expansion |x|^2 + |y|^2 - 2 x.y loses about sqrt(eps) of the
    vector length when x and y are nearly equal; 1e-6 of the length covers that comfortably.
    """
    return 1e-6 * (1.0 + length_scale(*vs))


bit_strings = st.integers(0, 12).flatmap(
    lambda n: st.tuples(*[st.text(alphabet="01", min_size=n, max_size=n)] * 3)
)
int_sequences = st.integers(0, 12).flatmap(
    lambda n: st.tuples(*[st.lists(st.integers(0, 3), min_size=n, max_size=n)] * 3)
)
any_strings = st.tuples(*[st.text(alphabet="abc", max_size=10)] * 3)
any_int_lists = st.tuples(*[st.lists(st.integers(0, 3), max_size=10)] * 3)

# ---------------------------------------------------------------------------------------------
# Values computed by hand
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([1, 0], [0, 1], 0.0),
        ([1, 0], [1, 1], 1 / math.sqrt(2)),
        ([3, 4], [6, 8], 1.0),
        ([1, 2, 3], [-1, -2, -3], -1.0),
        ([1, 2], [2, -1], 0.0),
        ([1, 1, 0], [1, 0, 1], 0.5),
    ],
)
def test_cosine_values(a, b, expected):
    got = cosine_similarity(a, b)
    assert type(got) is float
    assert got == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize(
    ("a", "b", "euclidean", "manhattan"),
    [
        ([0, 0], [3, 4], 5.0, 7.0),
        ([1, 2, 3], [4, 6, 3], 5.0, 7.0),
        ([0, 0], [3, -4], 5.0, 7.0),
        ([2.5], [-1.5], 4.0, 4.0),
        ([1, 1, 1, 1], [1, 1, 1, 1], 0.0, 0.0),
    ],
)
def test_distance_values(a, b, euclidean, manhattan):
    assert euclidean_distance(a, b) == pytest.approx(euclidean, abs=1e-15)
    assert manhattan_distance(a, b) == pytest.approx(manhattan, abs=1e-15)
    assert type(euclidean_distance(a, b)) is float
    assert type(manhattan_distance(a, b)) is float


def test_unit_vector_identity():
    """For unit vectors |a - b|^2 = 2 - 2 cos(a, b), the identity the notebook teaches."""
    a = np.array([3.0, 4.0]) / 5
    b = np.array([1.0, 0.0])
    assert euclidean_distance(a, b) ** 2 == pytest.approx(2 - 2 * cosine_similarity(a, b))


def test_tiny_and_huge_values_do_not_underflow_or_overflow():
    assert cosine_similarity([1e-200, 1e-200], [1e-200, 0]) == pytest.approx(1 / math.sqrt(2))
    assert cosine_similarity([1e200, 1e200], [1e200, 0]) == pytest.approx(1 / math.sqrt(2))
    assert euclidean_distance([1e-200, 0], [0, 0]) == pytest.approx(1e-200)
    assert euclidean_distance([3e200, 0], [0, 4e200]) == pytest.approx(5e200)


@pytest.mark.parametrize(
    ("s", "t", "expected"),
    [
        ("kitten", "sitting", 3),
        ("flaw", "lawn", 2),
        ("", "abc", 3),
        ("same", "same", 0),
        ([1, 2, 3], [1, 3], 1),
        ((0, 1, 1, 0), [1, 1, 0], 1),
        (np.array([1, 0, 1, 1]), [1, 1, 1, 1, 0], 2),
    ],
)
def test_edit_distance_values(s, t, expected):
    got = edit_distance(s, t)
    assert type(got) is int
    assert got == expected


@pytest.mark.parametrize(
    ("s", "t", "expected"),
    [
        ("karolin", "kathrin", 3),
        ("1011101", "1001001", 2),
        ("", "", 0),
        ([1, 0, 1], np.array([1, 1, 1]), 1),
        ((True, False), [True, True], 1),
    ],
)
def test_hamming_distance_values(s, t, expected):
    got = hamming_distance(s, t)
    assert type(got) is int
    assert got == expected


def test_distance_to_similarity():
    assert distance_to_similarity(0) == 1.0
    assert distance_to_similarity(1.0) == 0.5
    assert type(distance_to_similarity(3)) is float
    np.testing.assert_allclose(distance_to_similarity([0, 1, 3]), [1.0, 0.5, 0.25])


def test_pairwise_values():
    X = [[1.0, 0.0], [0.0, 1.0]]
    Y = [[1.0, 1.0], [2.0, 0.0], [-1.0, 0.0]]
    r = 1 / math.sqrt(2)
    np.testing.assert_allclose(pairwise(X, Y), [[r, 1, -1], [r, 0, 0]], atol=1e-15)
    np.testing.assert_allclose(
        pairwise(X, Y, metric="euclidean"), [[1, 1, 2], [1, math.sqrt(5), math.sqrt(2)]], atol=1e-12
    )
    np.testing.assert_allclose(pairwise(X, Y, metric="manhattan"), [[1, 1, 2], [1, 3, 2]], atol=1e-15)


@pytest.mark.parametrize("metric", metrics.METRICS)
def test_pairwise_with_itself_is_symmetric_with_exact_diagonal(metric):
    X = np.random.default_rng(0).standard_normal((40, 16)).astype(np.float32)
    P = pairwise(X, metric=metric)
    assert P.shape == (40, 40)
    assert P.dtype == np.float32
    np.testing.assert_allclose(P, P.T, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.diag(P), 1.0 if metric == "cosine" else 0.0, atol=1e-6)
    np.testing.assert_allclose(P, pairwise(X, X.copy(), metric=metric), rtol=1e-5, atol=1e-5)
    if metric == "cosine":
        assert np.abs(P).max() <= 1.0  # clipped: float32 rounding would give 1.0000001


def test_pairwise_dtypes():
    X32 = np.ones((3, 4), dtype=np.float32)
    assert pairwise(X32).dtype == np.float32
    assert pairwise(X32, metric="manhattan").dtype == np.float32
    assert pairwise(X32, X32.astype(np.float64)).dtype == np.float64
    assert pairwise([[1, 2], [3, 4]]).dtype == np.float64
    assert pairwise(X32.astype(np.float16)).dtype == np.float32


def test_top_k_values():
    gallery = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    query = [[1.0, 0.1]]
    for metric, expected in [
        ("cosine", [1 / math.sqrt(1.01), 1.1 / math.sqrt(2 * 1.01), 0.1 / math.sqrt(1.01)]),
        ("euclidean", [0.1, 0.9, math.sqrt(1.81)]),
        ("manhattan", [0.1, 0.9, 1.9]),
    ]:
        idx, scores = top_k(query, gallery, k=3, metric=metric)
        assert idx.tolist() == [[0, 2, 1]], metric
        np.testing.assert_allclose(scores, [expected], atol=1e-12)
    idx, scores = top_k(query, gallery, k=1)
    assert idx.shape == scores.shape == (1, 1)
    assert idx.dtype == np.int64


def test_top_k_finds_each_item_first_in_its_own_gallery():
    X = np.random.default_rng(1).standard_normal((300, 32)).astype(np.float32)
    for metric in metrics.METRICS:
        idx, scores = top_k(X, X, k=5, metric=metric, block_rows=64)
        assert idx.shape == (300, 5)
        assert (idx[:, 0] == np.arange(300)).all(), metric
        assert scores.dtype == np.float32


def test_top_k_default_blocks_follow_the_budget(monkeypatch):
    """A tiny budget gives one query per block; the answer must not change."""
    rng = np.random.default_rng(2)
    Q, G = rng.standard_normal((25, 8)), rng.standard_normal((30, 8))
    expected = top_k(Q, G, k=4)
    monkeypatch.setattr(metrics, "TOP_K_BUDGET_BYTES", 1)
    got = top_k(Q, G, k=4)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# torch tensors
# ---------------------------------------------------------------------------------------------


def test_torch_tensors_are_accepted():
    a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)  # needs .detach()
    b = torch.tensor([2.0, 4.0, 5.0], dtype=torch.bfloat16)  # NumPy has no bfloat16
    assert cosine_similarity(a, b) == pytest.approx(cosine_similarity([1, 2, 3], [2, 4, 5]))
    assert euclidean_distance(a, b) == pytest.approx(math.sqrt(1 + 4 + 4))
    assert manhattan_distance(a, torch.tensor([0, 0, 0])) == pytest.approx(6.0)
    X = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    np.testing.assert_allclose(pairwise(X), pairwise(X.numpy()), rtol=1e-6)
    idx, _ = top_k(X, X, k=2)
    assert (idx[:, 0] == np.arange(5)).all()
    assert hamming_distance(torch.tensor([1, 0, 1]), torch.tensor([1, 1, 1])) == 1


# ---------------------------------------------------------------------------------------------
# Error messages
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("function", PAIR_FUNCTIONS.values())
@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        ([1, 2], [1, 2, 3], r"a has shape \(2,\) and b has shape \(3,\)"),
        ([], [], "a is empty"),
        ([1, 2], [], "b is empty"),
        ([1, np.nan], [1, 2], r"a contains NaN or infinity \(first at index 1\)"),
        ([1, 2], [np.inf, 2], r"b contains NaN or infinity \(first at index 0\)"),
        (np.ones((1, 3)), [1, 2, 3], r"a has shape \(1, 3\).*a\.ravel\(\).*pairwise\(\)"),
        ([1, 2, 3], np.ones((3, 1)), r"b has shape \(3, 1\).*b\.ravel\(\)"),
        (3.0, [1.0], "a is a single number"),
        (["x", "y"], [1, 2], "a must hold real numbers"),
        ([1, 2], [[1, 2], [3]], "b cannot be read as an array of numbers"),
        ([1 + 1j, 2], [1, 2], "a must hold real numbers"),
    ],
)
def test_vector_errors(function, a, b, message):
    with pytest.raises(ValueError, match=message):
        function(a, b)


def test_cosine_zero_vector_names_the_argument():
    with pytest.raises(ValueError, match="a is a zero vector"):
        cosine_similarity([0, 0, 0], [1, 2, 3])
    with pytest.raises(ValueError, match="b is a zero vector"):
        cosine_similarity([1, 2, 3], np.zeros(3))
    assert euclidean_distance([0, 0], [3, 4]) == 5.0  # zero vectors are fine for distances


def test_pairwise_errors():
    X = np.ones((3, 4))
    with pytest.raises(ValueError, match="unknown metric 'l2'; choose one of cosine, euclidean"):
        pairwise(X, metric="l2")
    with pytest.raises(ValueError, match=r"X has shape \(4,\), a single vector.*reshape\(1, -1\)"):
        pairwise(np.ones(4))
    with pytest.raises(ValueError, match=r"Y has shape \(2, 2, 4\).*2-D array"):
        pairwise(X, np.ones((2, 2, 4)))
    with pytest.raises(ValueError, match=r"X has shape \(3, 4\) and Y has shape \(2, 5\)"):
        pairwise(X, np.ones((2, 5)))
    with pytest.raises(ValueError, match=r"X is empty \(shape \(0, 4\)\)"):
        pairwise(np.ones((0, 4)))
    with pytest.raises(ValueError, match=r"Y is empty \(shape \(3, 0\)\)"):
        pairwise(X, np.ones((3, 0)))
    bad = X.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"Y contains NaN or infinity \(first at row 2, column 1"):
        pairwise(X, bad)
    zero_row = X.copy()
    zero_row[1] = 0
    with pytest.raises(ValueError, match="row 1 of X is a zero vector"):
        pairwise(zero_row)
    with pytest.raises(ValueError, match="row 1 of Y is a zero vector"):
        pairwise(X, zero_row)
    assert pairwise(zero_row, metric="euclidean")[1, 1] == 0.0  # fine for distances


def test_top_k_errors():
    Q, G = np.ones((2, 3)), np.arange(12.0).reshape(4, 3) + 1
    with pytest.raises(ValueError, match="k=5 but the gallery has only 4 rows"):
        top_k(Q, G, k=5)
    for k in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="k must be a whole number >= 1"):
            top_k(Q, G, k=k)
    with pytest.raises(ValueError, match="block_rows must be a whole number >= 1, got 0"):
        top_k(Q, G, k=2, block_rows=0)
    with pytest.raises(ValueError, match="block_rows must be a whole number"):
        top_k(Q, G, k=2, block_rows=1.5)
    with pytest.raises(ValueError, match=r"queries has shape \(2, 3\) and gallery has shape"):
        top_k(Q, np.ones((4, 2)), k=2)
    with pytest.raises(ValueError, match="unknown metric"):
        top_k(Q, G, metric="cos")
    with pytest.raises(ValueError, match=r"queries has shape \(3,\).*reshape\(1, -1\)"):
        top_k(np.ones(3), G, k=2)
    with pytest.raises(ValueError, match="row 1 of gallery is a zero vector"):
        top_k(Q, np.vstack([G[:1], np.zeros((1, 3))]), k=1)
    with pytest.raises(ValueError, match="row 0 of queries is a zero vector"):
        top_k(np.zeros((1, 3)), G, k=1)


def test_string_errors():
    with pytest.raises(ValueError, match="s has length 3 and t has length 2.*edit_distance"):
        hamming_distance("abc", "ab")
    with pytest.raises(ValueError, match="s has length 1 and t has length 2"):
        hamming_distance([1], [1, 0])
    for function in (edit_distance, hamming_distance):
        with pytest.raises(ValueError, match="s is of type str and t is of type list"):
            function("01", [0, 1])
        with pytest.raises(ValueError, match=r"s is an array of shape \(2, 2\).*s\.ravel\(\)"):
            function(np.zeros((2, 2)), [0, 0, 0, 0])
        with pytest.raises(ValueError, match="t is of type int"):
            function([1], 5)
        with pytest.raises(ValueError, match="cannot be compared as symbols"):
            function([[1]], [[2]])


def test_distance_to_similarity_errors():
    with pytest.raises(ValueError, match=r"negative value \(-1\)"):
        distance_to_similarity(-1)
    with pytest.raises(ValueError, match="d contains NaN"):
        distance_to_similarity([0.5, np.nan])
    with pytest.raises(ValueError, match="d must hold real numbers"):
        distance_to_similarity("far")


# ---------------------------------------------------------------------------------------------
# Properties (hypothesis, 1000 examples each)
# ---------------------------------------------------------------------------------------------


def check_metric_axioms(d, a, b, c, tol=0.0):
    assert d(a, a) == 0  # identity
    assert d(a, b) >= 0  # non-negativity
    assert d(a, b) == d(b, a)  # symmetry
    assert d(a, c) <= d(a, b) + d(b, c) + tol  # triangle inequality


@MANY
@given(same_length_vectors(3))
def test_euclidean_is_a_metric_equal_to_scipy(abc):
    a, b, c = abc
    check_metric_axioms(euclidean_distance, a, b, c, tol=1e-9 * (1 + length_scale(a, b, c)))
    assert (euclidean_distance(a, b) == 0) == np.array_equal(a, b)
    assert euclidean_distance(a, b) == pytest.approx(ssd.euclidean(a, b), rel=1e-12, abs=1e-12)
    assert euclidean_distance(torch.from_numpy(a), torch.from_numpy(b)) == euclidean_distance(a, b)


@MANY
@given(same_length_vectors(3))
def test_manhattan_is_a_metric_equal_to_scipy(abc):
    a, b, c = abc
    check_metric_axioms(manhattan_distance, a, b, c, tol=1e-9 * (1 + np.abs([a, b, c]).sum()))
    assert (manhattan_distance(a, b) == 0) == np.array_equal(a, b)
    assert manhattan_distance(a, b) >= euclidean_distance(a, b) * (1 - 1e-12)
    assert manhattan_distance(a, b) == pytest.approx(ssd.cityblock(a, b), rel=1e-12, abs=1e-12)
    assert manhattan_distance(torch.from_numpy(a), torch.from_numpy(b)) == manhattan_distance(a, b)


@MANY
@given(same_length_vectors(2), st.floats(1e-3, 1e3))
def test_cosine_range_symmetry_scale_invariance_and_scipy(ab, scale):
    a, b = ab
    assume(not_near_zero(a, b))
    cos = cosine_similarity(a, b)
    assert -1.0 <= cos <= 1.0
    assert cos == pytest.approx(cosine_similarity(b, a), abs=1e-12)
    assert cosine_similarity(scale * a, b) == pytest.approx(cos, abs=1e-12)
    assert cosine_similarity(a, a) == pytest.approx(1.0, abs=1e-12)
    assert cosine_similarity(a, -a) == pytest.approx(-1.0, abs=1e-12)
    assert 1.0 - cos == pytest.approx(ssd.cosine(a, b), abs=1e-12)
    assert cosine_similarity(torch.from_numpy(a), torch.from_numpy(b)) == cos


@MANY
@given(st.one_of(any_strings, any_int_lists))
def test_edit_distance_is_a_metric(abc):
    a, b, c = abc
    check_metric_axioms(edit_distance, a, b, c)
    assert (edit_distance(a, b) == 0) == (a == b)
    assert abs(len(a) - len(b)) <= edit_distance(a, b) <= max(len(a), len(b))


@MANY
@given(st.one_of(bit_strings, int_sequences))
def test_hamming_distance_is_a_metric(abc):
    a, b, c = abc
    check_metric_axioms(hamming_distance, a, b, c)
    assert hamming_distance(a, b) == sum(x != y for x, y in zip(a, b, strict=True))
    assert edit_distance(a, b) <= hamming_distance(a, b)  # substitutions only: never shorter


@MANY
@given(xy=matrix_pair(), same=st.booleans())
def test_pairwise_equals_loop_over_pairs(xy, same):
    X, Y = xy
    Y_ = X if same else Y
    for metric, pair_function in PAIR_FUNCTIONS.items():
        P = pairwise(X, None if same else Y, metric=metric)
        loop = np.array([[pair_function(x, y) for y in Y_] for x in X])
        assert P.shape == (len(X), len(Y_))
        assert P.dtype == np.float64
        tol = 1e-12 if metric == "cosine" else distance_tolerance(X, Y_)
        np.testing.assert_allclose(P, loop, rtol=1e-9, atol=tol, err_msg=metric)


@MANY
@given(qg=matrix_pair(max_rows=8), k_fraction=st.floats(0, 1), block_rows=st.integers(1, 8))
def test_top_k_equals_argsort_of_pairwise(qg, k_fraction, block_rows):
    Q, G = qg
    k = 1 + round(k_fraction * (len(G) - 1))
    for metric in metrics.METRICS:
        idx, scores = top_k(Q, G, k=k, metric=metric, block_rows=block_rows)  # small blocks
        full = pairwise(Q, G, metric=metric)
        order = np.argsort(-full if metric == "cosine" else full, axis=1, kind="stable")[:, :k]
        expected = np.take_along_axis(full, order, axis=1)
        tol = 1e-12 if metric == "cosine" else distance_tolerance(Q, G)
        assert idx.shape == scores.shape == (len(Q), k)
        # Ties may be listed in any order, so compare the scores, then check that the indices
        # are distinct and point at those scores.
        np.testing.assert_allclose(scores, expected, rtol=1e-9, atol=tol, err_msg=metric)
        at_idx = np.take_along_axis(full, idx, axis=1)
        np.testing.assert_allclose(at_idx, scores, rtol=1e-9, atol=tol, err_msg=metric)
        assert all(len(set(row)) == k for row in idx.tolist())
        # Where the full ranking has no near-ties, the indices are exactly argsort's.
        gaps = np.diff(np.sort(full, axis=1), axis=1)
        if gaps.size == 0 or gaps.min() > 10 * tol:
            np.testing.assert_array_equal(idx, order, err_msg=metric)


# ------------------------------------------------------------------------------ best_threshold
def test_best_threshold_separable_pairs_give_perfect_f1():
    from simlab.evaluation import best_threshold

    scores = np.array([0.95, 0.9, 0.8, 0.5, 0.4, 0.3])
    same = np.array([True, True, True, False, False, False])
    t = best_threshold(scores, same)
    assert t.value == pytest.approx(0.8)  # the lowest same score: everything at or above is "same"
    assert (t.precision, t.recall) == (1.0, 1.0)
    precision, recall, thresholds = t.curve
    assert len(precision) == len(recall) == len(thresholds) + 1


def test_best_threshold_overlapping_pairs_trade_precision_for_recall():
    from simlab.evaluation import best_threshold

    # same: 0.9, 0.7, 0.4; different: 0.6, 0.3. t=0.7 -> P 1, R 2/3 (F1 0.8); t=0.4 -> P 3/4, R 1 (F1 0.857)
    scores = np.array([0.9, 0.7, 0.4, 0.6, 0.3])
    same = np.array([True, True, True, False, False])
    t = best_threshold(scores, same)
    assert t.value == pytest.approx(0.4)
    assert t.precision == pytest.approx(0.75) and t.recall == 1.0


@pytest.mark.parametrize("scores, same, match", [
    ([0.1, 0.2], [True], "same length"),
    ([0.1, np.nan], [True, False], "NaN"),
    ([0.1, 0.2], [1, 0], "bool"),
    ([0.1, 0.2], [True, True], "both"),
])
def test_best_threshold_refuses_bad_labels(scores, same, match):
    from simlab.evaluation import best_threshold

    with pytest.raises(ValueError, match=match):
        best_threshold(np.array(scores), np.array(same))


# ------------------------------------------------------------------------------ precision_recall_f1
def test_precision_recall_f1_at_a_given_threshold():
    from simlab.evaluation import precision_recall_f1

    # same: 0.9, 0.7, 0.4; different: 0.6, 0.3. At 0.5: called 0.9, 0.7, 0.6 -> P 2/3, R 2/3
    scores = np.array([0.9, 0.7, 0.4, 0.6, 0.3])
    same = np.array([True, True, True, False, False])
    p, r, f1 = precision_recall_f1(scores, same, 0.5)
    assert (p, r, f1) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert precision_recall_f1(scores, same, 0.4) == pytest.approx((0.75, 1.0, 6 / 7))  # >= counts
    assert precision_recall_f1(scores, same, 0.95) == (0.0, 0.0, 0.0)  # nothing called the same
    # the best threshold's own scores agree with best_threshold
    from simlab.evaluation import best_threshold

    t = best_threshold(scores, same)
    assert precision_recall_f1(scores, same, t.value)[:2] == pytest.approx((t.precision, t.recall))


@pytest.mark.parametrize("scores, same, threshold, match", [
    ([0.1, 0.2], [True], 0.5, "same length"),
    ([0.1, np.nan], [True, False], 0.5, "NaN"),
    ([0.1, 0.2], [1, 0], 0.5, "bool"),
    ([0.1, 0.2], [False, False], 0.5, "no True"),
    ([0.1, 0.2], [True, False], np.inf, "finite"),
])
def test_precision_recall_f1_refuses_bad_input(scores, same, threshold, match):
    from simlab.evaluation import precision_recall_f1

    with pytest.raises(ValueError, match=match):
        precision_recall_f1(np.array(scores), np.array(same), threshold)

# ------------------------------------------------------------------------------ precision_at_k
def test_precision_at_k_by_hand():
    from simlab.evaluation import precision_at_k

    # Row 0's right answers are rows 1 and 2; row 3 is an outsider that points almost the same way.
    X = np.array([[1.0, 0.0], [0.95, 0.05], [0.0, 1.0], [0.9, 0.2]])
    relevant = [{1, 2}, {0, 2}, {0, 1}, set()]
    # cosine ranks for row 0: 1 (0.999), 3 (0.976), 2 (0.0); for row 1: 0, 3, 2;
    # for row 2: 3 (0.217), 1 (0.053), 0 (0.0)
    p = precision_at_k(X, relevant)  # k = 2 right answers each
    np.testing.assert_allclose(p[:3], [0.5, 0.5, 0.5])
    assert np.isnan(p[3]), "a row with no right answers has nothing to find"
    np.testing.assert_allclose(precision_at_k(X, relevant, k=1)[:3], [1.0, 1.0, 0.0])
    np.testing.assert_allclose(precision_at_k(X, relevant, k=3)[:3], [2 / 3, 2 / 3, 2 / 3])
    # Euclidean: row 2 is nearest to row 3 (1.20), then row 1 (1.34), then row 0 (1.41)
    np.testing.assert_allclose(precision_at_k(X, relevant, k=1, metric="euclidean")[:3], [1.0, 1.0, 0.0])


def test_precision_at_k_never_counts_the_query_itself():
    from simlab.evaluation import precision_at_k

    X = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # rows 0 and 1 identical
    p = precision_at_k(X, [{0, 1}, [1, 0], np.array([2])])  # each lists itself too
    np.testing.assert_allclose(p[:2], [1.0, 1.0])
    assert np.isnan(p[2])  # only itself: nothing to find


@MANY
@given(st.integers(0, 2**32 - 1), st.integers(3, 25), st.integers(1, 4))
def test_precision_at_k_equals_counting_the_top_k(seed, n, k):
    from simlab.evaluation import precision_at_k

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    groups = rng.integers(0, 3, size=n)
    relevant = [set(np.flatnonzero(groups == g).tolist()) - {i} for i, g in enumerate(groups)]
    k = min(k, n - 1)
    nearest, _ = top_k(X, X, k=k + 1)  # each row finds itself first (random floats: no ties)
    for metric_k, p in ((k, precision_at_k(X, relevant, k=k)), (None, precision_at_k(X, relevant))):
        for i in range(n):
            if not relevant[i]:
                assert np.isnan(p[i])
                continue
            kk = metric_k or len(relevant[i])
            top = top_k(X[i:i + 1], X, k=kk + 1)[0][0] if metric_k is None else nearest[i]
            hits = len(relevant[i] & set(top[1:kk + 1].tolist()))
            assert p[i] == pytest.approx(hits / kk)


@pytest.mark.parametrize("relevant, k, match", [
    ([{1}, {0}], None, "relevant has 2 entries but vectors has 3 rows"),
    ([{1}, {0}, {5}], None, r"relevant\[2\] is \[5\]: it must hold row numbers \(ints\) from 0 to 2"),
    ([{1}, {0}, [0.5]], None, r"relevant\[2\]"),
    ([{1}, {0}, set()], 3, "k=3 but each query has only 2 other rows"),
    ([{1}, {0}, set()], 0, "k must be a whole number >= 1"),
])
def test_precision_at_k_errors(relevant, k, match):
    from simlab.evaluation import precision_at_k

    X = np.eye(3)
    with pytest.raises(ValueError, match=match):
        precision_at_k(X, relevant, k=k)
    with pytest.raises(ValueError, match="at least 2 items"):
        precision_at_k(np.ones((1, 3)), [set()])
    with pytest.raises(ValueError, match="unknown metric"):
        precision_at_k(X, [set()] * 3, metric="hamming")


def test_best_threshold_counts_weighted_pairs_as_copies():
    from simlab.evaluation import best_threshold

    scores, same = np.array([0.9, 0.8, 0.7, 0.6, 0.3]), np.array([True, False, True, False, False])
    weights = np.array([1, 3, 2, 1, 1])
    weighted = best_threshold(scores, same, sample_weight=weights)
    copies = best_threshold(np.repeat(scores, weights), np.repeat(same, weights))
    assert (weighted.value, weighted.f1) == pytest.approx((copies.value, copies.f1))
    assert best_threshold(scores, same).f1 != pytest.approx(weighted.f1)

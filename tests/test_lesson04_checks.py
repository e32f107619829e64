"""Lesson 04's exercise checks: each verifies the student's own computation and says what is wrong."""

import numpy as np
import pytest

import simlab.lessons.checks as checks
from simlab.lessons.checks import ExerciseError, predict, reveal
from simlab.search import build_index, search


@pytest.fixture(autouse=True)
def fresh_kernel(monkeypatch):
    monkeypatch.setattr(checks, "_PREDICTIONS", {})
    monkeypatch.setattr(checks, "_REVEALED", set())


# --- Exercise 1: the cheapest nprobe ---------------------------------------------------------

@pytest.fixture(scope="module")
def ivf_setup():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((20, 16))
    data = (centres[rng.integers(0, 20, 4200)] + 0.3 * rng.standard_normal((4200, 16))).astype(np.float32)
    gallery, queries = data[:4000], data[4000:]
    truth, _ = search(build_index(gallery, "exact"), queries, k=10)
    index = build_index(gallery, "ivf", nlist=64, nprobe=1)
    recalls = {}
    for nprobe in range(1, 65):
        index.nprobe = nprobe
        found, _ = search(index, queries, k=10)
        hits = [len(set(f) & set(t)) for f, t in zip(found, truth, strict=True)]
        recalls[nprobe] = float(np.mean(hits)) / 10
    index.nprobe = 1
    return index, queries, truth, recalls


def test_check_nprobe_takes_the_smallest_nprobe_that_reaches_the_target(ivf_setup, capsys):
    from simlab.lessons.lesson04 import check_nprobe

    index, queries, truth, recalls = ivf_setup
    best = min(n for n, r in recalls.items() if r >= 0.9)
    assert best > 2, "the test needs an answer with a smaller nprobe below it"
    check_nprobe(best, recalls[best], index, queries, truth, target=0.9)
    assert capsys.readouterr().out.startswith(f"Correct: nprobe={best} is the cheapest")
    assert index.nprobe == 1  # left as it was
    with pytest.raises(ExerciseError, match="already reaches .* take the smallest"):
        check_nprobe(best + 1, recalls[best + 1], index, queries, truth, target=0.9)
    with pytest.raises(ExerciseError, match="below 0.9: search more cells"):
        check_nprobe(best - 1, recalls[best - 1], index, queries, truth, target=0.9)
    with pytest.raises(ExerciseError, match="measure it on the same queries"):
        check_nprobe(best, recalls[best] - 0.05, index, queries, truth, target=0.9)
    with pytest.raises(ExerciseError, match="from 1 to nlist = 64"):
        check_nprobe(0, 1.0, index, queries, truth)
    with pytest.raises(ExerciseError, match="whole number"):
        check_nprobe(2.5, 1.0, index, queries, truth)
    with pytest.raises(ExerciseError, match="no answer yet: give the recall"):
        check_nprobe(best, None, index, queries, truth)


# --- Exercise 2: bytes of a flat index, and the decision -------------------------------------

def test_check_index_choice_checks_the_bytes_then_the_decision(capsys):
    from simlab.lessons.lesson04 import check_index_choice

    check_index_choice(30_000 * 1280 * 4, "flat", 30_000, 1280, 200e6)
    assert "flat 153.6 MB, IVF-PQ 1.0 MB, budget 200.0 MB: flat." in capsys.readouterr().out
    check_index_choice(60_000 * 1280 * 4, " IVF-PQ ", 60_000, 1280, 200e6)  # 307 MB does not fit
    assert capsys.readouterr().out.endswith("ivf-pq.\n")
    check_index_choice(10**10 * 1280 * 4, "shard", 10**10, 1280, 200e6)  # not even 32 bytes a photo
    for answer, hint in [(30_000 * 1280, "4 bytes"), (30_000 * 1280 * 8, "float64"),
                         (30_000**2 * 4, "N x N"), (30_000 * 1280 * 32, "bits and bytes"),
                         (12345, "needs 153,600,000 bytes")]:
        with pytest.raises(ExerciseError, match=hint):
            check_index_choice(answer, "flat", 30_000, 1280, 200e6)
    with pytest.raises(ExerciseError, match="'ivf-pq' is not the best choice.*fits, and it is exact"):
        check_index_choice(30_000 * 1280 * 4, "ivf-pq", 30_000, 1280, 200e6)
    with pytest.raises(ExerciseError, match="'flat' is not the best.*compressed codes do"):
        check_index_choice(60_000 * 1280 * 4, "flat", 60_000, 1280, 200e6)
    with pytest.raises(ExerciseError, match="not one of 'flat', 'ivf-pq', 'shard'"):
        check_index_choice(30_000 * 1280 * 4, "hnsw", 30_000, 1280, 200e6)


# --- Exercise 3: groups of your own folder, labelled by you ---------------------------------

VECTORS = np.array([[1.0, 0.0, 0.0], [0.99, 0.1, 0.0], [0.98, 0.0, 0.2],  # rows 0-2: one cluster
                    [0.0, 1.0, 0.0], [0.05, 0.99, 0.0],  # rows 3-4: another
                    [0.0, 0.0, 1.0]])  # row 5: alone


def test_check_own_groups_recomputes_the_groups_and_the_precision_from_the_labels(capsys):
    from simlab.lessons.lesson04 import check_own_groups

    groups = [[0, 1, 2], [3, 4]]
    labels = {0: "cat", 1: "cat", 2: "dog", 3: "car", 4: "car"}  # pairs: 0-1 yes, 0-2 no, 1-2 no, 3-4 yes
    check_own_groups(0.5, VECTORS, 0.9, groups, labels)
    assert "2 groups at threshold 0.900; by your labels 2/4 pairs" in capsys.readouterr().out
    check_own_groups(0.5, VECTORS, 0.9, [[4, 3], [2, 0, 1]], labels)  # any order
    with pytest.raises(ExerciseError, match="2 right pairs of 4 in the groups, a pair precision of 0.500"):
        check_own_groups(0.75, VECTORS, 0.9, groups, labels)
    with pytest.raises(ExerciseError, match="not the groups at threshold 0.9"):
        check_own_groups(0.5, VECTORS, 0.9, [[0, 1], [3, 4]], labels)
    with pytest.raises(ExerciseError, match=r"rows \[4\] have no label"):
        check_own_groups(0.5, VECTORS, 0.9, groups, {k: v for k, v in labels.items() if k != 4})
    with pytest.raises(ExerciseError, match="no two files reach this threshold"):
        check_own_groups(1.0, VECTORS, 0.9999, [], {})
    with pytest.raises(ExerciseError, match="from -1 to 1"):
        check_own_groups(0.5, VECTORS, 1.5, groups, labels)
    with pytest.raises(ExerciseError, match="list of groups"):
        check_own_groups(0.5, VECTORS, 0.9, "abc", labels)


# --- Exercise 4: the prediction of section 5 and HNSW on noise ------------------------------

TRUTH = np.array([[0, 1, 2, 3], [4, 5, 6, 7]])
FOUND = np.array([[0, 1, 9, 9], [7, 9, 9, 9]])  # 2 of 4, then 1 of 4 (at another position)


def test_check_noise_recall_wants_the_prediction_recorded_before_the_reveal(capsys):
    from simlab.lessons.lesson04 import NOISE_QUESTION, check_noise_recall

    with pytest.raises(ExerciseError, match="never recorded"):
        check_noise_recall(0.375, "lower", FOUND, TRUTH, clustered_recall=0.98)
    predict(NOISE_QUESTION, "lower", ("higher", "lower"))
    reveal(NOISE_QUESTION)
    capsys.readouterr()
    check_noise_recall(0.375, "lower", FOUND, TRUTH, clustered_recall=0.98)
    out = capsys.readouterr().out
    assert out.startswith("Correct:") and "0.38 on noise against 0.98" in out and "was right" in out
    assert "Why" not in out
    with pytest.raises(ExerciseError, match="prediction_4 is now 'higher' but 'lower' was recorded"):
        check_noise_recall(0.375, "higher", FOUND, TRUTH, 0.98)
    with pytest.raises(ExerciseError, match="write your prediction in prediction_4 first"):
        check_noise_recall(0.375, None, FOUND, TRUTH, 0.98)
    with pytest.raises(ExerciseError, match="position by position"):
        check_noise_recall(0.25, "lower", FOUND, TRUTH, 0.98)
    with pytest.raises(ExerciseError, match="expected a recall@4 of 0.375"):
        check_noise_recall(0.5, "lower", FOUND, TRUTH, 0.98)


def test_a_wrong_noise_prediction_is_reported_with_the_reason_not_failed(capsys):
    from simlab.lessons.lesson04 import NOISE_QUESTION, check_noise_recall

    predict(NOISE_QUESTION, " Higher ", ("higher", "lower"))
    reveal(NOISE_QUESTION)
    check_noise_recall(0.375, "higher", FOUND, TRUTH, clustered_recall=0.98)
    out = capsys.readouterr().out
    assert "(higher) was not right. Why: in high-dimensional Gaussian noise" in out
    assert out.splitlines()[-1].startswith("Computed right: recall@")
    assert "Correct" not in out  # not "Correct" for a wrong prediction


def test_a_noise_prediction_made_after_the_reveal_does_not_count():
    from simlab.lessons.lesson04 import NOISE_QUESTION, check_noise_recall

    reveal(NOISE_QUESTION)
    predict(NOISE_QUESTION, "lower", ("higher", "lower"))
    with pytest.raises(ExerciseError, match="recorded after the answer was shown"):
        check_noise_recall(0.375, "lower", FOUND, TRUTH, 0.98)

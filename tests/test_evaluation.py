"""simlab.evaluation: AUC with a bootstrap over people, exact intervals for rates, people split in halves."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from simlab import intervals
from simlab.intervals import (
    Estimate,
    auc_interval,
    group_bootstrap,
    labelled_pairs_of,
    rate_interval,
    share_interval,
    split_groups,
)


def _pairs(people, seed=0, signal=1.5):
    first, second, same = labelled_pairs_of(people)
    scores = np.random.default_rng(seed).normal(size=len(same)) + signal * same
    return scores, same, [people[i] for i in first], [people[j] for j in second]


def test_labelled_pairs_are_every_pair_once():
    first, second, same = labelled_pairs_of(["a", "b", "a", "c"])
    pairs = list(zip(first.tolist(), second.tolist(), strict=True))
    assert pairs == list(itertools.combinations(range(4), 2))
    assert same.tolist() == [False, True, False, False, False, False]
    with pytest.raises(ValueError, match="at least two"):
        labelled_pairs_of(["a"])


def test_auc_is_sklearns_and_inside_its_interval():
    people = [p for p in range(30) for _ in range(3)]
    scores, same, a, b = _pairs(people)
    estimate = auc_interval(scores, same, a, b)
    assert isinstance(estimate, Estimate)
    assert estimate.value == pytest.approx(roc_auc_score(same, scores))
    assert estimate.low < estimate.value < estimate.high
    assert estimate == auc_interval(scores, same, a, b)  # seeded: the same interval again
    assert estimate != auc_interval(scores, same, a, b, seed=1)


def test_a_round_weights_pairs_as_if_the_drawn_people_were_copied():
    # One round by hand: copy each person as often as drawn, pair every copy with every other
    # photo except the copies of itself, and take sklearn's AUC of those pairs.
    people = [p for p in range(6) for _ in range(2)]
    scores, same, a, b = _pairs(people, signal=0.8)
    counts = np.array([2, 0, 1, 0, 3, 0])
    seen = []

    def spy(weights):
        seen.append(weights)
        return intervals._weighted_aucs(scores, same, weights)

    group_bootstrap(spy, a, b, rounds=3)
    assert seen[0].tolist() == [[1] * len(scores)]  # the value: every pair once
    weights = np.array([[counts[x] if x == y else counts[x] * counts[y] for x, y in zip(a, b, strict=True)]])
    expanded_scores, expanded_same = [], []
    for s, is_same, copies in zip(scores, same, weights[0], strict=True):
        expanded_scores += [s] * copies
        expanded_same += [is_same] * copies
    got = intervals._weighted_aucs(scores, same, weights)
    assert got[0] == pytest.approx(roc_auc_score(expanded_same, expanded_scores))


def test_group_bootstrap_of_items_and_its_errors():
    right = np.array([1.0, 1.0, 1.0, 0.0, 1.0, 0.0])
    groups = ["a", "a", "a", "b", "c", "d"]
    estimate = group_bootstrap(lambda w: (w * right).sum(axis=1) / w.sum(axis=1), groups)
    assert estimate.value == pytest.approx(4 / 6) and estimate.low < estimate.value < estimate.high
    # a group of three counts three times when drawn once: the share jumps in steps of groups
    with pytest.raises(ValueError, match="one length"):
        group_bootstrap(lambda w: w.sum(axis=1), groups, groups[:-1])
    with pytest.raises(ValueError, match="confidence"):
        group_bootstrap(lambda w: w.sum(axis=1), groups, confidence=1.5)


@pytest.mark.slow  # seconds: make test runs it, make check does not
def test_more_people_give_a_narrower_interval():
    few = auc_interval(*_pairs([p for p in range(10) for _ in range(2)]))
    many = auc_interval(*_pairs([p for p in range(200) for _ in range(2)]))
    assert many.high - many.low < few.high - few.low


def test_a_perfect_score_has_no_doubt():
    scores, same, a, b = _pairs([p for p in range(8) for _ in range(2)], signal=100)
    assert auc_interval(scores, same, a, b) == (1.0, 1.0, 1.0)


@pytest.mark.parametrize("change, match", [
    (lambda s, y, a, b: (s[:-1], y, a, b), "one length"),
    (lambda s, y, a, b: (np.where(y, np.inf, s), y, a, b), "finite"),
    (lambda s, y, a, b: (s, np.ones_like(y), a, b), "both same"),
    (lambda s, y, a, b: (s, y, a, [x + 1 for x in b]), "within one group"),
])
def test_auc_refuses_what_it_cannot_measure(change, match):
    with pytest.raises(ValueError, match=match):
        auc_interval(*change(*_pairs([0, 0, 1, 1, 2])))


def test_rate_interval_is_clopper_pearson():
    # The numbers: 3/3 right is compatible with a rate of 0.29, 12/12 with 0.74.
    assert rate_interval(3, 3).low == pytest.approx(0.292, abs=1e-3)
    assert rate_interval(12, 12).low == pytest.approx(0.735, abs=1e-3)
    value, low, high = rate_interval(139, 140)
    assert value == pytest.approx(139 / 140) and low < value < high <= 1
    assert rate_interval(0, 5).low == 0.0
    for bad in [(4, 3), (1, 0), (1.5, 3), (-1, 3)]:
        with pytest.raises(ValueError):
            rate_interval(*bad)


def test_split_groups_halves_the_people_and_never_shares_one():
    people = ["ann"] * 3 + ["bob", "cy", "dee", "eve"]
    first, second = split_groups(people)
    assert first | second == set(people) and not first & second
    assert abs(len(first) - len(second)) <= 1
    assert split_groups(people, seed=0) == (first, second)
    assert any(split_groups(people, seed=s) != (first, second) for s in range(1, 6))
    with pytest.raises(ValueError, match="two groups"):
        split_groups(["ann", "ann"])


def test_share_interval_bootstraps_people_and_is_wider_than_clopper_pearson_on_few():
    people = [p for p in range(8) for _ in range(3)]
    first, second, same = labelled_pairs_of(people)
    different = ~same
    a, b = np.array(people)[first][different], np.array(people)[second][different]
    hits = (a < 2) & (b < 2) | (a == 5)  # the errors cluster in a few people, as false matches do
    estimate = share_interval(hits, a, b)
    assert estimate.value == pytest.approx(hits.mean())
    assert estimate.low < estimate.value < estimate.high
    binomial = rate_interval(int(hits.sum()), len(hits))
    assert estimate.high - estimate.low > binomial.high - binomial.low
    assert share_interval(np.zeros(len(a), bool), a, b) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="one length"):
        share_interval(hits[:-1], a, b)

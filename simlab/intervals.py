"""How sure can we be of a measured score? Intervals that respect what is independent evidence.

- :func:`auc_interval` (ROC AUC), :func:`share_interval` and :func:`group_bootstrap` (any
  statistic) bootstrap over **groups** (people, source photos), since pairs that share a person
  are not independent evidence; :func:`rate_interval` is the exact Clopper-Pearson interval of a
  share of independent trials. Each returns an :class:`Estimate`.
- Pairs and splits: :func:`labelled_pairs_of` lists every pair of items with whether their labels
  agree; :func:`split_groups` halves the people, to choose a threshold on one half and test it
  on the other (:mod:`simlab.evaluation` chooses and scores thresholds).
"""

from __future__ import annotations

import random
from typing import NamedTuple

import numpy as np
from scipy.stats import binomtest
from sklearn.metrics import roc_auc_score

__all__ = ["Estimate", "auc_interval", "group_bootstrap", "labelled_pairs_of", "rate_interval",
           "share_interval", "split_groups"]


class Estimate(NamedTuple):
    """A measured ``value`` and its interval ``[low, high]`` (95 % unless asked otherwise).

    Examples
    --------
    >>> from simlab.intervals import Estimate
    >>> Estimate(0.5, 0.25, 0.75).low
    0.25
    """

    value: float
    low: float
    high: float


def labelled_pairs_of(labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair of items and whether the two share a label.

    Parameters
    ----------
    labels : sequence
        One hashable label per item (e.g. the person in each photo).

    Returns
    -------
    first, second : numpy.ndarray of int
        The positions i < j of each pair, in the order of ``itertools.combinations``.
    same : numpy.ndarray of bool
        True where ``labels[i] == labels[j]``.

    Raises
    ------
    ValueError
        With fewer than two items.

    Examples
    --------
    >>> from simlab.intervals import labelled_pairs_of
    >>> first, second, same = labelled_pairs_of(["ann", "bob", "ann"])
    >>> first.tolist(), second.tolist(), same.tolist()
    ([0, 0, 1], [1, 2, 2], [False, True, False])
    """
    labels = list(labels)
    if len(labels) < 2:
        raise ValueError(f"need at least two items to make a pair, got {len(labels)}")
    first, second = np.triu_indices(len(labels), k=1)
    codes = np.unique(np.array(labels, dtype=object).astype(str), return_inverse=True)[1]
    return first, second, codes[first] == codes[second]


def auc_interval(scores, same, groups_a, groups_b, *, confidence: float = 0.95, rounds: int = 1000,
                 seed: int = 0) -> Estimate:
    """The ROC AUC of ``scores`` for telling same from different pairs, with a bootstrap over groups.

    The AUC is the chance that a random same pair scores above a random different pair.

    Parameters
    ----------
    scores : array_like, shape (P,)
        One score per pair, higher meaning "more alike" (negate distances first).
    same : array_like of bool, shape (P,)
        True for a same-label pair (e.g. two photos of one person).
    groups_a, groups_b : sequence, length P
        The group (person) of each pair's two items. A same pair lies within one group.
    confidence, rounds, seed : optional
        As for :func:`group_bootstrap`: coverage (0.95), rounds (1000), seed of the draws (0).

    Returns
    -------
    Estimate
        The AUC of all pairs (as :func:`sklearn.metrics.roc_auc_score`, ties count half) and the
        percentile interval of the bootstrap AUCs.

    Raises
    ------
    ValueError
        When the lengths differ, a score is not finite, ``same`` holds one class only, a same pair
        spans two groups, or ``confidence`` is not between 0 and 1.

    Examples
    --------
    >>> from simlab.intervals import auc_interval
    >>> auc_interval([0.9, 0.2, 0.8, 0.1], [True, False, True, False], ["a", "a", "b", "a"],
    ...              ["a", "b", "b", "c"])
    Estimate(value=1.0, low=1.0, high=1.0)
    """
    scores = np.asarray(scores, dtype=np.float64)
    same = np.asarray(same, dtype=bool)
    groups_a, groups_b = list(groups_a), list(groups_b)
    if not (scores.ndim == 1 and len(scores) == len(same) == len(groups_a) == len(groups_b)):
        raise ValueError(f"scores, same, groups_a and groups_b must be 1-D of one length, got "
                         f"{scores.shape}, {same.shape}, {len(groups_a)} and {len(groups_b)}")
    if not np.isfinite(scores).all():
        raise ValueError("scores must be finite (give a pair that cannot be scored the lowest score)")
    if same.all() or not same.any():
        raise ValueError("same must contain both same (True) and different (False) pairs")
    if any(x != y for x, y, z in zip(groups_a, groups_b, same, strict=True) if z):
        raise ValueError("a same pair must lie within one group (groups_a == groups_b where same)")
    estimate = group_bootstrap(lambda weights: _weighted_aucs(scores, same, weights), groups_a, groups_b,
                               confidence=confidence, rounds=rounds, seed=seed)
    return estimate._replace(value=float(roc_auc_score(same, scores)))  # the same number, as sklearn has it


def share_interval(hits, groups_a, groups_b, *, confidence: float = 0.95, rounds: int = 1000,
                   seed: int = 0) -> Estimate:
    """The share of pairs that are ``hits``, with a bootstrap over groups (people).

    Use it where pairs share people, e.g. the false matches among the pairs of 13 volunteers:
    :func:`rate_interval` would treat those pairs as independent and give too narrow an interval.

    Parameters
    ----------
    hits : array_like of bool, shape (P,)
        True for the pairs counted (e.g. a different-person pair called "same").
    groups_a, groups_b : sequence, length P
        The group (person) of each pair's two items.
    confidence, rounds, seed : optional
        As for :func:`group_bootstrap`.

    Returns
    -------
    Estimate
        The share of all pairs and the percentile interval of the bootstrap shares.

    Raises
    ------
    ValueError
        When the lengths differ, there are no pairs, or ``confidence`` is not between 0 and 1.

    Examples
    --------
    >>> from simlab.intervals import share_interval
    >>> share_interval([True, False, False], ["ann", "ann", "bob"], ["bob", "cy", "cy"]).value
    0.3333333333333333
    """
    hits = np.asarray(hits, dtype=bool)
    if not (hits.ndim == 1 and len(hits) == len(list(groups_a)) == len(list(groups_b)) > 0):
        raise ValueError(f"hits, groups_a and groups_b must be 1-D of one length > 0, got {hits.shape}, "
                         f"{len(list(groups_a))} and {len(list(groups_b))}")
    return group_bootstrap(lambda weights: (weights * hits).sum(axis=1) / weights.sum(axis=1), groups_a,
                           groups_b, confidence=confidence, rounds=rounds, seed=seed)


def group_bootstrap(statistic, groups_a, groups_b=None, *, confidence: float = 0.95, rounds: int = 1000,
                    seed: int = 0) -> Estimate:
    """Any statistic of items or pairs, with a bootstrap over their groups (people, source photos).

    Resampling items that come in groups (photos of one person, copies of one photo) as if they were
    independent gives too narrow an interval. Each round draws as many groups as there are, with
    replacement, and counts every item once per copy of its group; a pair within one group once per
    copy of it, a pair of two groups once per combination of their copies.

    Parameters
    ----------
    statistic : callable
        ``statistic(weights) -> values``: ``weights`` (R, n) says how often each of the n items (or
        pairs) counts in each of R rounds; it returns R numbers (NaN for a round where it is
        undefined: such rounds are left out), e.g. ``lambda w: (w * hits).sum(axis=1) / w.sum(axis=1)``.
    groups_a : sequence, length n
        The group of each item, or of each pair's first item.
    groups_b : sequence, length n, optional
        For pairs: the group of each pair's second item.
    confidence : float, optional
        The interval's coverage.
    rounds, seed : int, optional
        The number of rounds, and the seed of the draws (the same inputs give the same interval).

    Returns
    -------
    Estimate
        The statistic with every weight 1 (the data as it is) and the percentile interval of the
        rounds (widened to include ``value`` if needed).

    Raises
    ------
    ValueError
        When the group lists differ in length, are empty, or ``confidence`` is not between 0 and 1.

    Examples
    --------
    >>> import numpy as np
    >>> from simlab.intervals import group_bootstrap
    >>> right = np.array([1.0, 1.0, 0.0, 1.0])  # was each query answered right?
    >>> group_bootstrap(lambda w: (w * right).sum(axis=1) / w.sum(axis=1), ["cat", "cat", "cup", "dog"]).value
    0.75
    """
    groups_a = list(groups_a)
    if groups_b is not None and len(list(groups_b)) != len(groups_a) or not groups_a:
        raise ValueError(f"groups_a and groups_b must have one length > 0, got {len(groups_a)} and "
                         f"{len(list(groups_b)) if groups_b is not None else None}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie between 0 and 1, got {confidence!r}")
    both = groups_a + (list(groups_b) if groups_b is not None else [])
    names, codes = np.unique(np.array(both, dtype=object).astype(str), return_inverse=True)
    a = codes[: len(groups_a)]
    b = codes[len(groups_a):] if groups_b is not None else None

    def weights(counts):
        return counts[:, a] if b is None else np.where(a == b, counts[:, a], counts[:, a] * counts[:, b])

    value = float(np.asarray(statistic(weights(np.ones((1, len(names)), dtype=np.int64))))[0])
    rng = np.random.default_rng(seed)
    results = []
    for start in range(0, rounds, 100):  # 100 rounds at a time bound the memory
        draws = min(100, rounds - start)
        counts = rng.multinomial(len(names), np.full(len(names), 1 / len(names)), size=draws)
        with np.errstate(invalid="ignore", divide="ignore"):
            values = np.asarray(statistic(weights(counts)), dtype=np.float64)
        results.extend(values[np.isfinite(values)])
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(results, [tail, 100 - tail]) if results else (np.nan, np.nan)
    return Estimate(value, float(min(low, value)), float(max(high, value)))


def rate_interval(successes: int, trials: int, *, confidence: float = 0.95) -> Estimate:
    """The share ``successes / trials`` with its exact (Clopper-Pearson) interval.

    It treats the trials as independent; pairs of photos that share a person are not quite, so
    read the interval as a lower bound on the uncertainty.

    Parameters
    ----------
    successes, trials : int
        Whole numbers, ``0 <= successes <= trials``, ``trials >= 1``.
    confidence : float, optional
        The interval's coverage.

    Returns
    -------
    Estimate
        The share and its interval, each in [0, 1].

    Raises
    ------
    ValueError
        For counts that are not whole numbers in range, or a ``confidence`` outside (0, 1).

    Examples
    --------
    >>> from simlab.intervals import rate_interval
    >>> [round(x, 2) for x in rate_interval(3, 3)]  # 3 of 3 right: the rate may still be 0.29
    [1.0, 0.29, 1.0]
    """
    for value, name in [(successes, "successes"), (trials, "trials")]:
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise ValueError(f"{name} must be a whole number, got {value!r}")
    if not (trials >= 1 and 0 <= successes <= trials):
        raise ValueError(f"need 0 <= successes <= trials and trials >= 1, got {successes} of {trials}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie between 0 and 1, got {confidence!r}")
    interval = binomtest(int(successes), int(trials)).proportion_ci(confidence_level=confidence,
                                                                    method="exact")
    return Estimate(successes / trials, float(interval.low), float(interval.high))


def split_groups(groups, *, seed: int = 0) -> tuple[set, set]:
    """Two halves of the distinct ``groups`` (e.g. people), dealt at random: ``(first, second)``.

    A threshold chosen on the pairs within ``first`` and scored on the pairs within ``second`` is
    scored on people it has never seen, which is what "new photos" means for a face model.

    Parameters
    ----------
    groups : iterable
        Group labels, repeats allowed (e.g. the person in each photo).
    seed : int, optional
        Fixes the draw.

    Returns
    -------
    first, second : set
        The distinct groups in two halves that differ in size by at most one.

    Raises
    ------
    ValueError
        With fewer than two groups.

    Examples
    --------
    >>> from simlab.intervals import split_groups
    >>> first, second = split_groups(["ann", "ann", "bob", "cy", "dee"])
    >>> sorted(first | second), len(first & second)
    (['ann', 'bob', 'cy', 'dee'], 0)
    """
    distinct = sorted(set(groups), key=str)
    if len(distinct) < 2:
        raise ValueError(f"need at least two groups to split, got {len(distinct)}")
    random.Random(seed).shuffle(distinct)
    half = (len(distinct) + 1) // 2
    return set(distinct[:half]), set(distinct[half:])


def _weighted_aucs(scores, same, weights) -> np.ndarray:
    """The AUC of each bootstrap round, pairs counted ``weights`` (R, P) times.

    For each same pair, the different pairs scored below it (ties half) are a cumulative sum over
    the different scores sorted once. Rounds that drew no same or no different pair give NaN.
    """
    diff_order = np.argsort(scores[~same], kind="stable")
    diff_sorted = scores[~same][diff_order]
    below = np.searchsorted(diff_sorted, scores[same], side="left")
    up_to = np.searchsorted(diff_sorted, scores[same], side="right")
    w_diff, w_same = weights[:, ~same][:, diff_order], weights[:, same]
    cum = np.concatenate([np.zeros((len(weights), 1)), np.cumsum(w_diff, axis=1)], axis=1)
    wins = cum[:, below] + 0.5 * (cum[:, up_to] - cum[:, below])
    return (w_same * wins).sum(axis=1) / (w_same.sum(axis=1) * cum[:, -1])

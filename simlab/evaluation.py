"""How good is a similarity score at a yes/no question, and how sure can we be of it?

Lesson 03 asks "the same person?" of every pair of photos of many people. This module turns the
scores of those pairs into numbers with honest uncertainty:

- :func:`labelled_pairs_of` lists every pair of items with whether their labels agree;
- :func:`auc_interval`: the area under the ROC curve (the chance that a random same-label pair
  scores above a random different-label pair) with a bootstrap interval **over groups**: pairs
  that share a person are not independent evidence, so the bootstrap draws people, not pairs;
- :func:`rate_interval`: a share of successes (pairs called right) with the exact
  Clopper-Pearson interval, the textbook interval for a binomial proportion, and
  :func:`share_interval`, the same share with a bootstrap over people for pairs of few people;
- :func:`group_bootstrap`: any statistic of items or pairs (a precision@k, a best F1) with an
  interval from redrawing their groups (people, source photos);
- :func:`split_groups`: two halves of the people, to choose a threshold on one and test it on the
  other;
- :func:`pair_precision_recall`: how well groups found (near-duplicates, people) match the truth,
  counted in pairs.

Examples
--------
>>> import numpy as np
>>> from simlab.evaluation import labelled_pairs_of, auc_interval
>>> people = ["ann", "ann", "bob", "bob", "cy", "cy"]
>>> first, second, same = labelled_pairs_of(people)
>>> int(same.sum()), len(same)
(3, 15)
>>> scores = np.where(same, 0.9, 0.1)  # a perfect score
>>> auc_interval(scores, same, [people[i] for i in first], [people[j] for j in second])
Estimate(value=1.0, low=1.0, high=1.0)
"""

from __future__ import annotations

import itertools
import random
from typing import NamedTuple

import numpy as np
from scipy.stats import binomtest
from sklearn.metrics import roc_auc_score

__all__ = ["Estimate", "auc_interval", "group_bootstrap", "labelled_pairs_of", "pair_precision_recall",
           "rate_interval", "share_interval", "split_groups"]


class Estimate(NamedTuple):
    """A measured ``value`` and its interval ``[low, high]`` (95 % unless asked otherwise)."""

    value: float
    low: float
    high: float


def labelled_pairs_of(labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair of items and whether the two share a label.

    Parameters
    ----------
    labels : sequence
        One label per item (e.g. the person in each photo); any hashable values.

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

    Parameters
    ----------
    scores : array_like, shape (P,)
        One score per pair, higher meaning "more alike" (negate distances first).
    same : array_like of bool, shape (P,)
        True for a same-label pair (e.g. two photos of one person).
    groups_a, groups_b : sequence, length P
        The group (person) of each pair's two items. A same pair lies within one group.
    confidence : float, optional
        The interval's coverage, 0.95 by default.
    rounds : int, optional
        Bootstrap rounds. Each draws as many groups as there are, with replacement; a pair counts
        once for every copy of its groups (a drawn-twice person's pairs with a drawn-once person
        count twice; the two copies of one person are not paired with each other).
    seed : int, optional
        Seeds the draws: the same inputs give the same interval.

    Returns
    -------
    Estimate
        ``value``: the AUC of all pairs (as :func:`sklearn.metrics.roc_auc_score`, ties count
        half); ``low``, ``high``: the percentile interval of the bootstrap AUCs.

    Raises
    ------
    ValueError
        When the lengths differ, a score is not finite, ``same`` holds one class only, a same pair
        spans two groups, or ``confidence`` is not between 0 and 1.
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
        As for :func:`auc_interval`; a pair counts once for every copy of its groups.

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
    >>> from simlab.evaluation import share_interval
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

    When items come in groups (photos of one person, copies of one photo), resampling the items
    as if they were independent gives too narrow an interval. This draws the *groups* again, with
    replacement, and counts every item (or pair) once for each copy of its group(s).

    Parameters
    ----------
    statistic : callable
        ``statistic(weights) -> values``: ``weights`` is an array (R, n) of how often each of the
        n items (or pairs) counts in each of R rounds; it returns R numbers (NaN for a round where
        the statistic is undefined: such rounds are left out). Example, a share of pairs:
        ``lambda w: (w * hits).sum(axis=1) / w.sum(axis=1)``.
    groups_a : sequence, length n
        The group of each item, or of each pair's first item.
    groups_b : sequence, length n, optional
        For pairs: the group of each pair's second item. A pair within one group counts once for
        each copy of the group; a pair of two groups for each combination of their copies.
    confidence, rounds, seed : optional
        The interval's coverage (0.95), the number of rounds (1000) and the seed of the draws.

    Returns
    -------
    Estimate
        ``value``: the statistic with every weight 1 (the data as it is); ``low``, ``high``: the
        percentile interval of the rounds (widened to include ``value`` if needed).

    Raises
    ------
    ValueError
        When the group lists differ in length, are empty, or ``confidence`` is not between 0 and 1.

    Examples
    --------
    >>> import numpy as np
    >>> from simlab.evaluation import group_bootstrap
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


def pair_precision_recall(groups, labels) -> tuple[float, float]:
    """How well ``groups`` of rows match the truth, counted in pairs: ``(precision, recall)``.

    ``groups`` is a list of groups, each a list of row numbers (as :func:`near_duplicate_groups`
    returns; a list of linked pairs ``[i, j]`` scores the links before they chain). ``labels``
    gives each row its true group, e.g. the photo a file was made from (any values that compare
    with ``==``). Every two rows of one group make a *found* pair, every two rows with the same
    label a *true* pair. Precision: the fraction of found pairs that are true (0.0 when nothing
    was found); recall: the fraction of true pairs that were found.

    Raises ``ValueError`` when no two rows share a label (recall is undefined) or a row number is
    not a row of ``labels``.
    """
    labels = np.asarray(labels)
    n = len(labels)

    def pairs(group_list) -> set[tuple[int, int]]:
        return {pair for g in group_list for pair in itertools.combinations(sorted(set(g)), 2)}

    found = pairs([[int(i) for i in g] for g in groups])
    if any(not 0 <= i < n for pair in found for i in pair):
        raise ValueError(f"groups hold a row number outside 0..{n - 1} (labels has {n} rows)")
    true = pairs([np.flatnonzero(labels == value).tolist() for value in np.unique(labels)])
    if not true:
        raise ValueError("no two rows share a label: there is no true pair, so recall is undefined")
    hits = len(found & true)
    return (hits / len(found) if found else 0.0), hits / len(true)


def rate_interval(successes: int, trials: int, *, confidence: float = 0.95) -> Estimate:
    """The share ``successes / trials`` with its exact (Clopper-Pearson) interval.

    It treats the trials as independent; pairs of photos that share a person are not quite, so
    read the interval as a lower bound on the uncertainty.

    Parameters
    ----------
    successes, trials : int
        Whole numbers, ``0 <= successes <= trials``, ``trials >= 1``.
    confidence : float, optional
        The interval's coverage, 0.95 by default.

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
    >>> from simlab.evaluation import rate_interval
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

    A threshold chosen on the pairs within ``first`` and scored on the pairs within ``second``
    is scored on people it has never seen, which is what "new photos" means for a face model.
    The halves differ in size by at most one; ``seed`` fixes the draw. Raises ``ValueError``
    with fewer than two groups.

    Examples
    --------
    >>> from simlab.evaluation import split_groups
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

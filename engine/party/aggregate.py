"""Combining several members' collaborative scores into one group ranking.

The same functions serve `PartyRecommender` and score the evaluation
(engine/party/evaluate.py), so the evaluated numbers are those of the served code.

A member's benefit from a film is a number in [0, 1) read as "how likely they enjoy it",
in one of two ways (``member_benefit``):
* ``rank`` (the default): from the film's place in the member's own ranking of the films
  they have not rated, ``top * half / (half + place)``. Every member gets the same scale,
  so a member whose long history gives large raw scores does not outvote the others.
* ``score``: ``1 - exp(-max(score, 0) / scale)`` of their raw collaborative score; it
  saturates, which is what lets a fairness term act on it.

Fairness (``rank``):
* ``average``: the mean benefit, no fairness term.
* ``least_misery``: ``(1 - w) * mean + w * min``: a film somebody will not enjoy sinks.
* ``proportional``: greedy over the list: each pick adds, for every member, their benefit
  times their chance of not yet having a film they enjoy in the list so far
  (``prod(1 - benefit)`` of the earlier picks). Once one member is served, the next picks
  lean towards the others: each member gets their share of the list.
* ``nash``: greedy on the sum of the logs of each member's chance of having a film they
  enjoy in the list (``floor`` keeps an unserved member's log finite): the product of the
  chances, so the pick that helps the least-served member most tends to win.

Order (``group_order``): the films the fairness rule picked are shown in the order of the
members' mean raw score (``group``, the default), or in the order they were picked
(``greedy``). Picked in order, a film only one member wants can come first; shown by the
group's mean it comes after the ones most members expect to enjoy.

Veto (``admissible``): a film any member disliked or rated <= 2, or one the model firmly
expects a member to dislike (a score below ``-PREDICTED_VETO`` times their favourite's),
is out; when nothing is left the veto is relaxed step by step, and the group is told.

The defaults were chosen on validation groups by `moviebot eval party` (5-fold user
cross-validation on ml-latest-small; never on the ml-100k test groups), by the rule
``evaluate.choose``: the variant farthest inside the target (minimum-member NDCG@10 >= 1.2x
plain averaging's, mean within 5 %) on its nearer side, in paired standard errors. With ALS,
the served model, that is proportional with rank benefits, top 0.6, half at place 20, shown
in group order (docs/party.md has the tables, and the test numbers).
"""

from __future__ import annotations

import numpy as np

FAIRNESS = ("proportional", "nash", "least_misery", "average")
BENEFITS = ("score", "rank")
ORDERS = ("group", "greedy")
DEFAULT_FAIRNESS = "proportional"
DEFAULT_BENEFIT = "rank"
DEFAULT_ORDER = "group"
SCALE = 3.0                                   # the score at which a benefit reaches 63 %
RANK_TOP, RANK_HALF = 0.6, 20.0               # a rank benefit's top and the place it halves at
LEAST_MISERY_WEIGHT = 0.25
NASH_FLOOR = 0.01
# a member's score below this share of minus their favourite's score: a predicted dislike
# (a looser threshold, any negative score, cost 5-10 % mean NDCG on validation groups)
PREDICTED_VETO = 0.25


def benefit(scores: np.ndarray, scale: float = SCALE) -> np.ndarray:
    """Collaborative scores (any shape) as benefits in [0, 1)."""
    return 1.0 - np.exp(-np.maximum(np.asarray(scores, dtype=np.float64), 0.0) / scale)


def rank_benefit(ranks: np.ndarray, top: float, half: float) -> np.ndarray:
    """Benefits from places in each member's own ranking of the films they have not rated
    (0 = their best): ``top`` at place 0, half of that at place ``half``. Every member
    gets the same scale whatever the size of their raw scores."""
    return top * half / (half + np.asarray(ranks, dtype=np.float64))


def member_benefit(scores: np.ndarray, seen: np.ndarray, cols: np.ndarray,
                   how: str = DEFAULT_BENEFIT) -> np.ndarray:
    """One member's benefits of model columns ``cols`` (-1: a film the model lacks, no
    benefit), from their ``scores`` of every column and the columns they have rated
    (``seen``): ``score`` reads the raw score (`benefit`), ``rank`` the film's place in
    their own ranking (`rank_benefit`)."""
    cols = np.asarray(cols, dtype=np.int64)
    known = cols >= 0
    out = np.zeros(len(cols))
    if how == "rank":
        out[known] = rank_benefit(own_ranks(scores, seen, cols[known]), RANK_TOP, RANK_HALF)
    elif how == "score":
        out[known] = benefit(np.asarray(scores, dtype=np.float64)[cols[known]])
    else:
        raise ValueError(f"unknown benefit {how!r}: one of {', '.join(BENEFITS)}")
    return out


def favourite_benefit(favourite: float | np.ndarray, how: str = DEFAULT_BENEFIT) -> np.ndarray:
    """The benefit of a member's favourite unseen film (``favourite``: its score)."""
    favourite = np.asarray(favourite, dtype=np.float64)
    return np.full(favourite.shape, RANK_TOP) if how == "rank" else benefit(favourite)


def own_ranks(scores: np.ndarray, seen: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Places of columns ``cols`` in the ranking of one member's ``scores`` over the
    columns outside ``seen`` (0 = best; ties share the better place)."""
    scores = np.asarray(scores, dtype=np.float64)
    unseen = np.ones(len(scores), dtype=bool)
    unseen[np.asarray(seen, dtype=np.int64)] = False
    ordered = np.sort(scores[unseen])
    return len(ordered) - np.searchsorted(ordered, scores[np.asarray(cols, dtype=np.int64)],
                                          side="right")


def top_unseen(scores: np.ndarray, seen: np.ndarray, n: int) -> np.ndarray:
    """Columns of the ``n`` best ``scores`` outside ``seen`` (columns), in no order: one
    member's share of the group's candidates."""
    scores = np.array(scores, dtype=np.float64, copy=True)
    scores[np.asarray(seen, dtype=np.int64)] = -np.inf
    n = min(n, int(np.isfinite(scores).sum()))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    return np.argpartition(-scores, n - 1)[:n]


STRICT, EXPLICIT_ONLY, NO_VETO = "strict", "explicit", "none"


def predicted_dislike(scores: np.ndarray, favourite: np.ndarray) -> np.ndarray:
    """members x candidates ``scores``: the candidates some member is firmly expected to
    dislike; ``favourite``: each member's best score among films they have not rated."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size == 0:
        return np.zeros(scores.shape[1] if scores.ndim == 2 else 0, dtype=bool)
    floor = -PREDICTED_VETO * np.maximum(np.asarray(favourite, dtype=np.float64), 0.0)
    return (scores < floor[:, None]).any(axis=0)


def admissible(vetoed: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, str]:
    """Which candidates may be listed, and how far the veto had to be relaxed for any to
    remain: ``strict`` (no explicit veto, no predicted dislike), ``explicit`` (the
    explicit vetoes only), ``none`` (every candidate competes)."""
    vetoed = np.asarray(vetoed, dtype=bool)
    predicted = np.asarray(predicted, dtype=bool)
    for level, keep in ((STRICT, ~vetoed & ~predicted), (EXPLICIT_ONLY, ~vetoed),
                        (NO_VETO, np.ones(len(vetoed), dtype=bool))):
        if keep.any():
            return keep, level
    return np.zeros(len(vetoed), dtype=bool), STRICT


def rank(utility: np.ndarray, k: int, fairness: str = DEFAULT_FAIRNESS,
         weight: float = LEAST_MISERY_WEIGHT, floor: float = NASH_FLOOR) -> tuple[np.ndarray, np.ndarray]:
    """(positions, group scores) of the best ``k`` columns of ``utility`` (members x
    candidates benefits), best first; ``weight``: least misery's weight of the minimum."""
    if fairness not in FAIRNESS:
        raise ValueError(f"unknown fairness {fairness!r}: one of {', '.join(FAIRNESS)}")
    utility = np.asarray(utility, dtype=np.float64)
    k = min(k, utility.shape[1])
    if k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    if fairness == "proportional":
        return _proportional(utility, k)
    if fairness == "nash":
        return _nash(utility, k, floor)
    score = utility.mean(axis=0)
    if fairness == "least_misery":
        score = (1 - weight) * score + weight * utility.min(axis=0)
    order = np.argsort(-score, kind="stable")[:k]
    return order, score[order]


def group_order(picks: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """The ``picks`` (candidate positions) re-sorted by the members' mean raw score
    (``scores``: members x candidates), best first. The fairness rule decides which films
    make the list; the films most of the group expects to enjoy are shown first."""
    picks = np.asarray(picks, dtype=np.int64)
    mean = np.asarray(scores, dtype=np.float64)[:, picks].mean(axis=0)
    return picks[np.argsort(-mean, kind="stable")]


def _proportional(utility: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    unserved = np.ones(utility.shape[0])   # each member's chance the list holds nothing for them
    free = np.ones(utility.shape[1], dtype=bool)
    picks, gains = [], []
    for _ in range(k):
        gain = np.where(free, (unserved[:, None] * utility).mean(axis=0), -np.inf)
        j = int(np.argmax(gain))
        picks.append(j)
        gains.append(float(gain[j]))
        free[j] = False
        unserved *= 1.0 - utility[:, j]
    return np.array(picks, dtype=np.int64), np.array(gains)


def _nash(utility: np.ndarray, k: int, floor: float) -> tuple[np.ndarray, np.ndarray]:
    served = np.zeros(utility.shape[0])    # each member's chance the list holds a film for them
    free = np.ones(utility.shape[1], dtype=bool)
    picks, gains = [], []
    for _ in range(k):
        after = 1.0 - (1.0 - served)[:, None] * (1.0 - utility)
        gain = (np.log(floor + after) - np.log(floor + served)[:, None]).sum(axis=0)
        gain = np.where(free, gain, -np.inf)
        j = int(np.argmax(gain))
        picks.append(j)
        gains.append(float(gain[j]))
        free[j] = False
        served = after[:, j]
    return np.array(picks, dtype=np.int64), np.array(gains)

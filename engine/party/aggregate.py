"""Combining several members' benefits into one group ranking.

The same functions serve `PartyRecommender` and score the evaluation
(engine/party/evaluate.py), so the numbers in the README are those of the served code.

A member's benefit from a film is their collaborative score scaled so that their own best
unseen film is 1 (``benefit``). Why scaled: raw scores grow with the length of a history,
so averaging raw scores lets the member who rated 500 films choose for everyone (that is
the "plain averaging" baseline the evaluation compares against).

Fairness (``rank``):
* ``average``: the mean benefit; no fairness term.
* ``least_misery``: ``(1 - w) * mean + w * min``: a film someone would not enjoy sinks.
* ``proportional``: greedy, list-level: each pick adds its mean benefit plus ``w`` times
  how much it raises each member's best benefit in the list so far, so once one member
  has a film they love, the next picks lean towards the others.
"""

from __future__ import annotations

import numpy as np

FAIRNESS = ("least_misery", "proportional", "average")
# Chosen on validation groups by `moviebot eval party` (never on test groups): the variant
# with the best minimum-member NDCG@10 whose mean NDCG@10 stays within 5 % of plain
# averaging (docs/party.md has the table).
DEFAULT_FAIRNESS = "least_misery"
DEFAULT_WEIGHT = {"least_misery": 0.5, "proportional": 1.0, "average": 0.0}


def benefit(scores: np.ndarray, unseen: np.ndarray | None = None) -> np.ndarray:
    """``scores`` (n_items,) of one member as benefits: divided by the member's best score
    among ``unseen`` items (all when None), so their favourite unseen film is 1.0.

    A member with no positive score anywhere (no usable history) gets zeros: they neither
    pull a film up nor push it down."""
    scores = np.asarray(scores, dtype=np.float64)
    pool = scores if unseen is None else scores[unseen]
    top = float(pool.max()) if len(pool) else 0.0
    if top <= 0:
        return np.zeros_like(scores)
    return scores / top


def rank(utility: np.ndarray, k: int, fairness: str = DEFAULT_FAIRNESS,
         weight: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(positions, group scores) of the best ``k`` columns of ``utility`` (members x
    candidates), best first."""
    if fairness not in FAIRNESS:
        raise ValueError(f"unknown fairness {fairness!r}: one of {', '.join(FAIRNESS)}")
    utility = np.asarray(utility, dtype=np.float64)
    n = utility.shape[1]
    k = min(k, n)
    if k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    w = DEFAULT_WEIGHT[fairness] if weight is None else float(weight)
    mean = utility.mean(axis=0)
    if fairness == "proportional":
        return _greedy(utility, mean, k, w)
    score = mean if fairness == "average" else (1 - w) * mean + w * utility.min(axis=0)
    order = np.argsort(-score, kind="stable")[:k]
    return order, score[order]


def _greedy(utility: np.ndarray, mean: np.ndarray, k: int, w: float
            ) -> tuple[np.ndarray, np.ndarray]:
    best = np.zeros(utility.shape[0])          # each member's best benefit in the list so far
    free = np.ones(utility.shape[1], dtype=bool)
    picks, gains = [], []
    for _ in range(k):
        raise_ = np.maximum(utility - best[:, None], 0).mean(axis=0)
        gain = np.where(free, mean + w * raise_, -np.inf)
        j = int(np.argmax(gain))
        picks.append(j)
        gains.append(float(gain[j]))
        free[j] = False
        best = np.maximum(best, utility[:, j])
    return np.array(picks, dtype=np.int64), np.array(gains)

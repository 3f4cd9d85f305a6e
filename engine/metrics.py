"""The one place ranking metrics are computed: every evaluator and the retrain gate use it.

Per ranked list (``ranked``: item ids, best first; ``relevant``: a set of ids, or a dict
id -> gain for graded relevance):

* ``precision_at_k`` = hits in the top k / k
* ``recall_at_k`` = hits / min(k, |relevant|), so a perfect list scores 1
* ``ndcg_at_k`` = DCG / ideal DCG, discount 1 / log2(rank + 1); gain 1 per relevant item
  (binary) or the item's gain (graded), ideal = the best possible gains in order
* ``hit_rate_at_k`` = 1 if any relevant item is in the top k
* ``average_precision_at_k`` = mean of precision@i over the hit ranks i, / min(k, |relevant|)

A list with no relevant items has no defined score: the per-list functions return NaN and
``evaluate_lists`` leaves it out (its ``lists`` count says how many were scored).

Over lists: ``mean_se`` (the mean and its standard error, cluster-robust when several
lists share a unit such as a user), ``paired_difference`` (the same for ``a - b`` of two
systems scored on the same lists), ``coverage`` and the rating errors ``rating_errors``.

``EvalReport`` is what every recommender package's ``evaluate(version_dir, data_dir,
**options)`` returns: its tables (JSON-able, what ``--json`` prints), the scalar metrics
a report charts, and the text the CLI prints.

All NDCG values come from ``ndcg_rows`` (one formula: ``(gains * discount).sum()`` along
the list, divided by the same sum for the ideal gains), so two evaluators give the same
number, bit for bit, for the same list.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Relevant = set[int] | frozenset[int] | Mapping[int, float]


# -- the one NDCG formula ---------------------------------------------------------------
def discounts(k: int) -> np.ndarray:
    """1 / log2(rank + 1) for ranks 1..k."""
    return 1.0 / np.log2(np.arange(2, k + 2))


def dcg_rows(gains: np.ndarray) -> np.ndarray:
    """DCG of each row of ``gains`` (n_lists, list length), position 0 = rank 1."""
    gains = np.asarray(gains)
    return (gains * discounts(gains.shape[1])).sum(axis=1)


def ideal_dcg(n_relevant: np.ndarray | int, k: int) -> np.ndarray:
    """Ideal DCG@k of binary lists with ``n_relevant`` relevant items (>= 1)."""
    table = np.array([0.0] + [dcg_rows(np.ones((1, m)))[0] for m in range(1, k + 1)])
    return table[np.minimum(np.asarray(n_relevant), k)]


def ndcg_rows(hits: np.ndarray, n_relevant: np.ndarray, k: int | None = None) -> np.ndarray:
    """Binary NDCG@k of many lists at once: ``hits`` (n_lists, <= k) says which of the top
    positions are relevant, ``n_relevant`` how many relevant items each list has (>= 1)."""
    hits = np.asarray(hits)
    return dcg_rows(hits) / ideal_dcg(n_relevant, k or hits.shape[1])


def hits_from_ranks(ranks: np.ndarray, k: int) -> np.ndarray:
    """(n, k) hits of lists with one relevant item each, at 1-based ``ranks`` (> k: missed)."""
    ranks = np.asarray(ranks)
    return (ranks[:, None] == np.arange(1, k + 1)[None, :])


# -- per ranked list ------------------------------------------------------------------------
def _gains(ranked: Sequence[int], relevant: Relevant, k: int) -> np.ndarray:
    top = list(ranked)[:k]
    if isinstance(relevant, Mapping):
        return np.array([float(relevant.get(int(i), 0.0)) for i in top], dtype=np.float64)
    return np.fromiter((i in relevant for i in top), dtype=bool, count=len(top))


def _n_relevant(relevant: Relevant) -> int:
    if isinstance(relevant, Mapping):
        return sum(1 for g in relevant.values() if g > 0)
    return len(relevant)


def precision_at_k(ranked: Sequence[int], relevant: Relevant, k: int) -> float:
    if not _n_relevant(relevant):
        return math.nan
    return float(np.count_nonzero(_gains(ranked, relevant, k)) / k)


def recall_at_k(ranked: Sequence[int], relevant: Relevant, k: int) -> float:
    n = _n_relevant(relevant)
    if not n:
        return math.nan
    return float(np.count_nonzero(_gains(ranked, relevant, k)) / min(n, k))


def hit_rate_at_k(ranked: Sequence[int], relevant: Relevant, k: int) -> float:
    if not _n_relevant(relevant):
        return math.nan
    return float(np.count_nonzero(_gains(ranked, relevant, k)) > 0)


def ndcg_at_k(ranked: Sequence[int], relevant: Relevant, k: int) -> float:
    n = _n_relevant(relevant)
    if not n:
        return math.nan
    gains = _gains(ranked, relevant, k)
    if not len(gains):
        return 0.0
    if isinstance(relevant, Mapping):
        ideal = np.sort(np.array([g for g in relevant.values() if g > 0], dtype=np.float64))[::-1][:k]
        return float(dcg_rows(gains[None, :])[0] / dcg_rows(ideal[None, :])[0])
    return float(ndcg_rows(gains[None, :], np.array([n]), k)[0])


def average_precision_at_k(ranked: Sequence[int], relevant: Relevant, k: int) -> float:
    n = _n_relevant(relevant)
    if not n:
        return math.nan
    hits = _gains(ranked, relevant, k) > 0
    if not len(hits):
        return 0.0
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].sum() / min(n, k))


def coverage(ranked: Iterable[Sequence[int]], n_items: int, k: int) -> float:
    """Share of the ``n_items`` catalog that appears in at least one top k."""
    shown: set[int] = set()
    for top in ranked:
        shown.update(int(i) for i in list(top)[:k])
    return len(shown) / max(n_items, 1)


METRICS: dict[str, Callable[[Sequence[int], Relevant, int], float]] = {
    "precision": precision_at_k, "recall": recall_at_k, "ndcg": ndcg_at_k,
    "hr": hit_rate_at_k, "map": average_precision_at_k,
}


def evaluate_lists(ranked: Iterable[Sequence[int]], relevant: Iterable[Relevant], k: int,
                   metrics: Sequence[str] = ("precision", "recall", "ndcg", "hr", "map")
                   ) -> dict[str, np.ndarray]:
    """Per-list values of ``metrics`` (names as in ``METRICS``) for lists with at least one
    relevant item; lists without are left out. Keys are ``"<name>@<k>"``."""
    out: dict[str, list[float]] = {f"{m}@{k}": [] for m in metrics}
    for top, rel in zip(ranked, relevant, strict=True):
        if not _n_relevant(rel):
            continue
        for m in metrics:
            out[f"{m}@{k}"].append(METRICS[m](top, rel, k))
    return {name: np.array(values, dtype=np.float64) for name, values in out.items()}


# -- over lists ---------------------------------------------------------------------------
def standard_error(values: np.ndarray, clusters: np.ndarray | None = None) -> float:
    """Standard error of the mean of per-list values.

    Lists of the same unit (e.g. queries of one user: same taste, same relevant set) are
    correlated, so with ``clusters`` (the unit of each list) this is the cluster-robust
    standard error, i.e. the units, not the lists, are independent. It is larger than
    the naive one. 0 for fewer than two values.
    """
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if n < 2:
        return 0.0
    if clusters is None:
        return float(np.std(values, ddof=1) / np.sqrt(n))
    dev = values - values.mean()
    _, inverse = np.unique(clusters, return_inverse=True)
    per_cluster = np.bincount(inverse, weights=dev)
    g = len(per_cluster)
    correction = g / (g - 1) if g > 1 else 1.0
    return float(np.sqrt(correction * (per_cluster ** 2).sum()) / n)


def mean_se(values: Sequence[float] | np.ndarray, clusters: np.ndarray | None = None
            ) -> tuple[float, float]:
    """(mean, standard error of the mean); (nan, 0) for no values."""
    values = np.asarray(values, dtype=np.float64)
    if not len(values):
        return math.nan, 0.0
    return float(values.mean()), standard_error(values, clusters)


def paired_difference(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray,
                      clusters: np.ndarray | None = None) -> tuple[float, float]:
    """(mean, standard error) of ``a - b``, two systems scored on the same lists in the
    same order: the paired comparison, far less noisy than comparing two means."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired values differ in shape: {a.shape} vs {b.shape}")
    return mean_se(a - b, clusters)


def rating_errors(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """RMSE and MAE of rating predictions."""
    err = np.asarray(y_pred, np.float64) - np.asarray(y_true, np.float64)
    return {"rmse": float(np.sqrt(np.mean(err ** 2))), "mae": float(np.mean(np.abs(err)))}


# -- what an evaluator returns -------------------------------------------------------------
@dataclass
class EvalReport:
    """One component's evaluation.

    ``tables``: the JSON-able results (what ``moviebot eval <name> --json`` prints and the
    ``eval`` job records); ``scalars``: the headline numbers a report charts across
    versions; ``text``: what the CLI prints (``format()``).
    """

    component: str
    tables: Any
    scalars: dict[str, float] = field(default_factory=dict)
    text: str = ""

    def format(self) -> str:
        return self.text


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table from already formatted cells."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)

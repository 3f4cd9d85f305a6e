"""Annoy over the fused vectors, with a popularity prior folded into the geometry.

The served score is ``(1 - lam) * cos(q, c) + lam * prior(c)``: content similarity plus a
query-independent prior (TMDB vote-count percentile, sharpened). That is an inner product
between an asymmetric query vector ``[sqrt(1-lam) f_q, sqrt(lam)]`` and item vector
``[sqrt(1-lam) f_c, sqrt(lam) prior_c]``. Annoy's angular metric answers it exactly through
the standard inner-product-to-cosine reduction: each item gets one more coordinate that
pads it to the same norm ``M``, and the query gets a 0 there. Then
``cos(q', c') = (q . c) / M`` (queries have norm 1), so the angular ranking is the
inner-product ranking and the score is recovered as ``M * (1 - d^2 / 2)``.

``choose_params`` builds indices with a few tree counts and keeps the cheapest
(``n_trees``, ``search_k``) whose recall@10 against exact search meets the target.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from annoy import AnnoyIndex


@dataclass
class IndexParams:
    n_trees: int = 50
    search_k: int = -1
    recall_at_10: float = 0.0
    mean_query_ms: float = 0.0


def item_vectors(fused: np.ndarray, prior: np.ndarray, lam: float) -> tuple[np.ndarray, float]:
    """The padded item vectors (n, d + 2) and their common norm M."""
    core = np.hstack([fused * np.sqrt(1 - lam), (np.sqrt(lam) * prior)[:, None]])
    norms2 = (core ** 2).sum(axis=1)
    m2 = float(norms2.max())
    pad = np.sqrt(np.maximum(m2 - norms2, 0.0))[:, None]
    return np.hstack([core, pad]).astype(np.float32), float(np.sqrt(m2))


def query_vector(fused_row: np.ndarray, lam: float) -> np.ndarray:
    return np.concatenate([fused_row * np.sqrt(1 - lam), [np.sqrt(lam), 0.0]]).astype(np.float32)


def exact_scores(items: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Brute-force inner products: the ground truth for recall."""
    return queries @ items.T


def build_annoy(items: np.ndarray, n_trees: int, seed: int = 42, n_jobs: int = 1) -> AnnoyIndex:
    index = AnnoyIndex(items.shape[1], "angular")
    index.set_seed(seed)
    for i, vec in enumerate(items):
        index.add_item(i, vec)
    index.build(n_trees, n_jobs=n_jobs)
    return index


def recall_at_10(index: AnnoyIndex, items: np.ndarray, queries: np.ndarray, search_k: int,
                 exclude: np.ndarray | None = None) -> tuple[float, float]:
    """(mean recall@10 of Annoy against exact search, mean query time in ms)."""
    exact = exact_scores(items, queries)
    if exclude is not None:
        exact[np.arange(len(queries)), exclude] = -np.inf
    truth = np.argpartition(-exact, 10, axis=1)[:, :10]
    hits, started = 0, time.perf_counter()
    for row, q in enumerate(queries):
        got = index.get_nns_by_vector(q, 11, search_k=search_k)
        if exclude is not None:
            got = [g for g in got if g != exclude[row]]
        hits += len(set(got[:10]) & set(truth[row].tolist()))
    elapsed = (time.perf_counter() - started) * 1000 / len(queries)
    return hits / (10 * len(queries)), elapsed


def choose_params(items: np.ndarray, queries: np.ndarray, exclude: np.ndarray | None = None,
                  target: float = 0.98, tree_options=(10, 25, 50, 100),
                  k_options=(500, 1000, 2000, 5000, 10000), seed: int = 42
                  ) -> tuple[AnnoyIndex, IndexParams, list[dict]]:
    """The fastest measured (n_trees, search_k) meeting ``target`` recall@10.

    Falls back to the most accurate setting tried if none meets the target.
    """
    trials, best, best_index = [], None, None
    for n_trees in tree_options:
        index = build_annoy(items, n_trees, seed)
        for search_k in k_options:
            recall, ms = recall_at_10(index, items, queries, search_k, exclude)
            trials.append({"n_trees": n_trees, "search_k": search_k, "recall@10": round(recall, 4),
                           "mean_query_ms": round(ms, 4)})
            candidate = IndexParams(n_trees, search_k, recall, ms)
            if best is None or _better(candidate, best, target):
                best, best_index = candidate, index
            if recall >= target:
                break  # larger search_k for these trees is only slower
    return best_index, best, trials


def _better(a: IndexParams, b: IndexParams, target: float) -> bool:
    a_ok, b_ok = a.recall_at_10 >= target, b.recall_at_10 >= target
    if a_ok != b_ok:
        return a_ok
    return a.mean_query_ms < b.mean_query_ms if a_ok else a.recall_at_10 > b.recall_at_10


def save(index: AnnoyIndex, path: Path) -> None:
    index.save(str(path))

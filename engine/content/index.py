"""Build-time choice of the content index, and the two-stage served ranking.

Stage 1 (Annoy, angular): the ``n_candidates`` nearest movies by fused cosine. Stage 2
(numpy, a few hundred rows): rerank them by ``(1 - lam) * cosine + lam * prior``. So
every listed movie is close in content, and the popularity prior only orders films that
are already similar. ``lam == 0`` means no rerank: the k nearest by content.

The index itself is the shared `engine.retrieval.Retriever` (angular).
``choose_params`` builds indices with a few tree counts and keeps the cheapest
(``n_trees``, ``search_k``) whose served top-10 matches the exact two-stage top-10 often
enough (recall@10 against brute-force numpy).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..retrieval import Retriever


@dataclass
class IndexParams:
    n_trees: int = 50
    search_k: int = -1
    recall_at_10: float = 0.0
    mean_query_ms: float = 0.0


def search_k_for(search_k: int, n: int) -> int:
    """Nodes Annoy inspects when asked for n items: at least 10 per wanted item."""
    return max(int(search_k), 10 * n)


def rerank(cosines: np.ndarray, prior: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """(order, served scores) of candidates given their cosines and priors, best first."""
    scores = cosines if lam == 0 else (1 - lam) * cosines + lam * prior
    order = np.argsort(-scores, kind="stable")
    return order, scores[order]


def exact_served(fused: np.ndarray, prior: np.ndarray, query: int, lam: float, n_candidates: int,
                 k: int = 10) -> np.ndarray:
    """Brute-force two-stage top-k for one catalog row (the ground truth for recall)."""
    cos = fused @ fused[query]
    cos[query] = -np.inf
    n = n_candidates if lam else k
    cand = np.argpartition(-cos, n - 1)[:n]
    cand = cand[np.argsort(-cos[cand], kind="stable")]
    order, _ = rerank(cos[cand], prior[cand], lam)
    return cand[order][:k]


def annoy_served(index: Retriever, prior: np.ndarray, query: int, lam: float, n_candidates: int,
                 search_k: int, k: int = 10) -> np.ndarray:
    """The served two-stage top-k for one catalog row, candidates from Annoy."""
    n = n_candidates if lam else k
    index.search_k, index.search_k_per_item = search_k, 10   # as search_k_for
    ids, cos = index.top(query, n + 1, exact=False)
    keep = ids != query
    ids, cos = ids[keep][:n], cos[keep][:n]
    order, _ = rerank(cos, prior[ids], lam)
    return ids[order][:k]


def build_annoy(items: np.ndarray, n_trees: int, seed: int = 42, n_jobs: int = 1) -> Retriever:
    return Retriever.build(items, "angular", trees=n_trees, seed=seed, n_jobs=n_jobs)


def exact_served_scores(fused: np.ndarray, prior: np.ndarray, query: int, lam: float,
                        n_candidates: int, k: int = 10) -> np.ndarray:
    """Brute-force served score of every item (-inf outside the candidates), ties included.

    Metadata-heavy vectors have many exact ties (same genres, same era), so the candidate
    set takes every item tied with the n-th nearest one.
    """
    cos = fused @ fused[query]
    cos[query] = -np.inf
    n = n_candidates if lam else k
    boundary = -np.partition(-cos, n - 1)[n - 1]
    served = cos if lam == 0 else (1 - lam) * cos + lam * prior
    return np.where(cos >= boundary - TIE, served, -np.inf)


TIE = 1e-6  # scores closer than this count as equal (float32 round-off)


def recall_at_10(index: Retriever, fused: np.ndarray, prior: np.ndarray, queries: np.ndarray,
                 lam: float, n_candidates: int, search_k: int) -> tuple[float, float]:
    """(mean recall@10 of the served list against exact two-stage search, mean ms per query).

    A listed movie counts as a hit when its exact served score reaches the exact 10th
    best one, so swapping two exactly tied movies is not a miss.
    """
    truth = [exact_served_scores(fused, prior, int(q), lam, n_candidates) for q in queries]
    hits, started = 0, time.perf_counter()
    got = [annoy_served(index, prior, int(q), lam, n_candidates, search_k) for q in queries]
    elapsed = (time.perf_counter() - started) * 1000 / len(queries)
    for served, listed in zip(truth, got, strict=True):
        tenth = -np.partition(-served, 9)[9]
        hits += int((served[listed] >= tenth - TIE).sum())
    return hits / (10 * len(queries)), elapsed


def choose_params(fused: np.ndarray, prior: np.ndarray, queries: np.ndarray, lam: float,
                  n_candidates: int, target: float = 0.98, tree_options=(10, 25, 50, 100),
                  k_options=(500, 1000, 2000, 5000, 10000), seed: int = 42
                  ) -> tuple[Retriever, IndexParams, list[dict]]:
    """The fastest measured (n_trees, search_k) meeting ``target`` recall@10.

    Falls back to the most accurate setting tried if none meets the target.
    """
    trials, best, best_index = [], None, None
    for n_trees in tree_options:
        index = build_annoy(fused, n_trees, seed)
        for search_k in k_options:
            recall, ms = recall_at_10(index, fused, prior, queries, lam, n_candidates, search_k)
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


def save(index: Retriever, path: Path) -> None:
    index.save(path)

"""The query set every content evaluation scores (evaluate.py builds it, hybrid_eval.py
and the build use it), kept apart so those modules import it without importing each other."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..metrics import evaluate_lists
from .fusion import K


@dataclass
class QuerySet:
    queries: np.ndarray           # catalog row of each query movie
    relevant: list[np.ndarray]    # catalog rows liked by the same user (query excluded)
    users: np.ndarray | None = None  # the user behind each query (for the standard error)

    def __len__(self) -> int:
        return len(self.queries)

    def relevance(self, n_items: int) -> np.ndarray:
        """(n_queries, n_items) bool: is item j one of query i's relevant movies."""
        rel = np.zeros((len(self), n_items), dtype=bool)
        for i, rows in enumerate(self.relevant):
            rel[i, rows] = True
        return rel


def per_query_metrics(ranked: np.ndarray, qs: QuerySet, k: int = K) -> tuple[np.ndarray, np.ndarray]:
    """(NDCG@k, recall@k) of every query, for means and paired standard errors."""
    values = evaluate_lists(ranked[:, :k], (set(rel.tolist()) for rel in qs.relevant), k,
                            ("ndcg", "recall"))
    return values[f"ndcg@{k}"], values[f"recall@{k}"]

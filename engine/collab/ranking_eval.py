"""Score a ranking model on held-out users, exactly (all items) or through its Annoy index."""

from __future__ import annotations

import numpy as np

from .metrics import coverage, ranking_metrics, top_k
from .models.base import RankingModel
from .split import HeldOut


def rank_exact(model: RankingModel, held: HeldOut, k: int) -> list[np.ndarray]:
    scores = model.scores_batch(held.history)
    return [top_k(scores[u], held.history.getrow(u).indices, k) for u in range(len(held))]


def rank_annoy(model: RankingModel, index, held: HeldOut, k: int) -> list[np.ndarray]:
    """The serving path: fold the user in, then ask Annoy (see vectors.VectorIndex)."""
    out = []
    for u in range(len(held)):
        row = held.history.getrow(u)
        vec = model.user_vector(row.indices, row.data)
        seen = set(row.indices.tolist())
        cand = index.query(vec, k + len(seen))
        out.append(np.array([i for i in cand if i not in seen][:k], dtype=np.int64))
    return out


def evaluate(model: RankingModel, held: HeldOut, k: int = 10, index=None) -> dict[str, float]:
    ranked = rank_annoy(model, index, held, k) if index is not None else rank_exact(model, held, k)
    metrics = ranking_metrics(ranked, held.targets, k)
    metrics["coverage"] = coverage(ranked, held.history.shape[1], k)
    return metrics

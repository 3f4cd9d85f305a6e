"""Score a ranking model on held-out users, exactly (all items) or through its Annoy index."""

from __future__ import annotations

import numpy as np

from ..metrics import coverage, evaluate_lists
from .models.base import RankingModel
from .split import HeldOut
from .vectors import candidates


def top_k(scores: np.ndarray, exclude: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best scores, skipping ``exclude`` (the user's own history)."""
    s = np.array(scores, dtype=np.float32, copy=True)
    s[exclude] = -np.inf
    k = min(k, len(s))
    part = np.argpartition(-s, k - 1)[:k]
    return part[np.argsort(-s[part], kind="stable")]


def ranking_metrics(ranked: list[np.ndarray], relevant: list[set[int]], k: int) -> dict[str, float]:
    """Precision@k, Recall@k, NDCG@k, HR@k and MAP@k averaged over the users with at least
    one held-out liked item (``users``: how many)."""
    values = evaluate_lists(ranked, relevant, k)
    return {**{name: float(np.mean(v)) for name, v in values.items()},
            "users": len(values[f"ndcg@{k}"])}


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
        cand = np.array([i for i in index.query(vec, candidates(k, len(seen))) if i not in seen],
                        dtype=np.int64)
        if len(cand) == 0:
            out.append(cand)
            continue
        scores = model.rescore(row.indices, row.data, vec, cand)
        out.append(cand[np.argsort(-scores, kind="stable")][:k])
    return out


def score_model(model: RankingModel, held: HeldOut, k: int = 10, index=None) -> dict[str, float]:
    """Ranking metrics and coverage of one fitted model on held-out users, exactly (all
    items) or through its Annoy ``index`` (the serving path)."""
    ranked = rank_annoy(model, index, held, k) if index is not None else rank_exact(model, held, k)
    metrics = ranking_metrics(ranked, held.targets, k)
    metrics["coverage"] = coverage(ranked, held.history.shape[1], k)
    return metrics


SEARCH_K_STEPS = (-1, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000)


def calibrate_search_k(model: RankingModel, index, held: HeldOut, k: int = 10,
                       target: float = 0.99, users: int = 100) -> tuple[int, float]:
    """The smallest Annoy ``search_k`` whose top k matches exact scoring for ``target`` of
    the items, on held-out users. Why: the extra-dimension transform puts every item on
    one sphere, which makes Annoy's random splits less selective, so the default search
    effort (k * trees nodes) can miss good items; how much more effort is needed depends on
    the model, so it is measured rather than guessed."""
    rows = [held.history.getrow(u) for u in range(min(users, len(held)))]
    vecs = [model.user_vector(r.indices, r.data) for r in rows]
    items = np.asarray(model.item_vectors())
    exact = [top_k(items @ v, r.indices, k) for v, r in zip(vecs, rows, strict=True)]
    recall = 0.0
    for search_k in SEARCH_K_STEPS:
        index.search_k = search_k
        found = 0
        for v, r, ex in zip(vecs, rows, exact, strict=True):
            seen = set(r.indices.tolist())
            got = [i for i in index.query(v, k + len(seen)) if i not in seen][:k]
            found += len(set(got) & set(ex.tolist()))
        recall = found / max(sum(len(e) for e in exact), 1)
        if recall >= target:
            break
    return index.search_k, recall

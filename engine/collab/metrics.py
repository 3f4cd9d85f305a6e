"""Top-k ranking metrics (per user, then averaged) and rating-prediction errors."""

from __future__ import annotations

import numpy as np


def ranking_metrics(ranked: list[np.ndarray], relevant: list[set[int]], k: int) -> dict[str, float]:
    """Precision@k, Recall@k, NDCG@k, HR@k and MAP@k over users.

    ``ranked[u]`` are the top item columns for user u (best first), ``relevant[u]`` the
    held-out liked ones. Recall divides by min(k, |relevant|) so a perfect list scores 1.
    """
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    prec, rec, ndcg, hr, ap = [], [], [], [], []
    for top, rel in zip(ranked, relevant, strict=True):
        if not rel:
            continue
        hits = np.fromiter((i in rel for i in top[:k]), dtype=bool, count=min(k, len(top)))
        n_hit = hits.sum()
        ideal = discounts[:min(len(rel), k)].sum()
        prec.append(n_hit / k)
        rec.append(n_hit / min(len(rel), k))
        ndcg.append((discounts[:len(hits)][hits]).sum() / ideal)
        hr.append(float(n_hit > 0))
        cum = np.cumsum(hits) / np.arange(1, len(hits) + 1)
        ap.append((cum[hits]).sum() / min(len(rel), k))
    return {f"precision@{k}": float(np.mean(prec)), f"recall@{k}": float(np.mean(rec)),
            f"ndcg@{k}": float(np.mean(ndcg)), f"hr@{k}": float(np.mean(hr)),
            f"map@{k}": float(np.mean(ap)), "users": len(ndcg)}


def coverage(ranked: list[np.ndarray], n_items: int, k: int) -> float:
    """Share of the model's items that appear in at least one user's top k."""
    shown = set()
    for top in ranked:
        shown.update(int(i) for i in top[:k])
    return len(shown) / max(n_items, 1)


def rating_errors(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    err = np.asarray(y_pred, np.float64) - np.asarray(y_true, np.float64)
    return {"rmse": float(np.sqrt(np.mean(err ** 2))), "mae": float(np.mean(np.abs(err)))}


def top_k(scores: np.ndarray, exclude: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best scores, skipping ``exclude`` (the user's own history)."""
    s = np.array(scores, dtype=np.float32, copy=True)
    s[exclude] = -np.inf
    k = min(k, len(s))
    part = np.argpartition(-s, k - 1)[:k]
    return part[np.argsort(-s[part], kind="stable")]

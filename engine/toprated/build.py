"""The `toprated` build stage: the catalog ranked once by a Bayesian average rating.

A film's score is ``(v * R + m * C) / (v + m)`` (the weighted rating IMDb's top lists
use): its mean rating R over v ratings, pulled towards the catalog-wide mean C by m
pseudo-ratings. ``m`` is the 90th percentile of the rating counts, so a film needs about
as many ratings as the best-known tenth of the catalog before its own mean counts as
much as the prior: one 5-star rating never tops the list.
"""

from __future__ import annotations

import numpy as np

from engine.build_context import BuildContext, StageResult

IDS, SCORES = "ids.npy", "scores.npy"
PRIOR_QUANTILE = 0.9


def weighted_ratings(counts: np.ndarray, means: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(score per film, m, C) for rating counts and means (NaN mean: unrated)."""
    rated = counts > 0
    m = float(np.quantile(counts[rated], PRIOR_QUANTILE)) if rated.any() else 1.0
    c = float(np.average(means[rated], weights=counts[rated])) if rated.any() else 0.0
    safe_means = np.where(rated, np.nan_to_num(means), 0.0)
    return (counts * safe_means + m * c) / (counts + m), m, c


def build_stage(ctx: BuildContext) -> StageResult:
    catalog = ctx.tables["catalog"]
    counts = catalog["rating_count"].fillna(0).to_numpy(float)
    means = catalog["rating_mean"].to_numpy(float)
    scores, m, c = weighted_ratings(counts, means)
    rated = counts > 0
    order = np.flatnonzero(rated)[np.argsort(-scores[rated], kind="stable")]
    out = ctx.component_dir("toprated")
    np.save(out / IDS, catalog["movie_id"].to_numpy(np.int64)[order])
    np.save(out / SCORES, scores[order].astype(np.float32))
    return {"files": [f"toprated/{IDS}", f"toprated/{SCORES}"],
            "metrics": {"ranked": int(len(order))},
            "params": {"prior_ratings_m": round(m, 2), "prior_mean_c": round(c, 4),
                       "prior_quantile": PRIOR_QUANTILE}}

"""Numeric metadata features: genres, era, runtime, popularity and reception.

Every number is log-scaled where heavy-tailed and standardised, so that in a cosine a
film is close to others of its era and standing; missing numbers sit at the mean (0).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# TMDB numbers only: MovieLens rating counts would leak the evaluation users' ratings.
# No popularity or vote counts: how well-known a film is is not what it is like; that
# enters the served score only through the explicit prior of the rerank (fusion.py).
NUMERIC = ("year", "runtime", "vote_average")
_LOGGED = {"popularity", "vote_count", "runtime"}


def genre_matrix(catalog: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """MovieLens genres as a 0/1 matrix (also used by the genre-Jaccard baseline)."""
    names = sorted({g for gs in catalog["genres"] for g in gs})
    col = {g: i for i, g in enumerate(names)}
    out = np.zeros((len(catalog), len(names)), dtype=np.float32)
    for row, gs in enumerate(catalog["genres"]):
        for g in gs:
            out[row, col[g]] = 1.0
    return out, names


def metadata_vectors(catalog: pd.DataFrame, numeric_share: float = 0.5) -> tuple[np.ndarray, dict]:
    """Genre one-hots (unit length) next to standardised numbers (unit length in total).

    ``numeric_share`` is the share of the squared norm given to the numbers, so neither
    part dominates just because it has more columns.
    """
    model = metadata_model(catalog, numeric_share)
    return metadata_transform(catalog, model), {"genres": model["genres"],
                                                "numeric": model["numeric"],
                                                "numeric_share": numeric_share}


def metadata_model(catalog: pd.DataFrame, numeric_share: float = 0.5) -> dict:
    """What the transform learns from the catalog: its genre names and each number's mean
    and standard deviation (None: absent everywhere). Saved as JSON (``layout.METADATA_MODEL``) so a film
    outside the catalog is placed on the same scale (foldin.py)."""
    names = sorted({g for gs in catalog["genres"] for g in gs})
    means, stds = [], []
    for name in NUMERIC:
        values = _numbers(catalog, name)
        if np.isnan(values).all():
            means.append(None)
            stds.append(None)
            continue
        means.append(float(np.nanmean(values)))
        stds.append(float(np.nanstd(values)))
    return {"genres": names, "numeric": list(NUMERIC), "mean": means, "std": stds,
            "numeric_share": numeric_share}


def metadata_transform(rows: pd.DataFrame, model: dict) -> np.ndarray:
    """The metadata vectors of ``rows`` (catalog columns) on the scale of ``model``."""
    col = {g: i for i, g in enumerate(model["genres"])}
    genres = np.zeros((len(rows), len(col)), dtype=np.float32)
    for row, gs in enumerate(rows["genres"]):
        for g in gs:
            if g in col:         # a genre the catalog never had adds nothing
                genres[row, col[g]] = 1.0
    norms = np.linalg.norm(genres, axis=1, keepdims=True)
    genres = np.divide(genres, norms, out=np.zeros_like(genres), where=norms > 0)

    cols = []
    for name, mean, std in zip(model["numeric"], model["mean"], model["std"], strict=True):
        values = _numbers(rows, name)
        if mean is None:  # a source that is absent (e.g. no TMDB files): all mean
            cols.append(np.zeros(len(values)))
            continue
        z = (values - mean) / (std if std > 0 else 1.0)
        cols.append(np.nan_to_num(np.clip(z, -3, 3), nan=0.0))
    numeric = np.stack(cols, axis=1).astype(np.float32) / np.sqrt(len(model["numeric"]))
    share = model["numeric_share"]
    vectors = np.hstack([genres * np.sqrt(1 - share), numeric * np.sqrt(share)])
    return vectors.astype(np.float32)


def _numbers(frame: pd.DataFrame, name: str) -> np.ndarray:
    values = pd.to_numeric(frame[name], errors="coerce").astype(float).to_numpy()
    return np.log1p(np.clip(values, 0, None)) if name in _LOGGED else values


def vote_percentile(catalog: pd.DataFrame) -> np.ndarray:
    """Each movie's TMDB vote-count percentile in [0, 1] (0 where unknown): the prior's base."""
    votes = pd.to_numeric(catalog["vote_count"], errors="coerce").fillna(0).to_numpy(float)
    ranks = pd.Series(votes).rank(method="min").to_numpy() - 1  # ties (e.g. unknown) share a rank
    return (ranks / max(1, len(votes) - 1)).astype(np.float32)

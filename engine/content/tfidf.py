"""TF-IDF over a movie's words and credits, reduced to a dense vector with TruncatedSVD.

Each field gets its own vectoriser so that a director's name is a single token that
cannot be confused with an overview word. Each field's rows are L2-normalised by the
vectoriser (empty fields stay zero) and then scaled by a per-field weight before the SVD;
the build chooses those weights on validation users (``choose_field_weights``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer

from .text import tokenize

FIELDS = ("overview", "keywords", "genres", "cast", "directors")


def _as_list(value) -> list[str]:
    return [str(v) for v in value] if value is not None and len(value) else []


def _names(values) -> list[str]:
    # "Christopher Nolan" -> "christopher_nolan": one token per person / keyword / genre
    return ["_".join(tokenize(v)) for v in _as_list(values) if tokenize(v)]


def field_documents(catalog: pd.DataFrame) -> dict[str, list[list[str]]]:
    """Token lists per field, one per catalog row."""
    text = (catalog["overview"].fillna("") + " " + catalog["tagline"].fillna("")).tolist()
    genres = [_names(list(_as_list(a)) + list(_as_list(b)))
              for a, b in zip(catalog["genres"], catalog["tmdb_genres"], strict=True)]
    return {
        "overview": [tokenize(t) for t in text],
        "keywords": [_names(v) for v in catalog["keywords"]],
        "genres": genres,
        "cast": [_names(v) for v in catalog["cast"]],
        "directors": [_names(v) for v in catalog["directors"]],
    }


@dataclass
class TfidfConfig:
    n_components: int = 128
    max_features: int = 30000
    min_df: int = 2

    @classmethod
    def quick(cls) -> TfidfConfig:
        return cls(n_components=16, max_features=5000)


def field_matrices(catalog: pd.DataFrame, cfg: TfidfConfig,
                   also: pd.DataFrame | None = None) -> dict[str, sparse.csr_matrix]:
    """One TF-IDF matrix per field (rows L2-normalised; empty fields are left out).

    With ``also``, its rows are transformed by the vectorisers fitted on ``catalog`` and
    stacked below (films added after a build: catalog_update's fold-in)."""
    docs = field_documents(catalog)
    extra = field_documents(also) if also is not None else None
    mats = {}
    for name in FIELDS:
        vec = TfidfVectorizer(analyzer=lambda toks: toks, min_df=cfg.min_df, sublinear_tf=True,
                              max_features=cfg.max_features)
        # stop words only matter for prose; credits are names
        prep = _drop_stop_words if name == "overview" else (lambda d: d)
        try:
            mats[name] = vec.fit_transform(prep(docs[name]))
        except ValueError:  # a field empty everywhere (tiny test catalogs)
            continue
        if extra is not None:
            mats[name] = sparse.vstack([mats[name], vec.transform(prep(extra[name]))]).tocsr()
    return mats


def reduce(mats: Mapping[str, sparse.spmatrix], field_weights: Mapping[str, float], cfg: TfidfConfig,
           seed: int = 42) -> tuple[np.ndarray, float]:
    """Weighted fields stacked and reduced with TruncatedSVD: (vectors, explained variance)."""
    stacked = sparse.hstack([mats[n] * field_weights.get(n, 1.0) for n in mats]).tocsr()
    n_comp = max(1, min(cfg.n_components, stacked.shape[1] - 1, stacked.shape[0] - 1))
    svd = TruncatedSVD(n_components=n_comp, random_state=seed)
    vectors = svd.fit_transform(stacked).astype(np.float32)
    return vectors, float(svd.explained_variance_ratio_.sum())


def choose_field_weights(mats: Mapping[str, sparse.spmatrix], cfg: TfidfConfig,
                         metric: Callable[[np.ndarray], float], seed: int = 42,
                         factors=(0.5, 2.0)) -> tuple[dict[str, float], list[dict]]:
    """Greedy coordinate search of per-field weights on ``metric`` (validation NDCG@10).

    Fields start equal; each field in turn is halved and doubled, keeping whichever of
    the three scores best. One pass: ~2 SVDs per field.
    """
    weights = dict.fromkeys(mats, 1.0)
    best = metric(reduce(mats, weights, cfg, seed)[0])
    tried = [{"weights": dict(weights), "ndcg@10": round(best, 4)}]
    for name in mats:
        current = weights[name]
        for factor in factors:
            trial = {**weights, name: current * factor}
            value = metric(reduce(mats, trial, cfg, seed)[0])
            tried.append({"weights": trial, "ndcg@10": round(value, 4)})
            if value > best:
                best, weights = value, trial
    return weights, tried


def tfidf_vectors(catalog: pd.DataFrame, cfg: TfidfConfig | None = None, seed: int = 42,
                  metric: Callable[[np.ndarray], float] | None = None) -> tuple[np.ndarray, dict]:
    """(n_movies, n_components) float32 vectors and the fitted sizes for the manifest.

    With ``metric`` (vectors -> validation score), the per-field weights are chosen on it;
    otherwise every field counts equally.
    """
    cfg = cfg or TfidfConfig()
    mats = field_matrices(catalog, cfg)
    field_weights, tried = (choose_field_weights(mats, cfg, metric, seed) if metric
                            else (dict.fromkeys(mats, 1.0), []))
    vectors, explained = reduce(mats, field_weights, cfg, seed)
    params = {"vocab_sizes": {n: m.shape[1] for n, m in mats.items()}, "n_components": vectors.shape[1],
              "explained_variance": round(explained, 4), "field_weights": field_weights,
              "field_weight_trials": tried}
    return vectors, params


def fold_in(fit_catalog: pd.DataFrame, fit_vectors: np.ndarray, new: pd.DataFrame,
            cfg: TfidfConfig, field_weights: Mapping[str, float]) -> np.ndarray:
    """TF-IDF vectors for films that were not in the build, in the build's own space.

    The build kept its vectors (``fit_vectors`` = X V, X the weighted TF-IDF rows of
    ``fit_catalog``, V the SVD's right singular vectors) but not V itself (150k x 128
    floats for a full build). The vectorisers are refitted on the same rows (fitting is
    deterministic), and V is recovered from the vectors: X^T X V = V S^2 and the squared
    column norms of X V are S^2, so a new row x maps to x V = (x X^T)(X V) S^-2. Nothing
    is retrained and no film already served moves.
    """
    mats = field_matrices(fit_catalog, cfg, also=new)
    n_fit = len(fit_catalog)
    stacked = sparse.hstack([mats[n] * field_weights.get(n, 1.0) for n in mats]).tocsr()
    fit, rows = stacked[:n_fit], stacked[n_fit:]
    basis = np.asarray(fit_vectors, dtype=np.float64)
    s2 = (basis ** 2).sum(axis=0)
    projected = np.asarray((rows @ fit.T).todense()) @ basis
    return (projected / np.where(s2 > 0, s2, 1.0)).astype(np.float32)


def _drop_stop_words(docs: list[list[str]]) -> list[list[str]]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return [[t for t in d if t not in ENGLISH_STOP_WORDS] for d in docs]

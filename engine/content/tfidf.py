"""TF-IDF over a movie's words and credits, reduced to a dense vector with TruncatedSVD.

Each field gets its own vectoriser so that a director's name is a single token that
cannot be confused with an overview word. Each field's rows are L2-normalised by the
vectoriser (empty fields stay zero) and then scaled by a per-field weight before the SVD;
the build chooses those weights on validation users (``choose_field_weights``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer

from .layout import TFIDF_COMPONENTS, TFIDF_IDF, TFIDF_MODEL, TFIDF_MODEL_FILES
from .text import FIELDS, field_documents

__all__ = ["FIELDS", "TfidfConfig", "field_documents", "field_matrices", "reduce", "save_model",
           "tfidf_vectors"]

@dataclass
class TfidfConfig:
    n_components: int = 128
    max_features: int = 30000
    min_df: int = 2

    @classmethod
    def quick(cls) -> TfidfConfig:
        return cls(n_components=16, max_features=5000)


def field_matrices(catalog: pd.DataFrame, cfg: TfidfConfig) -> dict[str, sparse.csr_matrix]:
    """One TF-IDF matrix per field (rows L2-normalised; empty fields are left out)."""
    return _fit_fields(catalog, cfg)[0]


def _fit_fields(catalog: pd.DataFrame, cfg: TfidfConfig
                ) -> tuple[dict[str, sparse.csr_matrix], dict[str, TfidfVectorizer]]:
    docs = field_documents(catalog)
    mats, fitted = {}, {}
    for name in FIELDS:
        vec = TfidfVectorizer(analyzer=lambda toks: toks, min_df=cfg.min_df, sublinear_tf=True,
                              max_features=cfg.max_features)
        try:
            # stop words only matter for prose; credits are names
            mats[name] = vec.fit_transform(_drop_stop_words(docs[name]) if name == "overview" else docs[name])
        except ValueError:  # a field empty everywhere (tiny test catalogs)
            continue
        fitted[name] = vec
    return mats, fitted


def reduce(mats: Mapping[str, sparse.spmatrix], field_weights: Mapping[str, float], cfg: TfidfConfig,
           seed: int = 42) -> tuple[np.ndarray, float]:
    """Weighted fields stacked and reduced with TruncatedSVD: (vectors, explained variance)."""
    vectors, svd = _reduce(mats, field_weights, cfg, seed)
    return vectors, float(svd.explained_variance_ratio_.sum())


def _reduce(mats: Mapping[str, sparse.spmatrix], field_weights: Mapping[str, float],
            cfg: TfidfConfig, seed: int) -> tuple[np.ndarray, TruncatedSVD]:
    stacked = sparse.hstack([mats[n] * field_weights.get(n, 1.0) for n in mats]).tocsr()
    n_comp = max(1, min(cfg.n_components, stacked.shape[1] - 1, stacked.shape[0] - 1))
    svd = TruncatedSVD(n_components=n_comp, random_state=seed)
    return svd.fit_transform(stacked).astype(np.float32), svd


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
                  metric: Callable[[np.ndarray], float] | None = None,
                  save_to: Path | None = None) -> tuple[np.ndarray, dict]:
    """(n_movies, n_components) float32 vectors and the fitted sizes for the manifest.

    With ``metric`` (vectors -> validation score), the per-field weights are chosen on it;
    otherwise every field counts equally. With ``save_to`` (a directory), the fitted
    transform is written there (`save_model`), so a film that is not in this catalog can
    get its vector later without refitting (``foldin.py``).
    """
    cfg = cfg or TfidfConfig()
    mats, fitted = _fit_fields(catalog, cfg)
    field_weights, tried = (choose_field_weights(mats, cfg, metric, seed) if metric
                            else (dict.fromkeys(mats, 1.0), []))
    vectors, svd = _reduce(mats, field_weights, cfg, seed)
    explained = float(svd.explained_variance_ratio_.sum())
    if save_to is not None:
        save_model(Path(save_to), fitted, field_weights, svd.components_)
    params = {"vocab_sizes": {n: m.shape[1] for n, m in mats.items()}, "n_components": vectors.shape[1],
              "explained_variance": round(explained, 4), "field_weights": field_weights,
              "field_weight_trials": tried}
    return vectors, params


def _drop_stop_words(docs: list[list[str]]) -> list[list[str]]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return [[t for t in d if t not in ENGLISH_STOP_WORDS] for d in docs]


# The fitted transform is saved beside the vectors as plain JSON + numpy (no pickle) and
# read at serving time without scikit-learn (foldin.py).
def save_model(out: Path, fitted: Mapping[str, TfidfVectorizer], field_weights: Mapping[str, float],
               components: np.ndarray) -> list[str]:
    """Each field's vocabulary (in column order) and idf, the field weights and the SVD
    components: everything `TfidfVectorizer.transform` + `TruncatedSVD.transform` use."""
    vocab = {}
    idf = []
    for name, vec in fitted.items():
        words = sorted(vec.vocabulary_, key=vec.vocabulary_.get)
        vocab[name] = words
        idf.append(np.asarray(vec.idf_, dtype=np.float64))
    (out / TFIDF_MODEL).write_text(json.dumps({"fields": list(fitted), "vocab": vocab,
                                               "field_weights": dict(field_weights),
                                               "sublinear_tf": True, "norm": "l2"}))
    np.save(out / TFIDF_IDF, np.concatenate(idf) if idf else np.zeros(0))
    np.save(out / TFIDF_COMPONENTS, np.asarray(components, dtype=np.float32))
    return list(TFIDF_MODEL_FILES)

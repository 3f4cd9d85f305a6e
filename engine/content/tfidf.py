"""TF-IDF over a movie's words and credits, reduced to a dense vector with TruncatedSVD.

Each field gets its own vectoriser so that a director's name is a single token that
cannot be confused with an overview word, and every field counts equally before the SVD
(each field's rows are L2-normalised by the vectoriser, empty fields stay zero).
"""

from __future__ import annotations

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


def tfidf_vectors(catalog: pd.DataFrame, cfg: TfidfConfig | None = None,
                  seed: int = 42) -> tuple[np.ndarray, dict]:
    """(n_movies, n_components) float32 vectors and the fitted sizes for the manifest."""
    cfg = cfg or TfidfConfig()
    docs = field_documents(catalog)
    blocks, sizes = [], {}
    for name in FIELDS:
        vec = TfidfVectorizer(analyzer=lambda toks: toks, min_df=cfg.min_df, sublinear_tf=True,
                              max_features=cfg.max_features,
                              # stop words only matter for prose; credits are names
                              stop_words=None)
        try:
            matrix = vec.fit_transform(_drop_stop_words(docs[name]) if name == "overview" else docs[name])
        except ValueError:  # a field empty everywhere (tiny test catalogs)
            continue
        blocks.append(matrix)
        sizes[name] = matrix.shape[1]
    stacked = sparse.hstack(blocks).tocsr()
    n_comp = max(1, min(cfg.n_components, stacked.shape[1] - 1, stacked.shape[0] - 1))
    svd = TruncatedSVD(n_components=n_comp, random_state=seed)
    vectors = svd.fit_transform(stacked).astype(np.float32)
    params = {"vocab_sizes": sizes, "n_components": n_comp,
              "explained_variance": round(float(svd.explained_variance_ratio_.sum()), 4)}
    return vectors, params


def _drop_stop_words(docs: list[list[str]]) -> list[list[str]]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return [[t for t in d if t not in ENGLISH_STOP_WORDS] for d in docs]

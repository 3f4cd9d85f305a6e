"""Films nobody rated still get a vector: the blend of their content neighbours' vectors.

Content here is what the catalog knows about a film (genres, directors, cast, keywords),
as TF-IDF over prefixed tokens; a cold film's vector is the similarity-weighted mean of its
``k`` most similar rated films. This keeps new and obscure films reachable from Annoy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

FIELDS = {"genres": "g", "tmdb_genres": "g", "directors": "d", "cast": "c", "keywords": "k"}


def _tokens(row: pd.Series) -> list[str]:
    out = []
    for field, prefix in FIELDS.items():
        values = row.get(field)
        if values is None or isinstance(values, float):
            continue
        out.extend(f"{prefix}:{str(v).lower()}" for v in values)
    return out


def content_neighbours(catalog: pd.DataFrame, warm_ids: np.ndarray, cold_ids: np.ndarray,
                       k: int = 10) -> tuple[np.ndarray, sp.csr_matrix]:
    """(cold ids that have any content, their row-normalised weights over ``warm_ids``)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    table = catalog.set_index("movie_id")
    ids = np.concatenate([warm_ids, cold_ids])
    docs = [_tokens(table.loc[m]) if m in table.index else [] for m in ids]
    has = np.array([bool(d) for d in docs])
    if not has[len(warm_ids):].any() or not has[:len(warm_ids)].any():
        return np.array([], dtype=np.int64), sp.csr_matrix((0, len(warm_ids)))
    vec = TfidfVectorizer(analyzer=lambda d: d, min_df=1, sublinear_tf=True)
    M = vec.fit_transform(docs)
    warm, cold = M[:len(warm_ids)], M[len(warm_ids):]
    keep = np.flatnonzero(has[len(warm_ids):])
    sims = (cold[keep] @ warm.T).toarray()
    rows, cols, vals = [], [], []
    for r, s in enumerate(sims):
        top = np.argpartition(-s, min(k, len(s) - 1))[:k]
        top = top[s[top] > 0]
        if len(top) == 0:
            continue
        rows.extend([r] * len(top))
        cols.extend(top.tolist())
        vals.extend((s[top] / s[top].sum()).tolist())
    W = sp.csr_matrix((vals, (rows, cols)), shape=(len(keep), len(warm_ids)))
    reachable = np.asarray(W.sum(axis=1)).ravel() > 0
    return cold_ids[keep][reachable], W[reachable]

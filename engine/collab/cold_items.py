"""Films nobody rated still get a vector: the blend of their content neighbours' vectors.

A cold film's vector is the similarity-weighted mean of its ``NEIGHBOURS`` most similar
rated films (``RankingModel.extend`` then shrinks it). This keeps new and obscure films
reachable from Annoy. Two ways to find the neighbours:

* ``fused_neighbours`` (served): cosine over the content stage's fused vectors
  (``<version>/content/vectors.npy``: TF-IDF, metadata and, where validation chose it, the
  BiLSTM, weighted on validation users' co-likes). The build runs the content stage before
  collab for this; catalog updates extend content before collab for the same reason.
* ``content_neighbours``: TF-IDF over the catalog's genres, directors, cast and keywords
  alone. Kept as the baseline row of the cold-film table (`moviebot eval content`), which
  shows what the fused vector adds.

The number of neighbours and the weighting were chosen on validation users
(benchmarks/select_cold_fallback.py, docs/collab.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from engine.errors import DataError

FIELDS = {"genres": "g", "tmdb_genres": "g", "directors": "d", "cast": "c", "keywords": "k"}
NEIGHBOURS = 10
# neighbour weight = cosine ** POWER (0: equal weights); chosen with NEIGHBOURS
POWER = 1.0
# the content stage's files the fallback reads (content/serving.py and build.py write them)
FUSED_FILES = ("ids.npy", "vectors.npy")


def load_fused(version_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(movie ids, fused content vectors) of a version being built or extended; a clear
    error when its content stage is missing (it must be built first)."""
    content = Path(version_dir) / "content"
    missing = [f for f in FUSED_FILES if not (content / f).exists()]
    if missing:
        raise DataError(str(content / missing[0]),
                        "the collab stage gives films nobody rated their vectors from the "
                        "content stage's fused vectors, and this version has none",
                        fix="build content first: `moviebot build --only content --only collab`")
    return np.load(content / "ids.npy"), np.load(content / "vectors.npy", mmap_mode="r")


def fused_neighbours(vector_ids: np.ndarray, vectors: np.ndarray, warm_ids: np.ndarray,
                     cold_ids: np.ndarray, k: int = NEIGHBOURS, power: float = POWER,
                     batch: int = 1024) -> tuple[np.ndarray, sp.csr_matrix]:
    """(cold ids that reach a warm film, their row-normalised weights over ``warm_ids``):
    each cold film's ``k`` nearest warm films by cosine of the fused content vectors,
    weighted by cosine ** ``power``. Films without a vector, or whose every neighbour is
    at cosine <= 0, are left out (they stay unreachable, as before)."""
    row_of = pd.Series(np.arange(len(vector_ids)), index=np.asarray(vector_ids, np.int64))
    warm_pos = row_of.reindex(np.asarray(warm_ids, np.int64)).to_numpy()
    cold_pos = row_of.reindex(np.asarray(cold_ids, np.int64)).to_numpy()
    warm_has, cold_has = ~np.isnan(warm_pos), ~np.isnan(cold_pos)
    empty = np.array([], dtype=np.int64), sp.csr_matrix((0, len(warm_ids)))
    if not warm_has.any() or not cold_has.any():
        return empty
    unit = np.asarray(vectors, dtype=np.float32)
    unit = unit / np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
    warm_cols = np.flatnonzero(warm_has)
    warm_unit = unit[warm_pos[warm_has].astype(np.int64)]
    cold_keep = np.flatnonzero(cold_has)
    cold_unit = unit[cold_pos[cold_has].astype(np.int64)]
    k = min(k, len(warm_cols))
    rows, cols, vals = [], [], []
    for start in range(0, len(cold_keep), batch):
        sims = cold_unit[start:start + batch] @ warm_unit.T
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        s = np.take_along_axis(sims, top, axis=1)
        w = np.where(s > 0, np.clip(s, 0, None) ** power, 0.0)
        total = w.sum(axis=1, keepdims=True)
        w = np.divide(w, total, out=np.zeros_like(w), where=total > 0)
        r, c = np.nonzero(w)
        rows.append(start + r)
        cols.append(warm_cols[top[r, c]])
        vals.append(w[r, c])
    W = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(len(cold_keep), len(warm_ids)))
    reachable = np.asarray(W.sum(axis=1)).ravel() > 0
    return np.asarray(cold_ids, np.int64)[cold_keep][reachable], W[reachable]


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

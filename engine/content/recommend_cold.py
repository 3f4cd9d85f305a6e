"""/recommend on cold films: does the collab engine put the right new films in front of a
person, and which fallback gives a film nobody has rated its vector best?

The cold-item split of the /similar table (hybrid_eval.cold_movies: a seeded 15 % of the
films lose every rating). The version's default collab model (its kind and settings from
``collab/model/model.json``) is fitted again on the hybrid's training users only, with the
cold films' ratings removed, so a cold film has no column, exactly like a film nobody has
rated yet. Each cold film then gets a vector the way the build gives one
(``RankingModel.extend``: a shrunk blend of rated films' rows), from its neighbours by:

* the fused content vector (engine/collab/cold_items.fused_neighbours, the very function
  the build and catalog updates call): what the build serves;
* TF-IDF over genres, directors, cast and keywords alone (cold_items.content_neighbours):
  the fallback served until collab was built after content;
* the served /similar score with the cold films' co-likes removed (content, facts and,
  where validation chose it, the BiLSTM's audience stand-in): its top ``NEIGHBOURS``
  rated films, equally weighted;
* the BiLSTM audience head: the cold film's predicted audience vector against the real
  vectors of rated films (cosine-weighted).

Test users (the hybrid's; never trained on) fold in every rating of a rated film, as a chat
user's history is folded in at request time. Their truth is the held-out ratings: the cold
films they liked (>= 4 stars). A user's NDCG@10 ranks the cold films only: the question is
whether the fallback orders new films by the person's taste, not whether a cold film beats
the rated ones (``extend`` shrinks cold vectors to keep them below on purpose). Baseline:
the cold films by TMDB vote count (one "new and popular" list for everyone).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from ..collab.cold_items import NEIGHBOURS, content_neighbours, fused_neighbours
from ..collab.interactions import Interactions
from ..collab.models import MODELS, RankingModel
from ..metrics import ndcg_rows
from .hybrid import LIKE, HybridScorer

K = 10
SERVED = "fused content vector neighbours (served)"
TFIDF = "TF-IDF content neighbours (served before)"


def _neighbour_weights(sims: np.ndarray, equal: bool = False) -> sparse.csr_matrix:
    """Rows summing to 1 over each cold film's ``NEIGHBOURS`` best columns (warm films)."""
    sims = np.where(np.isfinite(sims), sims, -np.inf)
    top = np.argpartition(-sims, NEIGHBOURS - 1, axis=1)[:, :NEIGHBOURS]
    w = (np.ones(top.shape) if equal
         else np.clip(np.take_along_axis(sims, top, axis=1), 0, None))
    w = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
    rows = np.repeat(np.arange(len(sims)), NEIGHBOURS)
    return sparse.csr_matrix((w.ravel(), (rows, top.ravel())), shape=sims.shape)


def _tfidf_weights(catalog: pd.DataFrame, item_ids: np.ndarray, cold_ids: np.ndarray
                   ) -> sparse.csr_matrix:
    """The TF-IDF fallback, rows in ``cold_ids`` order (zero where a film has no content)."""
    return in_cold_order(*content_neighbours(catalog, item_ids, cold_ids, k=NEIGHBOURS),
                         cold_ids, len(item_ids))


def fused_weights(movie_ids: np.ndarray, fused: np.ndarray, item_ids: np.ndarray,
                  cold_ids: np.ndarray, **knobs) -> sparse.csr_matrix:
    """The served fallback (``knobs``: cold_items.fused_neighbours' k and power), rows in
    ``cold_ids`` order."""
    return in_cold_order(*fused_neighbours(movie_ids, fused, item_ids, cold_ids, **knobs),
                         cold_ids, len(item_ids))


def in_cold_order(reached: np.ndarray, W: sparse.csr_matrix, cold_ids: np.ndarray,
                  n_items: int) -> sparse.csr_matrix:
    """``W``'s rows (films in ``reached``) placed at their films' rows of ``cold_ids``."""
    position = {int(m): i for i, m in enumerate(reached)}
    rows = np.array([position.get(int(m), -1) for m in cold_ids], dtype=np.int64)
    have = np.flatnonzero(rows >= 0)
    # select W's rows into cold order; a film W does not reach keeps an empty row
    pick = sparse.csr_matrix((np.ones(len(have)), (have, rows[have])),
                             shape=(len(cold_ids), W.shape[0]))
    return (pick @ W).tocsr() if W.shape[0] else sparse.csr_matrix((len(cold_ids), n_items))


def _user_histories(ratings: pd.DataFrame, users: np.ndarray, inter: Interactions,
                    cold_col: dict[int, int]) -> tuple[list, list[np.ndarray]]:
    """Per test user with a liked cold film: (warm columns, confidences) and the liked cold
    films' positions in the cold list."""
    from ..collab.signals import confidence

    mine = ratings[ratings["userId"].isin(users)]
    histories, truths = [], []
    for _, g in mine.groupby("userId", sort=True):
        liked_cold = [cold_col[int(m)] for m, r in zip(g["movieId"], g["rating"], strict=True)
                      if int(m) in cold_col and r >= LIKE]
        if not liked_cold:
            continue
        cols = inter.item_index(g["movieId"].to_numpy(np.int64))
        warm = cols >= 0
        histories.append((cols[warm], np.array([confidence(float(r)) for r in g["rating"][warm]],
                                                dtype=np.float32)))
        truths.append(np.array(sorted(set(liked_cold))))
    return histories, truths


def _ndcg(model: RankingModel, histories: list, truths: list[np.ndarray], n_warm: int,
          n_cold: int) -> np.ndarray:
    out = []
    for (idx, weight), truth in zip(histories, truths, strict=True):
        scores = model.scores(idx, weight)[n_warm:n_warm + n_cold]
        out.append(_ndcg_one(scores, truth))
    return np.array(out)


def _ndcg_one(scores: np.ndarray, truth: np.ndarray) -> float:
    top = np.argsort(-scores, kind="stable")[:K]
    hits = np.isin(top, truth)[None, :]
    return float(ndcg_rows(hits, np.array([len(truth)]), K)[0])


class ColdSetup:
    """The version's default collab model refitted on ``train_users`` without the cold
    films, and the ``eval_users``' histories and cold-film truths (module docstring)."""

    def __init__(self, model: RankingModel, inter: Interactions, histories: list,
                 truths: list[np.ndarray], cold_ids: np.ndarray):
        self.model, self.inter, self.histories, self.truths = model, inter, histories, truths
        self.cold_ids = cold_ids

    @classmethod
    def fit(cls, version_dir: Path, catalog: pd.DataFrame, ratings: pd.DataFrame,
            train_users: np.ndarray, eval_users: np.ndarray, cold_ids: np.ndarray
            ) -> ColdSetup | None:
        """None when the version has no collab model or no eval user liked a cold film."""
        model_json = Path(version_dir) / "collab" / "model" / "model.json"
        if not model_json.exists():
            return None
        meta = json.loads(model_json.read_text())
        movie_ids = catalog["movie_id"].to_numpy(np.int64)
        ratings = ratings[ratings["movieId"].isin(movie_ids)]
        train = ratings[ratings["userId"].isin(train_users) & ~ratings["movieId"].isin(cold_ids)]
        inter = Interactions.from_ratings(
            train.rename(columns={"userId": "user", "movieId": "item"}).assign(
                user=lambda d: d["user"].astype(str)), min_item_count=2)
        cold_col = {int(m): i for i, m in enumerate(cold_ids)}
        histories, truths = _user_histories(ratings, eval_users, inter, cold_col)
        if not histories:
            return None
        base = MODELS[meta["kind"]](**meta["params"]).fit(inter.matrix(positive_only=False))
        return cls(base, inter, histories, truths, cold_ids)

    def ndcg(self, W: sparse.csr_matrix) -> np.ndarray:
        """Per-user NDCG@10 among the cold films, their vectors blended by ``W``
        (cold films x the model's items)."""
        fitted = dict(self.model.__dict__)   # extend() replaces arrays, never writes into them
        self.model.extend(W)
        try:
            return _ndcg(self.model, self.histories, self.truths, self.inter.n_items,
                         len(self.cold_ids))
        finally:
            self.model.__dict__.update(fitted)


def recommend_cold_rows(*, version_dir: Path, catalog: pd.DataFrame, ratings: pd.DataFrame,
                        train_users: np.ndarray, test_users: np.ndarray, cold_ids: np.ndarray,
                        cold_scorer: HybridScorer, fused: np.ndarray,
                        audience: np.ndarray | None = None,
                        audience_warm: np.ndarray | None = None) -> dict[str, np.ndarray] | None:
    """Per-test-user NDCG@10 of /recommend among the cold films, one array per fallback
    (module docstring); None when the version has no collab model or no test user liked a
    cold film."""
    setup = ColdSetup.fit(version_dir, catalog, ratings, train_users, test_users, cold_ids)
    if setup is None:
        return None
    inter, truths = setup.inter, setup.truths
    movie_ids = catalog["movie_id"].to_numpy(np.int64)
    row_of = pd.Series(np.arange(len(movie_ids)), index=movie_ids)
    warm_rows = row_of.loc[inter.item_ids].to_numpy()
    cold_rows = row_of.loc[cold_ids].to_numpy()
    fallbacks = {SERVED: fused_weights(movie_ids, fused, inter.item_ids, cold_ids),
                 TFIDF: _tfidf_weights(catalog, inter.item_ids, cold_ids)}
    served = cold_scorer.scores(cold_rows)
    fallbacks["hybrid /similar neighbours (cold co-likes removed)"] = _neighbour_weights(
        served[:, warm_rows], equal=True)
    if audience is not None and audience_warm is not None and np.abs(audience).sum() > 0:
        a = audience / np.maximum(np.linalg.norm(audience, axis=1, keepdims=True), 1e-12)
        sims = a[cold_rows] @ a[warm_rows].T
        sims[:, ~np.asarray(audience_warm, bool)[warm_rows]] = -np.inf
        fallbacks["BiLSTM audience head neighbours"] = _neighbour_weights(sims)

    out = {name: setup.ndcg(W) for name, W in fallbacks.items()}
    votes = pd.to_numeric(catalog["vote_count"], errors="coerce").fillna(0).to_numpy(float)
    popular = votes[cold_rows]
    out["cold films by TMDB vote count (same list for all)"] = np.array(
        [_ndcg_one(popular, t) for t in truths])
    return out

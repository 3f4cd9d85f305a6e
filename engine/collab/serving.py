"""`CollabRecommender`: personal picks for any user, folded in from their own history.

No retraining is ever needed for a new user: each request turns the history into a user
vector (the model's fold-in), asks the Annoy index for the largest inner products, drops
seen and disliked films, applies the filters, diversifies, and explains each pick with
the liked film most similar to it. Fewer than ``COLD_START`` signals: onboarding films and
popular films in the genres the user liked.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from engine.errors import ComponentMissing, InvalidInput
from engine.results import Filters, Movie, Recommendation, Recommendations

from .diversity import diversify
from .models import MODELS, RankingModel
from .signals import POSITIVE_AT, History, Signal, confidence, history_pairs
from .vectors import VectorIndex, candidates

COLD_START = 3          # fewer known signals than this -> onboarding + popular-in-genre
MAX_K = 200             # bots page by asking for (page + 1) * page_size + 1
META = "collab.json"


class CollabRecommender:
    def __init__(self, model: RankingModel, index: VectorIndex, item_ids: np.ndarray,
                 popularity: np.ndarray, catalog, meta: dict):
        self.model, self.index, self.catalog, self.meta = model, index, catalog, meta
        self.item_ids = np.asarray(item_ids, dtype=np.int64)
        self.popularity = np.asarray(popularity, dtype=np.float32)
        self._onboarding = [int(m) for m in meta.get("onboarding", [])]
        self._index_genres()

    def _index_genres(self, top: int = 3000) -> None:
        """Genre flags of the most-liked films, so popular-in-genre is one matrix product."""
        order = np.argsort(-self.popularity, kind="stable")[:top]
        self._pop_cols = np.array([c for c in order if int(self.item_ids[c]) in self.catalog],
                                  dtype=np.int64)
        genres = [self.catalog.movie(int(self.item_ids[c])).genres for c in self._pop_cols]
        self._genre_names = sorted({g for gs in genres for g in gs})
        pos = {g: i for i, g in enumerate(self._genre_names)}
        self._genre_matrix = np.zeros((len(self._pop_cols), len(pos)), dtype=np.float32)
        for r, gs in enumerate(genres):
            self._genre_matrix[r, [pos[g] for g in gs]] = 1.0

    @classmethod
    def load(cls, directory: Path, catalog) -> CollabRecommender:
        directory = Path(directory)
        if not (directory / META).exists():
            raise ComponentMissing("collaborative")
        meta = json.loads((directory / META).read_text())
        model = MODELS[meta["default"]].load(directory / "model")
        index = VectorIndex.load(directory / "index.ann", meta["index_dim"],
                                 search_k=meta.get("search_k", -1))
        return cls(model, index, np.load(directory / "item_ids.npy"),
                   np.load(directory / "popularity.npy"), catalog, meta)

    # -- public API --------------------------------------------------------------
    def recommend(self, history: Sequence[tuple[int, Signal]] | History, k: int = 10,
                  filters: Filters | None = None) -> Recommendations:
        if not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise InvalidInput(f"Ask for between 1 and {MAX_K} recommendations.")
        hist = history_pairs(history)
        filters = filters or Filters()
        known = {m: r for m, r in hist.ratings.items() if m in self.catalog}
        unknown = sorted(set(hist.ratings) - set(known))
        # with no liked film there is nothing to fold in: a cold start too
        cold = len(known) < COLD_START or not any(r >= POSITIVE_AT for r in known.values())
        query = {"history": len(hist), "known": len(known), "unknown_ids": unknown,
                 "model": self.meta["default"], "cold_start": cold}
        if cold:
            return self._cold_start(known, k, filters, query)
        idx = self._columns(list(known))
        ok = idx >= 0
        weights = np.array([confidence(r) for r in known.values()], dtype=np.float32)
        user = self.model.user_vector(idx[ok], weights[ok])
        exclude = set(known)
        ranked = self._ranked(idx[ok], weights[ok], user, exclude, k, filters)
        picks = _diversified(ranked, k)
        reasons = self._reasons([m.movie_id for m, _ in picks], idx[ok & (weights > 0)])
        results = [Recommendation(m, s, r) for (m, s), r in zip(picks, reasons, strict=True)]
        return Recommendations(query, results, kind="recommend")

    def onboarding(self, k: int = 10, exclude: set[int] | None = None) -> Recommendations:
        """Well-known, varied films to rate with one tap (chosen at build time)."""
        exclude = exclude or set()
        movies = [self.catalog.movie(m) for m in self._onboarding
                  if m not in exclude and m in self.catalog][:k]
        results = [Recommendation(m, float(self._pop_of(m.movie_id)),
                                  "a well-known film: rate it so I learn your taste")
                   for m in movies]
        return Recommendations({"onboarding": True}, results, kind="onboarding")

    # -- internals ---------------------------------------------------------------
    def _columns(self, movie_ids: list[int]) -> np.ndarray:
        ids = np.asarray(movie_ids, dtype=np.int64)
        pos = np.clip(np.searchsorted(self.item_ids, ids), 0, len(self.item_ids) - 1)
        return np.where(self.item_ids[pos] == ids, pos, -1)

    def _pop_of(self, movie_id: int) -> float:
        col = self._columns([movie_id])[0]
        return float(self.popularity[col]) if col >= 0 else 0.0

    def _ranked(self, idx: np.ndarray, weights: np.ndarray, user: np.ndarray,
                exclude: set[int], k: int, filters: Filters) -> list[tuple[Movie, float]]:
        """Films by descending score; Annoy first, exact scoring when filters starve it."""
        cols = self.index.query(user, candidates(k, len(exclude)))
        picked = self._accept(cols, idx, weights, user, exclude, filters)
        if len(picked) < 2 * k:
            scores = np.asarray(self.model.item_vectors()) @ user
            order = np.argsort(-scores, kind="stable")[:2000]
            picked = self._accept(order.tolist(), idx, weights, user, exclude, filters)
        return picked

    def _accept(self, cols: list[int], idx: np.ndarray, weights: np.ndarray, user: np.ndarray,
                exclude: set[int], filters: Filters) -> list[tuple[Movie, float]]:
        out = []
        for col in cols:
            movie_id = int(self.item_ids[col])
            if movie_id in exclude or movie_id not in self.catalog:
                continue
            movie = self.catalog.movie(movie_id)
            if filters.accepts(movie):
                out.append((col, movie))
        if not out:
            return []
        scores = self.model.rescore(idx, weights, user, np.array([c for c, _ in out]))
        ranked = sorted(zip(scores.tolist(), range(len(out)), strict=True), reverse=True)
        return [(out[i][1], score) for score, i in ranked]

    def _reasons(self, movie_ids: list[int], liked_cols: np.ndarray) -> list[str]:
        if len(liked_cols) == 0 or not movie_ids:
            return ["popular with people who rate like you"] * len(movie_ids)
        strength = self.model.explain(liked_cols, self._columns(movie_ids))
        best = liked_cols[np.argmax(strength, axis=0)]
        return [f"because you liked {self.catalog.movie(int(self.item_ids[b])).label}"
                for b in best]

    def _cold_start(self, known: dict[int, float], k: int, filters: Filters,
                    query: dict) -> Recommendations:
        """Popular films sharing the liked films' genres, topped up with onboarding films."""
        liked = [self.catalog.movie(m) for m, r in known.items() if r >= POSITIVE_AT]
        source: dict[str, str] = {}
        for movie in liked:
            for g in movie.genres:
                source.setdefault(g, movie.label)
        seen = set(known)
        scored: list[tuple[float, Recommendation]] = []
        if source:
            # genre overlap first, popularity second: one liked cartoon should bring
            # cartoons, not every popular comedy (vectorised over the popular films)
            wanted = np.array([g in source for g in self._genre_names])
            shared = self._genre_matrix @ wanted
            union = self._genre_matrix.sum(axis=1) + wanted.sum() - shared
            overlap = np.where(shared > 0, shared / np.maximum(union, 1), 0.0)
            score = overlap * np.log1p(self.popularity[self._pop_cols])
            for j in np.argsort(-score, kind="stable")[:20 * k]:
                movie_id = int(self.item_ids[self._pop_cols[j]])
                if score[j] <= 0 or movie_id in seen:
                    continue
                movie = self.catalog.movie(movie_id)
                if not filters.accepts(movie):
                    continue
                common = [g for g in movie.genres if g in source]
                reason = f"popular in {' & '.join(common[:2])}, like {source[common[0]]}"
                scored.append((float(score[j]), Recommendation(movie, float(score[j]), reason)))
                if len(scored) >= 5 * k:
                    break
        scored.sort(key=lambda sr: -sr[0])
        ranked = [(r.movie, r) for _, r in scored[:5 * k]]
        results = [r for _, r in _diversified(ranked, k)]
        seen |= {r.movie.movie_id for r in results}
        for rec in self.onboarding(len(self._onboarding), exclude=seen).results:
            if len(results) >= k:
                break
            if filters.accepts(rec.movie):
                results.append(rec)
        query["onboarding"] = [r.movie.brief() for r in
                               self.onboarding(k, exclude=set(known)).results]
        return Recommendations(query, results[:k], kind="recommend")


def _diversified(ranked: list[tuple[Movie, object]], k: int) -> list[tuple[Movie, object]]:
    by_id = {m.movie_id: (m, s) for m, s in ranked}
    return [by_id[m.movie_id] for m in diversify((m for m, _ in ranked), k)]

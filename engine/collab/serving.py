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

from engine.errors import ComponentMissing, MovieBotError
from engine.results import Filters, Movie, Recommendation, Recommendations

from .diversity import diversify
from .models import MODELS, RankingModel
from .signals import POSITIVE_AT, History, Signal, confidence, history_pairs
from .vectors import VectorIndex

COLD_START = 3          # fewer known signals than this -> onboarding + popular-in-genre
CANDIDATES = 4          # ask Annoy for CANDIDATES * k extra films to survive filtering
META = "collab.json"


class CollabRecommender:
    def __init__(self, model: RankingModel, index: VectorIndex, item_ids: np.ndarray,
                 popularity: np.ndarray, catalog, meta: dict):
        self.model, self.index, self.catalog, self.meta = model, index, catalog, meta
        self.item_ids = np.asarray(item_ids, dtype=np.int64)
        self.popularity = np.asarray(popularity, dtype=np.float32)
        self._by_popularity = np.argsort(-self.popularity, kind="stable")
        self._onboarding = [int(m) for m in meta.get("onboarding", [])]

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
        if not 1 <= int(k) <= 100:
            raise MovieBotError("Ask for between 1 and 100 recommendations.")
        hist = history_pairs(history)
        filters = filters or Filters()
        known = {m: r for m, r in hist.ratings.items() if m in self.catalog}
        unknown = sorted(set(hist.ratings) - set(known))
        query = {"history": len(hist), "known": len(known), "unknown_ids": unknown,
                 "model": self.meta["default"], "cold_start": len(known) < COLD_START}
        if len(known) < COLD_START:
            return self._cold_start(known, k, filters, query)
        idx = self._columns(list(known))
        ok = idx >= 0
        weights = np.array([_weight(r) for r in known.values()], dtype=np.float32)
        user = self.model.user_vector(idx[ok], weights[ok])
        exclude = set(known)
        ranked = self._ranked(user, exclude, k, filters)
        liked = idx[ok & (weights > 0)]
        results = [Recommendation(m, s, self._reason(m.movie_id, liked)) for m, s in
                   _diversified(ranked, k)]
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

    def _ranked(self, user: np.ndarray, exclude: set[int], k: int,
                filters: Filters) -> list[tuple[Movie, float]]:
        """Films by descending score; Annoy first, exact scoring when filters starve it."""
        want = CANDIDATES * k + 10
        picked = self._accept(self.index.query(user, want + len(exclude)), user, exclude, filters)
        if len(picked) < 2 * k:
            scores = np.asarray(self.model.item_vectors() @ user)
            order = np.argsort(-scores, kind="stable")[: max(20 * want, 2000)]
            picked = self._accept(order.tolist(), user, exclude, filters)
        return picked

    def _accept(self, cols: list[int], user: np.ndarray, exclude: set[int],
                filters: Filters) -> list[tuple[Movie, float]]:
        out = []
        vecs = self.model.item_vectors()
        for col in cols:
            movie_id = int(self.item_ids[col])
            if movie_id in exclude or movie_id not in self.catalog:
                continue
            movie = self.catalog.movie(movie_id)
            if filters.accepts(movie):
                out.append((movie, float(np.dot(vecs[col], user))))
        out.sort(key=lambda ms: -ms[1])
        return out

    def _reason(self, movie_id: int, liked_cols: np.ndarray) -> str:
        if len(liked_cols) == 0:
            return "popular with people who rate like you"
        col = self._columns([movie_id])[0]
        sims = self.model.explain(liked_cols, col)
        best = int(self.item_ids[liked_cols[int(np.argmax(sims))]])
        return f"because you liked {self.catalog.movie(best).label}"

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
            wanted = set(source)
            for col in self._by_popularity[:3000]:
                movie_id = int(self.item_ids[col])
                if movie_id in seen or movie_id not in self.catalog:
                    continue
                movie = self.catalog.movie(movie_id)
                shared = [g for g in movie.genres if g in wanted]
                if not shared or not filters.accepts(movie):
                    continue
                # genre overlap first, popularity second: one liked cartoon should bring
                # cartoons, not every popular comedy
                overlap = len(shared) / len(wanted | set(movie.genres))
                score = overlap * np.log1p(self.popularity[col])
                reason = f"popular in {' & '.join(shared[:2])}, like {source[shared[0]]}"
                scored.append((score, Recommendation(movie, float(score), reason)))
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


def _weight(rating: float) -> float:
    return confidence(rating)


def _diversified(ranked: list[tuple[Movie, object]], k: int) -> list[tuple[Movie, object]]:
    by_id = {m.movie_id: (m, s) for m, s in ranked}
    return [by_id[m.movie_id] for m in diversify((m for m, _ in ranked), k)]

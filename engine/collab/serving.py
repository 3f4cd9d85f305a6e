"""`CollabRecommender`: personal picks for any user, folded in from their own history.

No retraining is ever needed for a new user: each request turns the history into a user
vector (the model's fold-in), asks the Annoy index for the largest inner products, drops
seen and disliked films, applies the filters, diversifies, and explains each pick with
the liked film most similar to it. Fewer than ``COLD_START`` signals: onboarding films and
popular films in the genres the user liked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import numpy as np
from threadpoolctl import ThreadpoolController

from engine.artifacts import component_files
from engine.queries import HistoryQuery, Onboarding, ResolvedHistory
from engine.recommender import check_k
from engine.results import Filters, Movie, Recommendation, Recommendations

from .diversity import diversify
from .models import MODELS, RankingModel
from .signals import POSITIVE_AT, confidence, history_pairs
from .vectors import VectorIndex, candidates

COLD_START = 3          # fewer known signals than this -> onboarding + popular-in-genre
EXACT_FALLBACK = 2000   # films scored exactly when filters starve the Annoy candidates
# Up to this many films every request is scored exactly (one matrix-vector product), Annoy
# beyond. Annoy over MIPS-augmented vectors can miss a film whose score stands far above
# the rest: after 25 chat users co-liked four obscure films, the model put Howard the Duck
# first for a fan of the other three and Annoy (search_k 10,000) left it out of its top 300.
# At MovieLens scale exact scoring is no slower (benchmarks/bench_collab.py, docs/collab.md).
EXACT_MAX = 50_000
_BLAS = ThreadpoolController()   # made once: threadpool_limits() per call costs ~1 ms
META = "collab.json"


class CollabRecommender:
    name: ClassVar[str] = "collab"

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
        files = component_files(directory, cls.name, [META, "model", "index.ann", "item_ids.npy",
                                                      "popularity.npy"])
        meta = json.loads(files[META].read_text())
        model = MODELS[meta["default"]].load(files["model"])
        index = VectorIndex.load(files["index.ann"], meta["index_dim"],
                                 search_k=meta.get("search_k", -1),
                                 vectors=np.asarray(model.item_vectors()), exact_max=EXACT_MAX)
        return cls(model, index, np.load(files["item_ids.npy"]),
                   np.load(files["popularity.npy"]), catalog, meta)

    # -- public API --------------------------------------------------------------
    def recommend(self, query: HistoryQuery, k: int = 10,
                  filters: Filters | None = None) -> Recommendations:
        check_k(k)
        filters = filters or Filters()
        hist = history_pairs(query.history)
        known, unknown, cold = self._known(hist.ratings)
        resolved = ResolvedHistory(history=len(hist), known=len(known),
                                   unknown_ids=unknown, model=self.meta["default"],
                                   cold_start=cold)
        if cold:
            return self._cold_start(known, k, filters, resolved)
        idx, weights, user = self._fold_in(known)
        exclude = set(known)
        ranked = self._ranked(idx, weights, user, exclude, k, filters)
        picks = _diversified(ranked, k)
        reasons = self._reasons([m.movie_id for m, _ in picks], idx[weights > 0])
        results = [Recommendation(m, s, r) for (m, s), r in zip(picks, reasons, strict=True)]
        return Recommendations(resolved, results, kind="recommend")

    def explain(self, query: HistoryQuery, movie: Movie) -> str:
        """Why ``movie`` suits this history: the liked film nearest to it (or, on a cold
        start, the liked genre it shares)."""
        known, _, cold = self._known(history_pairs(query.history).ratings)
        if cold:
            source = self._genre_sources(known)
            common = [g for g in movie.genres if g in source]
            if common:
                return f"popular in {' & '.join(common[:2])}, like {source[common[0]]}"
            return "a well-known film: rate it so I learn your taste"
        idx, weights, _ = self._fold_in(known)
        return self._reasons([movie.movie_id], idx[weights > 0])[0]

    def _known(self, ratings: dict[int, float]) -> tuple[dict[int, float], list[int], bool]:
        known = {m: r for m, r in ratings.items() if m in self.catalog}
        unknown = sorted(set(ratings) - set(known))
        # with no liked film there is nothing to fold in: a cold start too
        cold = len(known) < COLD_START or not any(r >= POSITIVE_AT for r in known.values())
        return known, unknown, cold

    def _fold_in(self, known: dict[int, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(item columns, confidences, user vector) of the known films the model has."""
        idx = self._columns(list(known))
        ok = idx >= 0
        weights = np.array([confidence(r) for r in known.values()], dtype=np.float32)
        return idx[ok], weights[ok], self.model.user_vector(idx[ok], weights[ok])

    # -- for callers that combine several users (engine/party) -------------------
    def fold_in(self, ratings: dict[int, float]) -> FoldIn:
        """One user's history folded into the model, exactly as `recommend` does it."""
        known, unknown, _ = self._known(ratings)
        idx, weights, user = self._fold_in(known)
        return FoldIn(known, unknown, idx, weights, user)

    def scores(self, fold: FoldIn) -> np.ndarray:
        """Exact scores of every model column for one folded-in user (what `recommend`'s
        Annoy candidates are re-scored with), indexed like ``item_ids``."""
        if not len(fold.idx):
            return np.zeros(len(self.item_ids), dtype=np.float32)
        # a slice, not np.arange: every column, without copying the item vectors first
        return np.asarray(self.model.rescore(fold.idx, fold.weights, fold.user, slice(None)),
                          dtype=np.float32)

    def reason_for(self, fold: FoldIn, movie_ids: list[int]) -> list[Movie | None]:
        """For each film, the liked film of this user that points to it most strongly (the
        evidence behind "because you liked X"); None when the user liked nothing."""
        liked = fold.idx[fold.weights > 0]
        if not len(liked) or not movie_ids:
            return [None] * len(movie_ids)
        cols = self._columns(movie_ids)
        strength = self.model.explain(liked, np.maximum(cols, 0))
        best = liked[np.argmax(strength, axis=0)]
        return [self.catalog.movie(int(self.item_ids[b])) if c >= 0 else None
                for b, c in zip(best, cols, strict=True)]

    def columns(self, movie_ids: list[int]) -> np.ndarray:
        """Model column of each movie id (-1: not in the model)."""
        return self._columns(movie_ids)

    def onboarding(self, k: int = 10, exclude: set[int] | None = None) -> Recommendations:
        """Well-known, varied films to rate with one tap (chosen at build time)."""
        exclude = exclude or set()
        movies = [self.catalog.movie(m) for m in self._onboarding
                  if m not in exclude and m in self.catalog][:k]
        results = [Recommendation(m, float(self._pop_of(m.movie_id)),
                                  "a well-known film: rate it so I learn your taste")
                   for m in movies]
        return Recommendations(Onboarding(), results, kind="onboarding")

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
        """Films by descending score: exact scoring up to EXACT_MAX films, else Annoy first
        and exact scoring when filters starve it."""
        # one BLAS thread: a matrix-vector product this small gains nothing from a second
        # thread and takes it from the bot's other requests
        with _BLAS.limit(limits=1, user_api="blas"):
            cols, _ = self.index.top(user, candidates(k, len(exclude)))
        picked = self._accept(cols.tolist(), idx, weights, user, exclude, filters)
        if len(picked) < 2 * k:
            order, _ = self.index.top(user, EXACT_FALLBACK, exact=True)
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

    def _genre_sources(self, known: dict[int, float]) -> dict[str, str]:
        """Each genre of the liked films -> the first liked film with it (for reasons)."""
        source: dict[str, str] = {}
        for movie_id, rating in known.items():
            if rating >= POSITIVE_AT:
                movie = self.catalog.movie(movie_id)
                for g in movie.genres:
                    source.setdefault(g, movie.label)
        return source

    def _cold_start(self, known: dict[int, float], k: int, filters: Filters,
                    query: ResolvedHistory) -> Recommendations:
        """Popular films sharing the liked films' genres, topped up with onboarding films."""
        source = self._genre_sources(known)
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
        onboarding = [r.movie.brief() for r in self.onboarding(k, exclude=set(known)).results]
        return Recommendations(replace(query, onboarding=onboarding), results[:k],
                               kind="recommend")


@dataclass(frozen=True)
class FoldIn:
    """A user's known ratings and their fold-in: model columns, signed confidences, vector."""

    known: dict[int, float]
    unknown: list[int]
    idx: np.ndarray
    weights: np.ndarray
    user: np.ndarray


def _diversified(ranked: list[tuple[Movie, object]], k: int) -> list[tuple[Movie, object]]:
    by_id = {m.movie_id: (m, s) for m, s in ranked}
    return [by_id[m.movie_id] for m in diversify((m for m, _ in ranked), k)]

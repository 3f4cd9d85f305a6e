"""`ContentIndex`: "movies like X" at serving time.

A version with the hybrid (hybrid.json, built since issue 16) answers by exact search: one
row of the hybrid score (a matrix-vector product over the fused vectors, the film's stored
co-like neighbours, its facts) and the served-list rules (hybrid.served_list). At this size
that is faster than asking Annoy for candidates (benchmarks/bench_content.py). Older
versions keep the two-stage Annoy path.

A film outside the catalog (``MovieQuery.row``, asked for on demand) is folded in with
the build's saved transforms (foldin.py) and scored by ``recommend_vector``.

Needs numpy, scipy, annoy and the catalog; never TensorFlow or scikit-learn.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..artifacts import component_files
from ..errors import MovieBotError
from ..queries import MovieQuery, ResolvedMovie
from ..recommender import check_k
from ..results import Filters, Movie, Recommendation, Recommendations
from ..retrieval import FilterColumns, Retriever
from . import hybrid
from .facets import FACETS, Facets
from .foldin import FoldIn
from .index import rerank

VECTORS = "vectors.npy"
# Filtered queries with at most this many allowed movies are answered exactly from the
# vectors (~1 ms for 50k x 150 floats); unfiltered ones always go through Annoy.
EXACT_FILTERED_MAX = 50_000
# Annoy inspects at least this many nodes per wanted item (see index.search_k_for).
SEARCH_K_PER_ITEM = 10


class NotIndexed(MovieBotError):
    def __init__(self, movie: Movie):
        super().__init__(f"I don't have {movie.label} in the similarity index yet; "
                         "it will be there after the next rebuild.")


class ContentIndex:
    """Two-stage "movies like X": Annoy content neighbours, reranked with the prior (index.py)."""

    name: ClassVar[str] = "content"

    def __init__(self, retriever: Retriever, movie_ids: np.ndarray, prior: np.ndarray,
                 config: dict, catalog):
        self.retriever = retriever
        self.movie_ids = movie_ids
        self.prior = prior
        self.row_of = {int(m): i for i, m in enumerate(movie_ids)}
        self.config = config
        self.catalog = catalog
        self.lam = float(config["lam"])
        self.n_candidates = int(config["n_candidates"])
        self._columns = FilterColumns.of(catalog, movie_ids)
        self.scorer: hybrid.HybridScorer | None = None
        self.counts = None
        self.dir: Path | None = None                 # the content files (fold_in reads them)
        self._fold_in: FoldIn | bool | None = None   # False: this version has none

    def with_hybrid(self, dir: Path, vectors: np.ndarray) -> ContentIndex:
        weights, cf, counts, _ = hybrid.load(dir)
        # the audience stand-in for films without co-likes, only where validation chose it
        audience = warm = None
        if weights.w_audience:
            audience, warm = np.load(dir / "audience.npy"), np.load(dir / "audience_warm.npy")
        self.scorer = hybrid.HybridScorer(np.asarray(vectors), self.prior_base(), cf,
                                          Facets.load(dir), weights, audience, warm)
        self.counts = counts
        return self

    def prior_base(self) -> np.ndarray:
        """The vote-count percentile (prior.npy holds it raised to the content gamma)."""
        gamma = float(self.config.get("gamma", 1.0)) or 1.0
        return np.asarray(self.prior, dtype=np.float64) ** (1.0 / gamma)

    @classmethod
    def load(cls, dir: Path, catalog) -> ContentIndex:
        files = component_files(dir, cls.name, ["content.json", "ids.npy", "prior.npy",
                                                "index.ann", VECTORS])
        config = json.loads(files["content.json"].read_text())
        retriever = Retriever.load(
            files["index.ann"], int(config["dim"]), "angular",
            vectors=np.load(files[VECTORS], mmap_mode="r"), search_k=int(config["search_k"]),
            search_k_per_item=SEARCH_K_PER_ITEM, exact_filtered_max=EXACT_FILTERED_MAX)
        index = cls(retriever, np.load(files["ids.npy"]),
                    np.load(files["prior.npy"], mmap_mode="r"), config, catalog)
        content = files["content.json"].parent
        index.dir = content
        if (content / hybrid.HYBRID).exists() and (content / FACETS).exists():
            # loaded into memory: the exact row product reads every vector on each query
            index.with_hybrid(content, np.load(files[VECTORS]))
        return index

    def recommend(self, query: MovieQuery, k: int = 10,
                  filters: Filters | None = None) -> Recommendations:
        check_k(k)
        movie = query.movie
        row = self.row_of.get(movie.movie_id)
        if row is None and query.row is not None:
            fold_in = self.fold_in()
            if fold_in is None:
                raise NotIndexed(movie)
            return self.recommend_vector(movie, fold_in.vector(query.row), k, filters,
                                         query.exclude, query.whole_series)
        if row is None:
            raise NotIndexed(movie)
        filters = filters or Filters()
        allowed = None if filters.is_empty() else self._columns.mask(filters)
        if self.scorer is not None:
            return self._hybrid(movie, row, k, filters, allowed, query.exclude, query.whole_series)
        ids, cosines = self.retriever.search(row, max(k, self.n_candidates) if self.lam else k,
                                             allowed)
        order, scores = rerank(cosines, np.asarray(self.prior[ids]), self.lam)
        results = self._collect(movie, ids[order], scores, k, filters)
        return Recommendations(query=ResolvedMovie(movie, None if filters.is_empty() else filters),
                               results=results, kind="similar")

    def neighbour_ids(self, movie: Movie, k: int = 10,
                      exclude: frozenset[int] = frozenset()) -> list[int]:
        """The ids ``recommend(MovieQuery(movie, exclude), k)`` lists, without building
        their reasons (for callers that only need the films, e.g. party candidates)."""
        return self.neighbour_ids_many([(movie, exclude)], k)[0]

    def neighbour_ids_many(self, queries: list[tuple[Movie, frozenset[int]]], k: int = 10
                           ) -> list[list[int]]:
        """`neighbour_ids` of several (movie, exclude) queries, scored in one batch: one
        matrix product reads the fused vectors once instead of once per query."""
        check_k(k)
        rows = []
        for movie, _ in queries:
            row = self.row_of.get(movie.movie_id)
            if row is None:
                raise NotIndexed(movie)
            rows.append(row)
        if self.scorer is None:
            return [[r.movie.movie_id for r in self.recommend(MovieQuery(movie, exclude), k).results]
                    for movie, exclude in queries]
        if not rows:
            return []
        scores = self.scorer.scores(np.array(rows))
        out = []
        for (_, exclude), row, row_scores in zip(queries, rows, scores, strict=True):
            skip = [self.row_of[m] for m in exclude if m in self.row_of]
            listed = hybrid.served_list(row, row_scores, self.scorer.facets, k, None, skip)
            out.append([int(self.movie_ids[item]) for item in listed])
        return out

    def recommend_vector(self, movie: Movie, vector: np.ndarray, k: int = 10,
                         filters: Filters | None = None,
                         exclude: frozenset[int] = frozenset(),
                         whole_series: bool = False) -> Recommendations:
        """"Movies like X" for a film outside the index, from its fold-in vector (foldin.py).

        Scored as the build validated a film nobody has co-liked yet: the content model's
        own two-stage rerank (its lam, gamma and candidate count), then the served-list
        rules; the reasons name what the films visibly share."""
        check_k(k)
        filters = filters or Filters()
        allowed = None if filters.is_empty() else self._columns.mask(filters)
        vectors = self.scorer.fused if self.scorer is not None else self.retriever.vectors
        cos = np.asarray(vectors, dtype=np.float32) @ np.asarray(vector, dtype=np.float32)
        if self.scorer is not None and self.scorer.w.cold_candidates:
            w = self.scorer.w
            lam, prior, n = w.cold_lam, self.scorer.percentile ** w.cold_gamma, w.cold_candidates
        else:
            lam, prior, n = self.lam, np.asarray(self.prior), self.n_candidates or len(cos)
        pool = np.argpartition(-cos, min(n, len(cos)) - 1)[:n]
        scores = np.full(len(cos), -np.inf)
        scores[pool] = (1 - lam) * cos[pool] + lam * prior[pool]
        # the film itself, should the catalog have it under another title
        skip = [self.row_of[m] for m in exclude if m in self.row_of]
        if movie.tmdb_id:
            skip += self._rows_with_tmdb_id(int(movie.tmdb_id))
        if self.scorer is not None:
            rows = hybrid.served_list(None, scores, self.scorer.facets, k, allowed, skip,
                                      whole_series=whole_series)
        else:
            scores[skip] = -np.inf
            if allowed is not None:
                scores[~allowed] = -np.inf
            rows = [int(r) for r in np.argsort(-scores, kind="stable")[:k] if np.isfinite(scores[r])]
        results = []
        for item in rows:
            other = self.catalog.movie(int(self.movie_ids[item]))
            if filters.accepts(other):
                results.append(Recommendation(other, float(scores[item]), reason(movie, other)))
        return Recommendations(query=ResolvedMovie(movie, None if filters.is_empty() else filters),
                               results=results, kind="similar")

    def _rows_with_tmdb_id(self, tmdb_id: int) -> list[int]:
        ids = self.catalog.df["tmdb_id"]
        found = self.catalog.df.index[ids.notna() & (ids == tmdb_id)]
        return [self.row_of[int(m)] for m in found if int(m) in self.row_of]

    def fold_in(self) -> FoldIn | None:
        """The saved transforms that embed a film outside the catalog (None: a version
        built before they were saved)."""
        if self._fold_in is None and self.dir is not None:
            self._fold_in = FoldIn.load(self.dir) or False
        return self._fold_in or None

    def _hybrid(self, movie: Movie, row: int, k: int, filters: Filters,
                allowed: np.ndarray | None, exclude: frozenset[int],
                whole_series: bool = False) -> Recommendations:
        scores = self.scorer.scores(np.array([row]))[0]
        skip = [self.row_of[m] for m in exclude if m in self.row_of]
        rows = hybrid.served_list(row, scores, self.scorer.facets, k, allowed, skip,
                                  whole_series=whole_series)
        results = []
        for item in rows:
            other = self.catalog.movie(int(self.movie_ids[item]))
            if filters.accepts(other):
                results.append(Recommendation(other, float(scores[item]),
                                              self._reason(movie, row, other, int(item))))
        return Recommendations(query=ResolvedMovie(movie, None if filters.is_empty() else filters),
                               results=results, kind="similar")

    def _reason(self, movie: Movie, row: int, other: Movie, item: int) -> str:
        facets = self.scorer.facets
        same_franchise = facets.franchise[row] >= 0 and facets.franchise[row] == facets.franchise[item]
        start, end = self.counts.indptr[row], self.counts.indptr[row + 1]
        hit = np.flatnonzero(self.counts.indices[start:end] == item)
        fans = int(self.counts.data[start + hit[0]]) if len(hit) else 0
        language = facets.language_name(row) if facets.language[row] == facets.language[item] else ""
        return reason(movie, other, franchise=facets.franchise_name(row) if same_franchise else "",
                      fans=fans, language=language)

    def explain(self, query: MovieQuery, movie: Movie) -> str:
        row, item = self.row_of.get(query.movie.movie_id), self.row_of.get(movie.movie_id)
        if self.scorer is not None and row is not None and item is not None:
            return self._reason(query.movie, row, movie, item)
        return reason(query.movie, movie)

    def _collect(self, movie: Movie, items: np.ndarray, scores: np.ndarray, k: int,
                 filters: Filters) -> list[Recommendation]:
        out, seen = [], {movie.movie_id}
        query = MovieQuery(movie)
        for item, score in zip(items, scores, strict=True):
            movie_id = int(self.movie_ids[item])
            if movie_id in seen:
                continue
            seen.add(movie_id)
            other = self.catalog.movie(movie_id)
            if not filters.accepts(other):
                continue
            out.append(Recommendation(other, float(score), self.explain(query, other)))
            if len(out) == k:
                break
        return out


@lru_cache(maxsize=1 << 16)
def _lowered(values: tuple[str, ...]) -> frozenset[str]:
    return frozenset(x.lower() for x in values)


@lru_cache(maxsize=1 << 12)
def _lowered_pairs(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((x, x.lower()) for x in values)


def _shared(a: list[str], b: list[str]) -> list[str]:
    if not a or not b:
        return []
    # cached: serving explains ten films per query, each against the same query film
    lowered = _lowered(tuple(b))
    return [x for x, low in _lowered_pairs(tuple(a)) if low in lowered]


def _distinct(keywords: list[str]) -> list[str]:
    """Drop a keyword that another listed one already says: TMDB has both "london, england"
    and "england", which would read "themes: london, england, england"."""
    words = [set(k.lower().replace(",", " ").split()) for k in keywords]
    return [k for k, w in zip(keywords, words, strict=True)
            if not any(w < other for other in words)]


# this many training users liking both films make "fans of X also love Y" a fact worth saying
FANS_REASON = 3


def reason(query: Movie, other: Movie, max_parts: int = 3, *, franchise: str = "",
           fans: int = 0, language: str = "") -> str:
    """Why ``other`` is listed for ``query``: what they visibly share, most specific first.

    ``franchise``: the shared franchise's name; ``fans``: training users who liked both;
    ``language``: the shared original language's name (non-English only). A genre match
    comes last, so it stands alone only when nothing stronger is shared.
    """
    parts = []
    if franchise:
        parts.append(f"also in the {franchise} series")
    if directors := _shared(query.directors, other.directors):
        parts.append("same director " + " & ".join(directors[:2]))
    if fans >= FANS_REASON:
        parts.append(f"fans of {query.title} also love it ({fans} liked both)")
    if len(parts) < max_parts and (keywords := _distinct(_shared(query.keywords, other.keywords))):
        parts.append("themes: " + ", ".join(keywords[:3]))
    if len(parts) < max_parts and (cast := _shared(query.cast, other.cast)):
        parts.append("also stars " + ", ".join(cast[:2]))
    if language:
        parts.append(f"also in {language}")
    if len(parts) < max_parts and (genres := _shared(query.genres, other.genres)):
        parts.append("both " + ", ".join(genres[:3]))
    if not parts:
        parts.append("similar story and tone" if query.overview and other.overview
                     else "similar era and standing")
    return " · ".join(parts[:max_parts])

"""`ContentIndex`: "movies like X" at serving time, from the Annoy file and its vectors.

Needs numpy, annoy and the catalog; never TensorFlow or scikit-learn.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..artifacts import component_files
from ..errors import MovieBotError
from ..queries import MovieQuery, ResolvedMovie
from ..recommender import check_k
from ..results import Filters, Movie, Recommendation, Recommendations
from ..retrieval import FilterColumns, Retriever
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

    @classmethod
    def load(cls, dir: Path, catalog) -> ContentIndex:
        files = component_files(dir, cls.name, ["content.json", "ids.npy", "prior.npy",
                                                "index.ann", VECTORS])
        config = json.loads(files["content.json"].read_text())
        retriever = Retriever.load(
            files["index.ann"], int(config["dim"]), "angular",
            vectors=np.load(files[VECTORS], mmap_mode="r"), search_k=int(config["search_k"]),
            search_k_per_item=SEARCH_K_PER_ITEM, exact_filtered_max=EXACT_FILTERED_MAX)
        return cls(retriever, np.load(files["ids.npy"]),
                   np.load(files["prior.npy"], mmap_mode="r"), config, catalog)

    def recommend(self, query: MovieQuery, k: int = 10,
                  filters: Filters | None = None) -> Recommendations:
        check_k(k)
        movie = query.movie
        row = self.row_of.get(movie.movie_id)
        if row is None:
            raise NotIndexed(movie)
        filters = filters or Filters()
        allowed = None if filters.is_empty() else self._columns.mask(filters)
        ids, cosines = self.retriever.search(row, max(k, self.n_candidates) if self.lam else k,
                                             allowed)
        order, scores = rerank(cosines, np.asarray(self.prior[ids]), self.lam)
        results = self._collect(movie, ids[order], scores, k, filters)
        return Recommendations(query=ResolvedMovie(movie, None if filters.is_empty() else filters),
                               results=results, kind="similar")

    def explain(self, query: MovieQuery, movie: Movie) -> str:
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


def _shared(a: list[str], b: list[str]) -> list[str]:
    lowered = {x.lower() for x in b}
    return [x for x in a if x.lower() in lowered]


def _distinct(keywords: list[str]) -> list[str]:
    """Drop a keyword that another listed one already says: TMDB has both "london, england"
    and "england", which would read "themes: london, england, england"."""
    words = [set(k.lower().replace(",", " ").split()) for k in keywords]
    return [k for k, w in zip(keywords, words, strict=True)
            if not any(w < other for other in words)]


def reason(query: Movie, other: Movie, max_parts: int = 3) -> str:
    """Why ``other`` is listed for ``query``: what they visibly share, most specific first."""
    parts = []
    if directors := _shared(query.directors, other.directors):
        parts.append("same director " + " & ".join(directors[:2]))
    if cast := _shared(query.cast, other.cast):
        parts.append("also stars " + ", ".join(cast[:2]))
    if keywords := _distinct(_shared(query.keywords, other.keywords)):
        parts.append("themes: " + ", ".join(keywords[:3]))
    if genres := _shared(query.genres, other.genres):
        parts.append("both " + ", ".join(genres[:3]))
    if not parts:
        parts.append("similar story and tone" if query.overview and other.overview
                     else "similar era and standing")
    return " · ".join(parts[:max_parts])

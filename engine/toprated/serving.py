"""`TopRated`: the ranked catalog from the build, walked past the filters."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from engine.artifacts import component_files
from engine.catalog import Catalog
from engine.queries import filters_json
from engine.recommender import check_k
from engine.results import Filters, Movie, Recommendation, Recommendations
from engine.retrieval import FilterColumns

from .build import IDS, SCORES


@dataclass(frozen=True)
class TopQuery:
    """"The best films" – everything about the request is in the filters."""

    filters: Filters | None = None

    def to_json(self) -> dict[str, Any]:
        return filters_json(self.filters)


class TopRated:
    name: ClassVar[str] = "toprated"

    def __init__(self, movie_ids: np.ndarray, scores: np.ndarray, catalog: Catalog):
        known = np.array([int(m) in catalog for m in movie_ids], dtype=bool)
        self.movie_ids, self.scores = movie_ids[known], scores[known]
        self.catalog = catalog
        self.columns = FilterColumns.of(catalog, self.movie_ids)

    @classmethod
    def load(cls, dir: Path, catalog: Catalog) -> TopRated:
        files = component_files(dir, cls.name, [IDS, SCORES])
        return cls(np.load(files[IDS]), np.load(files[SCORES]), catalog)

    def recommend(self, query: TopQuery | None = None, k: int = 10,
                  filters: Filters | None = None) -> Recommendations:
        check_k(k)
        filters = filters or (query.filters if query else None) or Filters()
        rows = np.flatnonzero(self.columns.mask(filters))[:k]
        results = [Recommendation(movie, float(self.scores[row]), self.explain(query, movie))
                   for row in rows
                   if filters.accepts(movie := self.catalog.movie(int(self.movie_ids[row])))]
        resolved = TopQuery(None if filters.is_empty() else filters)
        return Recommendations(query=resolved, results=results, kind="top")

    def explain(self, query: TopQuery | None, movie: Movie) -> str:
        if not movie.rating_count or movie.rating_mean is None:
            return "well rated"
        return f"★ {movie.rating_mean:.1f}/5 from {movie.rating_count} MovieLens ratings"

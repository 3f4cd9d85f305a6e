"""`ContentIndex`: "movies like X" at serving time, from the Annoy file alone.

Needs numpy, annoy and the catalog; never TensorFlow or scikit-learn.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from annoy import AnnoyIndex

from ..errors import DataError, InvalidInput, MovieBotError
from ..results import Filters, Movie, Recommendation, Recommendations

MAX_K = 50


class NotIndexed(MovieBotError):
    def __init__(self, movie: Movie):
        super().__init__(f"I don't have {movie.label} in the similarity index yet; "
                         "it will be there after the next rebuild.")


class ContentIndex:
    def __init__(self, annoy: AnnoyIndex, movie_ids: np.ndarray, config: dict, catalog):
        self.annoy = annoy
        self.movie_ids = movie_ids
        self.row_of = {int(m): i for i, m in enumerate(movie_ids)}
        self.config = config
        self.catalog = catalog
        self.lam = float(config["lam"])
        self.norm = float(config["norm"])
        self.fused_dim = int(config["fused_dim"])
        self.search_k = int(config["search_k"])
        self._columns = _filter_columns(catalog, movie_ids)

    @classmethod
    def load(cls, dir: Path, catalog) -> ContentIndex:
        dir = Path(dir)
        try:
            config = json.loads((dir / "content.json").read_text())
            movie_ids = np.load(dir / "ids.npy")
        except FileNotFoundError as exc:
            raise DataError(str(exc.filename), "content index files are missing",
                            "run `moviebot build`") from None
        annoy = AnnoyIndex(int(config["dim"]), "angular")
        # mmap without prefaulting: the pages are shared by every process serving this version
        annoy.load(str(dir / "index.ann"), prefault=False)
        return cls(annoy, movie_ids, config, catalog)

    def query_vector(self, row: int) -> list[float]:
        """[sqrt(1-lam) * f, sqrt(lam), 0] from the stored item (see index.py)."""
        item = np.asarray(self.annoy.get_item_vector(row), dtype=np.float32)
        fused = item[: self.fused_dim]  # already scaled by sqrt(1 - lam)
        return [*fused.tolist(), float(np.sqrt(self.lam)), 0.0]

    def similar(self, movie: Movie, k: int = 10, filters: Filters | None = None) -> Recommendations:
        if not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise InvalidInput(f"Please ask for between 1 and {MAX_K} movies.")
        row = self.row_of.get(movie.movie_id)
        if row is None:
            raise NotIndexed(movie)
        filters = filters or Filters()
        allowed = self._columns.mask(filters)
        allowed[row] = False
        available = int(allowed.sum())
        query = self.query_vector(row)
        total = len(self.movie_ids)
        # Over-fetch when filtering; widen until k pass or every allowed movie was seen.
        n = k + 1 if filters.is_empty() else min(total, 10 * k + 1)
        results: list[Recommendation] = []
        while available:
            ids, dists = self.annoy.get_nns_by_vector(query, n, search_k=max(self.search_k, n * 10),
                                                      include_distances=True)
            results = self._collect(movie, ids, dists, k, filters, allowed)
            if len(results) >= min(k, available) or n >= total:
                break
            n = min(total, n * 4)
        query_info = {**movie.brief()}
        if not filters.is_empty():
            query_info["filters"] = {key: value for key, value in vars(filters).items() if value}
        return Recommendations(query=query_info, results=results, kind="similar")

    def _collect(self, movie: Movie, ids, dists, k: int, filters: Filters,
                 allowed: np.ndarray) -> list[Recommendation]:
        out, seen = [], {movie.movie_id}
        for item, dist in zip(ids, dists, strict=True):
            if not allowed[item]:
                continue
            movie_id = int(self.movie_ids[item])
            if movie_id in seen:
                continue
            seen.add(movie_id)
            other = self.catalog.movie(movie_id)
            if not filters.accepts(other):
                continue
            score = self.norm * (1.0 - dist * dist / 2.0)
            out.append(Recommendation(other, score, reason(movie, other)))
            if len(out) == k:
                break
        return out


class _FilterColumns:
    """Catalog columns as arrays, so a filter is checked for every movie in microseconds.

    Mirrors `Filters.accepts` (which still confirms every returned movie); it only lets
    the search skip rejected movies without building their `Movie` objects, and stop as
    soon as every allowed movie has been seen (an impossible filter costs no search).
    """

    def __init__(self, years: np.ndarray, votes: np.ndarray, genres: list[set[str]]):
        self.years, self.votes, self.genres = years, votes, genres

    def mask(self, filters: Filters) -> np.ndarray:
        ok = np.ones(len(self.years), dtype=bool)
        if filters.year_min is not None:
            ok &= self.years >= filters.year_min  # NaN years compare False, as in accepts()
        if filters.year_max is not None:
            ok &= self.years <= filters.year_max
        if filters.min_votes:
            ok &= self.votes >= filters.min_votes
        if filters.genres:
            wanted = {g.lower() for g in filters.genres}
            ok &= np.fromiter((bool(wanted & g) for g in self.genres), bool, len(self.genres))
        return ok


def _filter_columns(catalog, movie_ids: np.ndarray) -> _FilterColumns:
    df = catalog.df.reindex(movie_ids)
    years = df["year"].astype("float64").to_numpy()
    votes = np.maximum(df["vote_count"].fillna(0).to_numpy(float).astype(np.int64),
                       df["rating_count"].fillna(0).to_numpy(float))
    genres = [{str(g).lower() for g in gs} if isinstance(gs, list | np.ndarray) else set()
              for gs in df["genres"]]
    return _FilterColumns(years, votes, genres)


def _shared(a: list[str], b: list[str]) -> list[str]:
    lowered = {x.lower() for x in b}
    return [x for x in a if x.lower() in lowered]


def reason(query: Movie, other: Movie, max_parts: int = 3) -> str:
    """Why ``other`` is listed for ``query``: what they visibly share, most specific first."""
    parts = []
    if directors := _shared(query.directors, other.directors):
        parts.append("same director " + " & ".join(directors[:2]))
    if cast := _shared(query.cast, other.cast):
        parts.append("also stars " + ", ".join(cast[:2]))
    if keywords := _shared(query.keywords, other.keywords):
        parts.append("themes: " + ", ".join(keywords[:3]))
    if genres := _shared(query.genres, other.genres):
        parts.append("both " + ", ".join(genres[:3]))
    if not parts:
        parts.append("similar story and tone" if query.overview and other.overview
                     else "similar era and standing")
    return " · ".join(parts[:max_parts])

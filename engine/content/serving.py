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
from .index import cosine_from_distance, rerank, search_k_for

MAX_K = 50
VECTORS = "vectors.npy"
# Filtered queries with at most this many allowed movies are answered exactly from the
# vectors (~1 ms for 50k x 150 floats); unfiltered ones always go through Annoy.
EXACT_FILTERED_MAX = 50_000


class NotIndexed(MovieBotError):
    def __init__(self, movie: Movie):
        super().__init__(f"I don't have {movie.label} in the similarity index yet; "
                         "it will be there after the next rebuild.")


class ContentIndex:
    """Two-stage "movies like X": Annoy content neighbours, reranked with the prior (index.py)."""

    def __init__(self, annoy: AnnoyIndex, movie_ids: np.ndarray, prior: np.ndarray, config: dict,
                 catalog, vectors: np.ndarray | None = None):
        self.annoy = annoy
        self.vectors = vectors    # the indexed vectors (mmap), for exact filtered search
        self.movie_ids = movie_ids
        self.prior = prior
        self.row_of = {int(m): i for i, m in enumerate(movie_ids)}
        self.config = config
        self.catalog = catalog
        self.lam = float(config["lam"])
        self.n_candidates = int(config["n_candidates"])
        self.search_k = int(config["search_k"])
        self._columns = _filter_columns(catalog, movie_ids)

    @classmethod
    def load(cls, dir: Path, catalog) -> ContentIndex:
        dir = Path(dir)
        try:
            config = json.loads((dir / "content.json").read_text())
            movie_ids = np.load(dir / "ids.npy")
            prior = np.load(dir / "prior.npy", mmap_mode="r")
        except FileNotFoundError as exc:
            raise DataError(str(exc.filename), "content index files are missing",
                            "run `moviebot build`") from None
        annoy = AnnoyIndex(int(config["dim"]), "angular")
        # mmap without prefaulting: the pages are shared by every process serving this version
        annoy.load(str(dir / "index.ann"), prefault=False)
        vectors = np.load(dir / VECTORS, mmap_mode="r") if (dir / VECTORS).exists() else None
        return cls(annoy, movie_ids, prior, config, catalog, vectors)

    def similar(self, movie: Movie, k: int = 10, filters: Filters | None = None) -> Recommendations:
        if not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise InvalidInput(f"Please ask for between 1 and {MAX_K} movies.")
        row = self.row_of.get(movie.movie_id)
        if row is None:
            raise NotIndexed(movie)
        filters = filters or Filters()
        allowed = self._columns.mask(filters)
        allowed[row] = False
        ids, cosines = self._candidates(row, max(k, self.n_candidates) if self.lam else k,
                                        allowed, filtered=not filters.is_empty())
        order, scores = rerank(cosines, np.asarray(self.prior[ids]), self.lam)
        results = self._collect(movie, ids[order], scores, k, filters)
        query_info = {**movie.brief()}
        if not filters.is_empty():
            query_info["filters"] = {key: value for key, value in vars(filters).items() if value}
        return Recommendations(query=query_info, results=results, kind="similar")

    def _candidates(self, row: int, n: int, allowed: np.ndarray, filtered: bool
                    ) -> tuple[np.ndarray, np.ndarray]:
        """The n allowed movies nearest in content (fewer only if fewer are allowed)."""
        total, available = len(self.movie_ids), int(allowed.sum())
        want = min(n, available)
        if filtered and self.vectors is not None and available <= EXACT_FILTERED_MAX:
            return self._exact_candidates(row, want, allowed)
        # Over-fetch by the share the filters reject (plus a margin: neighbours are not a
        # random sample); widen until enough pass or the catalog is exhausted.
        share = max(available / total, 1e-3)
        fetch = min(total, n + 1 if not filtered else int(1.5 * (n + 1) / share) + 1)
        ids, cos = np.zeros(0, np.int64), np.zeros(0, np.float32)
        while want:
            got, dists = self.annoy.get_nns_by_item(row, fetch, search_k=search_k_for(self.search_k, fetch),
                                                    include_distances=True)
            got = np.asarray(got, dtype=np.int64)
            keep = allowed[got]
            ids, cos = got[keep][:n], cosine_from_distance(dists)[keep][:n]
            if len(ids) >= want or fetch >= total:
                break
            fetch = min(total, fetch * 4)
        return ids, cos

    def _exact_candidates(self, row: int, n: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # A selective filter ("dramas before 1950") would make Annoy walk most of its trees
        # to find n that pass; a matrix-vector product over the allowed rows is cheaper and exact.
        rows = np.flatnonzero(allowed)
        if n == 0:
            return rows[:0], np.zeros(0, np.float32)
        cos = np.asarray(self.vectors[rows] @ self.vectors[row], dtype=np.float32)
        top = np.argpartition(-cos, n - 1)[:n] if n < len(rows) else np.arange(len(rows))
        top = top[np.argsort(-cos[top], kind="stable")]
        return rows[top], cos[top]

    def _collect(self, movie: Movie, items: np.ndarray, scores: np.ndarray, k: int,
                 filters: Filters) -> list[Recommendation]:
        out, seen = [], {movie.movie_id}
        for item, score in zip(items, scores, strict=True):
            movie_id = int(self.movie_ids[item])
            if movie_id in seen:
                continue
            seen.add(movie_id)
            other = self.catalog.movie(movie_id)
            if not filters.accepts(other):
                continue
            out.append(Recommendation(other, float(score), reason(movie, other)))
            if len(out) == k:
                break
        return out


class _FilterColumns:
    """Catalog columns as arrays, so a filter is checked for every movie in microseconds.

    Mirrors `Filters.accepts` (which still confirms every returned movie); it only lets
    the search skip rejected movies without building their `Movie` objects, and stop as
    soon as every allowed movie has been seen (an impossible filter costs no search).
    """

    def __init__(self, years: np.ndarray, votes: np.ndarray, genres: dict[str, np.ndarray]):
        self.years, self.votes = years, votes
        self.genres = genres          # lower-cased genre -> which movies have it

    def mask(self, filters: Filters) -> np.ndarray:
        ok = np.ones(len(self.years), dtype=bool)
        if filters.year_min is not None:
            ok &= self.years >= filters.year_min  # NaN years compare False, as in accepts()
        if filters.year_max is not None:
            ok &= self.years <= filters.year_max
        if filters.min_votes:
            ok &= self.votes >= filters.min_votes
        if filters.genres:
            any_wanted = np.zeros(len(self.years), dtype=bool)
            for genre in {g.lower() for g in filters.genres}:
                if genre in self.genres:
                    any_wanted |= self.genres[genre]
            ok &= any_wanted
        return ok


def _filter_columns(catalog, movie_ids: np.ndarray) -> _FilterColumns:
    df = catalog.df.reindex(movie_ids)
    years = df["year"].astype("float64").to_numpy()
    votes = np.maximum(df["vote_count"].fillna(0).to_numpy(float).astype(np.int64),
                       df["rating_count"].fillna(0).to_numpy(float))
    genres: dict[str, np.ndarray] = {}
    for row, gs in enumerate(df["genres"]):
        for g in (gs if isinstance(gs, list | np.ndarray) else ()):
            genres.setdefault(str(g).lower(), np.zeros(len(df), dtype=bool))[row] = True
    return _FilterColumns(years, votes, genres)


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

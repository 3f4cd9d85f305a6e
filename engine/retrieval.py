"""`Retriever`: the one nearest-neighbour search every recommender uses.

An Annoy file (``angular`` or ``dot``) plus, optionally, the exact vectors it indexes
(a memory-mapped ``.npy`` beside the ``.ann``). ``search`` answers "the n best rows that
pass this filter mask":

* exact numpy scoring when the catalog fits (``exact_max``) or, for a filtered query, when
  few enough rows are allowed (``exact_filtered_max``): a matrix-vector product over the
  allowed rows is cheaper than making Annoy walk most of its trees;
* otherwise Annoy, over-fetching by the share of rows the mask rejects (plus a margin:
  neighbours are not a random sample) and widening x4 until enough pass.

``mips=True`` is the maximum-inner-product transform (Bachrach et al. 2014): every item
vector q gets an extra coordinate sqrt(M^2 - |q|^2), M the largest item norm, so all items
have norm M and an angular query [u, 0] ranks items by angle exactly as by u.q. It is a
build-time option; at query time the retriever appends the 0 itself.

Annoy files are memory-mapped without prefaulting, so every process serving a version
shares their pages. Nothing else in the engine calls ``AnnoyIndex.get_nns_*``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from annoy import AnnoyIndex

from .results import Filters

METRICS = ("angular", "dot")


def augment(items: np.ndarray) -> np.ndarray:
    """The MIPS transform: one extra coordinate that gives every item the same norm."""
    items = np.asarray(items, dtype=np.float64)
    norms = np.linalg.norm(items, axis=1)
    extra = np.sqrt(np.maximum(norms.max() ** 2 - norms ** 2, 0.0))
    return np.hstack([items, extra[:, None]]).astype(np.float32)


def cosine_from_distance(dists) -> np.ndarray:
    """Annoy's angular distance d between unit vectors gives the cosine as 1 - d^2 / 2."""
    d = np.asarray(dists, dtype=np.float32)
    return 1.0 - d * d / 2.0


# How exact search orders exactly tied scores. Each recommender keeps the order its served
# lists always had: "select" (argpartition's order, all rows in row order when all are
# wanted), "select_always" (argpartition's order even then), "row" (row order: a full
# stable sort).
TIES = ("select", "select_always", "row")


def exact_top(scores: np.ndarray, n: int, ties: str = "select") -> np.ndarray:
    """Positions of the n largest scores, best first (exact ties ordered as ``ties`` says)."""
    n = min(n, len(scores))
    if n <= 0:
        return np.zeros(0, np.int64)
    if ties == "row":
        return np.argsort(-scores, kind="stable")[:n]
    if n < len(scores) or ties == "select_always":
        top = np.argpartition(-scores, n - 1)[:n]
    else:
        top = np.arange(len(scores))
    return top[np.argsort(-scores[top], kind="stable")]


@dataclass
class Retriever:
    annoy: AnnoyIndex
    metric: str = "angular"
    vectors: np.ndarray | None = None  # the exact vectors (not MIPS-augmented), for numpy scoring
    search_k: int = -1                 # Annoy nodes to inspect (-1: Annoy's default)
    search_k_per_item: int = 0         # ... but at least this many per wanted row
    mips: bool = False                 # the index holds augment(vectors): query with [u, 0]
    exact_max: int = 0                 # score every query exactly up to this many rows
    exact_filtered_max: int = 0        # score a filtered query's allowed rows exactly up to this many
    fetch_factor: int = 0              # filtered over-fetch starts at fetch_factor * n (0: sized
                                       # to the share of rows the mask allows)
    ties: str = "select"               # how exact search orders exact ties (see TIES)

    # -- build / save / load ------------------------------------------------------------
    @classmethod
    def build(cls, items: np.ndarray, metric: str = "angular", trees: int = 50, seed: int = 42,
              mips: bool = False, n_jobs: int = 1, **options) -> Retriever:
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}")
        items = np.asarray(items)
        indexed = augment(items) if mips else items
        index = AnnoyIndex(indexed.shape[1], metric)
        index.set_seed(seed)
        for i, vec in enumerate(indexed):
            index.add_item(i, vec.tolist() if metric == "dot" else vec)
        index.build(trees, n_jobs=n_jobs)
        return cls(index, metric, mips=mips, **options)

    def save(self, path: Path, vectors: np.ndarray | None = None) -> list[Path]:
        """Write the .ann (and, given, the exact vectors as ``<stem>.npy`` beside it)."""
        path = Path(path)
        self.annoy.save(str(path))
        if vectors is None:
            return [path]
        np.save(vectors_path(path), np.asarray(vectors, dtype=np.float32))
        return [path, vectors_path(path)]

    @classmethod
    def load(cls, path: Path, dim: int, metric: str = "angular", vectors: bool | np.ndarray = False,
             **options) -> Retriever:
        """Map an .ann file; ``vectors=True`` also maps the ``.npy`` saved beside it."""
        index = AnnoyIndex(dim, metric)
        index.load(str(path), prefault=False)
        if vectors is True:
            vectors = np.load(vectors_path(Path(path)), mmap_mode="r")
        return cls(index, metric, vectors=None if vectors is False else vectors, **options)

    @property
    def dim(self) -> int:
        return self.annoy.f

    def __len__(self) -> int:
        return self.annoy.get_n_items()

    # -- queries --------------------------------------------------------------------------
    def _search_k(self, n: int) -> int:
        return max(int(self.search_k), self.search_k_per_item * n)

    def _annoy(self, query: int | np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(query, int | np.integer):
            rows, dists = self.annoy.get_nns_by_item(int(query), n, search_k=self._search_k(n),
                                                     include_distances=True)
        else:
            q = np.asarray(query, dtype=np.float32)
            if self.mips:
                q = np.append(q, np.float32(0.0))
            rows, dists = self.annoy.get_nns_by_vector(
                q.tolist() if self.metric == "dot" else q, n, search_k=self._search_k(n),
                include_distances=True)
        rows = np.asarray(rows, dtype=np.int64)
        scores = cosine_from_distance(dists) if self.metric == "angular" and not self.mips else \
            np.asarray(dists, dtype=np.float32)
        return rows, scores

    def _exact_scores(self, query: int | np.ndarray, rows: np.ndarray | None) -> np.ndarray:
        q = self.vectors[int(query)] if isinstance(query, int | np.integer) else query
        return (self.vectors if rows is None else self.vectors[rows]) @ q

    def top(self, query: int | np.ndarray, n: int, exact: bool | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
        """The n best rows over everything (an item query includes the item itself)."""
        if exact is None:
            exact = self.vectors is not None and len(self) <= self.exact_max
        if exact:
            scores = self._exact_scores(query, None)
            top = exact_top(scores, n, self.ties)
            return top, scores[top]
        if self.mips and not np.any(query):
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        return self._annoy(query, n)

    def search(self, query: int | np.ndarray, n: int, allowed: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """(rows, scores) of the n best rows ``allowed`` (a boolean mask over rows), best
        first; fewer only if fewer are allowed. An item query never returns the item."""
        total = len(self)
        item = isinstance(query, int | np.integer)
        if allowed is None:
            if self.vectors is not None and total <= self.exact_max:
                rows, scores = self.top(query, n + item, exact=True)
                keep = rows != query if item else np.ones(len(rows), bool)
                return rows[keep][:n], scores[keep][:n]
            want = min(n, total - item)
            fetch = min(total, n + item)
        else:
            if item:
                allowed = allowed.copy()
                allowed[int(query)] = False
            available = int(allowed.sum())
            want = min(n, available)
            if self.vectors is not None and available <= self.exact_filtered_max:
                rows = np.flatnonzero(allowed)
                if want == 0:
                    return rows[:0], np.zeros(0, np.float32)
                scores = self._exact_scores(query, rows)
                top = exact_top(scores, want, self.ties)
                return rows[top], scores[top]
            if self.fetch_factor:
                fetch = min(total, self.fetch_factor * n)
            else:  # over-fetch by the share the mask rejects, plus a margin
                share = max(available / total, 1e-3)
                fetch = min(total, int(1.5 * (n + 1) / share) + 1)
        # With a fixed fetch_factor the search also ignores how many rows are allowed when
        # deciding to stop: it widens until n pass or everything was looked at (the tie
        # order of such lists depends on it, and served lists must not change).
        enough = n if self.fetch_factor and allowed is not None else want
        rows, scores = np.zeros(0, np.int64), np.zeros(0, np.float32)
        while want:
            got, got_scores = self.top(query, fetch)
            keep = allowed[got] if allowed is not None else (got != query if item else
                                                             np.ones(len(got), bool))
            rows, scores = got[keep][:n], got_scores[keep][:n]
            if len(rows) >= enough or fetch >= total:
                break
            fetch = min(total, fetch * 4)
        return rows, scores

    def query(self, vector: np.ndarray, n: int) -> list[int]:
        """The n rows with the best score for ``vector`` through Annoy (approximately)."""
        return self.top(vector, n, exact=False)[0].tolist()


def vectors_path(ann: Path) -> Path:
    return ann.with_name(ann.stem + "_vectors.npy")


class FilterColumns:
    """Catalog columns as arrays, so a filter is checked for every row in microseconds.

    Mirrors `Filters.accepts` (which still confirms every returned movie); it only lets a
    search skip rejected movies without building their `Movie` objects, and stop as soon
    as every allowed movie has been seen (an impossible filter costs no search).
    """

    def __init__(self, years: np.ndarray, votes: np.ndarray, genres: dict[str, np.ndarray]):
        self.years, self.votes = years, votes
        self.genres = genres          # lower-cased genre -> which movies have it

    @classmethod
    def of(cls, catalog, movie_ids: np.ndarray) -> FilterColumns:
        def numbers(name: str) -> np.ndarray:   # None (an id not in the catalog) -> NaN
            return np.array(catalog.values(name, movie_ids), dtype="float64")

        years = numbers("year")
        votes = np.maximum(np.nan_to_num(numbers("vote_count")).astype(np.int64),
                           np.nan_to_num(numbers("rating_count")))
        genres: dict[str, np.ndarray] = {}
        for row, gs in enumerate(catalog.values("genres", movie_ids)):
            for g in (gs if isinstance(gs, list | np.ndarray) else ()):
                genres.setdefault(str(g).lower(), np.zeros(len(movie_ids), dtype=bool))[row] = True
        return cls(years, votes, genres)

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

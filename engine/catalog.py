"""`Catalog`: the movie table as the engine serves it, with title search and resolution."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import AmbiguousTitle, DataError, InvalidInput, TitleCandidate, UnknownTitle
from .results import Movie
from .search import TitleIndex

CATALOG_FILE = "catalog.parquet"
MAX_QUERY_CHARS = 200
_TAG_RE = re.compile(r"</?[A-Za-z][^<>]{0,40}>")

# Resolution policy, in confidence units (0..1).
ACCEPT = 0.86        # a top candidate this good is taken ...
MARGIN = 0.06        # ... when the runner-up is at least this much worse
CHOICE = 0.75       # several candidates this good: ask which one ("star wars")
SUGGEST = 0.45       # below this, a candidate is not even worth suggesting
DOMINANCE = 8.0      # equal titles: the one with 8x the ratings wins ("Psycho" -> 1960)


def _list(value) -> list[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    return [str(v) for v in value]


def _num(value, kind=float):
    if value is None or pd.isna(value):
        return None
    return kind(value)


class Catalog:
    def __init__(self, frame: pd.DataFrame):
        self.df = frame.set_index("movie_id", drop=False).sort_index()
        self._cache: dict[int, Movie] = {}
        counts = self.df["rating_count"].fillna(0).to_numpy(dtype=float)
        weights = np.log1p(counts) / max(np.log1p(counts).max(), 1.0)
        akas = self.df["akas"] if "akas" in self.df else [[]] * len(self.df)
        self.titles = TitleIndex(zip(self.df["movie_id"], self.df["title"],
                                     self.df["year"].astype("float").tolist(), akas, weights,
                                     strict=True))
        self._rating_count = dict(zip(self.df["movie_id"].tolist(), counts.tolist(), strict=True))
        # Plain arrays per column: building a Movie from them is ~20x cheaper than df.loc.
        self._position = {int(m): i for i, m in enumerate(self.df["movie_id"])}
        self._columns = {name: self.df[name].to_numpy(dtype=object) for name in self.df.columns}

    @classmethod
    def load(cls, version_dir: Path) -> Catalog:
        path = Path(version_dir) / CATALOG_FILE
        if not path.exists():
            raise DataError(str(path), "catalog missing from this artifacts version",
                            "run `moviebot build`")
        return cls(pd.read_parquet(path))

    def __len__(self) -> int:
        return len(self.df)

    def __contains__(self, movie_id: int) -> bool:
        return int(movie_id) in self.df.index

    @property
    def ids(self) -> np.ndarray:
        return self.df.index.to_numpy()

    def movie(self, movie_id: int) -> Movie:
        movie_id = int(movie_id)
        if movie_id in self._cache:
            return self._cache[movie_id]
        pos = self._position.get(movie_id)
        if pos is None:
            raise UnknownTitle(f"#{movie_id}")
        row = {name: column[pos] for name, column in self._columns.items()}
        movie = Movie(
            movie_id=movie_id, title=row["title"], year=_num(row["year"], int),
            genres=_list(row["genres"]), overview=row["overview"] or "",
            tagline=row["tagline"] or "", keywords=_list(row["keywords"]),
            cast=_list(row["cast"]), directors=_list(row["directors"]),
            runtime=_num(row["runtime"]), vote_average=_num(row["vote_average"]),
            vote_count=_num(row["vote_count"], int), popularity=_num(row["popularity"]),
            poster_path=row["poster_path"] or "", youtube_id=row["youtube_id"] or "",
            imdb_id=row["imdb_id"] or "", tmdb_id=_num(row["tmdb_id"], int),
            rating_mean=_num(row["rating_mean"]), rating_count=int(row["rating_count"] or 0),
        )
        self._cache[movie_id] = movie
        return movie

    def movies(self, movie_ids) -> list[Movie]:
        return [self.movie(m) for m in movie_ids]

    def search(self, text: str, k: int = 5) -> list[TitleCandidate]:
        text = _clean_query(text)
        return [c for c in self.titles.search(text, k) if c.confidence >= SUGGEST]

    def resolve(self, query: str | int | Movie) -> Movie:
        """One movie for what the user typed, or UnknownTitle / AmbiguousTitle to ask back."""
        if isinstance(query, Movie):
            return query
        if isinstance(query, (int, np.integer)):
            return self.movie(int(query))
        text = _clean_query(query)
        if text.startswith("#") and text[1:].isdigit():
            return self.movie(int(text[1:]))
        candidates = self.titles.search(text, k=6, thorough=False)
        if not candidates or candidates[0].confidence < SUGGEST:
            raise UnknownTitle(text, [c for c in candidates if c.confidence >= 0.3][:3])
        top = candidates[0]
        rivals = [c for c in candidates[1:] if c.confidence > top.confidence - MARGIN]
        if top.confidence >= ACCEPT and not rivals:
            return self.movie(top.movie_id)
        if rivals:
            top_count = self._rating_count.get(top.movie_id, 0)
            dominant = all(top_count >= DOMINANCE * max(self._rating_count.get(r.movie_id, 0), 1)
                           for r in rivals)
            if top.confidence >= ACCEPT and dominant:
                return self.movie(top.movie_id)
            if top.confidence >= CHOICE:
                raise AmbiguousTitle(text, [top, *rivals][:5])
        raise UnknownTitle(text, [c for c in candidates if c.confidence >= SUGGEST][:3])


def _clean_query(text: str) -> str:
    if not isinstance(text, str):
        raise InvalidInput("Please give a movie title.")
    text = "".join(ch for ch in text if ch.isprintable())
    text = _TAG_RE.sub(" ", text).strip()  # "<b>Heat</b>" pasted from a web page
    if not text:
        raise InvalidInput("Please give a movie title, e.g. “Toy Story”.")
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidInput(f"That title is too long (over {MAX_QUERY_CHARS} characters). "
                           "Try just the movie's name, e.g. “Heat 1995”.")
    return text

"""`Catalog`: the movie table as the engine serves it, with title search and resolution."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import AmbiguousTitle, DataError, InvalidInput, TitleCandidate, UnknownTitle
from .results import Movie
from .search import EXACT, TitleIndex, split_year

CATALOG_FILE = "catalog.parquet"
CATALOG_INFO = "catalog.json"   # its date range, written beside it by the build
MAX_QUERY_CHARS = 200
_TAG_RE = re.compile(r"</?[A-Za-z][^<>]{0,40}>")

# Resolution policy, in confidence units (0..1).
ACCEPT = 0.86        # a top candidate this good is taken ...
MARGIN = 0.06        # ... when the runner-up is at least this much worse
SUGGEST = 0.45       # below this, a candidate is not even worth suggesting
GOOD_SUGGESTION = 0.82 # "closest real matches": only these are offered for an unknown title
DOMINANCE = 5.0      # equal titles: the one 5x as notable wins ("Psycho" -> 1960, "oldboy" -> 2003)
SERIES_SHARE = 0.15  # a series entry has at least this share of its best entry's notability
SERIES_MIN = 5.0     # ... and some notability of its own (not a parody with 2 ratings)
SERIES_SHOWN = 8
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


@dataclass
class NotInCatalog(UnknownTitle):
    """An unknown title, said honestly: what the catalog covers and how to get newer films."""

    coverage: str = ""
    newer: bool = False   # the query named a year after the catalog's end

    def __str__(self) -> str:
        msg = f"I couldn't find a movie called “{self.query}”."
        if self.coverage:
            when = "That year is after my catalog ends. " if self.newer else ""
            msg += f" {when}{self.coverage}"
        if self.suggestions:
            msg += " Closest titles I have: " + "; ".join(c.label for c in self.suggestions) + "."
        return msg


@dataclass
class SeriesChoice(AmbiguousTitle):
    """A franchise name ("star wars"): its main entries, in release order."""

    def __str__(self) -> str:
        opts = "; ".join(c.label for c in self.candidates)
        return f"“{self.query}” is a series: {opts}. Which one?"


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
        # How well known a film is: MovieLens ratings, with TMDB votes for the films the
        # 610 MovieLens users barely rated (200 votes count as one rating).
        votes = pd.to_numeric(self.df.get("vote_count", pd.Series(0, index=self.df.index)),
                              errors="coerce").fillna(0).to_numpy(dtype=float)
        self._notability = dict(zip(self.df["movie_id"].tolist(), (counts + votes / 200).tolist(),
                                    strict=True))
        self.span: dict = {}
        # Plain arrays per column: building a Movie from them is ~20x cheaper than df.loc.
        self._position = {int(m): i for i, m in enumerate(self.df["movie_id"])}
        self._columns = {name: self.df[name].to_numpy(dtype=object) for name in self.df.columns}

    @classmethod
    def load(cls, version_dir: Path) -> Catalog:
        path = Path(version_dir) / CATALOG_FILE
        if not path.exists():
            raise DataError(str(path), "catalog missing from this artifacts version",
                            "run `moviebot build`")
        catalog = cls(pd.read_parquet(path))
        info = Path(version_dir) / CATALOG_INFO
        if info.exists():
            catalog.span = json.loads(info.read_text())
        return catalog

    # -- what the catalog covers -------------------------------------------------------
    @property
    def last_year(self) -> int | None:
        year = self.span.get("last_year")
        if year is None and len(self.df):
            year = int(self.df["year"].dropna().max())
        return year

    def coverage_sentence(self) -> str:
        """"My catalog has 9,742 films, from 1902 to September 2018; ...": said in /help,
        /info and every not-found reply."""
        last = self.span.get("last_date")
        if last:
            year, month = int(last[:4]), int(last[5:7])
            end = f"{_MONTHS[month - 1]} {year}"
        else:
            end = str(self.last_year or "")
        years = self.df["year"].dropna()
        first = self.span.get("first_year") or (int(years.min()) if len(years) else "")
        return (f"My catalog has {len(self):,} films, from {first} to {end}; newer films need "
                "the live TMDB catalog (set TMDB_API_KEY).")

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

    def complete(self, text: str, k: int = 25) -> list[TitleCandidate]:
        """Titles for a half-typed one (autocomplete), best known first (see
        `TitleIndex.complete`)."""
        text = "".join(ch for ch in str(text or "")[:MAX_QUERY_CHARS] if ch.isprintable())
        return self.titles.complete(_TAG_RE.sub(" ", text).strip(), k)

    def notability(self, movie_id: int) -> float:
        return self._notability.get(int(movie_id), 0.0)

    def series(self, movie_or_stem: int | str) -> list[TitleCandidate]:
        """The main entries of a franchise, in release order.

        A TMDB collection when the catalog has one (``collection``, its name), else the titles
        that start with the same name ("harry potter" -> "Harry Potter and the ..."). Main
        entries are the well-known ones: spin-offs, parodies and an obscure film of the
        same name are left out."""
        if isinstance(movie_or_stem, (int, np.integer)):
            movie = self.movie(int(movie_or_stem))
            group = self._collection(movie.movie_id)
            if group is None:
                group = self.titles.series(_series_stem(movie.title))
        else:
            group = self.titles.series(movie_or_stem)
            collections = {self._collection_id(m) for m, _, _ in group} - {None}
            if len(collections) == 1:  # one collection: it knows the entries best
                group = self._collection(group[0][0]) or group
        if len(group) < 2:
            return []
        best = max(self.notability(m) for m, _, _ in group)
        main = [(m, t, y) for m, t, y in group
                if self.notability(m) >= max(SERIES_SHARE * best, SERIES_MIN)]
        main.sort(key=lambda e: (e[2] or 9999, e[1]))
        return [TitleCandidate(m, t, y, 1.0) for m, t, y in main] if len(main) >= 2 else []

    def _collection_id(self, movie_id: int):
        if "collection" not in self._columns:
            return None
        value = self._columns["collection"][self._position[int(movie_id)]]
        return None if value is None or pd.isna(value) or value == "" else value

    def _collection(self, movie_id: int) -> list[tuple[int, str, int | None]] | None:
        cid = self._collection_id(movie_id)
        if cid is None:
            return None
        rows = self.df[self.df["collection"] == cid]
        return [(int(m), str(t), None if pd.isna(y) else int(y))
                for m, t, y in zip(rows["movie_id"], rows["title"], rows["year"], strict=True)]

    def resolve(self, query: str | int | Movie) -> Movie:
        """One movie for what the user typed, as a fan means it; or a question back.

        * Several films share the title: the notable one wins (ratings, then TMDB votes)
          unless a year says otherwise ("oldboy" -> 2003, "oldboy 2013" -> the remake).
          Two or more notable ones: AmbiguousTitle asks ("hamlet").
        * A franchise name whose own film is not its best-known entry ("star wars", "lord
          of the rings", "harry potter"): SeriesChoice with its main entries in order.
        * Nothing close enough: NotInCatalog, saying what the catalog covers and the
          closest titles if any are good. Weak matches are never offered as a choice.
        """
        if isinstance(query, Movie):
            return query
        if isinstance(query, (int, np.integer)):
            return self.movie(int(query))
        text = _clean_query(query)
        if text.startswith("#") and text[1:].isdigit():
            return self.movie(int(text[1:]))
        candidates = self.titles.search(text, k=8, thorough=False)
        _, year = split_year(text)
        if year is None:
            self._check_series(text, candidates)
        top = candidates[0] if candidates else None
        strong = [c for c in candidates
                  if c.confidence >= ACCEPT and c.confidence > top.confidence - MARGIN]
        if not strong:
            raise self.not_found(text, candidates, year)
        if len(strong) == 1:
            return self.movie(strong[0].movie_id)
        ranked = sorted(strong, key=lambda c: -self.notability(c.movie_id))
        best, others = ranked[0], ranked[1:]
        if all(self.notability(best.movie_id) >= DOMINANCE * max(self.notability(o.movie_id), 1.0)
               for o in others):
            return self.movie(best.movie_id)
        raise AmbiguousTitle(text, ranked[:5])

    def _check_series(self, text: str, candidates: list[TitleCandidate]) -> None:
        """Raise SeriesChoice for a franchise name, unless the name is its best film's."""
        entries = self.series(text)
        if not entries:
            return
        best = max(entries, key=lambda e: self.notability(e.movie_id))
        exact = {c.movie_id for c in candidates if c.confidence >= EXACT}
        if best.movie_id in exact:
            return  # "toy story", "alien": the film itself; its card offers the series
        raise SeriesChoice(text, entries[:SERIES_SHOWN])

    def not_found(self, text: str, candidates: list[TitleCandidate],
                  year: int | None = None) -> NotInCatalog:
        good = [c for c in candidates if c.confidence >= GOOD_SUGGESTION][:3]
        newer = year is not None and self.last_year is not None and year > self.last_year
        return NotInCatalog(text, good, coverage=self.coverage_sentence(), newer=newer)


_SERIES_SUFFIX = re.compile(r"(?:\s*[:\-–]\s.*|\s+(?:\d+|[IVX]+|Part .*)|:.*)$")


def _series_stem(title: str) -> str:
    """"Toy Story 2" -> "Toy Story"; "Alien: Resurrection" -> "Alien"."""
    stem = _SERIES_SUFFIX.sub("", title).strip()
    return stem or title


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

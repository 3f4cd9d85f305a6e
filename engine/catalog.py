"""`Catalog`: the movie table as the engine serves it, with title search and resolution."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import AmbiguousTitle, DataError, InvalidInput, TitleCandidate, UnknownTitle
from .results import Movie
from .search import ARTICLES, EXACT, MAIN_TITLE, TitleIndex, normalize, split_year, title_key

CATALOG_FILE = "catalog.parquet"
# what serving reads at load (Movie fields, titles, series, filters)
SERVED_COLUMNS = {"movie_id", "title", "akas", "year", "genres", "overview", "tagline",
                  "keywords", "cast", "directors", "runtime", "vote_average", "vote_count",
                  "popularity", "poster_path", "youtube_id", "imdb_id", "tmdb_id", "rating_mean",
                  "rating_count", "collection"}
CATALOG_INFO = "catalog.json"   # its date range, written beside it by the build
# Films that catalog updates (jobs/catalog_update.py) add from TMDB have movie_id
# TMDB_ID_BASE + their TMDB id: MovieLens ids stay below 300,000 and TMDB's below
# 10,000,000, so the two never clash and a film keeps its id across updates and builds.
TMDB_ID_BASE = 10_000_000
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


def _missing(value) -> bool:
    """None or NaN (pandas' NA reads as missing too: a frame may hold it)."""
    return value is None or (isinstance(value, float) and math.isnan(value)) or (
        type(value).__name__ in ("NAType", "NaTType"))


def _list(value) -> list[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    return [str(v) for v in value]


def _text(value) -> str:
    return "" if _missing(value) else str(value)


def _num(value, kind=float):
    if _missing(value):
        return None
    return kind(value)


def _votes(value) -> float:
    """TMDB's vote count as a number (0 when missing or unreadable)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if math.isnan(number) else number


def _object_array(values) -> np.ndarray:
    """A column as a 1-d object array, even when its cells are lists."""
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


class Catalog:
    """The movie table, held as plain columns sorted by movie id.

    ``Catalog.load`` reads the Parquet file without pandas (importing pandas costs a
    serving process ~0.5 s at start, and /song never needs it); ``df`` is the same table
    as a DataFrame, made on first use for the code (builds, evaluations) that wants one.
    The title index is built on the first title search, not at start, for the same reason.
    """

    def __init__(self, table, path: Path | None = None):
        """``table``: a DataFrame, or columns (name -> list or array) as
        ``engine.artifacts.read_columns`` gives them."""
        if hasattr(table, "to_dict") and hasattr(table, "columns"):   # a DataFrame
            self._frame = table.set_index("movie_id", drop=False).sort_index()
            columns = {name: self._frame[name].to_numpy(dtype=object)
                       for name in self._frame.columns}
        else:
            self._frame = None
            order = np.argsort(np.asarray(table["movie_id"], dtype=np.int64), kind="stable")
            columns = {name: _object_array(values)[order]
                       for name, values in table.items()}
        self._path = path
        # Plain arrays per column: building a Movie from them is ~20x cheaper than df.loc.
        self._columns: dict[str, np.ndarray] = columns
        self._ids = np.asarray(columns["movie_id"], dtype=np.int64)
        self._position = {int(m): i for i, m in enumerate(self._ids)}
        self._cache: dict[int, Movie] = {}
        self._titles: TitleIndex | None = None
        self._counts = np.array([0.0 if _missing(c) else float(c)
                                 for c in columns["rating_count"]])
        self._rating_count = dict(zip(self._ids.tolist(), self._counts.tolist(), strict=True))
        # How well known a film is: MovieLens ratings, with TMDB votes for the films the
        # 610 MovieLens users barely rated (200 votes count as one rating).
        votes = np.array([_votes(v) for v in columns["vote_count"]]) if "vote_count" in columns \
            else np.zeros(len(self._ids))
        self._notability = dict(zip(self._ids.tolist(), (self._counts + votes / 200).tolist(),
                                    strict=True))
        self.span: dict = {}

    @classmethod
    def load(cls, version_dir: Path) -> Catalog:
        from .artifacts import read_columns, read_parquet_names

        path = Path(version_dir) / CATALOG_FILE
        if not path.exists():
            raise DataError(str(path), "catalog missing from this artifacts version",
                            "run `moviebot build`")
        # the columns a Movie, the title index and the filters read; the rest (TMDB genres,
        # countries, sources ...) stay in the file until something asks (``values``, ``df``)
        names = read_parquet_names(path)
        catalog = cls(read_columns(path, [c for c in names if c in SERVED_COLUMNS]), path)
        info = Path(version_dir) / CATALOG_INFO
        if info.exists():
            catalog.span = json.loads(info.read_text())
        return catalog

    def _file_ids(self) -> np.ndarray:
        from .artifacts import read_columns

        return np.asarray(read_columns(self._path, ["movie_id"])["movie_id"], dtype=np.int64)

    @property
    def df(self):
        """The catalog as a DataFrame indexed by movie id (pandas imported on first use)."""
        if self._frame is None:
            import pandas as pd

            frame = pd.read_parquet(self._path) if self._path is not None else pd.DataFrame(
                {name: list(values) for name, values in self._columns.items()})
            self._frame = frame.set_index("movie_id", drop=False).sort_index()
        return self._frame

    @property
    def titles(self) -> TitleIndex:
        """The title index, built on the first title search (~0.3 s for ~10k films and
        their alternate titles): a process that only answers /song never needs it."""
        if self._titles is None:
            weights = np.log1p(self._counts) / max(np.log1p(self._counts).max(), 1.0)
            akas = self._columns.get("akas")
            self._titles = TitleIndex(zip(
                self._ids.tolist(), self._columns["title"],
                [float("nan") if _missing(y) else float(y) for y in self._columns["year"]],
                [[] if a is None else a for a in akas] if akas is not None
                else [[]] * len(self), weights, strict=True))
        return self._titles

    def values(self, name: str, movie_ids) -> list:
        """Column ``name`` for ``movie_ids``, in that order (None for an unknown id)."""
        if name not in self._columns and self._path is not None:   # not read at load
            from .artifacts import read_columns

            self._columns[name] = _object_array(read_columns(self._path, [name])[name])[
                np.argsort(self._file_ids(), kind="stable")]
        column = self._columns[name]
        # a catalog made from a DataFrame holds pandas' NA in nullable columns: None, as
        # from the Parquet reader, so callers see one kind of missing
        return [None if (p := self._position.get(int(m))) is None or _missing(column[p])
                else column[p] for m in movie_ids]

    # -- what the catalog covers -------------------------------------------------------
    @property
    def last_year(self) -> int | None:
        year = self.span.get("last_year")
        if year is None and len(self):
            year = max(self._years(), default=None)
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
        first = self.span.get("first_year") or min(self._years(), default="")
        if updated := self.span.get("updated"):
            # a catalog update (jobs/catalog_update.py) added TMDB's recent films
            day = f"{int(updated[8:10])} {_MONTHS[int(updated[5:7]) - 1]} {updated[:4]}"
            return (f"My catalog has {len(self):,} films, from {first} to {end} "
                    f"(updated from TMDB on {day}).")
        return (f"My catalog has {len(self):,} films, from {first} to {end}; newer films need "
                "the live TMDB catalog (set TMDB_API_KEY).")

    def _years(self) -> list[int]:
        return [int(y) for y in self._columns["year"] if not _missing(y)]

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, movie_id: int) -> bool:
        return int(movie_id) in self._position

    @property
    def ids(self) -> np.ndarray:
        return self._ids.copy()

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
            genres=_list(row["genres"]), overview=_text(row["overview"]),
            tagline=_text(row["tagline"]), keywords=_list(row["keywords"]),
            cast=_list(row["cast"]), directors=_list(row["directors"]),
            runtime=_num(row["runtime"]), vote_average=_num(row["vote_average"]),
            vote_count=_num(row["vote_count"], int), popularity=_num(row["popularity"]),
            poster_path=_text(row["poster_path"]), youtube_id=_text(row["youtube_id"]),
            imdb_id=_text(row["imdb_id"]), tmdb_id=_num(row["tmdb_id"], int),
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
        return None if _missing(value) or value == "" else value

    def _collection(self, movie_id: int) -> list[tuple[int, str, int | None]] | None:
        cid = self._collection_id(movie_id)
        if cid is None:
            return None
        columns = self._columns
        return [(int(m), str(t), None if _missing(y) else int(y))
                for m, t, y, c in zip(self._ids, columns["title"], columns["year"],
                                      columns["collection"], strict=True) if c == cid]

    def resolve(self, query: str | int | Movie) -> Movie:
        """One movie for what the user typed, as a fan means it; or a question back.

        * Several films share the title: the notable one wins (ratings, then TMDB votes)
          unless a year says otherwise ("oldboy" -> 2003, "oldboy 2013" -> the remake).
          Two or more notable ones: AmbiguousTitle asks ("hamlet"); several titles that
          only contain the words ("blue") are no question but a not-found with suggestions.
        * A franchise name whose own film is not its best-known entry ("star wars", "lord
          of the rings", "harry potter"): SeriesChoice with its main entries in order. A
          title only one entry has ("three colors: white") is that film.
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
        if top.confidence < MAIN_TITLE:
            # only titles that contain the words ("blue" -> Blue Crush, Dark Blue; "hello"
            # -> Hello, Dolly!, Hello Again): none is called that, so nothing is ambiguous
            raise self.not_found(text, candidates, year)
        raise AmbiguousTitle(text, ranked[:5])

    def _check_series(self, text: str, candidates: list[TitleCandidate]) -> None:
        """Raise SeriesChoice for a franchise name, unless the name is its best film's or
        only one film's own title."""
        entries = self.series(text)
        if not entries:
            return
        exact = {c.movie_id for c in candidates if c.confidence >= EXACT}
        best = max(entries, key=lambda e: self.notability(e.movie_id))
        if best.movie_id in exact:
            return  # "toy story", "alien": the film itself; its card offers the series
        named = [e for e in entries if e.movie_id in exact]
        key = title_key(text)
        if named and not any(title_key(e.title).startswith(key) for e in entries
                             if e.movie_id not in exact):
            # "three colors: white": one film's own title, which no other entry's starts
            # with ("star trek" and "terminator" start their sequels' titles: a choice)
            return
        typed = normalize(text)
        own = [e for e in named if normalize(e.title) == typed]
        if (len(typed.split()) > 1 and typed.split()[0] in ARTICLES and len(own) == 1
                and self.notability(own[0].movie_id) * DOMINANCE >= self.notability(best.movie_id)):
            # "the terminator": the whole title, article and all, of a film about as well
            # known as the series' best, is that film; "the lord of the rings" (the obscure
            # 1978 film) stays a choice
            return
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

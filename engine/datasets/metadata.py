"""Loaders for the movie-metadata sources, each returned in one standard shape.

Every loader returns a frame with (some of) these columns, lists as Python lists:
tmdb_id, imdb_id, title, year, overview, tagline, keywords, cast, directors, runtime,
popularity, vote_average, vote_count, budget, revenue, original_language, poster_path,
tmdb_genres, collection (TMDB `belongs_to_collection` name), countries (production countries). `SOURCES` lists them in priority order: for each field the first source
that has a value wins (newer and richer exports first).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from .csvio import parse_json_list, parse_python_list, parse_quoted_list, read_csv, split_list

_IMDB_RE = re.compile(r"tt\d+")


def _load(path: Path, columns: list[str]) -> pd.DataFrame:
    # dtype=str: ids and numbers are converted explicitly below, per source
    return read_csv(path, columns=columns, dtype=str)


def _num(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce")


def _year(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, errors="coerce", format="mixed").dt.year.astype("Int64")


def _text(series: pd.Series) -> pd.Series:
    return series.fillna("").astype(str).str.strip()


def _imdb(series: pd.Series) -> pd.Series:
    return series.fillna("").astype(str).map(lambda s: (m.group(0) if (m := _IMDB_RE.search(s)) else ""))


def _optional(raw: pd.DataFrame, column: str, parse: Callable) -> pd.Series:
    """A column only some copies of a source have (test fixtures are trimmed): parsed where
    present, empty otherwise, so its absence never stops a build."""
    if column not in raw:
        return pd.Series([parse("")] * len(raw), index=raw.index, dtype=object)
    return raw[column].map(parse)


def tmdb_v11(data_dir: Path) -> pd.DataFrame:
    path = data_dir / "tmdb_full_dataset_v11/TMDB_movie_dataset_v11.csv"
    raw = _load(path, ["id", "title", "overview", "imdb_id", "poster_path", "genres", "keywords"])
    return pd.DataFrame({
        "tmdb_id": _num(raw["id"]).astype("Int64"), "imdb_id": _imdb(raw["imdb_id"]),
        "title": _text(raw["title"]), "year": _year(raw["release_date"]),
        "overview": _text(raw["overview"]), "tagline": _text(raw["tagline"]),
        "keywords": raw["keywords"].map(lambda v: split_list(v, ",")),
        "runtime": _num(raw["runtime"]), "popularity": _num(raw["popularity"]),
        "vote_average": _num(raw["vote_average"]), "vote_count": _num(raw["vote_count"]),
        "budget": _num(raw["budget"]), "revenue": _num(raw["revenue"]),
        "original_language": _text(raw["original_language"]),
        "poster_path": _text(raw["poster_path"]),
        "tmdb_genres": raw["genres"].map(lambda v: split_list(v, ",")),
        "countries": _optional(raw, "production_countries", lambda v: split_list(v, ",")),
    })


def movies_dataset(data_dir: Path) -> pd.DataFrame:
    path = data_dir / "the_movies_dataset/movies_metadata_small.csv"
    raw = _load(path, ["id", "imdb_id", "title", "overview", "poster_path", "genres"])
    raw = raw.drop_duplicates("id")
    return pd.DataFrame({
        "tmdb_id": _num(raw["id"]).astype("Int64"), "imdb_id": _imdb(raw["imdb_id"]),
        "title": _text(raw["title"]), "year": _year(raw["release_date"]),
        "overview": _text(raw["overview"]), "tagline": _text(raw["tagline"]),
        "runtime": _num(raw["runtime"]), "popularity": _num(raw["popularity"]),
        "vote_average": _num(raw["vote_average"]), "vote_count": _num(raw["vote_count"]),
        "budget": _num(raw["budget"]), "revenue": _num(raw["revenue"]),
        "original_language": _text(raw["original_language"]),
        "poster_path": _text(raw["poster_path"]),
        "tmdb_genres": raw["genres"].map(parse_python_list),
        # the franchise (/similar keeps one sibling in view) and where a film was made
        "collection": _optional(raw, "belongs_to_collection",
                                lambda v: next(iter(parse_python_list(v)), "")),
        "countries": _optional(raw, "production_countries", parse_python_list),
    })


def tmdb_5000(data_dir: Path) -> pd.DataFrame:
    path = data_dir / "tmdb_5000/tmdb_5000_movies.csv"
    raw = _load(path, ["id", "title", "overview", "genres", "keywords", "tagline"])
    return pd.DataFrame({
        "tmdb_id": _num(raw["id"]).astype("Int64"),
        "title": _text(raw["title"]), "year": _year(raw["release_date"]),
        "overview": _text(raw["overview"]), "tagline": _text(raw["tagline"]),
        "keywords": raw["keywords"].map(parse_json_list),
        "runtime": _num(raw["runtime"]), "popularity": _num(raw["popularity"]),
        "vote_average": _num(raw["vote_average"]), "vote_count": _num(raw["vote_count"]),
        "budget": _num(raw["budget"]), "revenue": _num(raw["revenue"]),
        "original_language": _text(raw["original_language"]),
        "tmdb_genres": raw["genres"].map(parse_json_list),
        "countries": _optional(raw, "production_countries", parse_json_list),
    })


def tmdb_udacity(data_dir: Path) -> pd.DataFrame:
    path = data_dir / "tmdb_udacity_10k/tmdb-movies.csv"
    raw = _load(path, ["id", "imdb_id", "original_title", "cast", "director", "keywords", "overview"])
    raw = raw.drop_duplicates("id")
    return pd.DataFrame({
        "tmdb_id": _num(raw["id"]).astype("Int64"), "imdb_id": _imdb(raw["imdb_id"]),
        "title": _text(raw["original_title"]), "year": _num(raw["release_year"]).astype("Int64"),
        "overview": _text(raw["overview"]), "tagline": _text(raw["tagline"]),
        "keywords": raw["keywords"].map(lambda v: split_list(v, "|")),
        "cast": raw["cast"].map(lambda v: split_list(v, "|")[:5]),
        "directors": raw["director"].map(lambda v: split_list(v, "|")),
        "runtime": _num(raw["runtime"]).where(lambda s: s > 0),
        "popularity": _num(raw["popularity"]),
        "vote_average": _num(raw["vote_average"]), "vote_count": _num(raw["vote_count"]),
        "budget": _num(raw["budget"]).where(lambda s: s > 0),
        "revenue": _num(raw["revenue"]).where(lambda s: s > 0),
        "tmdb_genres": raw["genres"].map(lambda v: split_list(v, "|")),
    })


def tmdb_top10k(data_dir: Path) -> pd.DataFrame:
    path = data_dir / "tmdb_top10k/top10K-TMDB-movies.csv"
    raw = _load(path, ["id", "title", "genre", "overview", "popularity", "vote_count"])
    return pd.DataFrame({
        "tmdb_id": _num(raw["id"]).astype("Int64"),
        "title": _text(raw["title"]), "year": _year(raw["release_date"]),
        "overview": _text(raw["overview"]), "popularity": _num(raw["popularity"]),
        "vote_average": _num(raw["vote_average"]), "vote_count": _num(raw["vote_count"]),
        "original_language": _text(raw["original_language"]),
        "tmdb_genres": raw["genre"].map(lambda v: split_list(v, ",")),
    })


def imdb_5000(data_dir: Path) -> pd.DataFrame:
    path = data_dir / "imdb_5000_movie_dataset/movie_metadata.csv"
    raw = _load(path, ["movie_title", "movie_imdb_link", "director_name", "plot_keywords"])
    raw = raw.assign(imdb_id=_imdb(raw["movie_imdb_link"])).drop_duplicates("imdb_id")
    actors = raw[["actor_1_name", "actor_2_name", "actor_3_name"]].fillna("")
    return pd.DataFrame({
        "imdb_id": raw["imdb_id"],
        "title": raw["movie_title"].str.replace("\u00a0", " ").str.strip(),
        "year": _num(raw["title_year"]).astype("Int64"),
        "keywords": raw["plot_keywords"].map(lambda v: split_list(v, "|")),
        "cast": [[a for a in row if a] for row in actors.itertuples(index=False)],
        "directors": raw["director_name"].map(lambda v: [v.strip()] if isinstance(v, str) and v.strip() else []),
        "runtime": _num(raw["duration"]),
    })


def soundtrack_credits(data_dir: Path) -> pd.DataFrame:
    """Directors and actors from the IMDb soundtrack file (keyed by imdb id)."""
    path = data_dir / "movie_soundtracks_imdb/imbd-movies-soundtracks-movielens-small.csv"
    raw = _load(path, ["movieId", "id", "Director(s)", "Actors"])
    return pd.DataFrame({
        "imdb_id": _imdb(raw["id"]),
        "cast": raw["Actors"].map(parse_quoted_list),
        "directors": raw["Director(s)"].map(parse_quoted_list),
    })


# (name, loader) in priority order for filling fields.
SOURCES: list[tuple[str, Callable[[Path], pd.DataFrame]]] = [
    ("tmdb_v11", tmdb_v11),
    ("movies_dataset", movies_dataset),
    ("tmdb_5000", tmdb_5000),
    ("tmdb_udacity", tmdb_udacity),
    ("tmdb_top10k", tmdb_top10k),
    ("imdb_5000", imdb_5000),
    ("soundtracks_imdb", soundtrack_credits),
]

"""Build the catalog: one row per ml-latest-small movie, filled from every metadata source.

Rows of each source are matched to a MovieLens movieId by TMDB id, then IMDb id (both from
links.csv), then by normalised title + year when that pair is unique on both sides. For
each field the first source (in `metadata.SOURCES` order) with a value wins, and the
`sources` column records which one that was.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..search import title_key
from . import metadata, movielens
from .titles import parse_ml_title

log = logging.getLogger("moviebot.catalog")

TEXT_FIELDS = ["overview", "tagline", "original_language", "poster_path", "collection"]
LIST_FIELDS = ["keywords", "cast", "directors", "tmdb_genres", "countries"]
NUMBER_FIELDS = ["runtime", "popularity", "vote_average", "vote_count", "budget", "revenue"]
FIELDS = TEXT_FIELDS + LIST_FIELDS + NUMBER_FIELDS


def _is_empty(series: pd.Series, field: str) -> pd.Series:
    if field in LIST_FIELDS:
        return series.map(lambda v: not isinstance(v, list) or len(v) == 0)
    if field in TEXT_FIELDS:
        return series.fillna("").astype(str).str.len() == 0
    return series.isna()


def _base(data_dir: Path) -> pd.DataFrame:
    movies = movielens.movies(data_dir)
    parsed = movies["title"].map(parse_ml_title)
    base = pd.DataFrame({
        "movie_id": movies["movieId"].astype(int),
        "title": parsed.map(lambda p: p[0]),
        "akas": parsed.map(lambda p: p[1]),
        "ml_title": movies["title"].str.strip(),
        "year": pd.array(parsed.map(lambda p: p[2]).tolist(), dtype="Int64"),
        "genres": movies["genres"],
    })
    base = base.merge(movielens.links(data_dir).rename(columns={"movieId": "movie_id"}),
                      on="movie_id", how="left")
    base["imdb_id"] = base["imdb_id"].fillna("")
    for field in TEXT_FIELDS:
        base[field] = ""
    for field in LIST_FIELDS:
        base[field] = [[] for _ in range(len(base))]
    for field in NUMBER_FIELDS:
        base[field] = np.nan
    return base.set_index("movie_id", drop=False)


def _title_year_keys(frame: pd.DataFrame) -> pd.Series:
    return frame["title"].fillna("").map(title_key) + "|" + frame["year"].astype("string").fillna("")


def match_to_movies(source: pd.DataFrame, base: pd.DataFrame) -> pd.Series:
    """movie_id for each source row (NaN where none): tmdb id, imdb id, then title+year."""
    matched = pd.Series(np.nan, index=source.index)
    if "tmdb_id" in source:
        by_tmdb = base.dropna(subset=["tmdb_id"]).drop_duplicates("tmdb_id").set_index("tmdb_id")["movie_id"]
        matched = matched.fillna(source["tmdb_id"].map(by_tmdb).astype(float))
    if "imdb_id" in source:
        by_imdb = base[base["imdb_id"] != ""].drop_duplicates("imdb_id").set_index("imdb_id")["movie_id"]
        matched = matched.fillna(source["imdb_id"].map(by_imdb).astype(float))
    if "title" in source and "year" in source:
        base_keys = _title_year_keys(base)
        unique_base = base_keys[~base_keys.duplicated(keep=False)]
        by_key = pd.Series(unique_base.index, index=unique_base.values)
        src_keys = _title_year_keys(source)
        src_unique = ~src_keys.duplicated(keep=False) & source["year"].notna()
        taken = set(matched.dropna().astype(int))
        fallback = src_keys.map(by_key).where(src_unique & matched.isna())
        fallback = fallback.where(~fallback.isin(taken))
        matched = matched.fillna(fallback.astype(float))
    return matched


def build_catalog(data_dir: Path, ratings: pd.DataFrame | None = None) -> pd.DataFrame:
    data_dir = Path(data_dir)
    base = _base(data_dir)
    origin = {field: pd.Series("", index=base.index) for field in FIELDS}
    for name, loader in metadata.SOURCES:
        try:
            source = loader(data_dir)
        except DataError as exc:  # optional sources: build with what is there
            log.warning("skipping %s: %s", name, exc)
            continue
        source = source.assign(movie_id=match_to_movies(source, base))
        source = source.dropna(subset=["movie_id"]).drop_duplicates("movie_id")
        source = source.set_index(source["movie_id"].astype(int))
        log.info("%s: %d rows matched", name, len(source))
        for field in FIELDS:
            if field not in source:
                continue
            values = source[field].reindex(base.index)
            fill = _is_empty(base[field], field) & ~_is_empty(values, field) & values.index.isin(source.index)
            if fill.any():
                base.loc[fill, field] = values[fill]
                origin[field][fill] = name
        if "year" in source:  # MovieLens titles without "(year)", e.g. "Ready Player One"
            values = pd.to_numeric(source["year"].reindex(base.index), errors="coerce")
            gap = base["year"].isna() & values.notna()
            if gap.any():
                base.loc[gap, "year"] = values[gap].astype("Int64")
                origin.setdefault("year", pd.Series("", index=base.index))[gap] = name
        for key in ("imdb_id",):
            if key in source:  # ids learnt from sources fill gaps in links.csv
                gap = (base[key] == "") & base.index.isin(source.index)
                base.loc[gap, key] = source[key].reindex(base.index)[gap].fillna("")

    try:
        trailers = movielens.youtube_trailers(data_dir).set_index("movieId")["youtubeId"]
        base["youtube_id"] = trailers.reindex(base.index).fillna("")
    except DataError as exc:
        log.warning("no trailers: %s", exc)
        base["youtube_id"] = ""
    origin["youtube_id"] = pd.Series(np.where(base["youtube_id"] != "", "ml_youtube", ""), index=base.index)

    if ratings is None:
        ratings = movielens.small_ratings(data_dir)
    stats = ratings.groupby("movieId")["rating"].agg(["count", "mean"])
    base["rating_count"] = stats["count"].reindex(base.index).fillna(0).astype(int)
    base["rating_mean"] = stats["mean"].reindex(base.index).astype(float)

    base["sources"] = [json.dumps({f: origin[f][i] for f in origin if origin[f][i]}, sort_keys=True)
                       for i in base.index]
    for field in NUMBER_FIELDS:
        base[field] = pd.to_numeric(base[field], errors="coerce").astype(float)
    for field in LIST_FIELDS:
        base[field] = base[field].map(lambda v: list(v) if isinstance(v, list) else [])
    base["tmdb_id"] = base["tmdb_id"].astype("Int64")
    return base.reset_index(drop=True)


def coverage(catalog: pd.DataFrame) -> dict[str, float]:
    """Share of movies with each field filled (0..1)."""
    out = {}
    for field in [*FIELDS, "youtube_id", "year", "genres"]:
        if field == "year":
            filled = catalog["year"].notna()
        elif field == "genres":
            filled = ~_is_empty(catalog[field], "keywords")
        elif field == "youtube_id":
            filled = catalog[field] != ""
        else:
            filled = ~_is_empty(catalog[field], field)
        out[field] = round(float(filled.mean()), 4)
    return out


def build_stage(ctx) -> dict:
    ratings = movielens.ratings(ctx.ratings_path) if ctx.ratings_path else None
    catalog = build_catalog(ctx.data_dir, ratings)
    catalog.to_parquet(ctx.out_dir / "catalog.parquet", index=False)
    ctx.tables["catalog"] = catalog
    cov = coverage(catalog)
    return {"files": ["catalog.parquet"],
            "metrics": {"movies": len(catalog), "coverage": cov}}

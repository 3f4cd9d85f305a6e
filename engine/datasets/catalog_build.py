"""Build the catalog: one row per ml-latest-small movie, filled from every metadata source.

Rows of each source are matched to a MovieLens movieId by TMDB id, then IMDb id (both from
links.csv), then by normalised title + year when that pair is unique on both sides. For
each field the first source (in `metadata.SOURCES` order) with a value wins, and the
`sources` column records which one that was.

With ``hygiene`` (the default) the text is cleaned on the way in (`hygiene`): mojibake
repaired and Unicode normalised in every source, one spelling per person, cast and
directors merged across sources, genres from a closed vocabulary, production tags out
of the keywords. ``hygiene=False`` is the catalog as it was before, for the before/after
counts of `moviebot data report`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..search import title_key
from . import hygiene as hy
from . import metadata, movielens
from .titles import parse_ml_title

log = logging.getLogger("moviebot.catalog")

TEXT_FIELDS = ["overview", "tagline", "original_language", "poster_path", "collection"]
LIST_FIELDS = ["keywords", "cast", "directors", "tmdb_genres", "countries"]
NUMBER_FIELDS = ["runtime", "popularity", "vote_average", "vote_count", "budget", "revenue"]
FIELDS = TEXT_FIELDS + LIST_FIELDS + NUMBER_FIELDS
# People lists are merged across sources (first source's billing order first), this long.
PEOPLE_LIMITS = {"cast": 8, "directors": 4}
# Whose order is billing order: TMDB's cast export and OMDb (the soundtrack file) list
# top billing first; IMDB 5000 lists its three actors by Facebook likes, so it goes last
# ("Some Like It Hot" starts with Marilyn Monroe, not Nehemiah Persoff).
# A synopsis's "Character (Actor)" (`hy.overview_cast`) names a lead, so it ranks before
# IMDB 5000's likes-ordered three: the only way Amélie's card gets Audrey Tautou, whom no
# cast list in the data names.
OVERVIEW_CAST = "overviews"
BILLING_ORDER = ["tmdb_udacity", "soundtracks_imdb", OVERVIEW_CAST, "imdb_5000"]
CATALOG_INFO = "catalog.json"


def _is_empty(series: pd.Series, field: str) -> pd.Series:
    if field in LIST_FIELDS:
        return series.map(lambda v: not isinstance(v, list) or len(v) == 0)
    if field in TEXT_FIELDS:
        return series.fillna("").astype(str).str.len() == 0
    return series.isna()


def _base(data_dir: Path, full_titles: bool = True) -> pd.DataFrame:
    movies = movielens.movies(data_dir)
    parsed = movies["title"].map(lambda t: parse_ml_title(t, full=full_titles))
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


def _clean_source(source: pd.DataFrame, letters) -> pd.DataFrame:
    """Mojibake repaired and Unicode normalised in every text and list column."""
    source = source.copy()
    for field in ("title", "overview", "tagline"):
        if field in source:
            source[field] = source[field].map(lambda v: " ".join(hy.fix_text(v, letters).split())
                                              if isinstance(v, str) else v)
    for field in LIST_FIELDS:
        if field in source:
            source[field] = source[field].map(
                lambda v: hy.fix_list(v, letters) if isinstance(v, list) else v)
    return source


def _load_sources(data_dir: Path) -> list[tuple[str, pd.DataFrame]]:
    loaded = []
    for name, loader in metadata.SOURCES:
        try:
            loaded.append((name, loader(data_dir)))
        except DataError as exc:  # optional sources: build with what is there
            log.warning("skipping %s: %s", name, exc)
    return loaded


def _clean_text_letters(sources: list[tuple[str, pd.DataFrame]]):
    """Letters of the sources' clean names and titles: the prior for lost bytes."""
    texts = []
    for _, source in sources:
        for field in ("title", "cast", "directors", "tagline"):
            if field in source:
                for value in source[field]:
                    texts.extend(value if isinstance(value, list) else [value])
    return hy.letter_counts(texts)


def build_catalog(data_dir: Path, ratings: pd.DataFrame | None = None,
                  hygiene: bool = True) -> pd.DataFrame:
    data_dir = Path(data_dir)
    base = _base(data_dir, full_titles=hygiene)
    origin = {field: pd.Series("", index=base.index) for field in FIELDS}
    sources = _load_sources(data_dir)
    letters = _clean_text_letters(sources) if hygiene else None
    people: dict[str, dict[int, list]] = {f: {} for f in PEOPLE_LIMITS}
    overviews: dict[int, list[str]] = {}   # every source's synopsis, for `hy.overview_cast`
    for name, source in sources:
        source = source.assign(movie_id=match_to_movies(source, base))
        source = source.dropna(subset=["movie_id"]).drop_duplicates("movie_id")
        source = source.set_index(source["movie_id"].astype(int))
        if hygiene:
            source = _clean_source(source, letters)
            for field, lists in people.items():
                for movie_id, names in source.get(field, pd.Series(dtype=object)).items():
                    if isinstance(names, list) and names:
                        lists.setdefault(movie_id, []).append((_billing_rank(name), names))
            for movie_id, text in source.get("overview", pd.Series(dtype=object)).items():
                if isinstance(text, str) and "(" in text:
                    overviews.setdefault(movie_id, []).append(text)
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

    if hygiene:
        _add_overview_cast(people["cast"], overviews)
        _tidy(base, people)
    base["sources"] = [json.dumps({f: origin[f][i] for f in origin if origin[f][i]}, sort_keys=True)
                       for i in base.index]
    for field in NUMBER_FIELDS:
        base[field] = pd.to_numeric(base[field], errors="coerce").astype(float)
    for field in LIST_FIELDS:
        base[field] = base[field].map(lambda v: list(v) if isinstance(v, list) else [])
    base["tmdb_id"] = base["tmdb_id"].astype("Int64")
    return base.reset_index(drop=True)


def _billing_rank(source: str) -> int:
    return BILLING_ORDER.index(source) if source in BILLING_ORDER else len(BILLING_ORDER)


def _add_overview_cast(cast: dict[int, list], overviews: dict[int, list[str]]) -> None:
    """Actors the synopses credit ("Amélie (Audrey Tautou)"), as one more cast list per
    film; only names some source credits as an actor somewhere count."""
    known = {hy.person_key(n) for lists in cast.values() for _, names in lists for n in names}
    rank = _billing_rank(OVERVIEW_CAST)
    for movie_id, texts in overviews.items():
        names = list(dict.fromkeys(n for text in texts for n in hy.overview_cast(text, known)))
        if names:
            cast.setdefault(movie_id, []).append((rank, names))


def _tidy(base: pd.DataFrame, people: dict[str, dict[int, list]]) -> None:
    """People merged and spelled one way; genres and keywords from what they should be."""
    for field, limit in PEOPLE_LIMITS.items():
        merged = {m: hy.merge_people([names for _, names in sorted(lists, key=lambda rn: rn[0])], limit)
                  for m, lists in people[field].items()}
        base[field] = [merged.get(m, []) or list(v) for m, v in zip(base.index, base[field], strict=True)]
    # Every spelling any source uses votes, so a name seen on one film only is still
    # mapped to the spelling the other films use ("Kieslowski" on White -> "Kieślowski").
    votes = [n for field in PEOPLE_LIMITS for lists in people[field].values()
             for _, names in lists for n in names]
    spelling = hy.canonical_people(votes)
    for field in PEOPLE_LIMITS:
        base[field] = base[field].map(lambda names: list(dict.fromkeys(spelling.get(n, n) for n in names)))
    base["title"] = base["title"].map(hy.fix_text)
    base["akas"] = base["akas"].map(hy.fix_list)
    base["genres"] = base["genres"].map(lambda g: hy.clean_genres(g, hy.ML_GENRES))
    base["tmdb_genres"] = base["tmdb_genres"].map(
        lambda g: hy.clean_genres(g, hy.TMDB_GENRES) if isinstance(g, list) else [])
    base["keywords"] = base["keywords"].map(
        lambda k: hy.clean_keywords(k) if isinstance(k, list) else [])


def date_range(catalog: pd.DataFrame, ratings: pd.DataFrame | None) -> dict:
    """What the catalog covers: first and last release year, and the snapshot date (the
    last rating in the MovieLens release: nothing released after it can be in it)."""
    years = catalog["year"].dropna()
    out = {"first_year": int(years.min()) if len(years) else None,
           "last_year": int(years.max()) if len(years) else None, "last_date": None}
    if ratings is not None and "timestamp" in ratings and len(ratings):
        last = pd.to_datetime(int(ratings["timestamp"].max()), unit="s", utc=True)
        out["last_date"] = last.date().isoformat()
    return out


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


def tmdb_additions(previous_dir: Path | None, built: pd.DataFrame) -> pd.DataFrame:
    """The films catalog updates added to the version being replaced (movie_id from
    TMDB_ID_BASE on), except those the raw data now has itself (same TMDB or IMDb id):
    a rebuild must not drop films the bots were serving."""
    path = Path(previous_dir) / "catalog.parquet" if previous_dir else None
    if path is None or not path.exists() or not (path.parent / CATALOG_INFO).exists():
        return built.iloc[0:0]
    from ..catalog import TMDB_ID_BASE

    previous = pd.read_parquet(path)
    added = previous[previous["movie_id"] >= TMDB_ID_BASE]
    known_tmdb = set(built["tmdb_id"].dropna().astype(int))
    known_imdb = set(built["imdb_id"]) - {""}
    added = added[~added["tmdb_id"].isin(known_tmdb) & ~added["imdb_id"].isin(known_imdb)]
    added = added.reindex(columns=built.columns)
    for column in built.columns:
        added[column] = added[column].astype(built[column].dtype)
    return added.reset_index(drop=True)


def build_stage(ctx) -> dict:
    ratings = movielens.ratings(ctx.ratings_path) if ctx.ratings_path else None
    if ratings is None:
        ratings = movielens.small_ratings(ctx.data_dir)
    catalog = build_catalog(ctx.data_dir, ratings)
    added = tmdb_additions(ctx.previous_dir, catalog)
    if len(added):
        catalog = pd.concat([catalog, added], ignore_index=True)
        log.info("catalog: %d films added by catalog updates kept", len(added))
    catalog.to_parquet(ctx.out_dir / "catalog.parquet", index=False)
    span = date_range(catalog, ratings)
    if len(added):
        # the range the updates reached, and when (engine/catalog.py's coverage sentence)
        before = json.loads((ctx.previous_dir / CATALOG_INFO).read_text())
        span["last_date"] = max(d for d in (span["last_date"], before.get("last_date")) if d)
        span["updated"] = before.get("updated")
    # Beside the table, so the serving catalog can say what it covers ("runs to
    # September 2018") without reading the manifest.
    (ctx.out_dir / CATALOG_INFO).write_text(json.dumps(span, indent=1) + "\n")
    ctx.tables["catalog"] = catalog
    cov = coverage(catalog)
    return {"files": ["catalog.parquet", CATALOG_INFO],
            "metrics": {"movies": len(catalog), "coverage": cov, "date_range": span,
                        "hygiene": hy.audit(catalog)}}

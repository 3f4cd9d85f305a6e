"""Loaders for the MovieLens files (ml-latest-small, ml-100k, ml-20m-youtube)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import DataError

SMALL = Path("movielens/ml-latest-small")
ML100K = Path("movielens/ml-100k")
YOUTUBE = Path("movielens/ml-20m-youtube/ml-youtube.csv")


def _read(path: Path, columns: list[str], **kwargs) -> pd.DataFrame:
    if not path.exists():
        raise DataError(str(path), "file not found")
    try:
        frame = pd.read_csv(path, **kwargs)
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(str(path), f"cannot be parsed ({exc})",
                        "re-download it with `moviebot data fetch`") from None
    frame.columns = [str(c).strip().lstrip("\ufeff") for c in frame.columns]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(str(path), f"missing column(s) {', '.join(missing)}",
                        "check that this is the right file; `moviebot data check` lists problems")
    return frame


def movies(data_dir: Path) -> pd.DataFrame:
    frame = _read(data_dir / SMALL / "movies.csv", ["movieId", "title", "genres"])
    frame["genres"] = frame["genres"].fillna("").map(
        lambda g: [] if g in ("", "(no genres listed)") else g.split("|"))
    return frame


def links(data_dir: Path) -> pd.DataFrame:
    frame = _read(data_dir / SMALL / "links.csv", ["movieId", "imdbId", "tmdbId"],
                  dtype={"imdbId": str})
    frame["imdb_id"] = frame["imdbId"].map(lambda s: f"tt{int(s):07d}" if pd.notna(s) else "")
    frame["tmdb_id"] = frame["tmdbId"].astype("Int64")
    return frame[["movieId", "imdb_id", "tmdb_id"]]


def ratings(path: Path) -> pd.DataFrame:
    """Any MovieLens-format ratings.csv (userId,movieId,rating,timestamp)."""
    return _read(path, ["userId", "movieId", "rating"],
                 dtype={"userId": "int64", "movieId": "int64", "rating": "float32"})


def small_ratings(data_dir: Path) -> pd.DataFrame:
    return ratings(data_dir / SMALL / "ratings.csv")


def youtube_trailers(data_dir: Path) -> pd.DataFrame:
    """One trailer id per movieId (the first listed)."""
    frame = _read(data_dir / YOUTUBE, ["youtubeId", "movieId"])
    return frame.drop_duplicates("movieId")[["movieId", "youtubeId"]]


def ml100k_ratings(data_dir: Path) -> pd.DataFrame:
    path = data_dir / ML100K / "u.data"
    if not path.exists():
        raise DataError(str(path), "file not found")
    return pd.read_csv(path, sep="\t", names=["userId", "movieId", "rating", "timestamp"])


def ml100k_items(data_dir: Path) -> pd.DataFrame:
    path = data_dir / ML100K / "u.item"
    if not path.exists():
        raise DataError(str(path), "file not found")
    genres = [line.split("|")[0] for line in
              (data_dir / ML100K / "u.genre").read_text(encoding="latin-1").splitlines() if line]
    names = ["movieId", "title", "release_date", "video_date", "imdb_url"] + genres
    frame = pd.read_csv(path, sep="|", names=names, encoding="latin-1")
    flags = frame[genres].to_numpy().astype(bool)
    frame["genres"] = [[g for g, on in zip(genres, row, strict=True) if on and g != "unknown"]
                       for row in flags]
    return frame[["movieId", "title", "release_date", "imdb_url", "genres"]]

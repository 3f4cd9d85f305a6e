"""The song table: every Spotify track once, from all the Spotify sets present.

The sets list a track once per playlist it was found in, so one track_id can have several
rows with different playlist genres; the table keeps one row per track with the genres and
subgenres as lists, the highest popularity seen, and the year of the album release.
Columns follow docs/ARCHITECTURE.md ("Songs table").
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from engine.build_context import BuildContext, StageResult

from .csvio import read_dataset_file, years_from_dates
from .manifest import Manifest, load_manifest

FEATURES = ["danceability", "energy", "key", "loudness", "mode", "speechiness", "acousticness",
            "instrumentalness", "liveness", "valence", "tempo", "duration_ms"]
COLUMNS = ["track_id", "name", "artist", "album", "year", "popularity", "genres", "subgenres",
           *FEATURES, "source"]

# (source name, manifest path). Order matters: for text fields the first source wins.
TIDYTUESDAY = "spotify/tidytuesday_2020-01-21_spotify_songs/spotify_songs.csv"
SPOTIFY_2024 = ["spotify/spotify_music_dataset_2024/high_popularity_spotify_data.csv",
                "spotify/spotify_music_dataset_2024/low_popularity_spotify_data.csv"]
HF_TRACKS = "spotify/hf_spotify_tracks/dataset.csv"

# The TidyTuesday and 2024 sets share these column names.
_PLAYLIST_STYLE = {"track_id": "track_id", "track_name": "name", "track_artist": "artist",
                   "track_album_name": "album", "track_album_release_date": "release_date",
                   "track_popularity": "popularity", "playlist_genre": "genre",
                   "playlist_subgenre": "subgenre"}
_HF_STYLE = {"track_id": "track_id", "track_name": "name", "artists": "artist",
             "album_name": "album", "popularity": "popularity", "track_genre": "genre"}


def _read(data_dir: Path, rel: str, renames: dict[str, str], source: str,
          manifest: Manifest, **kwargs) -> pd.DataFrame:
    df = read_dataset_file(data_dir, rel, usecols=[*renames, *FEATURES], manifest=manifest,
                           **kwargs)
    df = df.rename(columns=renames)
    df["source"] = source
    return df


def load_rows(data_dir: str | Path, manifest: Manifest | None = None) -> pd.DataFrame:
    """All rows of all Spotify sets present, renamed to common columns (one row per listing)."""
    data_dir = Path(data_dir)
    manifest = manifest or load_manifest()
    # TidyTuesday was written by R: "NA" there means missing, not a song called NA.
    frames = [_read(data_dir, TIDYTUESDAY, _PLAYLIST_STYLE, "tidytuesday_2020", manifest,
                    na_values=["", "NA"])]
    for rel in SPOTIFY_2024:
        if (data_dir / rel).is_file():
            frames.append(_read(data_dir, rel, _PLAYLIST_STYLE, "spotify_2024", manifest))
    if (data_dir / HF_TRACKS).is_file():
        hf = _read(data_dir, HF_TRACKS, _HF_STYLE, "hf_spotify_tracks", manifest)
        hf["artist"] = hf["artist"].astype("string").str.replace(";", ", ", regex=False)
        frames.append(hf)
    rows = pd.concat(frames, ignore_index=True)
    rows["track_id"] = rows["track_id"].astype("string").str.strip()
    rows = rows[rows["track_id"].notna() & (rows["track_id"] != "")]
    for col in ("name", "artist", "album", "genre", "subgenre"):
        if col not in rows:
            rows[col] = pd.NA
        rows[col] = rows[col].astype("string").str.strip()
    rows["genre"] = rows["genre"].str.lower()
    rows["subgenre"] = rows["subgenre"].str.lower()
    rows["year"] = (years_from_dates(rows["release_date"]) if "release_date" in rows
                    else pd.Series(pd.NA, index=rows.index, dtype="Int64"))
    for col in ["popularity", *FEATURES]:
        rows[col] = pd.to_numeric(rows[col], errors="coerce").astype(float)
    return rows


def _lists(keys: pd.Series, values: pd.Series) -> dict[str, list[str]]:
    """key -> its distinct non-empty values in order of appearance.

    A plain loop: a pandas groupby with a Python function is ~100x slower here.
    """
    out: dict[str, list[str]] = {}
    for key, value in zip(keys.to_numpy(object), values.to_numpy(object), strict=True):
        seen = out.setdefault(key, [])
        if isinstance(value, str) and value and value not in seen:
            seen.append(value)
    return out


def build_songs(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per track_id: first non-missing text/feature, max popularity, genre lists."""
    named = rows[rows["name"].notna() & (rows["name"] != "")]
    grouped = named.groupby("track_id", sort=False)
    firsts = grouped[["name", "artist", "album", "year", *FEATURES]].first()
    songs = firsts.join(grouped["popularity"].max())
    ids = named["track_id"]
    for col, values in (("genres", named["genre"]), ("subgenres", named["subgenre"])):
        lists = _lists(ids, values)
        songs[col] = pd.Series([lists[t] for t in songs.index], index=songs.index, dtype=object)
    sources = _lists(ids, named["source"])
    songs["source"] = ["+".join(sources[t]) for t in songs.index]
    songs = songs.reset_index()
    songs["track_id"] = songs["track_id"].astype(str)
    for col in ("name", "artist", "album"):
        songs[col] = songs[col].fillna("").astype(str)
    songs["year"] = songs["year"].astype("Int64")
    return songs[COLUMNS]


def load_songs(data_dir: str | Path, manifest: Manifest | None = None) -> pd.DataFrame:
    return build_songs(load_rows(data_dir, manifest))


def build_stage(ctx: BuildContext) -> StageResult:
    rows = load_rows(ctx.data_dir)
    songs = build_songs(rows)
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    songs.to_parquet(ctx.out_dir / "songs.parquet", index=False)
    ctx.tables["songs"] = songs
    per_source = rows.groupby("source")["track_id"].nunique().to_dict()
    metrics = {
        "songs": len(songs),
        "rows_read": len(rows),
        "nameless_dropped": int(rows["track_id"].nunique() - len(songs)),
        "with_year": int(songs["year"].notna().sum()),
        "genres": len({g for gs in songs["genres"] for g in gs}),
        **{f"tracks_{name}": int(n) for name, n in per_source.items()},
    }
    return {"files": ["songs.parquet"], "metrics": metrics,
            "params": {"sources": sorted(per_source)}}

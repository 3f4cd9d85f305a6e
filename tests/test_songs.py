"""The song table built from the real Spotify sets, checked against the raw files read
independently with the csv module."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest

from engine.build_context import BuildContext
from engine.config import Settings
from engine.datasets import songs as songs_mod
from engine.datasets.manifest import load_manifest

DATA = Path(Settings.from_env().data_dir)
SPOTIFY_FILES = [songs_mod.TIDYTUESDAY, *songs_mod.SPOTIFY_2024]


def raw_rows() -> list[dict]:
    rows = []
    for rel in SPOTIFY_FILES:
        with (DATA / rel).open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                row["file"] = rel
                rows.append(row)
    return rows


def named(row: dict) -> bool:
    # TidyTuesday writes R's NA for the 5 rows whose track name is unknown
    missing = {"", "NA"} if row["file"] == songs_mod.TIDYTUESDAY else {""}
    return row["track_name"] not in missing


@pytest.fixture(scope="module")
def raw() -> list[dict]:
    return raw_rows()


@pytest.fixture(scope="module")
def songs() -> pd.DataFrame:
    return songs_mod.load_songs(DATA)


def test_one_row_per_unique_track_id(raw, songs):
    expected = {row["track_id"] for row in raw if named(row)}
    assert songs["track_id"].is_unique
    assert set(songs["track_id"]) == expected
    assert len(songs) == len(expected)
    tidy = {row["track_id"] for row in raw if row["file"] == songs_mod.TIDYTUESDAY}
    assert len(tidy) == 28_356  # SOURCES.md
    assert len(songs) > len(tidy)  # the 2024 sets add tracks


def test_columns_follow_the_contract(songs):
    assert list(songs.columns) == songs_mod.COLUMNS
    assert str(songs["year"].dtype) == "Int64"
    for col in ["popularity", *songs_mod.FEATURES]:
        assert songs[col].dtype == float, col
    assert all(isinstance(g, list) for g in songs["genres"])
    assert songs["name"].str.len().min() > 0


def test_genres_and_subgenres_kept_from_every_playlist(raw, songs):
    genres, subgenres, popularity = defaultdict(set), defaultdict(set), defaultdict(float)
    for row in raw:
        genres[row["track_id"]].add(row["playlist_genre"].strip().lower())
        subgenres[row["track_id"]].add(row["playlist_subgenre"].strip().lower())
        popularity[row["track_id"]] = max(popularity[row["track_id"]],
                                          float(row["track_popularity"]))
    multi = [t for t, g in genres.items() if len(g) > 1]
    assert len(multi) > 1000
    table = songs.set_index("track_id")
    for track in multi[:300] + list(table.index[:300]):
        assert set(table.at[track, "genres"]) == genres[track], track
        assert set(table.at[track, "subgenres"]) == subgenres[track] - {""}, track
        assert table.at[track, "popularity"] == popularity[track], track
    # genre vocabularies of both sets survive
    all_genres = {g for gs in songs["genres"] for g in gs}
    assert {"edm", "rap", "r&b", "latin", "rock", "pop"} <= all_genres     # TidyTuesday
    assert {"hip-hop", "electronic", "gaming", "jazz", "classical"} <= all_genres  # 2024


def test_year_from_year_month_and_full_dates(raw, songs):
    table = songs.set_index("track_id")
    seen = set()
    for row in raw:
        date = row["track_album_release_date"]
        kind = {4: "year", 7: "year-month", 10: "date"}.get(len(date))
        if kind and kind not in seen and named(row):
            assert table.at[row["track_id"], "year"] == int(date[:4]), (row["track_id"], date)
            seen.add(kind)
    assert seen == {"year", "year-month", "date"}
    assert songs["year"].notna().mean() > 0.99
    assert songs["year"].min() >= 1900 and songs["year"].max() <= 2025


def test_tracks_in_both_sets_merge_sources(raw, songs):
    in_tidy = {r["track_id"] for r in raw if r["file"] == songs_mod.TIDYTUESDAY}
    in_2024 = {r["track_id"] for r in raw if r["file"] != songs_mod.TIDYTUESDAY}
    both = songs[songs["track_id"].isin(in_tidy & in_2024)]
    assert len(both) == len(in_tidy & in_2024) > 0
    assert (both["source"] == "tidytuesday_2020+spotify_2024").all()


def test_build_stage_writes_parquet(tmp_path, songs):
    ctx = BuildContext(data_dir=DATA, out_dir=tmp_path / "v1", progress=False)
    result = songs_mod.build_stage(ctx)
    assert result["files"] == ["songs.parquet"]
    assert result["metrics"]["songs"] == len(songs)
    assert result["metrics"]["nameless_dropped"] == 4
    stored = pd.read_parquet(tmp_path / "v1" / "songs.parquet")
    assert len(stored) == len(songs)
    assert list(stored.columns) == songs_mod.COLUMNS
    assert ctx.tables["songs"] is not None and len(ctx.tables["songs"]) == len(songs)


def test_user_supplied_hugging_face_file_is_merged(tmp_path, songs):
    """The HF spotify-tracks CSV is not in shared/data; a user may add it. Two tiny rows in
    its exact layout (unnamed index column, ';'-separated artists, one row per genre)."""
    data = tmp_path / "data"
    for entry in load_manifest().files():
        if entry.path.startswith("spotify/") and (DATA / entry.path).is_file():
            (data / entry.path).parent.mkdir(parents=True, exist_ok=True)
            (data / entry.path).symlink_to(DATA / entry.path)
    known = songs.iloc[0]
    header = (",track_id,artists,album_name,track_name,popularity,duration_ms,explicit,"
              "danceability,energy,key,loudness,mode,speechiness,acousticness,"
              "instrumentalness,liveness,valence,tempo,time_signature,track_genre\n")
    rows = [
        "0,5SuOikwiRyPMVoIQDJUgSV,Gen Hoshino,Comedy,Comedy,73,230666,False,0.676,0.461,1,"
        "-6.746,0,0.143,0.0322,1.01e-06,0.358,0.715,87.917,4,acoustic\n",
        "1,5SuOikwiRyPMVoIQDJUgSV,Gen Hoshino,Comedy,Comedy,73,230666,False,0.676,0.461,1,"
        "-6.746,0,0.143,0.0322,1.01e-06,0.358,0.715,87.917,4,j-pop\n",
        f"2,{known.track_id},Someone;Another,X,{known['name']},100,1000,False,0.5,0.5,1,"
        "-5,1,0.1,0.1,0,0.1,0.5,120,4,chill\n",
    ]
    hf = data / songs_mod.HF_TRACKS
    hf.parent.mkdir(parents=True)
    hf.write_text(header + "".join(rows), encoding="utf-8")
    merged = songs_mod.load_songs(data).set_index("track_id")
    assert len(merged) == len(songs) + 1
    new = merged.loc["5SuOikwiRyPMVoIQDJUgSV"]
    assert new["genres"] == ["acoustic", "j-pop"]
    assert new["source"] == "hf_spotify_tracks"
    assert pd.isna(new["year"])
    old = merged.loc[known.track_id]
    assert old["genres"][-1] == "chill" and old["popularity"] == 100
    assert old["artist"] == known.artist  # the first source's text wins

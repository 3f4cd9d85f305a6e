"""The catalog join on the real files in ../shared/data."""

from __future__ import annotations

import json

import pandas as pd

from engine.datasets import metadata
from engine.datasets.catalog_build import coverage
from engine.datasets.csvio import parse_quoted_list
from engine.datasets.titles import parse_ml_title


def test_one_row_per_movielens_movie(catalog_frame, data_dir):
    movies = pd.read_csv(data_dir / "movielens/ml-latest-small/movies.csv")
    assert len(catalog_frame) == len(movies) == 9742
    assert catalog_frame["movie_id"].is_unique
    assert set(catalog_frame["movie_id"]) == set(movies["movieId"])


def test_coverage_meets_the_sources(catalog_frame):
    cov = coverage(catalog_frame)
    assert cov["overview"] >= 0.85          # SOURCES.md: 8,315 of 9,742 by id
    assert cov["youtube_id"] >= 0.88        # 8,678 trailers
    assert cov["poster_path"] >= 0.50
    assert cov["cast"] >= 0.70 and cov["directors"] >= 0.70
    assert cov["keywords"] >= 0.65


def test_toy_story_row_is_complete_and_sourced(catalog_frame):
    row = catalog_frame.set_index("movie_id").loc[1]
    assert row["title"] == "Toy Story" and row["year"] == 1995
    assert "Animation" in row["genres"]
    assert "Woody" in row["overview"]
    assert row["directors"] == ["John Lasseter"]
    assert "Tom Hanks" in row["cast"]
    assert row["youtube_id"] == "K26_sDKnvMU"
    assert row["imdb_id"] == "tt0114709" and row["tmdb_id"] == 862
    assert row["poster_path"].startswith("/") and row["poster_path"].endswith(".jpg")
    sources = json.loads(row["sources"])
    assert sources["youtube_id"] == "ml_youtube"
    assert sources["overview"] in {name for name, _ in metadata.SOURCES}
    assert row["rating_count"] == 215


def test_a_title_without_year_gets_the_release_year_from_tmdb(catalog_frame):
    # ml-latest-small lists "Ready Player One" (movieId 140956) with no "(2018)"
    row = catalog_frame[catalog_frame["title"] == "Ready Player One"].iloc[0]
    assert row["year"] == 2018
    assert json.loads(row["sources"])["year"] in {name for name, _ in metadata.SOURCES}
    # and a year MovieLens gives is never replaced
    assert catalog_frame.set_index("movie_id").loc[1, "year"] == 1995


def test_movielens_title_quirks():
    assert parse_ml_title("Matrix, The (1999)") == ("The Matrix", [], 1999)
    assert parse_ml_title("Seven (a.k.a. Se7en) (1995)") == ("Seven", ["Se7en"], 1995)
    assert parse_ml_title("City of Lost Children, The (Cité des enfants perdus, La) (1995)") == (
        "The City of Lost Children", ["La Cité des enfants perdus"], 1995)
    assert parse_ml_title("Babylon 5") == ("Babylon 5", [], None)
    assert parse_ml_title("Death Note: Desu nôto (2006–2007)")[2] == 2006


def test_no_genres_listed_becomes_empty(catalog_frame):
    assert not any("(no genres listed)" in g for g in catalog_frame["genres"])
    assert (catalog_frame["genres"].map(len) == 0).sum() > 0


def test_truncated_last_record_of_tmdb_v11_is_tolerated(data_dir):
    frame = metadata.tmdb_v11(data_dir)
    assert len(frame) == 2631
    inception = frame[frame["title"] == "Inception"].iloc[0]
    assert "dream" in inception["keywords"] and inception["imdb_id"] == "tt1375666"


def test_movies_dataset_python_repr_genres(data_dir):
    frame = metadata.movies_dataset(data_dir)
    toy = frame[frame["tmdb_id"] == 862].iloc[0]
    assert toy["tmdb_genres"] == ["Animation", "Comedy", "Family"]


def test_imdb_5000_titles_lose_the_trailing_nbsp(data_dir):
    frame = metadata.imdb_5000(data_dir)
    assert not frame["title"].str.endswith("\u00a0").any()
    assert frame["imdb_id"].is_unique


def test_soundtrack_list_with_apostrophes():
    value = "['You've Got a Friend in Me Written by Randy Newman', 'Strange Things']"
    assert parse_quoted_list(value) == ["You've Got a Friend in Me Written by Randy Newman",
                                            "Strange Things"]

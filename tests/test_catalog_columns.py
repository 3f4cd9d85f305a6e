"""The catalog read as plain columns (how a serving process loads it, without pandas) answers
exactly like the catalog built from a DataFrame (how builds and evaluations make it)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from engine.catalog import Catalog
from engine.results import Filters
from engine.retrieval import FilterColumns


def _frame() -> pd.DataFrame:
    """Three films in scrambled id order, with the holes real rows have (no year, no TMDB
    votes, no collection, no alternate titles)."""
    return pd.DataFrame({
        "movie_id": [260, 1, 1196],
        "title": ["Star Wars: Episode IV - A New Hope", "Toy Story",
                  "Star Wars: Episode V - The Empire Strikes Back"],
        "akas": [["Star Wars"], [], ["The Empire Strikes Back"]],
        "year": [1977.0, 1995.0, np.nan],
        "genres": [["Action", "Sci-Fi"], ["Animation", "Children"], ["Action", "Sci-Fi"]],
        "overview": ["A farm boy ...", None, "The Empire strikes ..."],
        "tagline": ["", None, ""],
        "keywords": [["rebellion"], ["toy"], []],
        "cast": [["Mark Hamill"], ["Tom Hanks"], ["Mark Hamill"]],
        "directors": [["George Lucas"], ["John Lasseter"], ["Irvin Kershner"]],
        "runtime": [121.0, 81.0, np.nan],
        "vote_average": [8.1, 7.7, 8.2],
        "vote_count": [6778.0, np.nan, 5998.0],
        "popularity": [42.1, 21.9, 19.5],
        "poster_path": ["/a.jpg", "", None],
        "youtube_id": ["", "", ""],
        "imdb_id": ["tt0076759", "tt0114709", "tt0080684"],
        "tmdb_id": [11, 862, 1891],
        "rating_mean": [4.2, 3.9, 4.2],
        "rating_count": [251, 215, 211],
        "collection": ["Star Wars Collection", None, "Star Wars Collection"],
    })


@pytest.fixture()
def catalogs(tmp_path):
    frame = _frame()
    frame.to_parquet(tmp_path / "catalog.parquet", index=False)
    return Catalog(frame), Catalog.load(tmp_path)


def test_columns_and_frame_give_the_same_movies(catalogs):
    from_frame, from_file = catalogs
    assert list(from_file.ids) == list(from_frame.ids) == [1, 260, 1196]
    assert len(from_file) == 3 and 260 in from_file and 2 not in from_file
    for movie_id in (1, 260, 1196):
        assert from_file.movie(movie_id) == from_frame.movie(movie_id)
    toy = from_file.movie(1)
    assert toy.vote_count is None and toy.overview == "" and toy.genres == ["Animation", "Children"]
    assert from_file.movie(1196).year is None
    assert from_file.notability(1) == from_frame.notability(1) == 215.0
    assert from_file.coverage_sentence() == from_frame.coverage_sentence()
    assert "from 1977" in from_file.coverage_sentence()


def test_titles_series_and_filters_from_columns(catalogs):
    from_frame, from_file = catalogs
    assert from_file.resolve("toy story").movie_id == 1
    assert from_file.resolve("#1196").movie_id == 1196
    assert [c.movie_id for c in from_file.series(260)] == \
        [c.movie_id for c in from_frame.series(260)]
    # an id the catalog lacks reads as missing, not as an error
    assert from_file.values("year", [260, 99]) == [1977, None]
    for catalog in catalogs:
        columns = FilterColumns.of(catalog, np.array([1196, 1, 99]))
        assert columns.mask(Filters(genres=["sci-fi"])).tolist() == [True, False, False]
        assert columns.mask(Filters(min_votes=300)).tolist() == [True, False, False]
        assert columns.mask(Filters(year_min=1990)).tolist() == [False, True, False]
    # the DataFrame, for the code that wants one, is the file's table
    assert from_file.df.loc[260, "title"] == "Star Wars: Episode IV - A New Hope"


def test_loading_the_catalog_does_not_import_pandas(catalogs, tmp_path):
    code = ("import sys; from engine.catalog import Catalog; "
            f"c = Catalog.load({str(tmp_path)!r}); c.movie(260); c.resolve('toy story'); "
            "assert 'pandas' not in sys.modules, 'pandas imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_moviebot_command_line_is_parsed_without_pandas():
    # every `moviebot` command (a cold `moviebot song` included) builds the whole parser
    # first: no subcommand may import its heavy job module just to declare its arguments
    code = ("import sys; from bot.cli import build_parser; build_parser(); "
            "heavy = sorted({'pandas', 'aiohttp', 'sklearn', 'tensorflow'} & set(sys.modules)); "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)

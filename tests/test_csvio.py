"""CSV reading helpers and the list-column parsers, on the real files and with hypothesis."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.config import Settings
from engine.datasets.csvio import (
    parse_json_list,
    parse_python_list,
    parse_quoted_list,
    read_csv,
    read_dataset_file,
    split_list,
    year_from_date,
    years_from_dates,
)
from engine.errors import DataError

DATA = Path(Settings.from_env().data_dir)
SOUNDTRACKS = "movie_soundtracks_imdb/imbd-movies-soundtracks-movielens-small.csv"

# Names as they appear in the sources: letters, digits, spaces and punctuation incl. quotes.
name = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")),
               min_size=1, max_size=30).map(str.strip).filter(bool)


# -- parsers -------------------------------------------------------------------------------

@settings(deadline=None)  # a shared 2-core CI box must not make these flaky
@given(st.lists(name, max_size=8))
def test_json_list_roundtrip(names):
    value = json.dumps([{"id": i, "name": n} for i, n in enumerate(names)])
    assert parse_json_list(value) == names


@settings(deadline=None)
@given(st.lists(name, max_size=8))
def test_python_repr_list_roundtrip(names):
    value = repr([{"id": i, "name": n} for i, n in enumerate(names)])
    assert parse_python_list(value) == names


@settings(deadline=None)
@given(st.lists(name.filter(lambda s: "|" not in s), max_size=8))
def test_pipe_list_roundtrip(names):
    assert split_list("|".join(names), "|") == names


@settings(deadline=None)
@given(st.lists(name.filter(lambda s: "," not in s), max_size=8))
def test_comma_list_roundtrip(names):
    # both "a,b" (tmdb_top10k) and "a, b" (TMDB v11) spellings
    assert split_list(",".join(names), ",") == names
    assert split_list(", ".join(names), ",") == names


# The soundtrack file: items in single quotes, apostrophes inside left unescaped. Only an
# item that itself contains the boundary "', '" (or starts/ends with a quote) is ambiguous.
soundtrack_item = name.filter(lambda s: s[0] not in "'\"" and s[-1] not in "'\""
                              and "', '" not in s and "\", \"" not in s
                              and "', \"" not in s and "\", '" not in s)


@settings(deadline=None)
@given(st.lists(soundtrack_item, max_size=8))
def test_quoted_list_with_apostrophes_roundtrip(items):
    value = "[" + ", ".join(f"'{item}'" for item in items) + "]"
    assert parse_quoted_list(value) == items


def test_quoted_list_examples():
    value = "['You've Got a Friend in Me', 'Strange Things', \"Hakuna Matata\"]"
    with pytest.raises(SyntaxError):
        ast.literal_eval(value)
    assert parse_quoted_list(value) == ["You've Got a Friend in Me", "Strange Things",
                                        "Hakuna Matata"]
    assert parse_quoted_list("[]") == []
    assert parse_python_list(value) == parse_quoted_list(value)  # the fallback


@pytest.mark.parametrize("missing", [None, float("nan"), "", "   ", pd.NA])
def test_missing_values_give_empty_lists(missing):
    for parse in (parse_json_list, parse_python_list, parse_quoted_list, split_list):
        assert parse(missing) == []


def test_single_object_and_bad_json():
    # belongs_to_collection is one object, not a list
    assert parse_python_list("{'id': 10194, 'name': 'Toy Story Collection'}") == [
        "Toy Story Collection"]
    assert parse_json_list("[{'id': 1, 'name': 'Drama'}]") == ["Drama"]  # repr, not JSON


@settings(deadline=None)
@given(st.integers(1800, 2100), st.integers(1, 12), st.integers(1, 28))
def test_year_from_any_date_precision(year, month, day):
    for text in (f"{year}", f"{year}-{month:02d}", f"{year}-{month:02d}-{day:02d}"):
        assert year_from_date(text) == year
    series = pd.Series([f"{year}", f"{year}-{month:02d}", f"{year}-{month:02d}-{day:02d}"])
    assert years_from_dates(series).tolist() == [year] * 3


def test_year_rejects_non_dates():
    assert year_from_date("0000") is None
    assert year_from_date("12/31/99") is None
    assert years_from_dates(pd.Series(["abc", None, "0000-00-00"])).isna().all()


# -- real files ----------------------------------------------------------------------------

def test_soundtrack_lists_parse_where_literal_eval_fails():
    frame = read_dataset_file(DATA, SOUNDTRACKS, usecols=["movieId", "Soundtrack"])
    assert len(frame) == 3279

    def literal_ok(text):
        try:
            ast.literal_eval(text)
            return True
        except (ValueError, SyntaxError):
            return False

    broken = frame[~frame["Soundtrack"].map(literal_ok)]
    assert len(broken) == 1980  # SOURCES.md: 1,980 rows do not parse with literal_eval
    parsed = frame["Soundtrack"].map(parse_quoted_list)
    assert parsed.map(len).min() >= 1
    # every item boundary is one "', '" in the raw text
    boundaries = frame["Soundtrack"].str.count(r"""['"], ['"]""")
    assert (parsed.map(len) == boundaries + 1).all()
    toy_story = parsed[frame["movieId"] == 1].iloc[0]
    assert toy_story[0].startswith("You've Got a Friend in Me")


def test_tmdb_json_and_repr_columns():
    tmdb = read_dataset_file(DATA, "tmdb_5000/tmdb_5000_movies.csv", usecols=["id", "genres"])
    avatar = tmdb[tmdb["id"] == 19995]["genres"].iloc[0]
    assert parse_json_list(avatar) == ["Action", "Adventure", "Fantasy", "Science Fiction"]
    tmd = read_dataset_file(DATA, "the_movies_dataset/movies_metadata_small.csv",
                            usecols=["id", "genres"])
    toy = tmd[tmd["id"].astype(str) == "862"]["genres"].iloc[0]
    assert parse_python_list(toy) == ["Animation", "Comedy", "Family"]


def test_latin1_u_item_reads_with_manifest_encoding():
    items = read_dataset_file(DATA, "movielens/ml-100k/u.item")
    assert items.shape == (1682, 24)
    assert "Misérables, Les (1995)" in set(items["title"])


def test_latin1_file_read_as_utf8_names_file_and_line():
    with pytest.raises(DataError) as err:
        read_csv(DATA / "movielens/ml-100k/u.item", sep="|", header=None)
    text = str(err.value)
    assert "u.item" in text and "not valid UTF-8" in text and "line 543" in text


def test_truncated_last_record_is_read():
    frame = read_dataset_file(DATA, "tmdb_full_dataset_v11/TMDB_movie_dataset_v11.csv")
    assert len(frame) == 2631
    assert frame["keywords"].iloc[-1].endswith("drug dealing, dr")


def test_crlf_and_bom(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffmovieId,title\r\n1,Amélie (2001)\r\n2,NA\r\n".encode())
    frame = read_csv(path, columns=["movieId", "title"])
    assert list(frame.columns) == ["movieId", "title"]
    # only empty fields are missing: a title "NA" stays a title
    assert frame["title"].tolist() == ["Amélie (2001)", "NA"]


def test_missing_file_and_missing_columns(tmp_path):
    with pytest.raises(DataError) as err:
        read_dataset_file(tmp_path, "movielens/ml-latest-small/movies.csv")
    assert "movies.csv: file not found" in str(err.value)
    assert "moviebot data fetch" in str(err.value)
    assert "ml-latest-small.zip" in str(err.value)
    path = tmp_path / "links.csv"
    path.write_text("movieId,imdb,tmdbId\n1,0114709,862\n")
    with pytest.raises(DataError) as err:
        read_csv(path, columns=["movieId", "imdbId", "tmdbId"])
    assert "missing column(s) imdbId" in str(err.value)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(DataError, match="empty"):
        read_csv(path)

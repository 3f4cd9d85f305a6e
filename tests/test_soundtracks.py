"""Soundtrack credit parsing and credit -> song matching (hand-written lines + the real file)."""

from __future__ import annotations

import pandas as pd
import pytest

from engine.crossmedia.soundtracks import (
    load_soundtracks,
    match_songs,
    norm_title,
    parse_credit,
    split_list,
)


def test_split_list_keeps_apostrophes_inside_items():
    cell = ("['You've Got a Friend in Me Written, Performed, and Produced by Randy Newman', "
            "'Hakuna Matata from The Lion King (1994)']")
    assert split_list(cell) == [
        "You've Got a Friend in Me Written, Performed, and Produced by Randy Newman",
        "Hakuna Matata from The Lion King (1994)"]


def test_split_list_handles_escaped_and_double_quotes():
    assert split_list(r"['The Blower\'s Daughter, Written by Damien Rice\', \'Cold Water']") == [
        "The Blower's Daughter, Written by Damien Rice", "Cold Water"]
    assert split_list("[\"Don't Stop\", 'Faith Written by George Michael']") == [
        "Don't Stop", "Faith Written by George Michael"]
    assert split_list("[]") == [] and split_list(float("nan")) == []


@pytest.mark.parametrize("line, title, people", [
    ("You've Got a Friend in Me Written, Performed, and Produced by Randy Newman",
     "You've Got a Friend in Me", ["Randy Newman"]),
    ("Sittin' Up In My Room Performed by Brandy Norwood (as Brandy)",
     "Sittin' Up In My Room", ["Brandy", "Brandy Norwood"]),
    ("Ritual 1, Written and Performed by R. Carlos Nakai", "Ritual 1", ["R. Carlos Nakai"]),
    ("Pop Goes the Weasel (uncredited)", "Pop Goes the Weasel", []),
    ("Girls on Film, Written by Nick Rhodes, Simon Le Bon and Andy Taylor", "Girls on Film",
     ["Nick Rhodes", "Simon Le Bon", "Andy Taylor"]),
    ("In A Sentimental Mood Written by Duke Ellington (uncredited)", "In A Sentimental Mood",
     ["Duke Ellington"]),
])
def test_parse_credit(line, title, people):
    credit = parse_credit(line)
    assert credit.title == title
    assert set(people) <= set(credit.people)


def test_norm_title_drops_versions_and_features():
    assert norm_title("Imagine - Remastered") == norm_title("Imagine")
    assert norm_title("Superstition - Single Version") == "superstition"
    assert norm_title("Give U My Heart (feat. Toni Braxton)") == "give u my heart"
    assert norm_title("Walk On the Wild Side") == norm_title("Walk on the Wild Side")


def _songs(rows):
    return pd.DataFrame(rows, columns=["track_id", "name", "artist", "popularity"])


def test_match_needs_title_and_artist_and_prefers_popular_version():
    credits = pd.DataFrame({
        "movie_id": [1, 1, 2, 3],
        "raw": ["Faith Written by George Michael", "Creep Performed by TLC",
                "Creep Performed by Radiohead", "Shenandoah Traditional; Arranged by James Erb"],
    })
    parsed = credits["raw"].map(parse_credit)
    credits["title"] = parsed.map(lambda c: c.title)
    credits["people"] = parsed.map(lambda c: c.people)
    songs = _songs([
        ("a" * 22, "Faith", "Limp Bizkit", 60.0),              # same title, other artist
        ("b" * 22, "Faith - Remastered", "George Michael", 70.0),
        ("c" * 22, "Faith", "George Michael", 40.0),           # less popular version
        ("d" * 22, "Creep", "TLC", 50.0),
        ("e" * 22, "Creep", "Radiohead", 80.0),
        ("f" * 22, "Shenandoah", "Traditional, Westminster Choir", 10.0),
    ])
    pairs = match_songs(credits, songs)
    got = set(zip(pairs["movie_id"], pairs["track_id"], strict=True))
    assert got == {(1, "b" * 22), (1, "d" * 22), (2, "e" * 22)}


# -- the real files --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def credits(data_dir):
    return load_soundtracks(data_dir)


@pytest.fixture(scope="module")
def real_songs(data_dir):
    from engine.datasets.songs import build_songs, load_rows

    return build_songs(load_rows(data_dir))


def test_real_soundtrack_file_parses(credits, data_dir):
    from engine.datasets import movielens

    assert credits["movie_id"].nunique() == 3279           # every row of the file
    assert len(credits) > 35_000                             # the ~5,842+ "entries" are lists
    assert set(credits["movie_id"]) <= set(movielens.movies(data_dir)["movieId"])
    toy = credits[credits["movie_id"] == 1]
    assert toy["title"].iloc[0] == "You've Got a Friend in Me"
    assert "Randy Newman" in toy["people"].iloc[0]
    # no list syntax may leak into titles
    assert not credits["title"].str.contains(r"', '", regex=False).any()


def test_real_matches(credits, real_songs):
    pairs = match_songs(credits, real_songs)
    names = real_songs.set_index("track_id")["name"]
    assert len(pairs) > 800 and pairs["movie_id"].nunique() > 500
    got = {(m, names[t]) for m, t in zip(pairs["movie_id"], pairs["track_id"], strict=True)}
    # Pulp Fiction (296) uses Jungle Boogie; Forrest Gump (356) The Doors; Waiting to Exhale (4) TLC
    assert (296, "Jungle Boogie") in got
    assert (356, "People Are Strange") in got
    assert (4, "Creep") in got
    assert pairs.duplicated(["movie_id", "track_id"]).sum() == 0

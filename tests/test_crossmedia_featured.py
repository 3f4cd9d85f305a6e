"""Issue 17: "Featured in the soundtrack" credits and the words /song says."""

from __future__ import annotations

import pandas as pd
import pytest

from engine.crossmedia.featured import FeaturedIndex, featured_table, film_named_by
from engine.crossmedia.serving import ResolvedArtist, VibeIndex, song_header
from engine.crossmedia.song_lookup import song_phrase
from engine.crossmedia.soundtracks import parse_credit
from engine.queries import ResolvedSong, ResolvedVibe
from engine.results import Movie


@pytest.mark.parametrize("track, album, film", [
    ('Lose Yourself - From "8 Mile" Soundtrack', "Curtain Call", "8 Mile"),
    ('Danger Zone - From "Top Gun" Original Soundtrack', "Greatest Hits", "Top Gun"),
    ("Stuck In The Middle With You", "Reservoir Dogs (Original Motion Picture Soundtrack)",
     "Reservoir Dogs"),
    ('Beauty and the Beast - from the Soundtrack "Beauty and the Beast"', "Celine Dion",
     "Beauty and the Beast"),
    ("Time", "Inception (Music from the Motion Picture)", "Inception"),
    ("Coffee Shop Soundtrack", "Put Up Or Shut Up", None),     # a song called "Soundtrack"
    ("Bohemian Rhapsody - 2011 Mix", "A Night At The Opera", None),
])
def test_spotify_names_say_the_film(track, album, film):
    assert film_named_by(track, album) == film


def _films(*titles_years):
    return pd.DataFrame({"movie_id": list(range(1, len(titles_years) + 1)),
                         "title": [t for t, _ in titles_years], "akas": [[]] * len(titles_years),
                         "year": [y for _, y in titles_years],
                         "rating_count": [10] * len(titles_years)})


def test_featured_table_matches_title_and_artist_and_every_recording():
    songs = pd.DataFrame({
        "track_id": ["a", "b", "c", "d", "e", "f", "g"],
        "name": ['Lose Yourself - From "8 Mile" Soundtrack', "Lose Yourself - Soundtrack Version",
                 "Son Of A Preacher Man", "Lose Yourself", "I Get Around", "Eye of the Tiger",
                 "Inside Out"],
        "artist": ["Eminem", "Eminem", "Dusty Springfield", "Someone Else", "2Pac", "Survivor",
                   "The Chainsmokers"],
        "album": ["Curtain Call", "Lose Yourself", "Dusty In Memphis", "x", "Strictly", "Rocky IV",
                  "Inside Out"],
        "year": [2005, 2002, 1969, 2019, 1993, 1985, 2015], "popularity": [80, 60, 70, 10, 69, 76, 50]})
    catalog = _films(("8 Mile", 2002), ("Pulp Fiction", 1994), ("No Escape", 1994),
                     ("Enron", 2005), ("Bean", 1997), ("Love & Mercy", 2014), ("Rocky IV", 1985),
                     ("Inside Out", 2015))
    preacher = "Son of a Preacher Man Written by John Hurley and Ronnie Wilkins"
    beach_boys = "I Get Around, Written by Brian Wilson and Mike Love"
    credits = pd.DataFrame({"movie_id": [2, 3, 4, 5, 6, 3],
                            "title": ["Son of a Preacher Man"] * 3 + ["I Get Around"] * 3,
                            "raw": [preacher] * 3 + [beach_boys] * 2 + [
                                "I Get Around, Composed by Tupac Shakur, Shock-G"]})
    credits["people"] = [parse_credit(r).people for r in credits["raw"]]
    pairs = pd.DataFrame(columns=["movie_id", "track_id", "raw"])
    table = featured_table(pairs, songs, catalog, credits)
    index = FeaturedIndex(table)
    # any recording of the song by that artist finds the film; another artist's does not
    assert index.movies("Lose Yourself - Soundtrack Version", "Eminem") == [1]
    assert index.movies("Lose Yourself", "Someone Else") == []
    # a writer-only line counts for the dominant, older recording when the title is one song
    # in three films
    assert index.movies("Son of a Preacher Man", "Dusty Springfield") == [2, 3, 4]
    # two songs share "I Get Around": Brian Wilson's lines are not 2Pac's recording
    assert index.movies("I Get Around", "2Pac") == []
    # an album named like a film of its year is its soundtrack; a single is not
    assert index.movies("Eye of the Tiger", "Survivor") == [7]
    assert index.movies("Inside Out", "The Chainsmokers") == []
    assert set(table["source"]) == {"spotify", "spotify-album", "imdb-title"}


def test_writer_only_lines_need_a_tie_to_the_artist_or_one_song_everywhere():
    songs = pd.DataFrame({"track_id": ["a", "b"], "name": ["Every Breath You Take", "You Send Me"],
                          "artist": ["The Police", "Nicolette Larson"], "album": ["x", "y"],
                          "year": [1983, 1978], "popularity": [80, 50]})
    catalog = _films(("Man Trouble", 1992), ("Bring It", 2000), ("Havana Nights", 2004))
    lines = ["Every Breath You Take, Written by Sting",
             "Roxanne Written by Sting Performed by The Police",
             "You Send Me, Written by Sam Cooke"]
    credits = pd.DataFrame({"movie_id": [1, 2, 3], "title": [parse_credit(r).title for r in lines],
                            "raw": lines})
    credits["people"] = [parse_credit(r).people for r in lines]
    table = featured_table(pd.DataFrame(columns=["movie_id", "track_id", "raw"]), songs,
                           catalog, credits)
    # Sting is named beside The Police elsewhere: tied to the artist
    assert table[["title_key", "movie_id", "source"]].values.tolist() == [
        ["every breath you take", 1, "imdb-writer"]]


def test_headers_and_reasons_read_like_a_person_wrote_them():
    song = ResolvedSong("Bohemian Rhapsody - 2011 Mix", "Queen", "x", "melancholic")
    assert song_header(song) == "Movies with the vibe of Bohemian Rhapsody – Queen (melancholic):"
    assert song_header(ResolvedVibe({"energy": 0.1, "valence": 0.1}, "melancholic, calm")) \
        == "Movies for a melancholic, calm mood:"
    artist = ResolvedArtist("Queen", 130, "Bohemian Rhapsody - Queen", "mid-tempo")
    assert "Queen's typical vibe" in song_header(artist) and "/song Bohemian" in song_header(artist)
    piano = song_phrase({"valence": 0.1, "energy": 0.05, "acousticness": 0.99,
                         "instrumentalness": 0.9}, ["classical"])
    assert piano == "a melancholic quiet instrumental piece"
    assert song_phrase({"valence": 0.8, "energy": 0.9}, ["rock"]) == "a fast, joyful rock song"
    drama = Movie(movie_id=1, title="X", year=1994, genres=["Drama"])
    assert VibeIndex._reason(piano, drama) == \
        "a melancholic quiet instrumental piece → a quiet drama from the 1990s"

"""Issue 17: "Featured in the soundtrack" credits and the words /song says."""

from __future__ import annotations

import pandas as pd
import pytest

from engine.crossmedia.featured import FeaturedIndex, featured_table, film_named_by
from engine.crossmedia.serving import ResolvedArtist, VibeIndex, song_header
from engine.crossmedia.song_lookup import song_phrase
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


def test_featured_table_matches_title_and_artist_and_every_recording():
    songs = pd.DataFrame({
        "track_id": ["a", "b", "c", "d"],
        "name": ['Lose Yourself - From "8 Mile" Soundtrack', "Lose Yourself - Soundtrack Version",
                 "Son Of A Preacher Man", "Lose Yourself"],
        "artist": ["Eminem", "Eminem", "Dusty Springfield", "Someone Else"],
        "album": ["Curtain Call", "Lose Yourself", "Dusty In Memphis", "x"],
        "year": [2005, 2002, 1969, 2019], "popularity": [80, 60, 70, 10]})
    catalog = pd.DataFrame({"movie_id": [5816, 296], "title": ["8 Mile", "Pulp Fiction"],
                            "akas": [[], []], "year": [2002, 1994], "rating_count": [50, 300]})
    credits = pd.DataFrame({"movie_id": [296], "title": ["Son of a Preacher Man"],
                            "raw": ["Son of a Preacher Man Written by John Hurley and Ronnie Wilkins"]})
    pairs = pd.DataFrame(columns=["movie_id", "track_id", "raw"])
    table = featured_table(pairs, songs, catalog, credits)
    index = FeaturedIndex(table)
    # any recording of the song by that artist finds the film; another artist's does not
    assert index.movies("Lose Yourself - Soundtrack Version", "Eminem") == [5816]
    assert index.movies("Lose Yourself", "Someone Else") == []
    # a writer-only IMDb line counts for the title's one dominant, older recording
    assert index.movies("Son of a Preacher Man", "Dusty Springfield") == [296]
    assert set(table["source"]) == {"spotify", "imdb-title"}


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

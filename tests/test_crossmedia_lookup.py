"""Song lookup and typed vibes, on the real song table."""

from __future__ import annotations

import pytest

from engine.crossmedia.song_lookup import (
    SongLookup,
    UnknownSong,
    describe_song,
    is_vibe_query,
    parse_vibe,
    spotify_id,
)
from engine.errors import AmbiguousTitle, InvalidInput, MovieBotError, UnknownTitle


@pytest.fixture(scope="module")
def lookup(data_dir):
    from engine.datasets.songs import build_songs, load_rows

    return SongLookup(build_songs(load_rows(data_dir)))


def _found(lookup, query):
    rec = lookup.songs.iloc[lookup.find(query)]
    return rec["name"], rec["artist"]


@pytest.mark.parametrize("query, name, artist", [
    ("Bohemian Rhapsody - Queen", "Bohemian Rhapsody", "Queen"),
    ("Bohemian Rapsody - Quen", "Bohemian Rhapsody", "Queen"),           # typos in both
    ("Bohemian Rhapsody", "Bohemian Rhapsody", "Queen"),                 # title alone
    ("smels like teen sprit", "Smells Like Teen Spirit", "Nirvana"),
    ("Creep by Radiohead", "Creep", "Radiohead"),
    ("Hallelujah - Leonard Cohen", "Hallelujah", "Leonard Cohen"),
])
def test_find_by_title_and_artist(lookup, query, name, artist):
    got_name, got_artist = _found(lookup, query)
    assert got_name.startswith(name) and got_artist == artist


def test_title_alone_asks_when_several_artists_are_popular(lookup):
    with pytest.raises(AmbiguousTitle) as err:
        lookup.find("Hallelujah")
    labels = [c.label for c in err.value.candidates]
    assert any("Leonard Cohen" in x for x in labels) and any("Jeff Buckley" in x for x in labels)
    assert err.value.kind == "song" and "Which one?" in str(err.value)


def test_spotify_url_uri_and_id(lookup):
    track = lookup.songs["track_id"].iloc[0]
    row = lookup.row_of_id[track]
    for query in (f"https://open.spotify.com/track/{track}?si=abc123",
                  f"https://open.spotify.com/intl-de/track/{track}",
                  f"spotify:track:{track}", track):
        assert lookup.find(query) == row
    assert spotify_id(f"https://open.spotify.com/track/{track}x") is None  # 23 chars: not an id
    with pytest.raises(UnknownSong) as err:
        lookup.find("spotify:track:" + "Z" * 22)
    assert "not in my song table" in str(err.value)


def test_unknown_song_suggests_and_offers_vibe(lookup):
    with pytest.raises(UnknownTitle) as err:
        lookup.find("Bohemian Rhapsodyyy Extended Galaxy")
    message = str(err.value)
    assert err.value.kind == "song"
    assert "vibe energy=0.8 valence=0.2" in message
    with pytest.raises(UnknownTitle) as err:
        lookup.find("Teen Spirit Smells")
    assert any("Smells Like Teen Spirit" in c.label for c in err.value.suggestions)


def test_bad_queries_are_friendly(lookup):
    for query in ("", " " * 3, "x" * 500):
        with pytest.raises(InvalidInput):
            lookup.find(query)


def test_parse_vibe_ranges():
    vibe = parse_vibe(" energy=0.8 valence=0.2, tempo=128")
    assert vibe.values == {"energy": 0.8, "valence": 0.2, "tempo": 128.0}
    for bad, words in [("energy=1.5", "between 0 and 1"), ("tempo=999", "between 40 and 250"),
                       ("energy=high", "needs a number"), ("mood=happy", "don't know"),
                       ("energy", "name=value"), ("", "at least one"),
                       ("valence=nan", "between")]:
        with pytest.raises(InvalidInput) as err:
            parse_vibe(bad)
        assert words in str(err.value)
        assert isinstance(err.value, MovieBotError)


def test_vibe_query_detection():
    assert is_vibe_query("vibe energy=0.8") and is_vibe_query("VIBE")
    assert not is_vibe_query("Vibes - Chase Atlantic") and not is_vibe_query("vibe check")


def test_describe_song_words():
    assert describe_song({"valence": 0.9, "energy": 0.9}) == "upbeat, high energy"
    assert describe_song({"valence": 0.1, "energy": 0.2, "acousticness": 0.9}) == \
        "melancholic, calm, acoustic"


def test_serving_never_imports_tensorflow():
    import subprocess
    import sys

    code = ("import sys, engine.crossmedia.serving, engine.crossmedia.cli, "
            "engine.crossmedia.build; assert 'tensorflow' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)

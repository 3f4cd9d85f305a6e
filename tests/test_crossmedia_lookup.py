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


# -- issue 17: common names, accents, artists, mood words ----------------------------------------
@pytest.mark.parametrize("query, name_part, artist_part", [
    ("Clair de lune", "Clair de lune", "Debussy"),
    ("clair de lune", "Clair de lune", "Debussy"),
    ("Moonlight Sonata", "Moonlight", "Beethoven"),
    ("Für Elise", "Für Elise", "Beethoven"),
    ("Fur Elise", "Für Elise", "Beethoven"),           # accent-insensitive: not "For Elise"
    ("fur elise!", "Für Elise", "Beethoven"),          # punctuation-insensitive
])
def test_classical_pieces_by_their_common_names(lookup, query, name_part, artist_part):
    name, artist = _found(lookup, query)
    assert name_part in name and artist_part in artist


def test_an_artist_alone_is_an_artist_query(lookup):
    key, rows = lookup.artist_query("Queen")
    assert key == "queen" and len(rows) >= 2
    assert all(lookup.songs.iloc[r]["artist"].startswith("Queen") for r in rows)
    # a song that merely shares the name does not win over the band, and a title does not
    # turn into an artist query
    assert lookup.artist_query("Bohemian Rhapsody") is None
    assert lookup.artist_query("Bohemian Rhapsody - Queen") is None


def test_a_song_title_beats_an_artist_that_only_matches_without_punctuation(lookup):
    """"Take Five" is the Dave Brubeck Quartet's tune, not the band "Take/Five": the song is
    not in the Spotify data, but the soundtrack credits know it; "Queen" stays the band."""
    assert lookup.artist_query("Take Five") is not None       # without credits: the band
    credited = SongLookup(lookup.songs, credited={"take five"})
    assert credited.artist_query("Take Five") is None
    assert credited.artist_query("take/five") is not None     # spelled like the band
    assert credited.artist_query("Queen") is not None          # a title "Queen" exists too
    assert credited.artist_query("beyonce") is not None     # accents are not punctuation


@pytest.mark.parametrize("word", ["sad", "chill", "hype", "happy", "romantic", "dark", "epic"])
def test_mood_words_are_vibes(word):
    assert is_vibe_query(f"vibe {word}") and is_vibe_query(f"vibe {word.upper()}")
    vibe = parse_vibe(word)
    assert vibe.name == word and 0 <= vibe.valence <= 1 and 0 <= vibe.energy <= 1


def test_mood_words_land_among_songs_of_that_mood(lookup):
    """Validated values: the 200 songs nearest each mood in (valence, energy, acousticness)
    have the mood's character on average."""
    import numpy as np

    songs = lookup.songs
    audio = songs[["valence", "energy", "acousticness"]].to_numpy(float)

    def near(word):
        v = parse_vibe(word).values
        point = np.array([v["valence"], v["energy"], v.get("acousticness", 0.3)])
        return songs.iloc[np.argsort(((audio - point) ** 2).sum(axis=1))[:200]]

    sad, hype, dark, romantic = near("sad"), near("hype"), near("dark"), near("romantic")
    assert sad["valence"].mean() < 0.3 and sad["energy"].mean() < 0.4
    assert hype["valence"].mean() > 0.6 and hype["energy"].mean() > 0.8
    assert dark["valence"].mean() < 0.25 and dark["energy"].mean() > 0.7
    assert romantic["energy"].mean() < 0.5 and romantic["acousticness"].mean() > 0.4


def test_not_a_mood_is_still_a_song_or_a_clear_error():
    assert not is_vibe_query("vibe check")       # a song could be called that
    with pytest.raises(InvalidInput) as err:
        parse_vibe("sad energy")
    assert "sad" in str(err.value) or "mood" in str(err.value)

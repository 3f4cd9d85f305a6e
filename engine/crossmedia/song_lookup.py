"""Find a song in the song table from what a user typed, or parse a typed vibe.

Accepted queries:
  "Bohemian Rhapsody - Queen"        title and artist (either order of trust: title first)
  "Bohemian Rhapsody"                title alone: the most popular version, unless several
                                     artists are about as popular (then AmbiguousTitle)
  "https://open.spotify.com/track/<id>", "spotify:track:<id>", "<22-char id>"
  "vibe energy=0.8 valence=0.2"      no song at all: a point in audio-feature space
Typos are forgiven with rapidfuzz; an unknown song raises UnknownTitle(kind="song") with
close matches and a hint about the vibe form.
"""

from __future__ import annotations

import re
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from rapidfuzz import fuzz, process
from unidecode import unidecode

from engine.errors import AmbiguousTitle, InvalidInput, TitleCandidate, UnknownTitle

from .soundtracks import norm_name, norm_title

if TYPE_CHECKING:
    import pandas as pd

MAX_QUERY_CHARS = 200
_TRACK_ID = r"([A-Za-z0-9]{22})(?![A-Za-z0-9])"
_URL = re.compile(r"open\.spotify\.com/(?:intl-[a-z]+/)?track/" + _TRACK_ID)
_URI = re.compile(r"^spotify:track:" + _TRACK_ID + "$")
_BARE_ID = re.compile(r"^" + _TRACK_ID + "$")
TITLE_CUTOFF = 82        # rapidfuzz ratio (0-100) for a typo'd title to count
ARTIST_CUTOFF = 75
SUGGEST_CUTOFF = 60
DOMINANCE = 15.0         # popularity points by which the top version must lead to be picked

# Typed vibes: name -> (min, max). Everything on Spotify's own scale.
VIBE_RANGES: dict[str, tuple[float, float]] = {
    "valence": (0.0, 1.0), "energy": (0.0, 1.0), "danceability": (0.0, 1.0),
    "acousticness": (0.0, 1.0), "instrumentalness": (0.0, 1.0), "speechiness": (0.0, 1.0),
    "liveness": (0.0, 1.0), "mode": (0.0, 1.0), "tempo": (40.0, 250.0),
    "loudness": (-60.0, 0.0),
}
# Mood words for `/song vibe sad`: Spotify values that songs people file under the word
# have (tests/test_crossmedia_lookup.py checks each lands among songs of that mood).
MOODS: dict[str, dict[str, float]] = {
    "sad": {"valence": 0.15, "energy": 0.25, "acousticness": 0.7, "mode": 0.0, "tempo": 80.0},
    "chill": {"valence": 0.5, "energy": 0.3, "acousticness": 0.6, "danceability": 0.6,
              "tempo": 95.0},
    "hype": {"valence": 0.75, "energy": 0.92, "danceability": 0.8, "tempo": 128.0,
             "loudness": -4.0},
    "happy": {"valence": 0.9, "energy": 0.8, "danceability": 0.75, "mode": 1.0},
    # the warm, soft corner: at valence 0.6 (the song average is 0.5) the vibe read as "calm"
    # alone and found quiet dramas; the 200 songs nearest 0.75 are love songs and ballads
    # ("Every Breath You Take", "I'm Yours", "Stand By Me")
    "romantic": {"valence": 0.75, "energy": 0.35, "acousticness": 0.55, "mode": 1.0,
                 "tempo": 90.0},
    "dark": {"valence": 0.1, "energy": 0.85, "mode": 0.0, "loudness": -5.0},
    "epic": {"valence": 0.35, "energy": 0.85, "instrumentalness": 0.6, "loudness": -5.0},
}
VIBE_HINT = ("You can also describe a vibe: `/song vibe sad` (or chill, hype, happy, "
             "romantic, dark, epic), or `/song vibe energy=0.8 valence=0.2` (0-1 for valence, "
             "energy, danceability, acousticness; tempo in BPM).")


@dataclass
class UnknownSong(UnknownTitle):
    """UnknownTitle for songs, whose message also offers the vibe form."""

    note: str = ""

    def __str__(self) -> str:
        return (self.note or super().__str__()) + " " + VIBE_HINT


@dataclass
class Vibe:
    values: dict[str, float] = field(default_factory=dict)
    name: str = ""      # the mood word(s) it came from, if any

    @property
    def valence(self) -> float:
        return self.values.get("valence", 0.5)

    @property
    def energy(self) -> float:
        return self.values.get("energy", 0.5)

    def describe(self) -> str:
        return " ".join(f"{k}={v:g}" for k, v in self.values.items())


def is_vibe_query(text: str) -> bool:
    """"vibe" alone or "vibe name=value ..." (a song called "Vibes" is still a song)."""
    lowered = text.strip().lower()
    if lowered == "vibe":
        return True
    if not lowered.startswith("vibe "):
        return False
    words = lowered[5:].replace(",", " ").split()
    return "=" in lowered or (bool(words) and all(w in MOODS for w in words))


def parse_vibe(text: str) -> Vibe:
    """``"energy=0.8 valence=0.2"`` -> Vibe, or InvalidInput saying what is wrong."""
    values: dict[str, float] = {}
    names = []
    for token in text.replace(",", " ").split():
        if token.lower() in MOODS:
            values.update(MOODS[token.lower()])
            names.append(token.lower())
            continue
        if "=" not in token:
            raise InvalidInput(f"“{token}” is not a vibe setting; write a mood ("
                               f"{', '.join(MOODS)}) or name=value, e.g. energy=0.8. "
                               f"Names: {', '.join(VIBE_RANGES)}.")
        name, _, raw = token.partition("=")
        name = name.strip().lower()
        if name not in VIBE_RANGES:
            raise InvalidInput(f"I don't know the vibe setting “{name}”. "
                               f"Use any of: {', '.join(VIBE_RANGES)}.")
        try:
            value = float(raw)
        except ValueError:
            raise InvalidInput(f"{name} needs a number, not “{raw}”.") from None
        lo, hi = VIBE_RANGES[name]
        if not (lo <= value <= hi) or value != value:
            raise InvalidInput(f"{name} must be between {lo:g} and {hi:g} (got {raw}).")
        values[name] = value
    if not values:
        raise InvalidInput("Describe the vibe with at least one mood or setting, e.g. `/song vibe sad` "
                           "or `/song vibe energy=0.8 valence=0.2`.")
    return Vibe(values, ", ".join(names))


class TrigramIndex:
    """Candidate generation for fuzzy matching: keys sharing the most character trigrams.

    Scoring all ~23,000 titles with rapidfuzz takes 2-10 ms; scoring only the 64 keys
    with the most trigrams in common takes a few hundred microseconds and finds the
    same best matches for typos (any single edit leaves most trigrams intact).
    """

    def __init__(self, keys: list[str], candidates: int = 64, common: int = 1500):
        self.keys = keys
        self.candidates = candidates
        postings: dict[str, list[int]] = {}
        for col, key in enumerate(keys):
            for gram in _trigrams(key):
                postings.setdefault(gram, []).append(col)
        # trigrams in more than `common` keys (" lo", "ove") say little and cost the most
        self.postings = {g: np.array(c, dtype=np.int32) for g, c in postings.items()
                         if len(c) <= common}

    def extract(self, query: str, scorer, limit: int, cutoff: float) -> list[tuple[str, float]]:
        lists = [self.postings[g] for g in _trigrams(query) if g in self.postings]
        if not lists:
            return []
        shared = np.bincount(np.concatenate(lists), minlength=len(self.keys))
        n = min(self.candidates, len(shared))
        top = np.argpartition(-shared, n - 1)[:n]
        pool = [self.keys[i] for i in top if shared[i] > 0]
        return [(key, score) for key, score, _ in
                process.extract(query, pool, scorer=scorer, limit=limit, score_cutoff=cutoff)]


def _trigrams(text: str) -> set[str]:
    padded = f"  {text} "
    return {padded[i:i + 3] for i in range(len(padded) - 2)}


class SongLookup:
    """Title/artist/id resolution over a songs table (ARCHITECTURE columns)."""

    def __init__(self, songs: Mapping[str, Sequence], keys: Mapping[str, Sequence] | None = None,
                 credited: Container[str] = ()):
        """``songs``: the song table as columns (``read_columns``) or a DataFrame.
        ``keys`` (lookup_keys(songs), precomputed by the build) saves normalising 32k
        titles and artists at every start; without it they are computed here.
        ``credited``: title keys of songs the soundtrack credits know but the table lacks."""
        self.songs = songs
        self.credited = credited
        keys = lookup_keys(songs) if keys is None else keys
        self.row_of_id = {str(tid): i for i, tid in enumerate(songs["track_id"])}
        self.popularity = np.nan_to_num(np.asarray(songs["popularity"], dtype=float))
        self._names = list(songs["name"])
        self._artists = list(songs["artist"])
        self._years = np.asarray(songs["year"], dtype=float)
        self._track_ids = [str(t) for t in songs["track_id"]]
        self.artist_keys = list(keys["artist_key"])
        # rows visited most popular first, so every list below is in that order and [0] is
        # always the default pick (one sort, not one per key: ~0.2 s less at start)
        order = np.argsort(-self.popularity, kind="stable").tolist()
        title_keys, alt_keys = list(keys["title_key"]), list(keys["alt_keys"])
        first_keys = list(keys["first_artist_key"])
        by_title: dict[str, list[int]] = {}
        for i in order:
            if title_keys[i]:
                by_title.setdefault(title_keys[i], []).append(i)
        by_alt: dict[str, list[int]] = {}
        for i in order:
            for key in alt_keys[i].split("|") if alt_keys[i] else ():
                if key not in by_title:
                    by_alt.setdefault(key, []).append(i)
        by_title.update(by_alt)
        self.by_title = by_title
        self.title_keys = list(self.by_title)
        self._fuzzy: TrigramIndex | None = None
        by_artist: dict[str, list[int]] = {}
        for i in order:
            if first_keys[i]:
                by_artist.setdefault(first_keys[i], []).append(i)
        self.by_artist = by_artist

    @property
    def fuzzy(self) -> TrigramIndex:
        """Built on the first typo (0.3-0.6 s), not at start: most queries never need it."""
        if self._fuzzy is None:
            self._fuzzy = TrigramIndex(self.title_keys)
        return self._fuzzy

    # -- public -----------------------------------------------------------------------
    def find(self, query: str) -> int:
        """Row number of the song ``query`` names; raises UnknownSong / AmbiguousTitle."""
        query = (query or "").strip()
        if not query:
            raise InvalidInput("Which song? Try `/song Bohemian Rhapsody - Queen`.")
        if len(query) > MAX_QUERY_CHARS:
            raise InvalidInput(f"That is too long for a song title (max {MAX_QUERY_CHARS} characters).")
        track_id = spotify_id(query)
        if track_id is not None:
            if track_id in self.row_of_id:
                return self.row_of_id[track_id]
            raise UnknownSong(query, [], kind="song",
                              note=f"The Spotify track {track_id} is not in my song table.")
        for title, artist in _splits(query):
            row = self._title_artist(title, artist)
            if row is not None:
                return row
        return self._title_only(query)

    def candidate(self, row: int, confidence: float = 1.0) -> TitleCandidate:
        year = self._years[row]
        return TitleCandidate(movie_id=0, title=f"{self._names[row]} – {self._artists[row]}",
                              year=None if np.isnan(year) else int(year), confidence=confidence,
                              ref=self._track_ids[row])

    def artist_query(self, query: str) -> tuple[str, list[int]] | None:
        """(artist key, their rows, most popular first) when ``query`` names an artist
        rather than a song: an exact artist name with at least two songs, whose best song
        is at least as popular as the best song titled like the query ("Queen" the band,
        not "Queen" the song)."""
        query = (query or "").strip()
        if not query or len(query) > MAX_QUERY_CHARS or spotify_id(query) or " - " in query:
            return None
        rows = self.by_artist.get(norm_name(query))
        if not rows or len(rows) < 2:
            return None
        title = norm_title(query)
        titled = self.by_title.get(title, [])
        if titled and self.popularity[titled[0]] > self.popularity[rows[0]]:
            return None
        # a name that only matches once punctuation is dropped ("Take Five" for the band
        # "Take/Five") loses to a song of exactly that title, in the table or credited on a
        # soundtrack: the song is what people mean
        if (_spelled(query) != _spelled(str(self._artists[rows[0]]).split(",")[0])
                and (titled or title in self.credited)):
            return None
        return norm_name(query), rows

    # -- internals --------------------------------------------------------------------
    def _title_rows(self, title: str, cutoff: float) -> list[tuple[int, float]]:
        """(row, title score) for the exact normalised title, else the closest fuzzy ones."""
        key = norm_title(title)
        if not key:
            return []
        if key in self.by_title:
            return [(r, 100.0) for r in self.by_title[key]]
        out = []
        for match, score in self.fuzzy.extract(key, fuzz.ratio, limit=5, cutoff=cutoff):
            out += [(r, score) for r in self.by_title[match]]
        return out

    def _title_artist(self, title: str, artist: str) -> int | None:
        want = norm_name(artist)
        best, best_score = None, 0.0
        for row, title_score in self._title_rows(title, TITLE_CUTOFF):
            artist_score = max(fuzz.ratio(want, self.artist_keys[row]),
                               fuzz.partial_ratio(want, self.artist_keys[row])
                               if len(want) >= 4 else 0.0)
            if artist_score >= ARTIST_CUTOFF:
                score = title_score + artist_score + self.popularity[row] / 100.0
                if score > best_score:
                    best, best_score = row, score
        return best

    def _title_only(self, query: str) -> int:
        rows = self._title_rows(query, TITLE_CUTOFF)
        if rows:
            top_score = max(s for _, s in rows)
            rows = [r for r, s in rows if s == top_score]
            rows.sort(key=lambda r: -self.popularity[r])
            # different recordings of one song by one artist are not an ambiguity
            by_artist = list(dict.fromkeys(self.artist_keys[r] for r in rows))
            if len(by_artist) == 1:
                return rows[0]
            second = next(r for r in rows if self.artist_keys[r] == by_artist[1])
            if self.popularity[rows[0]] - self.popularity[second] >= DOMINANCE:
                return rows[0]
            firsts = [next(r for r in rows if self.artist_keys[r] == a) for a in by_artist[:6]]
            raise AmbiguousTitle(query, [self.candidate(r) for r in firsts], kind="song")
        raise UnknownSong(query, self.suggest(query), kind="song")

    def suggest(self, query: str, k: int = 5) -> list[TitleCandidate]:
        title = _splits(query)[0][0] if " - " in query else query
        out = []
        for match, score in self.fuzzy.extract(norm_title(title), fuzz.token_sort_ratio,
                                               limit=k, cutoff=SUGGEST_CUTOFF):
            out.append(self.candidate(self.by_title[match][0], score / 100.0))
        return out


def lookup_keys(songs: pd.DataFrame) -> pd.DataFrame:
    """Normalised title, artist, first-artist and alternate-title keys per song row (the
    build writes them, so serving does not recompute them at every start)."""
    import pandas as pd

    names = songs["name"].fillna("").astype(str).tolist()
    artists = songs["artist"].fillna("").astype(str).tolist()
    return pd.DataFrame({
        "title_key": [norm_title(n) for n in names],
        "artist_key": [norm_name(a) for a in artists],
        "first_artist_key": [norm_name(a.split(",")[0]) for a in artists],
        "alt_keys": ["|".join(alternate_titles(n)) for n in names]})


def _spelled(name: str) -> str:
    """A name as spelled, up to case, accents and spacing (punctuation kept)."""
    return " ".join(unidecode(name).casefold().split())


def spotify_id(text: str) -> str | None:
    for pattern in (_URL, _URI, _BARE_ID):
        match = pattern.search(text.strip())
        if match:
            return match.group(1)
    return None


def _splits(query: str) -> list[tuple[str, str]]:
    """Every way to read "a - b - c" as (title, artist); also "title by artist"."""
    parts = re.split(r"\s+[-–—]\s+", query)
    out = [(" - ".join(parts[:i]), " - ".join(parts[i:])) for i in range(len(parts) - 1, 0, -1)]
    by = re.split(r"\s+by\s+", query, flags=re.IGNORECASE)
    if len(by) == 2:
        out.append((by[0], by[1]))
    return out


_QUOTED = re.compile(r"[\"“”]([^\"“”]{3,40})[\"“”]")
_FORMS = ("sonata", "symphony", "concerto", "nocturne", "etude", "prelude", "suite", "waltz")


def alternate_titles(name: str) -> list[str]:
    """Other normalised names people use for a piece: classical titles are long
    ("Bagatelle No. 25 in A Minor, WoO 59 "Für Elise"", "Suite bergamasque, L. 75: III.
    Clair de lune"), and people type the nickname ("Für Elise", "Clair de lune",
    "Moonlight Sonata")."""
    text = str(name)
    out = []
    for nick in _QUOTED.findall(text):
        out.append(norm_title(nick))
        lowered = norm_title(text)
        for form in _FORMS:
            if form in lowered.split():
                out.append(norm_title(f"{nick} {form}"))
    if ":" in text:
        tail = text.rsplit(":", 1)[1]
        tail = re.sub(r"^\s*[IVXLC]+\.\s*", "", tail)        # "III. Clair de lune"
        out.append(norm_title(tail))
    return [k for k in dict.fromkeys(out) if k and len(k) >= 4 and k != norm_title(text)]


_NOUNS = {"rap": "rap track", "r&b": "R&B song", "edm": "dance track", "latin": "latin song",
          "rock": "rock song", "pop": "pop song", "jazz": "jazz piece", "classical":
          "classical piece", "hip-hop": "hip-hop track", "electronic": "electronic track",
          "metal": "metal song", "country": "country song", "folk": "folk song",
          "blues": "blues song", "soul": "soul song", "ambient": "ambient piece",
          "lofi": "lo-fi track"}


def song_phrase(features: dict[str, float], genres: list[str]) -> str:
    """"a slow, melancholic piano piece": the song as a person would describe it."""
    def get(key: str, default: float = 0.5) -> float:
        value = features.get(key, default)
        return default if value is None or value != value else float(value)

    valence, energy = get("valence"), get("energy")
    pace = ("fast" if energy >= 0.75 else "slow" if energy <= 0.35 else "")
    mood = ("joyful" if valence >= 0.7 else "upbeat" if valence >= 0.55 else
            "melancholic" if valence <= 0.3 else "moody" if valence <= 0.45 else "")
    if get("instrumentalness", 0.0) >= 0.5 and get("acousticness", 0.0) >= 0.6:
        noun = "quiet instrumental piece" if energy <= 0.35 else "acoustic instrumental"
        pace = "" if energy <= 0.35 else pace
    elif get("instrumentalness", 0.0) >= 0.5:
        noun = "instrumental"
    else:
        genre = next((str(g).lower() for g in genres if str(g).lower() in _NOUNS), "")
        noun = _NOUNS.get(genre, "song")
        if get("acousticness", 0.0) >= 0.7 and genre not in ("classical",):
            noun = "acoustic " + noun.replace("R&B ", "")
    adjectives = ", ".join(w for w in (pace, mood) if w)
    words = f"{adjectives} {noun}" if adjectives else noun
    return ("an " if words[0] in "aeiou" else "a ") + words


def describe_song(features: dict[str, float] | pd.Series) -> str:
    """A few plain words for a song's audio features ("upbeat, high energy")."""
    def get(key: str, default: float = 0.5) -> float:
        value = features.get(key, default)
        return default if value is None or value != value else float(value)

    words = []
    valence, energy = get("valence"), get("energy")
    if valence >= 0.6:
        words.append("upbeat")
    elif valence <= 0.35:
        words.append("melancholic")
    if energy >= 0.7:
        words.append("high energy")
    elif energy <= 0.4:
        words.append("calm")
    if get("danceability") >= 0.7:
        words.append("danceable")
    if get("acousticness", 0.0) >= 0.6:
        words.append("acoustic")
    if get("instrumentalness", 0.0) >= 0.5:
        words.append("instrumental")
    if not words:
        words.append("mid-tempo" if 0.4 < energy < 0.7 else "moody")
    return ", ".join(words[:3])


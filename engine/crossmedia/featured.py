""""Featured in the soundtrack": which movies a song is credited on, for /song's first rows.

Two sources, both read at build time into ``featured.parquet``:
  - the IMDb soundtrack credits matched to the song table by title AND artist
    (soundtracks.match_songs), every fold: this is a lookup, not a model, and
    evaluation turns it off (``featured=False``) so the test fold is never answered by it;
  - Spotify's own names: a track called ``Lose Yourself - From "8 Mile" Soundtrack`` or on
    an album called ``Reservoir Dogs (Original Motion Picture Soundtrack)``, the film
    matched to the catalog by normalised title (the year closest before the song's wins).

A credit is keyed by (normalised title, normalised artist), not by track id, so every
recording of the song (album, single, remaster) finds it.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .soundtracks import _artist_names, norm_title

# `Title - From "Film" Soundtrack`, `Title (From "Film")`, `... from the Soundtrack "Film"`
_FROM_FILM = re.compile(r"""\bfrom\s+(?:the\s+)?(?:soundtrack\s+)?["“'](?P<film>[^"”]+?)["”']""",
                        re.IGNORECASE)
# `Film (Original Motion Picture Soundtrack)`, `Film (Music From The Motion Picture)`
_ALBUM_OST = re.compile(r"^(?P<film>.+?)\s*[\(\[:-]\s*(?:the\s+)?(?:original\s+)?"
                        r"(?:motion\s+picture\s+soundtrack|music\s+from\s+the\s+motion\s+picture|"
                        r"original\s+soundtrack|soundtrack)", re.IGNORECASE)
_FILM_SUFFIX = re.compile(r"\s*[\(:]?\s*(?:the\s+)?(?:original\s+)?(?:motion\s+picture\s+)?"
                          r"(?:soundtrack|score).*$", re.IGNORECASE)
COLUMNS = ["title_key", "artist_key", "movie_id", "source", "note"]


def film_named_by(track: str, album: str) -> str | None:
    """The film a Spotify track or album name says the song is from, else None."""
    match = _FROM_FILM.search(track or "")
    if match:
        return _FILM_SUFFIX.sub("", match.group("film")).strip() or None
    match = _ALBUM_OST.match(album or "")
    if match:
        return match.group("film").strip() or None
    return None


class _Titles:
    """Catalog movies by normalised title (and AKA), for names Spotify gives films."""

    def __init__(self, catalog: pd.DataFrame):
        self.by_key: dict[str, list[tuple[int, float, int]]] = {}
        for movie_id, title, akas, year, count in zip(
                catalog["movie_id"], catalog["title"], catalog.get("akas", [None] * len(catalog)),
                catalog["year"], catalog["rating_count"].fillna(0), strict=True):
            names = [title] + (list(akas) if akas is not None else [])
            for name in names:
                key = norm_title(name)
                if key:
                    self.by_key.setdefault(key, []).append(
                        (int(movie_id), float(year) if pd.notna(year) else np.nan, int(count)))

    def find(self, film: str, song_year: float | None) -> int | None:
        cands = self.by_key.get(norm_title(film))
        if not cands:
            return None
        if song_year is not None and not np.isnan(song_year):
            # a song is "from" a film of its own year or a little before (compilations later)
            fits = [c for c in cands if not np.isnan(c[1]) and c[1] <= song_year + 1]
            if fits:
                return max(fits, key=lambda c: (c[1], c[2]))[0]
        return max(cands, key=lambda c: c[2])[0]


DOMINANCE = 15.0   # popularity points by which one artist's version must lead the others


def _dominant_versions(songs: pd.DataFrame) -> dict[str, tuple[str, float]]:
    """title key -> (artist key, earliest year) of its one clearly dominant version (the
    only artist with that title, or ahead of the next by DOMINANCE popularity points)."""
    best: dict[str, dict[str, float]] = {}
    first_year: dict[tuple[str, str], float] = {}
    for name, artist, pop, year in zip(songs["name"], songs["artist"],
                                       songs["popularity"].fillna(0), songs["year"], strict=True):
        artists = _artist_names(artist)
        if artists:
            key = norm_title(name)
            per = best.setdefault(key, {})
            per[artists[0]] = max(per.get(artists[0], 0.0), float(pop))
            y = float(year) if pd.notna(year) else np.inf
            first_year[(key, artists[0])] = min(first_year.get((key, artists[0]), np.inf), y)
    out = {}
    for key, per in best.items():
        ranked = sorted(per.items(), key=lambda kv: -kv[1])
        if len(ranked) == 1 or ranked[0][1] - ranked[1][1] >= DOMINANCE:
            out[key] = (ranked[0][0], first_year[(key, ranked[0][0])])
    return out


def featured_table(pairs: pd.DataFrame, songs: pd.DataFrame, catalog: pd.DataFrame,
                   credits: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per (song title, artist, movie): IMDb credits first, then Spotify names.

    ``credits`` (soundtracks.load_soundtracks) adds IMDb lines that name only the writers
    ("Son of a Preacher Man Written by John Hurley and Ronnie Wilkins"): they count for the
    song's one dominant recording, when the title has one (source "imdb-title").
    """
    songs_by_id = songs.set_index("track_id")
    in_catalog = set(catalog["movie_id"].astype(int))
    rows = []
    for movie_id, track_id, raw in zip(pairs["movie_id"], pairs["track_id"], pairs["raw"],
                                       strict=True):
        rec = songs_by_id.loc[track_id]
        for artist in _artist_names(rec["artist"])[:1]:
            rows.append((norm_title(rec["name"]), artist, int(movie_id), "imdb", str(raw)[:200]))
    if credits is not None:
        dominant = _dominant_versions(songs)
        movie_year = dict(zip(catalog["movie_id"].astype(int), catalog["year"], strict=True))
        for movie_id, title, raw in zip(credits["movie_id"], credits["title"], credits["raw"],
                                        strict=True):
            key = norm_title(title)
            # three words or more: "Son of a Preacher Man" names one song, "Intro" or
            # "Theme" names hundreds; and the recording must be older than the film (a
            # 2015 song called "All I Know" is not the one in a 2003 film)
            if (key not in dominant or len(key.split()) < 3 or int(movie_id) not in in_catalog
                    or "perform" in raw.lower()):
                continue
            artist, year = dominant[key]
            film_year = movie_year.get(int(movie_id))
            if film_year is None or pd.isna(film_year) or year > float(film_year) + 1:
                continue
            rows.append((key, artist, int(movie_id), "imdb-title", str(raw)[:200]))
    titles = _Titles(catalog)
    for name, artist, album, year in zip(songs["name"], songs["artist"], songs["album"],
                                         songs["year"], strict=True):
        film = film_named_by(str(name), str(album))
        if not film:
            continue
        movie_id = titles.find(film, float(year) if pd.notna(year) else None)
        artists = _artist_names(artist)
        if movie_id is None or movie_id not in in_catalog or not artists:
            continue
        rows.append((norm_title(name), artists[0], movie_id, "spotify", f"{name} / {album}"[:200]))
    table = pd.DataFrame(rows, columns=COLUMNS)
    return table.drop_duplicates(["title_key", "artist_key", "movie_id"]).reset_index(drop=True)


class FeaturedIndex:
    """title key -> [(artist key, movie_id)], in table order (IMDb credits first)."""

    def __init__(self, table: pd.DataFrame):
        self.by_title: dict[str, list[tuple[str, int]]] = {}
        for title, artist, movie_id in zip(table["title_key"], table["artist_key"],
                                           table["movie_id"], strict=True):
            self.by_title.setdefault(str(title), []).append((str(artist), int(movie_id)))

    def movies(self, name: str, artist: str) -> list[int]:
        entries = self.by_title.get(norm_title(name))
        if not entries:
            return []
        artists = set(_artist_names(artist))
        return list(dict.fromkeys(m for a, m in entries if a in artists))

""""Featured in the soundtrack": which movies a song is credited on, for /song's first rows.

Two sources, both read at build time into ``featured.parquet``:
  - the IMDb soundtrack credits matched to the song table by title AND artist
    (soundtracks.match_songs), every fold: this is a lookup, not a model, and
    evaluation turns it off (``featured=False``) so the test fold is never answered by it;
  - Spotify's own names: a track called ``Lose Yourself - From "8 Mile" Soundtrack`` or on
    an album called ``Reservoir Dogs (Original Motion Picture Soundtrack)``, the film
    matched to the catalog by normalised title (the year closest before the song's wins),
    or an album named exactly like a film of its year ("Rocky IV": "spotify-album");
  - IMDb lines that name only the writers, where reliable (_writer_only_rows).

A credit is keyed by (normalised title, normalised artist), not by track id, so every
recording of the song (album, single, remaster) finds it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from .soundtracks import _artist_names, norm_name, norm_title

if TYPE_CHECKING:
    import pandas as pd

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
        import pandas as pd

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

    def album_is_film(self, album: str, track: str, year: object) -> int | None:
        """An album named exactly like a film of its year ("Rocky IV", 1985; "Purple Rain",
        1984), two words or more and not the track's own name (a single called "Inside
        Out" is not Pixar's soundtrack)."""
        import pandas as pd

        key = norm_title(album)
        if len(key.split()) < 2 or key == norm_title(track) or year is None or pd.isna(year):
            return None
        fits = [c for c in self.by_key.get(key, [])
                if not np.isnan(c[1]) and c[1] <= float(year) <= c[1] + 1]
        return max(fits, key=lambda c: c[2])[0] if fits else None


MIN_FILMS = 3       # films crediting an uncorroborated writer-only title (one film is a guess)
DOMINANCE = 15.0   # popularity points by which one artist's version must lead the others


def _dominant_versions(songs: pd.DataFrame) -> dict[str, tuple[str, float]]:
    """title key -> (artist key, earliest year) of its one clearly dominant version (the
    only artist with that title, or ahead of the next by DOMINANCE popularity points)."""
    import pandas as pd

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


def _writer_groups(lines: list[set[str]]) -> int:
    """How many disjoint groups of people the lines of one title name (union-find): one
    group is one song; "I Get Around" has three (Brian Wilson, Tupac Shakur, Dan Kurtz)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for people in lines:
        people = sorted(people)
        for other in people[1:]:
            parent[find(other)] = find(people[0])
        for name in people[:1]:
            find(name)
    return len({find(x) for x in parent})


def _shares_word(names: set[str], artist: str) -> bool:
    """A named person carries a word of the artist's name ("Tommy James" and "Tommy James
    and the Shondells"; "Ozzy Osbourne")."""
    words = {w for w in artist.split() if len(w) > 3}
    return any(words & set(name.split()) for name in names)


def _writer_only_rows(credits: pd.DataFrame, songs: pd.DataFrame, catalog: pd.DataFrame,
                      in_catalog: set[int]) -> list[tuple]:
    """IMDb lines that name only the writers, credited to the title's dominant recording
    only where that is reliable. Two kinds, kept apart in ``source``:

    - "imdb-writer": a writer on the line is tied to the artist: named on an IMDb line that
      credits the artist (any title: "Sting" on a line performed by The Police), or sharing
      a word with the artist's name ("Tommy James" / "Tommy James & The Shondells");
    - "imdb-title": no such tie, but the title is one song everywhere in the data: every
      line names one group of writers (not three songs sharing a title, as "I Get Around":
      Brian Wilson, Tupac Shakur, Dan Kurtz), no line names another performer (not
      "Mr. Big Stuff, Performed by Jean Knight"), at least MIN_FILMS films credit it, and the
      recording is not newer than the first of them (the original, not a later cover).

    Hand-checked precision of each kind is in docs/crossmedia.md.
    """
    import pandas as pd

    dominant = _dominant_versions(songs)
    movie_year = dict(zip(catalog["movie_id"].astype(int), catalog["year"], strict=True))
    keys = [norm_title(t) for t in credits["title"]]
    named = [{norm_name(p) for p in people} - {""} for people in credits["people"]]
    raws = [" " + norm_name(raw) + " " for raw in credits["raw"]]
    # everyone named on a line that also names an artist of the song table
    artist_names = {a for artist in songs["artist"] for a in _artist_names(artist)}
    tied: dict[str, set[str]] = {}
    for people in named:
        for artist in people & artist_names:
            tied.setdefault(artist, set()).update(people - {artist})
    by_key: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        if key in dominant:
            by_key.setdefault(key, []).append(i)
    rows = []
    for key, lines in by_key.items():
        # three words or more: "Son of a Preacher Man" names one song, "Intro" or "Theme"
        # names hundreds
        if len(key.split()) < 3:
            continue
        artist, year = dominant[key]
        names_artist = [artist in named[i] or (len(artist) > 3 and f" {artist} " in raws[i])
                        for i in lines]
        writer_lines = [i for i in lines if named[i] and " perform" not in raws[i]]
        other_performer = any(" perform" in raws[i] and not ok
                              for i, ok in zip(lines, names_artist, strict=True))
        years = [movie_year.get(int(credits["movie_id"].iat[i])) for i in writer_lines]
        years = [float(y) for y in years if y is not None and pd.notna(y)]
        one_song = (_writer_groups([named[i] for i in writer_lines]) == 1
                    and not other_performer and bool(years)
                    and len(writer_lines) >= MIN_FILMS and year <= min(years) + 1)
        for i, by_artist in zip(lines, names_artist, strict=True):
            movie_id = int(credits["movie_id"].iat[i])
            film_year = movie_year.get(movie_id)
            # lines naming the artist are exact matches already (match_songs); a named
            # performer who is not the artist is another recording
            if (by_artist or not named[i] or movie_id not in in_catalog
                    or " perform" in raws[i] or film_year is None or pd.isna(film_year)
                    or year > float(film_year) + 1):
                continue
            raw = str(credits["raw"].iat[i])[:200]
            if named[i] & tied.get(artist, set()) or _shares_word(named[i], artist):
                rows.append((key, artist, movie_id, "imdb-writer", raw))
            elif one_song:
                rows.append((key, artist, movie_id, "imdb-title", raw))
    return rows


def featured_table(pairs: pd.DataFrame, songs: pd.DataFrame, catalog: pd.DataFrame,
                   credits: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per (song title, artist, movie): IMDb credits naming the artist, Spotify
    names, then (``credits`` given) writer-only IMDb lines where they are reliable
    (_writer_only_rows: "Son of a Preacher Man Written by John Hurley and Ronnie Wilkins"
    for Dusty Springfield's recording; not "I Get Around Written by Brian Wilson" for 2Pac's).
    """
    import pandas as pd

    songs_by_id = songs.set_index("track_id")
    in_catalog = set(catalog["movie_id"].astype(int))
    rows = []
    for movie_id, track_id, raw in zip(pairs["movie_id"], pairs["track_id"], pairs["raw"],
                                       strict=True):
        rec = songs_by_id.loc[track_id]
        for artist in _artist_names(rec["artist"])[:1]:
            rows.append((norm_title(rec["name"]), artist, int(movie_id), "imdb", str(raw)[:200]))
    titles = _Titles(catalog)
    for name, artist, album, year in zip(songs["name"], songs["artist"], songs["album"],
                                         songs["year"], strict=True):
        artists = _artist_names(artist)
        film = film_named_by(str(name), str(album))
        source = "spotify"
        if film:
            movie_id = titles.find(film, float(year) if pd.notna(year) else None)
        else:
            movie_id, source = titles.album_is_film(str(album), str(name), year), "spotify-album"
        if movie_id is None or movie_id not in in_catalog or not artists:
            continue
        rows.append((norm_title(name), artists[0], movie_id, source, f"{name} / {album}"[:200]))
    # writer-only lines last: a film both sources name keeps the exact source
    if credits is not None:
        rows += _writer_only_rows(credits, songs, catalog, in_catalog)
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


# -- songs the soundtracks credit that the song table lacks ------------------------------------
CREDITED_COLUMNS = ["title_key", "title", "credit", "movie_id"]


def credited_only_table(credits: pd.DataFrame, song_title_keys: set[str],
                        movie_ids: set[int]) -> pd.DataFrame:
    """IMDb credit lines for songs the song table does not have, when they name someone
    ("Take Five Written by Paul Desmond" is on Pleasantville's soundtrack; the Spotify data
    has no Take Five). /song cannot hear such a song, but it can say where it is featured
    instead of answering something else (the band "Take/Five"). One-word titles ("Theme",
    "Intro") name too many different songs to be looked up this way."""
    import pandas as pd

    from .soundtracks import parse_credit

    rows = []
    for movie_id, title, raw in zip(credits["movie_id"], credits["title"], credits["raw"],
                                    strict=True):
        key = norm_title(title)
        if len(key.split()) < 2 or key in song_title_keys or int(movie_id) not in movie_ids:
            continue
        credit = parse_credit(str(raw))
        who = (f"performed by {credit.performers[0]}" if credit.performers else
               f"written by {credit.people[0]}" if credit.people else "")
        if who:
            rows.append((key, _FILM_YEAR.sub("", str(title))[:120], who[:100], int(movie_id)))
    table = pd.DataFrame(rows, columns=CREDITED_COLUMNS)
    return table.drop_duplicates(["title_key", "movie_id"]).reset_index(drop=True)


_FILM_YEAR = re.compile(r"\s*\(\d{4}\)\s*$")


class CreditedSongs:
    """title key -> [(title as credited, "performed by X" / "written by X", movie_id)],
    from ``credited.parquet``."""

    def __init__(self, table):
        self.by_title: dict[str, list[tuple[str, str, int]]] = {}
        for key, title, who, movie_id in zip(table["title_key"], table["title"],
                                             table["credit"], table["movie_id"], strict=True):
            self.by_title.setdefault(str(key), []).append((str(title), str(who), int(movie_id)))

    def __contains__(self, title_key: str) -> bool:
        return title_key in self.by_title

    def find(self, title: str, artist: str = "") -> list[tuple[str, str, int]]:
        """The credits of ``title``; those naming ``artist`` first when one is given (IMDb
        often names only the writer: "Take Five - Dave Brubeck" still finds Take Five)."""
        entries = self.by_title.get(norm_title(title), [])
        if artist:
            want = norm_name(artist)
            entries = sorted(entries, key=lambda e: want not in norm_name(e[1]))
        return entries

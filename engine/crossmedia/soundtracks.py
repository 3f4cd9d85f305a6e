"""IMDb soundtrack credits -> (movie, song) pairs.

The soundtrack file stores each movie's credits as a Python-looking list
(``"['a', 'b']"``), but titles contain apostrophes inside single quotes, so
``ast.literal_eval`` fails on ~2,000 rows; the items are split on ``"', '"`` instead.
A credit line is the song title followed by free-text credits:
``"You've Got a Friend in Me Written, Performed, and Produced by Randy Newman"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from unidecode import unidecode

from engine.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

SOUNDTRACK_FILE = Path("movie_soundtracks_imdb") / "imbd-movies-soundtracks-movielens-small.csv"

# Where the title ends: the first credit phrase. Case-sensitive on purpose for "by"-less
# words (titles like "Written in the Stars" are title-case, credits "Written by" follow
# the title after a space or a comma).
_CREDIT_START = re.compile(
    r"(?:,\s*|\s+)(?="
    r"(?:Written|Performed|Composed|Music|Lyrics|Words|Produced|Arranged|Conducted|Sung|Played|"
    r"Courtesy|Traditional|Adapted|Orchestrated|Remixed|Featuring|Vocals|Based on)\b"
    r"|[Bb]y\s+[A-Z]"
    r"|\((?:uncredited|as\b)"
    r"|[Ff]rom\s+(?:[\"'A-Z(]|the\b)"
    r")"
)
# "... by Name, Name and Name" -> the names
_BY_NAMES = re.compile(r"\bby\s+(.+?)(?=\s+(?:Written|Performed|Composed|Music|Lyrics|Produced|"
                       r"Arranged|Courtesy|Conducted)\b|$)", re.IGNORECASE)
_PERFORMED_BY = re.compile(r"Perform\w*(?:[^.]*?)\bby\s+(.+?)(?=\s+(?:Written|Composed|Music|"
                           r"Lyrics|Produced|Arranged|Courtesy|Conducted)\b|$)")
_AS_ALIAS = re.compile(r"\(as ([^)]+)\)")
_NAME_SPLIT = re.compile(r",\s*|\s+&\s+|\s+and\s+|\s+with\s+|\s+feat\.?\s+|\s+featuring\s+",
                         re.IGNORECASE)


@dataclass
class Credit:
    """One parsed soundtrack line."""

    raw: str
    title: str
    performers: list[str] = field(default_factory=list)
    people: list[str] = field(default_factory=list)  # everyone named: writers, performers, aliases


def split_list(cell: object) -> list[str]:
    """The items of a ``"['a', 'b']"`` cell, apostrophes inside items kept intact."""
    if not isinstance(cell, str):
        return []
    text = cell.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1].strip()
    if not text:
        return []
    # the outer quotes are ' or " (Python repr picks " when the item holds a ')
    if text[0] in "'\"":
        text = text[1:]
    if text and text[-1] in "'\"":
        text = text[:-1]
    # some cells escape the inner quotes (\\', \\'), so the backslash is optional
    items = re.split(r"\\?['\"], \\?['\"]", text)
    return [item.replace("\\'", "'").strip() for item in items if item.strip()]


def _names(text: str) -> list[str]:
    out = []
    for alias in _AS_ALIAS.findall(text):
        out.append(alias)
    text = _AS_ALIAS.sub("", text)
    text = re.sub(r"\((?:uncredited|un-credited)\)?", "", text, flags=re.IGNORECASE)
    for part in _NAME_SPLIT.split(text):
        part = part.strip(" .;:'\"()")
        if part and len(part) < 60:
            out.append(part)
    return out


def parse_credit(line: str) -> Credit:
    line = line.strip()
    match = _CREDIT_START.search(line)
    title = line[: match.start()] if match else line
    title = title.strip(" ,;-'\"")
    rest = line[match.start():] if match else ""
    people: list[str] = []
    for names in _BY_NAMES.findall(rest):
        people += _names(names)
    performers: list[str] = []
    for names in _PERFORMED_BY.findall(rest):
        performers += _names(names)
    return Credit(raw=line, title=title or line, performers=performers,
                  people=list(dict.fromkeys(performers + people)))


# -- normalisation shared with song lookup -------------------------------------------------
_BRACKETS = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_VERSION_SUFFIX = re.compile(
    r"\s+-\s+.*(?:remaster|version|mix|edit|live|mono|stereo|feat|from|radio|single|acoustic|"
    r"demo|bonus|instrumental|original|soundtrack|\d{4}).*$", re.IGNORECASE)
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def norm_title(title: str) -> str:
    """Lower-case ASCII words, without "(feat. X)", "- 2011 Remaster" and the like."""
    text = unidecode(str(title))
    text = _VERSION_SUFFIX.sub("", text)
    text = _BRACKETS.sub(" ", text)
    text = text.lower().replace("&", " and ")
    text = re.sub(r"^the\s+", "", text)
    return _NON_ALNUM.sub(" ", text).strip()


def norm_name(name: str) -> str:
    text = unidecode(str(name)).lower().replace("&", " and ")
    text = re.sub(r"^the\s+", "", text)
    return _NON_ALNUM.sub(" ", text).strip()


def load_soundtracks(data_dir: Path) -> pd.DataFrame:
    """One row per credit line: movie_id, position, raw, title, people (list)."""
    import pandas as pd

    path = Path(data_dir) / SOUNDTRACK_FILE
    if not path.exists():
        raise DataError(str(path), "the soundtrack file is missing")
    raw = pd.read_csv(path, usecols=["movieId", "Soundtrack"])
    rows = []
    for movie_id, cell in zip(raw["movieId"], raw["Soundtrack"], strict=True):
        for pos, line in enumerate(split_list(cell)):
            credit = parse_credit(line)
            rows.append((int(movie_id), pos, credit.raw, credit.title, credit.people))
    return pd.DataFrame(rows, columns=["movie_id", "position", "raw", "title", "people"])


# "artists" that name no one: a credit saying "Traditional" is not a performer match
_NOT_AN_ARTIST = {"traditional", "anonymous", "unknown", "various artists", "various"}


def _artist_names(artist: str) -> list[str]:
    names = (norm_name(a) for a in _NAME_SPLIT.split(str(artist)))
    return [n for n in names if n and n not in _NOT_AN_ARTIST]


def match_songs(credits: pd.DataFrame, songs: pd.DataFrame) -> pd.DataFrame:
    """Credits matched to song-table tracks by normalised title AND artist.

    The artist counts as matching when one of the track's artists is one of the people
    named in the credit line (performer or writer: IMDb lines often name only the
    writers, who for most pop songs include the performer), or appears verbatim in it.
    When several tracks qualify (album and single versions) the most popular one wins.
    Returns movie_id, track_id, title, raw.
    """
    import pandas as pd

    by_title: dict[str, list[tuple[str, list[str], float]]] = {}
    pops = songs["popularity"].fillna(0).to_numpy()
    for tid, name, artist, pop in zip(songs["track_id"], songs["name"], songs["artist"], pops,
                                      strict=True):
        key = norm_title(name)
        if key:
            by_title.setdefault(key, []).append((tid, _artist_names(artist), float(pop)))
    out = []
    for movie_id, title, raw, people in zip(credits["movie_id"], credits["title"],
                                            credits["raw"], credits["people"], strict=True):
        cands = by_title.get(norm_title(title))
        if not cands:
            continue
        named = {norm_name(p) for p in people}
        raw_norm = " " + norm_name(raw) + " "
        best = None
        for tid, artists, pop in cands:
            if any(a in named or (len(a) > 3 and f" {a} " in raw_norm) for a in artists):
                if best is None or pop > best[1]:
                    best = (tid, pop)
        if best:
            out.append((int(movie_id), best[0], title, raw))
    pairs = pd.DataFrame(out, columns=["movie_id", "track_id", "title", "raw"])
    return pairs.drop_duplicates(["movie_id", "track_id"]).reset_index(drop=True)

"""Typo-tolerant title search: "the godfater" -> The Godfather, "heat 1995" -> Heat (1995).

Titles and queries are reduced to a key (accents folded, case and punctuation dropped,
leading articles removed). Exact keys answer from a dict, a token index finds titles that contain every word of the
query, and rapidfuzz's Levenshtein ratio over all keys catches typos (about half a
millisecond for the ~10k keys of ml-latest-small; WRatio would be 30x slower).
"""

from __future__ import annotations

import bisect
import heapq
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache

from rapidfuzz import fuzz, process
from unidecode import unidecode

from .errors import TitleCandidate

ARTICLES = {"the", "a", "an", "les", "la", "le", "l", "il", "el", "los", "las", "die", "der",
             "das", "un", "une"}
_NON_WORD = re.compile(r"[^a-z0-9]+")
_TRAILING_YEAR = re.compile(r"^(?P<title>.*?)[\s,(\[]*(?P<year>18[89]\d|19\d\d|20[0-3]\d)[)\]]?\s*$")


def normalize(text: str) -> str:
    """Lower-case ASCII words separated by single spaces; '&' reads as 'and'."""
    text = unidecode(text.casefold()).lower().replace("&", " and ")
    text = text.replace("'", "")  # "Schindler's" -> "schindlers", not "schindler s"
    return _NON_WORD.sub(" ", text).strip()


def title_key(text: str) -> str:
    """The search key: normalized, without a leading or MovieLens-style trailing article."""
    words = normalize(text).split()
    if len(words) > 1 and words[0] in ARTICLES:
        words = words[1:]
    if len(words) > 1 and words[-1] in ARTICLES and "," in text:
        words = words[:-1]
    return " ".join(words)


def split_year(query: str) -> tuple[str, int | None]:
    """'Heat (1995)' / 'heat 1995' -> ('Heat', 1995). A bare year stays a title ('1917')."""
    match = _TRAILING_YEAR.match(query.strip())
    if match and match["title"].strip(" ,(-"):
        return match["title"].strip(" ,(-"), int(match["year"])
    return query, None


# What may follow a franchise's name in an entry's title key: a number ("Toy Story 2",
# "Alien3"), a Roman numeral, "part ...", or "and the ..." ("Harry Potter and the ...").
_SEQUEL_RE = re.compile(r"^(?:\d|\s(?:\d+|[ivx]+|part|chapter|and the)(?:\s|$))")
_SUBTITLE_SPLIT = re.compile(r"\s*:|\s[-–]\s")
_NUMBERING_RE = re.compile(r"^(?:episode|part|chapter|vol|volume|book|season)?\s*(?:\d+|[ivx]+)?$")


def _main_title_key(title: str) -> str:
    """The key of a title's part before its first subtitle ("Star Wars: Episode IV - A New
    Hope" -> "star wars")."""
    return title_key(_SUBTITLE_SPLIT.split(title, maxsplit=1)[0])


@dataclass(frozen=True)
class _Entry:
    movie_id: int
    title: str
    year: int | None
    weight: float  # popularity prior in [0, 1], used to break ties


EXACT = 1.0
SQUASHED = 0.99      # the same letters, spaced differently ("oldboy" / "Old Boy")
MAIN_TITLE = 0.9     # the title before its colon: "birdman" -> "Birdman: Or (...)"
SUBTITLE = 0.88      # a subtitle alone: "the two towers" -> "The Lord of the Rings: The Two Towers"
MAX_FUZZY = 0.95     # a typo never outranks an exact title
CONTAINS_BASE = 0.80  # "shawshank" inside "shawshank redemption"


class TitleIndex:
    """Ranked title candidates with a confidence in [0, 1]."""

    def __init__(self, entries: Iterable[tuple[int, str, float | int | None, list[str], float]]):
        """``entries``: (movie_id, display title, year, alternative titles, popularity weight)."""
        self._by_key: dict[str, list[_Entry]] = defaultdict(list)
        for movie_id, title, year, akas, weight in entries:
            year = None if year is None or year != year else int(year)  # NaN -> None
            entry = _Entry(int(movie_id), str(title), year, float(weight))
            for name in [title, *akas]:
                key = title_key(name)
                if key and entry not in self._by_key[key]:
                    self._by_key[key].append(entry)
        self._keys = list(self._by_key)
        # The main title before a subtitle: good enough to name the film, never as good as
        # a film called just that ("godfather" stays The Godfather, not Part II).
        self._by_main: dict[str, list[_Entry]] = defaultdict(list)
        for entries in self._by_key.values():
            for entry in entries:
                main = title_key(entry.title.split(":", 1)[0]) if ":" in entry.title else ""
                main = main.removesuffix(" or")   # "Dr. Strangelove or: How I Learned..."
                if main and main != title_key(entry.title) and entry not in self._by_main[main]:
                    self._by_main[main].append(entry)
        # The subtitle a fan names a sequel by ("a new hope", "dead man's chest"); not the
        # numbering ("Episode IV", "Part 2", "Vol. 1"), which names no film on its own.
        self._by_subtitle: dict[str, list[_Entry]] = defaultdict(list)
        for entries in self._by_key.values():
            for entry in entries:
                for part in _SUBTITLE_SPLIT.split(entry.title)[1:]:
                    sub = title_key(part)
                    if len(sub) >= 3 and not _NUMBERING_RE.match(sub) \
                            and entry not in self._by_subtitle[sub]:
                        self._by_subtitle[sub].append(entry)
        # "oldboy" is "Old Boy", "spiderman" is "Spider-Man": spaces do not tell titles apart
        self._by_squashed: dict[str, list[str]] = defaultdict(list)
        for key in self._keys:
            self._by_squashed[key.replace(" ", "")].append(key)
        self._by_token: dict[str, set[int]] = defaultdict(set)
        for i, key in enumerate(self._keys):
            for token in key.split():
                self._by_token[token].add(i)

    def __len__(self) -> int:
        return len(self._keys)

    def search(self, query: str, k: int = 5, thorough: bool = True) -> list[TitleCandidate]:
        """Candidates, best first. ``thorough=False`` skips the typo scan when the query
        names a title exactly: enough to resolve it, and 10x faster."""
        return list(self._search(query, k, thorough))

    @lru_cache(maxsize=4096)  # noqa: B019 - one index per catalog version; chats repeat titles
    def _search(self, query: str, k: int, thorough: bool) -> tuple[TitleCandidate, ...]:
        title, year = split_year(query)
        scored: dict[int, tuple[float, _Entry]] = {}
        # "Death Race 2000": the year may be part of the title. That reading only needs the
        # cheap exact/containment checks; typos are matched on the title without the year.
        readings = [(query, None, year is None)]
        if year is not None:
            readings.append((title, year, True))
        if not thorough:
            readings = [(text, y, fuzzy and title_key(text) not in self._by_key)
                        for text, y, fuzzy in readings]
        for text, wanted_year, fuzzy in readings:
            for score, entry in self._score(text, wanted_year, fuzzy):
                best = scored.get(entry.movie_id)
                if best is None or score > best[0]:
                    scored[entry.movie_id] = (score, entry)
        # Popular films win near-ties ("star wars" lists A New Hope first).
        ranked = sorted(scored.values(), key=lambda se: -(se[0] + 0.05 * se[1].weight))[:k]
        return tuple(TitleCandidate(e.movie_id, e.title, e.year, round(s, 4)) for s, e in ranked)

    def complete(self, text: str, k: int = 25) -> list[TitleCandidate]:
        """Titles for what someone has typed so far (autocomplete): titles that start with
        it first, then titles with a word that starts with it ("knight" -> The Dark
        Knight), best known first; text no title starts with (a typo: "incepton") gets
        `search`'s answer. Empty text: the best-known titles."""
        return list(self._complete(title_key(text), k, text))

    @lru_cache(maxsize=4096)  # noqa: B019 - one index per catalog version; prefixes repeat
    def _complete(self, key: str, k: int, text: str) -> tuple[TitleCandidate, ...]:
        keys, rows = self._completion_rows
        lo = bisect.bisect_left(keys, key)
        hi = bisect.bisect_left(keys, key + "{", lo)      # "{" sorts after every key letter
        # rows are (not at the title's start, -weight, movie id, title, year): the smallest
        # are the best; a short prefix can match thousands, so take the best few, unsorted
        best = heapq.nsmallest(4 * k, (rows[i] for i in range(lo, hi))) if hi - lo > 4 * k \
            else sorted(rows[lo:hi])
        out: dict[int, TitleCandidate] = {}
        for inner, weight, movie_id, title, year in best:
            if movie_id not in out:
                out[movie_id] = TitleCandidate(movie_id, title, year,
                                               round((0.8 if inner else 0.9) - weight / 10, 4))
        if not out and len(key) >= 3:                     # a typo: the fuzzy search
            for c in self.search(text, k):
                out.setdefault(c.movie_id, c)
        return tuple(list(out.values())[:k])

    @cached_property
    def _completion_rows(self) -> tuple[list[str], list[tuple]]:
        """Every title key and each of its word-starting tails ("dark knight", "knight"),
        sorted, for prefix lookups by bisection; built on first use (~25k rows)."""
        rows = []
        for key, entries in self._by_key.items():
            words = key.split()
            for i in range(len(words)):
                tail = " ".join(words[i:])
                rows += [(tail, i > 0, -e.weight, e.movie_id, e.title, e.year) for e in entries]
        rows.sort()
        return [r[0] for r in rows], [r[1:] for r in rows]

    def series(self, stem: str) -> list[tuple[int, str, int | None]]:
        """(movie_id, title, year) of every title named "<stem>", "<stem>s", "<stem> 2",
        "<stem>: ..." or "<stem> and the ...": the title-stem reading of a franchise."""
        key = title_key(stem)
        tokens = key.split()
        if len(key) < 3 or not all(t in self._by_token for t in tokens[:-1]):  # "m" is no series
            return []
        holders = (set.intersection(*(self._by_token[t] for t in tokens[:-1])) if len(tokens) > 1
                   else range(len(self._keys)))
        out = {}
        for i in holders:
            other = self._keys[i]
            if other == key or other == key + "s" or (
                    other.startswith(key) and _SEQUEL_RE.match(other[len(key):])):
                entries = self._by_key[other]
                if other == key:  # films that only share the name ("Heat", "The Heat") are no
                    entries = [max(entries, key=lambda e: e.weight)]  # series: the best-known
            elif other.startswith(key + " "):
                # a longer title is an entry only where the stem ends its main title
                # ("Alien: Resurrection", "Mission: Impossible - Fallout"); "Blue Velvet"
                # and "Blue Jasmine" only start with the same word
                entries = [e for e in self._by_key[other] if _main_title_key(e.title) == key]
            else:
                continue
            for entry in entries:
                out[entry.movie_id] = (entry.movie_id, entry.title, entry.year)
        return list(out.values())

    def _key_scores(self, key: str, fuzzy: bool) -> dict[str, float]:
        scores: dict[str, float] = {}
        if key in self._by_key:
            scores[key] = EXACT
        for other in self._by_squashed.get(key.replace(" ", ""), []):
            scores.setdefault(other, SQUASHED)
        matches = process.extract(key, self._keys, scorer=fuzz.ratio, limit=10,
                                  score_cutoff=55) if fuzzy else []
        for other, score, _ in matches:
            if other != key:
                scores[other] = min(score / 100.0, MAX_FUZZY)
        tokens = key.split()
        if tokens and all(t in self._by_token for t in tokens):
            holders = set.intersection(*(self._by_token[t] for t in tokens))
            for i in holders:
                other = self._keys[i]
                if other != key:
                    contains = CONTAINS_BASE + 0.15 * len(key) / len(other)
                    scores[other] = max(scores.get(other, 0.0), min(contains, MAX_FUZZY))
        return scores

    def _score(self, text: str, year: int | None, fuzzy: bool) -> list[tuple[float, _Entry]]:
        key = title_key(text)
        if not key:
            return []
        out: list[tuple[float, _Entry]] = []
        matches = [(entry, base) for matched_key, base in self._key_scores(key, fuzzy).items()
                   for entry in self._by_key[matched_key]]
        matches += [(entry, MAIN_TITLE) for entry in self._by_main.get(key, ())]
        matches += [(entry, SUBTITLE) for entry in self._by_subtitle.get(key, ())]
        for entry, base in matches:
            score = base
            if year is not None:
                score += 0.03 if entry.year == year else -0.15 if entry.year else -0.05
            out.append((max(0.0, min(1.0, score)), entry))
        return out

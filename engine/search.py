"""Typo-tolerant title search: "the godfater" -> The Godfather, "heat 1995" -> Heat (1995).

Titles and queries are reduced to a key (accents folded, case and punctuation dropped,
leading articles removed). Exact keys answer from a dict; everything else goes through
rapidfuzz against the list of keys, which is fast enough (a few hundred microseconds for
the ~13k keys of ml-latest-small) to run on every message.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process
from unidecode import unidecode

from .errors import TitleCandidate

_ARTICLES = {"the", "a", "an", "les", "la", "le", "l", "il", "el", "los", "las", "die", "der",
             "das", "un", "une"}
_NON_WORD = re.compile(r"[^a-z0-9]+")
_TRAILING_YEAR = re.compile(r"^(?P<title>.*?)[\s,(\[]*(?P<year>(18[89]|19\d|20\d)\d)[)\]]?\s*$")


def normalize(text: str) -> str:
    """Lower-case ASCII words separated by single spaces; '&' reads as 'and'."""
    text = unidecode(text).lower().replace("&", " and ")
    text = text.replace("'", "")  # "Schindler's" -> "schindlers", not "schindler s"
    return _NON_WORD.sub(" ", text).strip()


def title_key(text: str) -> str:
    """The search key: normalized, without a leading or MovieLens-style trailing article."""
    words = normalize(text).split()
    if len(words) > 1 and words[0] in _ARTICLES:
        words = words[1:]
    if len(words) > 1 and words[-1] in _ARTICLES and "," in text:
        words = words[:-1]
    return " ".join(words)


def split_year(query: str) -> tuple[str, int | None]:
    """'Heat (1995)' / 'heat 1995' -> ('Heat', 1995). A bare year stays a title ('1917')."""
    match = _TRAILING_YEAR.match(query.strip())
    if match and match["title"].strip(" ,(-"):
        return match["title"].strip(" ,(-"), int(match["year"])
    return query, None


@dataclass(frozen=True)
class _Entry:
    movie_id: int
    title: str
    year: int | None
    weight: float  # popularity prior in [0, 1], used to break ties


class TitleIndex:
    """Ranked title candidates with a confidence in [0, 1]."""

    def __init__(self, entries: Iterable[tuple[int, str, int | None, list[str], float]]):
        """``entries``: (movie_id, display title, year, alternative titles, popularity weight)."""
        self._by_key: dict[str, list[_Entry]] = defaultdict(list)
        for movie_id, title, year, akas, weight in entries:
            entry = _Entry(int(movie_id), title, year, float(weight))
            for name in [title, *akas]:
                key = title_key(name)
                if key and entry not in self._by_key[key]:
                    self._by_key[key].append(entry)
        self._keys = list(self._by_key)

    def __len__(self) -> int:
        return len(self._keys)

    def search(self, query: str, k: int = 5) -> list[TitleCandidate]:
        title, year = split_year(query)
        scored: dict[int, tuple[float, _Entry]] = {}
        readings = [(query, None)] + ([(title, year)] if year is not None else [])
        for text, wanted_year in readings:
            for score, entry in self._score(text, wanted_year):
                best = scored.get(entry.movie_id)
                if best is None or score > best[0]:
                    scored[entry.movie_id] = (score, entry)
        ranked = sorted(scored.values(), key=lambda se: (-se[0], -se[1].weight))[:k]
        return [TitleCandidate(e.movie_id, e.title, e.year, round(s, 4)) for s, e in ranked]

    def _score(self, text: str, year: int | None) -> list[tuple[float, _Entry]]:
        key = title_key(text)
        if not key:
            return []
        out: list[tuple[float, _Entry]] = []
        matches = process.extract(key, self._keys, scorer=fuzz.WRatio, limit=12, score_cutoff=60)
        exact = self._by_key.get(key)
        if exact and all(m[0] != key for m in matches):
            matches.append((key, 100.0, -1))
        for matched_key, score, _ in matches:
            base = score / 100.0
            if matched_key != key:
                # WRatio is generous with partial matches; a plain ratio keeps typos above
                # prefixes ("godfater" ~ "godfather" beats "godfather part ii").
                base = 0.5 * base + 0.5 * fuzz.ratio(key, matched_key) / 100.0
                base = min(base, 0.97)
            for entry in self._by_key[matched_key]:
                s = base
                if year is not None:
                    s += 0.03 if entry.year == year else -0.15 if entry.year else -0.05
                s += 0.02 * entry.weight  # popular films win near-ties
                out.append((max(0.0, min(1.0, s)), entry))
        return out

"""Keep a result list from being five films of one franchise or one director.

MovieLens has no collection column, so a franchise is approximated by the title stem:
the first two significant words of the title before any ":" ("Star Wars: Episode V" and
"Star Wars: Episode VI" -> "star wars"; "Toy Story 2" -> "toy story").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator

from engine.results import Movie

_ARTICLES = {"the", "a", "an", "le", "la", "les", "el", "der", "die", "das"}
_SEQUEL = re.compile(r"^(\d+|[ivx]+|part|chapter|episode)$")


def title_stem(title: str) -> str:
    head = re.split(r"[:(\-–]", title.lower(), maxsplit=1)[0]
    words = [w for w in re.findall(r"[a-z0-9']+", head)]
    while words and words[0] in _ARTICLES:
        words = words[1:]
    while len(words) > 1 and _SEQUEL.match(words[-1]):
        words = words[:-1]
    return " ".join(words[:2])


def diversify(movies: Iterable[Movie], k: int, per_stem: int = 1,
              per_director: int = 2) -> Iterator[Movie]:
    """Yield up to k movies in order, skipping ones over a cap; skipped ones fill a short list."""
    stems: Counter[str] = Counter()
    directors: Counter[str] = Counter()
    skipped: list[Movie] = []
    taken = 0
    for movie in movies:
        stem = title_stem(movie.title)
        if stems[stem] >= per_stem or any(directors[d] >= per_director for d in movie.directors):
            skipped.append(movie)
            continue
        stems[stem] += 1
        directors.update(movie.directors)
        taken += 1
        yield movie
        if taken >= k:
            return
    for movie in skipped[:k - taken]:
        yield movie

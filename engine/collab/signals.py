"""What a user told us about a movie, as numbers the models understand.

A signal is a 0.5-5 star rating or the strings "like" / "dislike". Ratings >= 3.5 and
"like" are positive evidence, ratings <= 2 and "dislike" negative, 2.5-3 a weak "watched".
The same function weights MovieLens ratings at training time and a chat user's history at
request time, so a thumbs-up means the same thing in both places.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from engine.errors import InvalidInput

POSITIVE_AT = 3.5
NEGATIVE_AT = 2.0
LIKE_AS_RATING = 4.5      # a thumbs-up is about as strong as a 4.5-star rating
DISLIKE_AS_RATING = 1.5
MAX_HISTORY = 5000        # a chat history longer than this is a bug or an attack

Signal = float | str


def as_rating(signal: Signal) -> float:
    """A signal as a star rating; raises InvalidInput for anything else."""
    if isinstance(signal, str):
        text = signal.strip().lower()
        if text in {"like", "up", "+", "👍"}:
            return LIKE_AS_RATING
        if text in {"dislike", "down", "-", "👎"}:
            return DISLIKE_AS_RATING
        try:
            signal = float(text)
        except ValueError:
            raise InvalidInput(f"“{signal}” is not a rating: use a number from 0.5 to 5, "
                               "or like / dislike.") from None
    value = float(signal)
    if not (0.5 <= value <= 5.0) or math.isnan(value):
        raise InvalidInput(f"A rating must be between 0.5 and 5 (got {signal}).")
    return value


def confidence(rating: float) -> float:
    """Signed weight of one rating: > 0 liked, < 0 disliked, small > 0 merely watched.

    Why these numbers: they were compared on the validation users of ml-latest-small
    (see docs/collab.md); watching a film is itself weak evidence of taste, so a 3-star
    rating still counts a little, while a 1-star rating should push similar films down.
    """
    if rating >= POSITIVE_AT:
        return 1.0 + (rating - POSITIVE_AT)          # 1.0 .. 2.5
    if rating <= NEGATIVE_AT:
        return -(1.0 + (NEGATIVE_AT - rating))       # -1.0 .. -2.5
    return 0.3


@dataclass
class History:
    """A user's signals, resolved to one rating per movie (the last one wins)."""

    ratings: dict[int, float] = field(default_factory=dict)

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[int, Signal]]) -> History:
        hist = cls()
        for n, pair in enumerate(pairs):
            if n >= MAX_HISTORY:
                raise InvalidInput(f"That history is too long (more than {MAX_HISTORY} movies).")
            try:
                movie_id, signal = pair
                movie_id = int(movie_id)
            except (TypeError, ValueError):
                raise InvalidInput(f"“{pair}” is not a (movie id, rating) pair.") from None
            hist.ratings[movie_id] = as_rating(signal)
        return hist

    def positives(self) -> list[int]:
        return [m for m, r in self.ratings.items() if r >= POSITIVE_AT]

    def negatives(self) -> list[int]:
        return [m for m, r in self.ratings.items() if r <= NEGATIVE_AT]

    def __len__(self) -> int:
        return len(self.ratings)


def parse_history(text: str) -> list[tuple[int, Signal]]:
    """Parse "318:5,260:4.5,1196:like" into pairs; friendly InvalidInput when malformed."""
    pairs: list[tuple[int, Signal]] = []
    for part in (p.strip() for p in text.replace(";", ",").split(",")):
        if not part:
            continue
        movie, sep, signal = part.partition(":")
        if not sep or not movie.strip() or not signal.strip():
            raise InvalidInput(f"“{part}” should look like MOVIE_ID:RATING, e.g. 318:5 or 1196:like.")
        try:
            movie_id = int(movie.strip())
        except ValueError:
            raise InvalidInput(f"“{movie.strip()}” is not a movie id (a whole number, e.g. 318).") from None
        as_rating(signal)  # validate now, so the error names the bad part
        pairs.append((movie_id, signal.strip()))
    if not pairs:
        raise InvalidInput("The history is empty: give at least one MOVIE_ID:RATING, e.g. 318:5.")
    return pairs


def history_pairs(history: Sequence[tuple[int, Signal]] | History) -> History:
    return history if isinstance(history, History) else History.from_pairs(history)

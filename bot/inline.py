"""Inline mode: ``@bot inception`` in any chat lists matching films as cards to share.

Platform-neutral: the cards (with 👍/👎, More like this, trailer and watchlist buttons,
which work for whoever presses them) come from here; the Telegram front-end draws them as
inline results. Typing is completed like Discord's autocomplete (`Catalog.complete`:
prefixes first, typos fall back to the fuzzy search); an empty query lists the best-known
films.
"""

from __future__ import annotations

from .cards import movie_card
from .commands import CommandLayer
from .replies import Card

INLINE_RESULTS = 10


async def inline_cards(layer: CommandLayer, text: str, k: int = INLINE_RESULTS) -> list[Card]:
    found = layer.engine.catalog.complete(text, k)
    movies = await layer._enrich([layer.engine.movie(c.movie_id) for c in found])
    return [movie_card(m) for m in movies]

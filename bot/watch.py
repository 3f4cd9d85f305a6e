"""Where to watch: TMDB's watch providers (data by JustWatch) for the user's country.

* ``WatchDesk`` (held by the command layer as ``layer.watch``) knows each user's country
  (set with /country and kept in the store; until then the platform's locale, else
  MOVIEBOT_DEFAULT_COUNTRY) and turns providers into words: the one-line "Where to watch"
  on cards, and the full /where listing by type (stream, rent, buy).
* ``/where <title> [country]`` and ``/country [code]`` are declared here, on the same
  registry as every other command (`bot.registry.COMMANDS`).

Without ``TMDB_API_KEY`` there is no provider data at all: cards get no line, and /where
says what is needed. TMDB slow or down costs a card its line, never the answer. TMDB's
terms ask that JustWatch be credited wherever its data is shown: both forms do.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from engine.errors import InvalidInput, MovieBotError
from engine.results import Movie

from .countries import country_code, country_from_locale, country_name, country_phrase
from .registry import COMMANDS, Arg
from .replies import Button, Card, Reply
from .store import StoreUnavailable

if TYPE_CHECKING:  # the layer holds a WatchDesk; no import at run time (no cycle)
    from .commands import CommandLayer, User

log = logging.getLogger("moviebot.watch")

ATTRIBUTION = "Streaming data by JustWatch (via TMDB)."
NEEDS_KEY = ("Where to watch needs the live TMDB catalog: the bot's operator sets "
             "TMDB_API_KEY (a free key from themoviedb.org) and restarts the bot.")
# TMDB's offer types, in the order a viewer cares about, and how they are said
OFFERS = (("flatrate", "Stream"), ("free", "Free"), ("ads", "Free with ads"),
          ("rent", "Rent"), ("buy", "Buy"))
LINE_PROVIDERS = 3     # per offer type on a card's one line


class WatchDesk:
    """Countries and provider wording for one bot process."""

    def __init__(self, tmdb: Any, store: Any, default_country: str = "US",
                 timeout: float = 2.5):
        self.tmdb = tmdb
        self.store = store
        self.default_country = country_code(default_country) or "US"
        self.timeout = timeout
        # (platform, user id) -> the country chosen with /country (None: none chosen)
        self._chosen: dict[tuple[str, str], str | None] = {}

    # -- countries ---------------------------------------------------------------------
    async def country(self, layer: CommandLayer, user: User | None) -> tuple[str, str]:
        """(code, why): the user's /country, else their platform's locale, else the default."""
        if user is None:
            return self.default_country, "default"
        chosen = await self._stored(layer, user)
        if chosen:
            return chosen, "chosen"
        from_locale = country_from_locale(user.locale)
        if from_locale:
            return from_locale, "locale"
        return self.default_country, "default"

    async def _stored(self, layer: CommandLayer, user: User) -> str | None:
        key = (user.platform, user.user_id)
        if key in self._chosen:
            return self._chosen[key]
        if self.store is None:
            return None
        try:
            chosen = await self.store.user_country(await layer._uid(user))
        except Exception as exc:  # noqa: BLE001 - a store outage falls back to the locale
            log.info("country not read (%s); using the locale or default", type(exc).__name__)
            return None
        self._chosen[key] = chosen
        return chosen

    async def choose(self, layer: CommandLayer, user: User, code: str) -> None:
        await self.store.set_user_country(await layer._uid(user), code)
        self._chosen[(user.platform, user.user_id)] = code

    def forget(self, user: User) -> None:
        self._chosen.pop((user.platform, user.user_id), None)

    # -- providers ---------------------------------------------------------------------
    async def offers(self, movie: Movie, country: str) -> dict | None:
        """TMDB's entry for ``country`` ({} when it lists none there); None: no data."""
        if self.tmdb is None or not movie.tmdb_id:
            return None
        providers = await self.tmdb.watch_providers(int(movie.tmdb_id))
        if providers is None:
            return None
        return providers.get(country, {})

    async def lines(self, movies: list[Movie], country: str) -> list[str]:
        """The one-line "Where to watch" of each movie ("" where there is none, TMDB is
        slow or down, or no key is set): cards are never held up by it."""
        if self.tmdb is None or not movies:
            return [""] * len(movies)
        try:
            found = await asyncio.wait_for(
                asyncio.gather(*(self.offers(m, country) for m in movies)), self.timeout)
        except Exception as exc:  # noqa: BLE001 - the line is a bonus, timeouts included
            log.info("where-to-watch lines skipped (%s)", type(exc).__name__)
            return [""] * len(movies)
        return [card_line(offer, country) for offer in found]


def _names(entries: Any, limit: int | None = None) -> list[str]:
    names = [e.get("provider_name", "") for e in entries or [] if isinstance(e, dict)]
    names = list(dict.fromkeys(n for n in names if n))
    return names[:limit] if limit else names


def card_line(offer: dict | None, country: str) -> str:
    """"Where to watch (DE, JustWatch): stream on Disney Plus, WOW · buy on Amazon Video"."""
    if not offer:
        return ""
    parts = []
    for kind, label in OFFERS:
        names = _names(offer.get(kind), LINE_PROVIDERS)
        if names:
            parts.append(f"{label.lower()} on {', '.join(names)}")
    if not parts:
        return ""
    return f"Where to watch ({country}, JustWatch): " + " · ".join(parts)


def add_line(card: Card, line: str) -> None:
    if line:
        card.body = (card.body + "\n" if card.body else "") + line


def listing(movie: Movie, country: str, offer: dict) -> Reply:
    """The /where answer: providers by type, the JustWatch credit and TMDB's page."""
    place = country_phrase(country)
    rows = [f"{label}: {', '.join(names)}" for kind, label in OFFERS
            if (names := _names(offer.get(kind)))]
    if not rows:
        return Reply(text=f"I don't know anywhere to stream, rent or buy {movie.label} in "
                          f"{place} right now. Try another country, e.g. /where {movie.title} US. "
                          + ATTRIBUTION)
    buttons = [Button("All offers (TMDB)", url=offer["link"])] if offer.get("link") else []
    return Reply(text=f"Where to watch {movie.label} in {place}:\n" + "\n".join(rows)
                 + "\n" + ATTRIBUTION, buttons=buttons,
                 context={"command": "where", "tmdb_id": movie.tmdb_id, "country": country})


def _where_args(text: str) -> dict[str, Any]:
    """"Oppenheimer DE": a two-letter country code may end the title ("It" alone is a film)."""
    words = text.split()
    if len(words) >= 2 and len(words[-1]) == 2 and country_code(words[-1]):
        return {"title": " ".join(words[:-1]), "country": words[-1]}
    return {"title": text.strip()}


def _check_country(text: str) -> str:
    code = country_code(text)
    if code is None:
        raise InvalidInput(f"“{text.strip()[:20]}” isn't a country code I know. Use the two "
                           "letters of ISO 3166-1, e.g. DE (Germany), GB (United Kingdom), "
                           "US (United States).")
    return code


@COMMANDS.command("where", "where to stream, rent or buy a movie, e.g. /where Heat DE",
                  Arg("title", "a movie title", greedy=True),
                  Arg("country", "a country code, e.g. DE (default: yours, see /country)",
                      required=False),
                  read=_where_args)
async def cmd_where(layer: CommandLayer, user: User, title: str = "", country: str = "") -> Reply:
    if not title.strip():
        raise InvalidInput("Which movie? For example: /where Heat, or /where Heat DE")
    code = _check_country(country) if country.strip() else None
    if layer.tmdb is None:
        return Reply(text=NEEDS_KEY, is_error=True)
    movie = await layer.movie_or_lookup(title.strip())
    code = code or (await layer.watch.country(layer, user))[0]
    offer = await layer.watch.offers(movie, code)
    if offer is None:
        if not movie.tmdb_id:
            raise MovieBotError(f"I have no TMDB id for {movie.label}, so I can't look up "
                                "where to watch it.")
        return Reply(text="TMDB didn't answer in time, so I can't say where to watch "
                          f"{movie.label} right now. Try again in a moment.", is_error=True)
    return listing(movie, code, offer)


@COMMANDS.command("country", "your country for where to watch, e.g. /country DE",
                  Arg("country", "a two-letter country code, e.g. DE", required=False,
                      greedy=True))
async def cmd_country(layer: CommandLayer, user: User, country: str = "") -> Reply:
    if not country.strip():
        code, why = await layer.watch.country(layer, user)
        how = {"chosen": "you chose it", "locale": "from your app's language settings",
               "default": "the bot's default"}[why]
        return Reply(text=f"Your country for where to watch is {country_name(code)} ({code}; "
                          f"{how}). Change it with /country DE, for example.")
    code = _check_country(country)
    if layer.store is None:
        raise InvalidInput("I keep no memory here, so I can't remember a country. Add it to "
                           f"each /where instead, e.g. /where Heat {code}.")
    try:
        await layer.watch.choose(layer, user, code)
    except StoreUnavailable:
        return Reply(text="I can't reach my memory right now, so your country isn't saved. "
                          "Please try again in a minute.", is_error=True)
    extra = "" if layer.tmdb is not None else " (Where to watch also needs TMDB_API_KEY.)"
    return Reply(text=f"Got it: I'll show where to watch in {country_phrase(code)} ({code})."
                 + extra)

"""The platform-neutral command layer: typed arguments -> engine -> Reply.

Every command is declared once, on its handler, with `COMMANDS.command(...)` (see
`bot.registry`): its name, typed arguments, help line, aliases and whether it is for
admins. Front-ends call `run(name, values, user)` with typed values (a slash command),
`run_text(name, text, user)` with the arguments of a typed command ("!info heat"), or
`handle(text, user)` with a whole chat line; `press()` with a button's `Action`; and
`reaction()` with an emoji put on (or taken off) one of the bot's messages. They render
the `Reply` they get back. Nothing here knows about any platform; everything a user can
get wrong ends as a friendly `Reply`, never a raise.

Feedback (👍/👎 reactions, like/dislike buttons, /rate) goes through `bot.feedback`
to the store, with a typed identity, so a platform delivering the same event twice
stores it once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine import Engine
from engine.catalog import NotInCatalog
from engine.errors import AmbiguousTitle, InvalidInput, MovieBotError, UnknownTitle
from engine.queries import HistoryQuery, MovieQuery, SongQuery
from engine.results import Filters, Movie, Recommendations
from engine.toprated.serving import TopQuery

from .actions import MAX_PAGES, Action, InvalidAction, PageQuery
from .cards import filters_label, movie_card, title_error_reply
from .feedback import FeedbackDesk
from .ondemand import Found, OnDemand, ondemand_card
from .parsing import Phrase, check_stars, parse, parse_filters, parse_rating, read_phrase
from .registry import COMMANDS, FILTERS, Arg, CommandSpec
from .replies import APOLOGY, EXPIRED, Button, Reply, plural, taste_source
from .store import FeedbackStore, SentMessage, is_outage

log = logging.getLogger("moviebot.commands")

PAGE_SIZE = 5
WHOLE_SERIES = "all"   # "/similar star wars all": every film of the series, no cap of three
TMDB_PAGE = "tmdb:"   # a paged /similar for a film past the catalog: "tmdb:<id>"

HELP_HEAD = "I recommend movies. Try:"
HELP_FOOT = """Or just send me a movie title. React 👍 or 👎 to any movie card to teach me your taste.
Filters for /similar, /song, /recommend and /top: genre:comedy after:1990 before:2005"""

START_TEXT = """Hi {name}! 🎬 I'm MovieBot.
Tell me a movie you love (just type its title), or try /similar The Matrix.
Every movie I show you has 👍 and 👎: tap or react, and /recommend gets more personal.
/help lists everything."""
# /start where no feedback store is configured: promise only what works.
START_TEXT_NO_STORE = """Hi {name}! 🎬 I'm MovieBot.
Tell me a movie you love (just type its title), or try /similar The Matrix.
I keep no memory here, so 👍/👎, /rate, /watchlist and a personal /recommend are off.
/help lists everything."""

# COMMANDS (bot.registry) is filled by the @COMMANDS.command declarations below, then by
# bot.watch's (/where, /country), imported at the end of this module.


@dataclass(frozen=True)
class User:
    platform: str          # "telegram", "discord", "console"
    user_id: str           # the platform's user id, as text
    display_name: str = ""
    is_admin: bool = False
    # the platform's locale where it gives one ("pt-BR", "de"): a default country for
    # where to watch until the user sets one (bot/countries.py)
    locale: str = ""


@dataclass(frozen=True)
class Chat:
    """Where a command was sent: the platform's chat (Telegram) or channel (Discord) id,
    and whether several people read it (a group or a server channel: one list message
    instead of a message per card; /party works only there)."""

    platform: str
    chat_id: str
    group: bool = False


@dataclass(frozen=True)
class MessageRef:
    """One message the bot sent: what a reaction or a button press points at."""

    platform: str
    chat_id: str
    message_id: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.chat_id}:{self.message_id}"


def _title_and_filters(name: str) -> Callable[[str], dict[str, Any]]:
    def read(text: str) -> dict[str, Any]:
        rest, filters = parse_filters(text)
        return {name: rest, "filters": filters}
    return read


def _similar_args(text: str) -> dict[str, Any]:
    """"star wars all genre:action": a last word "all" asks for the whole series."""
    rest, filters = parse_filters(text)
    words = rest.split()
    if len(words) > 1 and words[-1].lower() == WHOLE_SERIES:
        return {"title": " ".join(words[:-1]), "filters": filters, "series": WHOLE_SERIES}
    return {"title": rest, "filters": filters}


def _similar_choice(filters: Filters | None, whole_series: bool) -> Callable[[int], Action]:
    """The button for a film picked from "which one?": its list as asked, with the filters
    and the whole-series switch ("/similar star wars all" -> Empire -> the whole series)."""
    if (filters is None or filters.is_empty()) and not whole_series:
        return Action.more

    def choice(movie_id: int) -> Action:
        query = PageQuery.of(filters, movie_id=movie_id, text=WHOLE_SERIES if whole_series else "")
        action = Action.page("similar", query, 0)
        # a query too long for a button would be read back from the reply, which has none
        return action if Action.decode(action.encode()).query == query else Action.more(movie_id)
    return choice


def _only_filters(text: str) -> dict[str, Any]:
    return {"filters": parse_filters(text)[1]}


def _title_and_stars(text: str) -> dict[str, Any]:
    title, stars = parse_rating(text)
    return {"title": title, "stars": stars}


def _watchlist_args(text: str) -> dict[str, Any]:
    verb, _, title = text.partition(" ")
    return {"action": verb.lower(), "title": title.strip()}


class CommandLayer:
    """One instance per bot process; `get_engine` returns the engine to use right now
    (so a hot reload swaps it between requests). ``store`` (a `FeedbackStore`: a
    `bot.store.Store` or `SpoolingStore`) is optional: without it feedback commands
    explain they are off."""

    def __init__(self, get_engine: Callable[[], Engine], bot_username: str = "", *,
                 store: FeedbackStore | None = None, tmdb: Any = None,
                 page_size: int = PAGE_SIZE, tmdb_timeout: float = 2.5,
                 default_country: str = "US"):
        self.get_engine = get_engine
        self.bot_username = bot_username
        self.store = store
        self.tmdb = tmdb
        self.page_size = page_size
        self.tmdb_timeout = tmdb_timeout
        self.feedback = FeedbackDesk(store)     # reactions, likes, remembered cards
        self.ondemand = OnDemand(tmdb)          # titles past the catalog, from TMDB
        self.watch = watch.WatchDesk(tmdb, store, default_country, tmdb_timeout)

    @property
    def engine(self) -> Engine:
        return self.get_engine()

    # -- entry points ----------------------------------------------------------------
    async def handle(self, text: str, user: User, *, event_id: str | None = None,
                     chat: Chat | None = None) -> Reply | None:
        """Answer one chat line; never raises. None: the message was for another bot.
        ``event_id``: the platform's id for this event (see `FeedbackDesk.event_key`)."""
        with self.feedback.event(event_id):
            return await self._handle(text, user, chat)

    async def _handle(self, text: str, user: User, chat: Chat | None = None) -> Reply | None:
        try:
            command = parse(text, self.bot_username)
        except MovieBotError as err:
            return Reply(text=str(err), is_error=True)
        if command is None:
            return None
        if command.name == "title":
            return await self._plain_line(command.args, user)
        return await self.run_text(command.name, command.args, user, chat=chat)

    async def _plain_line(self, text: str, user: User) -> Reply:
        """A line without a command, read as a film lover means it: small talk gets
        help, "movies like X" / "X but older" the similar list, anything else /info."""
        phrase = read_phrase(text)
        if phrase.intent == "help":
            return await self.cmd_help(user)
        if phrase.intent == "similar" and not phrase.era and self._is_exact_title(text):
            phrase = Phrase("info", text)
        if phrase.intent == "info":
            return await self.run_text("info", phrase.title, user)
        if phrase.whole_series:
            return await self.run_text("similar", f"{phrase.title} {WHOLE_SERIES}", user)
        if not phrase.era:
            return await self.run_text("similar", phrase.title, user)

        async def similar_in_era() -> Reply:
            title, filters = parse_filters(phrase.title)
            movie = self.engine.resolve(title)
            if movie.year is None:
                raise InvalidInput(f"I don't know when {movie.title} came out, so I can't go "
                                   f"{phrase.era}. Try /similar {movie.title} before:1990")
            if phrase.era == "older":
                filters.year_max = movie.year - 1
            else:
                filters.year_min = movie.year + 1
            return await self._similar(movie, filters, 0, user)
        return await self._answer(similar_in_era, Action.more, "similar (era)")

    def _is_exact_title(self, text: str) -> bool:
        """"Something Like Happiness" is a film, not a request."""
        try:
            found = self.engine.search(text, k=1)
        except MovieBotError:
            return False
        return bool(found) and found[0].confidence >= 1.0

    async def run_text(self, name: str, text: str, user: User, *,
                       event_id: str | None = None, chat: Chat | None = None) -> Reply:
        """``/name text``: the spec reads its typed arguments from ``text``."""
        spec = COMMANDS.get(name)
        if spec is None:
            return Reply(text=f"I don't know /{name}. Try /help.", is_error=True)
        with self.feedback.event(event_id):
            return await self._call(spec, user, lambda: spec.read(text), chat)

    async def run(self, name: str, values: Mapping[str, Any], user: User, *,
                  event_id: str | None = None, chat: Chat | None = None) -> Reply:
        """Run one command with typed argument values (a slash command's parameters)."""
        spec = COMMANDS.get(name)
        if spec is None:
            return Reply(text=f"I don't know /{name}. Try /help.", is_error=True)
        with self.feedback.event(event_id):
            return await self._call(spec, user, lambda: values, chat)

    async def _call(self, spec: CommandSpec, user: User,
                    values: Callable[[], Mapping[str, Any]], chat: Chat | None = None) -> Reply:
        if spec.admin_only and not user.is_admin:
            return Reply(text=f"/{spec.name} is for the bot's admins.", is_error=True)
        where = {"chat": chat} if spec.wants_chat else {}
        return await self._answer(
            lambda: spec.handler(self, user, **spec.bind(values()), **where), spec.choice, spec.name)

    async def _answer(self, call: Callable[[], Awaitable[Reply]],
                      choice: Callable[[int], Action], what: str) -> Reply:
        """Run a handler; every error a user can cause becomes a friendly Reply."""
        try:
            return await call()
        except (UnknownTitle, AmbiguousTitle) as err:
            return title_error_reply(err, choice)
        except MovieBotError as err:
            return Reply(text=str(err), is_error=True)
        except Exception:  # a bug must never put a traceback into a chat
            log.exception("%s failed", what)
            return Reply(text=APOLOGY, is_error=True)

    async def press(self, action: Action | str, user: User, message_ref: MessageRef | None = None,
                    event_id: str | None = None, chat: Chat | None = None) -> Reply | None:
        """A button was pressed: its `Action`, or the payload a platform handed back
        ("more:318"), decoded here; a payload that is not one of ours has expired.

        ``event_id`` is the platform's id for this press (Telegram callback query id,
        Discord interaction id): a redelivered press is then stored once.
        """
        if isinstance(action, str):
            try:
                action = Action.decode(action)
            except InvalidAction:
                return Reply(text=EXPIRED, is_error=True)
        verb = action.verb
        declared = COMMANDS.buttons.get(verb)
        if declared is not None:        # a feature module's buttons (bot/party.py)
            return await self._answer(
                lambda: declared(self, action, user, message_ref, event_id, chat),
                Action.info, f"{verb} button")
        if verb == "info":
            return await self._answer(lambda: self._info(self.engine.movie(action.movie_id), user),
                                      Action.info, "info button")
        if verb == "more":
            return await self._answer(
                lambda: self._similar(self.engine.movie(action.movie_id), Filters(), 0, user),
                Action.more, "more button")
        if verb == "watch":
            return await self._answer(
                lambda: self._watchlist(user, "add", self.engine.movie(action.movie_id)),
                Action.watch, "watch button")
        if verb == "song":
            return await self._answer(lambda: self._song(f"spotify:track:{action.track}", Filters(), 0,
                                                         user),
                                      Action.info, "song button")
        if verb in ("like", "dislike"):
            return await self._answer(lambda: self._feedback_button(action, user, message_ref, event_id),
                                      Action.info, "feedback button")
        if verb == "forget":
            return await self._answer(lambda: self._forget(action.confirm, user),
                                      Action.info, "forget button")
        return await self._answer(lambda: self._page(action, user, message_ref),
                                  Action.info, "page button")

    async def _feedback_button(self, action: Action, user: User, message_ref: MessageRef | None,
                               event_id: str | None) -> Reply:
        verb = action.verb
        movie = self.engine.movie(action.movie_id)     # a forged id fails here, unstored
        await self.record(user, movie.movie_id, verb, event_id, kind="button",
                          source=f"{user.platform}:button", message_ref=message_ref)
        mark = "👍" if verb == "like" else "👎"
        return Reply(text=f"{mark} Noted for {movie.label}. /recommend uses it.")

    # -- feedback and memory: see bot/feedback.py ----------------------------------
    def _need_store(self) -> FeedbackStore:
        return self.feedback.need_store()

    async def _uid(self, user: User) -> int:
        return await self.feedback.user_id(user)

    async def record(self, user: User, movie_id: int, signal: str,
                     event_id: str | None = None, *, value: float | None = None,
                     kind: str = "other", source: str = "",
                     message_ref: MessageRef | None = None,
                     at: datetime | None = None, replaces: tuple[str, ...] = ()) -> bool:
        return await self.feedback.record(user, movie_id, signal, event_id, value=value,
                                          kind=kind, source=source, message_ref=message_ref,
                                          at=at, replaces=replaces)

    async def remember(self, ref: MessageRef, movie_id: int | None, context: dict) -> None:
        await self.feedback.remember(ref, movie_id, context)

    async def recent_messages(self, platform: str, since: datetime) -> list[SentMessage]:
        return await self.feedback.recent_messages(platform, since)

    async def reaction(self, user: User, ref: MessageRef, emoji: str, added: bool,
                       at: datetime | None = None, seq: int | None = None) -> bool:
        if not self.feedback.is_recent_card(ref):     # a card's reaction is feedback, at once
            for hook in COMMANDS.reaction_hooks:      # 👍 on a party message joins it
                if await hook(self, user, ref, emoji, added):
                    return True
        return await self.feedback.reaction(user, ref, emoji, added, at, seq)

    async def sync_reactions(self, ref: MessageRef,
                             present: dict[str, tuple[User, set[str]]]) -> None:
        await self.feedback.sync_reactions(ref, present)

    # -- helpers --------------------------------------------------------------------
    async def _enrich(self, movies: list[Movie]) -> list[Movie]:
        """Live TMDB fields when a client is configured; dataset fields otherwise."""
        if self.tmdb is None or not movies:
            return movies
        try:
            return list(await asyncio.wait_for(
                asyncio.gather(*(self.tmdb.enrich(m) for m in movies)), self.tmdb_timeout))
        except Exception:  # noqa: BLE001 - enrichment is optional, timeouts included
            log.info("TMDB enrichment skipped")
            return movies

    async def _watch_lines(self, movies: list[Movie], user: User | None) -> list[str]:
        """Each card's "Where to watch" line for the asker's country ("" without a key)."""
        if self.tmdb is None or not movies:
            return [""] * len(movies)
        country, _ = await self.watch.country(self, user)
        return await self.watch.lines(movies, country)

    async def _cards(self, recs: Recommendations, page: int, command: str, query: PageQuery,
                     context: dict, heading: str, user: User | None = None) -> Reply:
        start = page * self.page_size
        chunk = recs.results[start:start + self.page_size]
        if not chunk:
            return Reply(text="That's all I have for this one.", is_error=page == 0)
        plain = [r.movie for r in chunk]
        movies, lines = await asyncio.gather(self._enrich(plain), self._watch_lines(plain, user))
        cards = [movie_card(m, reason=r.reason) for m, r in zip(movies, chunk, strict=True)]
        for card, line in zip(cards, lines, strict=True):
            watch.add_line(card, line)
        buttons = []
        if page > 0:
            buttons.append(Button("◀ Back", Action.page(command, query, page - 1)))
        if len(recs.results) > start + self.page_size and page + 1 < MAX_PAGES:
            buttons.append(Button("More ▶", Action.page(command, query, page + 1)))
        return Reply(text=heading if page == 0 else f"{heading} (page {page + 1})",
                     cards=cards, buttons=buttons,
                     context={"command": command, "query": query.encode(), **context, "page": page})

    async def _page(self, action: Action, user: User, ref: MessageRef | None) -> Reply:
        query = action.query
        if query is None and ref is not None and self.store is not None:
            # The query did not fit in the button: it is in the stored reply context.
            sent = await self.store.lookup_message(ref.platform, ref.chat_id, ref.message_id)
            stored = (sent.context or {}).get("query") if sent else None
            if isinstance(stored, str):
                try:
                    query = PageQuery.decode(stored)
                except InvalidAction:
                    query = None
        if action.command == "recommend":
            return await self._recommend(user, (query or PageQuery()).filters(), action.n)
        if action.command == "similar" and query is not None and query.movie_id is not None:
            return await self._similar(self.engine.movie(query.movie_id), query.filters(), action.n,
                                       user, whole_series=query.text == WHOLE_SERIES)
        if (action.command == "similar" and query is not None
                and query.text.startswith(TMDB_PAGE) and query.text[len(TMDB_PAGE):].isdigit()):
            # a film past the catalog (on demand): found again by its TMDB id
            found = await self.ondemand.by_tmdb_id(self.engine, int(query.text[len(TMDB_PAGE):]))
            if isinstance(found, Found):
                return await self._similar(found.movie, query.filters(), action.n, user, found.row)
            if found is not None:
                return await self._similar(found, query.filters(), action.n, user)
            return Reply(text=EXPIRED, is_error=True)
        if action.command == "top":
            return await self._top((query or PageQuery()).filters(), action.n, user)
        if action.command == "song" and query is not None and query.text:
            return await self._song(query.text, query.filters(), action.n, user)
        return Reply(text=EXPIRED, is_error=True)

    # -- commands: each declared once, on its handler ---------------------------------
    @COMMANDS.command("start", "what I can do, and how to teach me your taste")
    async def cmd_start(self, user: User) -> Reply:
        name = user.display_name.split()[0] if user.display_name.strip() else "there"
        text = START_TEXT if self.store is not None else START_TEXT_NO_STORE
        return Reply(text=text.format(name=name),
                     buttons=[Button("Try: The Matrix", Action.more(2571)),
                              Button("Try: Toy Story", Action.more(1))])

    @COMMANDS.command("help", "this list")
    async def cmd_help(self, user: User) -> Reply:
        return Reply(text=help_text() + self._coverage_line())

    def _coverage_line(self) -> str:
        """What the catalog covers, for /help and /info; nothing if no engine is loaded."""
        try:
            return "\n" + self.engine.catalog.coverage_sentence()
        except Exception:  # noqa: BLE001 - help must answer even without a built engine
            return ""

    @COMMANDS.command("info", "facts, poster and trailer (typos are fine: /info the godfater)",
                      Arg("title", "a movie title (typos are fine)", greedy=True, complete="title"),
                      aliases=("title",))
    async def cmd_info(self, user: User, title: str = "") -> Reply:
        if not title:
            raise InvalidInput("Which movie? For example: /info Toy Story." + self._coverage_line())
        try:
            movie = self.engine.resolve(title)
        except NotInCatalog as err:
            found = await self._lookup(title, err)
            if isinstance(found, Found):
                return await self._ondemand_info(found, user)
            return await self._info(found, user)
        if self._only_obscure_match(title, movie) and self.tmdb is not None:
            newer = await self._newer_on_tmdb(title, movie)
            if newer is not None:
                # "parasite" -> the 2019 film TMDB knows, not the 1982 one the catalog has
                reply = await self._ondemand_info(newer, user)
                reply.text = (f"{movie.label} is the only “{title}” in my catalog, and few people "
                              f"have rated it; TMDB has this newer one:")
                reply.buttons = [Button(movie.label, Action.info(movie.movie_id))]
                return reply
        reply = await self._info(movie, user)
        if self._only_obscure_match(title, movie):
            # "parasite" -> a 1982 film with 2 ratings: say it may not be the one meant
            reply.text = (f"{movie.label} is the only “{title}” in my catalog, and few people "
                          "have rated it: if you meant a newer film, it may be past my range. "
                          + self.engine.catalog.coverage_sentence())
        return reply

    @staticmethod
    def _only_obscure_match(title: str, movie: Movie) -> bool:
        """Barely rated anywhere, and no year typed that would say it is the one meant."""
        return (movie.rating_count <= 3 and (movie.vote_count or 0) < 150
                and not any(ch.isdigit() for ch in title))

    async def _info(self, movie: Movie, user: User | None = None) -> Reply:
        (movie,), (line,) = await asyncio.gather(self._enrich([movie]),
                                                 self._watch_lines([movie], user))
        reply = Reply(cards=[movie_card(movie, full=True)],
                      context={"command": "info", "movie_id": movie.movie_id})
        watch.add_line(reply.cards[0], line)
        try:
            series = self.engine.catalog.series(movie.movie_id)
        except Exception:  # noqa: BLE001 - the series row is a bonus, never a failure
            series = []
        if len(series) > 1 and any(c.movie_id == movie.movie_id for c in series):
            # "alien": the film, and the series it starts, one tap away
            card = reply.cards[0]
            card.body = (card.body + "\n" if card.body else "") + "Series: " + " · ".join(
                c.label for c in series)
            reply.buttons = [Button(c.label, Action.info(c.movie_id)) for c in series
                             if c.movie_id != movie.movie_id][:7]
        return reply

    # -- titles past the catalog (bot/ondemand.py) -----------------------------------
    async def _lookup(self, text: str, err: NotInCatalog) -> Movie | Found:
        """TMDB's film for a title the catalog lacks (queued for the next update); without
        a key, or when TMDB has nothing or does not answer, the catalog's answer stands."""
        if self.tmdb is None:
            raise err
        catalog = self.engine.catalog.coverage_sentence().split(";")[0]
        try:
            found = await asyncio.wait_for(self.ondemand.find(self.engine, text),
                                           2 * self.tmdb_timeout)
        except Exception as exc:  # noqa: BLE001 - TMDB slow or odd: the catalog's answer stands
            log.info("on-demand lookup failed (%s)", type(exc).__name__)
            err.coverage = f"{catalog}, and TMDB didn't answer just now, so I couldn't look further."
            raise err from None
        if found is None:
            err.coverage = f"{catalog}, and TMDB has no film by that name either."
            raise err
        if isinstance(found, Found):
            self.ondemand.queue(self.engine, found)
        return found

    async def _newer_on_tmdb(self, text: str, obscure: Movie) -> Found | None:
        """TMDB's film for ``text`` when it is not ``obscure`` and came out after the
        catalog ends (queued like any film past the catalog); None otherwise."""
        try:
            found = await asyncio.wait_for(self.ondemand.find(self.engine, text),
                                           2 * self.tmdb_timeout)
        except Exception:  # noqa: BLE001 - TMDB slow or odd: the catalog's answer stands
            return None
        last = self.engine.catalog.last_year
        if not isinstance(found, Found) or not found.movie.year or last is None \
                or found.movie.year <= last:
            return None
        self.ondemand.queue(self.engine, found)
        return found

    async def movie_or_lookup(self, text: str) -> Movie:
        """A catalog movie, or TMDB's for a title past the catalog (/where uses it)."""
        try:
            return self.engine.resolve(text)
        except NotInCatalog as err:
            found = await self._lookup(text, err)
            return found.movie if isinstance(found, Found) else found

    async def _ondemand_info(self, found: Found, user: User) -> Reply:
        card = ondemand_card(found, self.engine.catalog.coverage_sentence().split(";")[0] + ".")
        watch.add_line(card, (await self._watch_lines([found.movie], user))[0])
        return Reply(cards=[card], context={"command": "info", "tmdb_id": found.movie.tmdb_id})

    @COMMANDS.command("similar", "movies like that one (“all”: the whole series)",
                      Arg("title", "a movie title", greedy=True, complete="title"), FILTERS,
                      Arg("series", "“all”: every film of its series, not just three",
                          required=False, choices=(WHOLE_SERIES,)),
                      read=_similar_args, choice=Action.more)
    async def cmd_similar(self, user: User, title: str = "", filters: Filters | None = None,
                          series: str = "") -> Reply:
        if not title:
            raise InvalidInput("Like which movie? For example: /similar Heat")
        whole = series == WHOLE_SERIES
        if whole and self._is_exact_title(f"{title} {series}"):
            title, whole = f"{title} {series}", False          # "/similar free for all"
        try:
            movie = self.engine.resolve(title)
        except NotInCatalog as err:
            found = await self._lookup(title, err)
            if isinstance(found, Found):
                return await self._similar(found.movie, filters or Filters(), 0, user, found.row,
                                           whole_series=whole)
            movie = found
        except AmbiguousTitle as err:
            return title_error_reply(err, _similar_choice(filters, whole))
        return await self._similar(movie, filters or Filters(), 0, user, whole_series=whole)

    async def _similar(self, movie: Movie, filters: Filters, page: int,
                       user: User | None = None, row: dict | None = None,
                       whole_series: bool = False) -> Reply:
        """``row``: a film past the catalog (on demand), embedded on the fly by content.
        ``whole_series``: the asker wants every film of the series (no cap of three)."""
        k = (page + 1) * self.page_size + 1
        wanted = None if filters.is_empty() else filters
        seen = await self._seen(user)
        recs = self.engine.recommend("content", MovieQuery(movie, exclude=seen, row=row,
                                                           whole_series=whole_series),
                                     k=k, filters=wanted)
        heading = f"Because you asked about {movie.label}:"
        if whole_series:
            heading = f"Because you asked about {movie.label}, its whole series first:"
        if row is not None:
            heading = f"Because you asked about {movie.label} (new to me, from TMDB):"
        if seen:
            # what the list would have shown without the asker's own films
            plain = self.engine.recommend("content", MovieQuery(movie, row=row,
                                                                whole_series=whole_series),
                                          k=k, filters=wanted)
            hidden = sum(r.movie.movie_id in seen for r in plain.results)
            if hidden:
                heading += f"\n({plural(hidden, 'film')} you've seen hidden)"
        if row is not None:
            return await self._cards(recs, page, "similar",
                                     PageQuery.of(filters, text=f"{TMDB_PAGE}{movie.tmdb_id}"),
                                     {"query_tmdb_id": movie.tmdb_id}, heading, user)
        # the page query keeps the switch, so "More" goes on with the whole series
        return await self._cards(recs, page, "similar",
                                 PageQuery.of(filters, movie_id=movie.movie_id,
                                              text=WHOLE_SERIES if whole_series else ""),
                                 {"query_movie_id": movie.movie_id}, heading, user)

    async def _seen(self, user: User | None) -> frozenset[int]:
        """Films the asker rated or reacted to (empty without a store, or while it is down:
        /similar still answers, just without the personal touch)."""
        if user is None or self.store is None:
            return frozenset()
        try:
            return frozenset(m for m, _ in await self.store.history(await self._uid(user)))
        except Exception as exc:
            if not is_outage(exc):
                raise
            return frozenset()

    @COMMANDS.command("song", "movies with the vibe of a song",
                      Arg("song", "a song, an artist, or a Spotify link", greedy=True), FILTERS,
                      read=_title_and_filters("song"))
    async def cmd_song(self, user: User, song: str = "", filters: Filters | None = None) -> Reply:
        if not song:
            raise InvalidInput("Which song? For example: /song Bohemian Rhapsody")
        return await self._song(song, filters or Filters(), 0, user)

    async def _song(self, text: str, filters: Filters, page: int, user: User | None = None) -> Reply:
        recs = self.engine.recommend("crossmedia", SongQuery(text),
                                     k=(page + 1) * self.page_size + 1,
                                     filters=None if filters.is_empty() else filters)
        from engine.crossmedia.serving import song_header  # the engine words its own header

        return await self._cards(recs, page, "song", PageQuery.of(filters, text=text), {},
                                 song_header(recs.query), user)

    @COMMANDS.command("recommend", "picks from your 👍/👎 and ratings", FILTERS, read=_only_filters)
    async def cmd_recommend(self, user: User, filters: Filters | None = None) -> Reply:
        return await self._recommend(user, filters or Filters(), 0)

    async def _recommend(self, user: User, filters: Filters, page: int) -> Reply:
        history = await self._need_store().history(await self._uid(user))
        if not history:
            return Reply(text="I don't know your taste yet. Send me a movie you love, then tap "
                              "👍 on it (or /rate Heat 4.5) and ask again.",
                         buttons=[Button("Try: The Matrix", Action.more(2571))])
        recs = self.engine.recommend("collab", HistoryQuery.of(history),
                                     k=(page + 1) * self.page_size + 1,
                                     filters=None if filters.is_empty() else filters)
        return await self._cards(recs, page, "recommend", PageQuery.of(filters), {},
                                 f"Picked for you from {taste_source(history)}:", user)

    @COMMANDS.command("top", "the best-rated movies, e.g. /top genre:crime before:1980", FILTERS,
                      read=_only_filters)
    async def cmd_top(self, user: User, filters: Filters | None = None) -> Reply:
        return await self._top(filters or Filters(), 0, user)

    async def _top(self, filters: Filters, page: int, user: User | None = None) -> Reply:
        recs = self.engine.recommend("toprated", TopQuery(), k=(page + 1) * self.page_size + 1,
                                     filters=None if filters.is_empty() else filters)
        return await self._cards(recs, page, "top", PageQuery.of(filters), {},
                                 f"The best-rated {filters_label(filters)}:", user)

    @COMMANDS.command("rate", "rate a movie from 0.5 to 5 stars, e.g. /rate Heat 4.5",
                      Arg("title", "a movie title", complete="title"),
                      Arg("stars", "0.5 to 5, in half stars", type=float, bounds=(0.5, 5.0)),
                      read=_title_and_stars)
    async def cmd_rate(self, user: User, title: str, stars: float) -> Reply:
        stars = check_stars(stars)
        movie = self.engine.resolve(title)
        # Keyed by the update/interaction id: a redelivered /rate stores once.
        await self.record(user, movie.movie_id, "rating", self.feedback.event_key("rate"),
                          value=stars, kind="command", source=f"{user.platform}:command")
        return Reply(text=f"Saved: {movie.label} ★ {stars:g}/5.")

    @COMMANDS.command("watchlist", "your watchlist: /watchlist add Heat, /watchlist remove Heat",
                      Arg("action", "add, remove, or list", required=False,
                          choices=("add", "remove", "list")),
                      Arg("title", "a movie title (to add or remove)", required=False, greedy=True,
                          complete="title"),
                      read=_watchlist_args, choice=Action.watch)
    async def cmd_watchlist(self, user: User, action: str = "", title: str = "") -> Reply:
        verb = action.lower()
        if verb in ("", "list", "show"):
            return await self._watchlist(user, "list", None)
        if verb not in ("add", "remove", "rm", "delete"):
            raise InvalidInput("Use /watchlist add <title>, /watchlist remove <title> "
                               "or /watchlist.")
        if not title.strip():
            raise InvalidInput(f"Which movie? For example: /watchlist {verb} Heat")
        return await self._watchlist(user, verb, self.engine.resolve(title.strip()))

    async def _watchlist(self, user: User, verb: str, movie: Movie | None) -> Reply:
        store = self._need_store()
        if movie is None:
            ids = await store.watchlist(await self._uid(user))
            if not ids:
                return Reply(text="Your watchlist is empty. Add one: /watchlist add Heat")
            movies = [self.engine.movie(i) for i in ids]
            return Reply(text="Your watchlist:\n" + "\n".join(f"• {m.label}" for m in movies),
                         buttons=[Button(m.label, Action.info(m.movie_id)) for m in movies[:10]])
        uid = await self._uid(user)
        if verb == "add":
            added = await store.watchlist_add(uid, movie.movie_id)
            return Reply(text=f"Added {movie.label} to your watchlist." if added
                         else f"{movie.label} is already on your watchlist.")
        removed = await store.watchlist_remove(uid, movie.movie_id)
        return Reply(text=f"Removed {movie.label} from your watchlist." if removed
                     else f"{movie.label} wasn't on your watchlist.")

    @COMMANDS.command("search", "find titles", Arg("text", "part of a title", greedy=True, complete="title"))
    async def cmd_search(self, user: User, text: str = "") -> Reply:
        if not text:
            raise InvalidInput("What should I search for? For example: /search godfather")
        found = self.engine.search(text, k=8)
        if not found:
            return Reply(text=f"No titles match “{text}”.", is_error=True)
        lines = "\n".join(f"{i}. {c.label}" for i, c in enumerate(found, 1))
        return Reply(text=f"Titles matching “{text}”:\n{lines}",
                     buttons=[Button(c.label, Action.info(c.movie_id)) for c in found])

    @COMMANDS.command("forget", "delete everything I stored about you (asks first)")
    async def cmd_forget(self, user: User) -> Reply:
        self._need_store()
        return Reply(text="This deletes your likes, ratings and watchlist for good. Sure?",
                     buttons=[Button("Yes, delete everything", Action.forget(True)),
                              Button("No, keep it", Action.forget(False))])

    async def _forget(self, confirmed: bool, user: User) -> Reply:
        if not confirmed:
            return Reply(text="OK, nothing was deleted.")
        counts = await self._need_store().forget_user(await self._uid(user))
        self.watch.forget(user)
        events = plural(counts.get("feedback_events", 0), "reaction or rating",
                        "reactions and ratings")
        entries = plural(counts.get("watchlist", 0), "watchlist entry", "watchlist entries")
        return Reply(text=f"Done: I deleted {events} and {entries}.")

    @COMMANDS.command("stats", "usage numbers", admin_only=True)
    async def cmd_stats(self, user: User) -> Reply:
        stats = await self._need_store().stats()
        lines = [f"Engine version: {self.engine.version}",
                 f"Users: {stats.get('users', 0)} · events: {stats.get('events', 0)} "
                 f"(retracted {stats.get('retracted', 0)}) · watchlist: {stats.get('watchlist', 0)}",
                 "By signal: " + ", ".join(f"{k} {v}" for k, v in
                                          sorted(stats.get("events_by_signal", {}).items()))]
        per_day = stats.get("events_per_day", {})
        if per_day:
            lines.append("Last days: " + ", ".join(f"{d[5:]}: {n}" for d, n in per_day.items()))
        return Reply(text="\n".join(lines))


_HELP: list[str] = []


def help_text() -> str:
    """/help: generated from the registry, once."""
    if not _HELP:
        _HELP.append("\n".join([HELP_HEAD, *COMMANDS.help_lines(), HELP_FOOT]))
    return _HELP[0]


# /where and /country (bot/watch.py) are declared there, on the same registry; imported
# last so that /help lists them after the commands above.
from . import watch  # noqa: E402

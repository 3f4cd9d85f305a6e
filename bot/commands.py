"""The platform-neutral command layer: parse -> validate -> engine -> Reply.

Telegram, Discord and the console call `CommandLayer.handle()` with the text a user sent,
`press()` with a button action, and `reaction()` with an emoji put on (or taken off) one
of the bot's messages; they render the `Reply` they get back. Nothing here knows about
any platform; everything a user can get wrong ends as a friendly `Reply`, never a raise.

Feedback (👍/👎 reactions, like/dislike buttons, /rate) goes through `bot.feedback`
to the store, with a typed identity, so a platform delivering the same event twice
stores it once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine import Engine
from engine.errors import AmbiguousTitle, InvalidInput, MovieBotError, UnknownTitle
from engine.results import Movie, Recommendations

from .cards import movie_card, page_action, title_error_reply
from .feedback import FeedbackDesk
from .parsing import Command, filters_text, parse, parse_filters, parse_rating
from .replies import Button, Reply
from .store import FeedbackStore, SentMessage

log = logging.getLogger("moviebot.commands")

PAGE_SIZE = 5
MAX_PAGES = 6

HELP_TEXT = """I recommend movies. Try:
/info <title> – facts, poster and trailer (typos are fine: /info the godfater)
/similar <title> – movies like that one
/song <song or artist> – movies with the vibe of a song
/recommend – picks from your 👍/👎 and ratings
/rate <title> <0.5-5> – e.g. /rate Heat 4.5
/watchlist add <title> · /watchlist remove <title> · /watchlist
/search <text> – find titles
/forget – delete everything I stored about you
Or just send me a movie title. React 👍 or 👎 to any movie card to teach me your taste.
Filters for /similar, /song and /recommend: genre:comedy after:1990 before:2005"""

START_TEXT = """Hi {name}! 🎬 I'm MovieBot.
Tell me a movie you love (just type its title), or try /similar The Matrix.
Every movie I show you has 👍 and 👎: tap or react, and /recommend gets more personal.
/help lists everything."""


@dataclass(frozen=True)
class User:
    platform: str          # "telegram", "discord", "console"
    user_id: str           # the platform's user id, as text
    display_name: str = ""
    is_admin: bool = False


@dataclass(frozen=True)
class MessageRef:
    """One message the bot sent: what a reaction or a button press points at."""

    platform: str
    chat_id: str
    message_id: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.chat_id}:{self.message_id}"


Handler = Callable[["CommandLayer", Command, User], Awaitable[Reply]]


class CommandLayer:
    """One instance per bot process; `get_engine` returns the engine to use right now
    (so a hot reload swaps it between requests). ``store`` (a `FeedbackStore`: a
    `bot.store.Store` or `SpoolingStore`) is optional: without it feedback commands
    explain they are off."""

    def __init__(self, get_engine: Callable[[], Engine], bot_username: str = "", *,
                 store: FeedbackStore | None = None, tmdb: Any = None,
                 page_size: int = PAGE_SIZE, tmdb_timeout: float = 2.5):
        self.get_engine = get_engine
        self.bot_username = bot_username
        self.store = store
        self.tmdb = tmdb
        self.page_size = page_size
        self.tmdb_timeout = tmdb_timeout
        self.feedback = FeedbackDesk(store)     # reactions, likes, remembered cards
        self.handlers: dict[str, Handler] = {
            "start": CommandLayer.cmd_start,
            "help": CommandLayer.cmd_help,
            "info": CommandLayer.cmd_info,
            "search": CommandLayer.cmd_search,
            "title": CommandLayer.cmd_info,
            "similar": CommandLayer.cmd_similar,
            "song": CommandLayer.cmd_song,
            "recommend": CommandLayer.cmd_recommend,
            "rate": CommandLayer.cmd_rate,
            "watchlist": CommandLayer.cmd_watchlist,
            "forget": CommandLayer.cmd_forget,
            "stats": CommandLayer.cmd_stats,
        }

    @property
    def engine(self) -> Engine:
        return self.get_engine()

    async def handle(self, text: str, user: User) -> Reply | None:
        """Answer one message; never raises. None: the message was for another bot."""
        try:
            command = parse(text, self.bot_username)
            if command is None:
                return None
            return await self.run(command, user)
        except MovieBotError as err:
            return Reply(text=str(err), is_error=True)

    async def run(self, command: Command, user: User) -> Reply:
        try:
            handler = self.handlers.get(command.name)
            if handler is None:
                return Reply(text=f"I don't know /{command.name}. Try /help.", is_error=True)
            return await handler(self, command, user)
        except (UnknownTitle, AmbiguousTitle) as err:
            action = {"similar": "more", "watchlist": "watch"}.get(command.name, "info")
            return title_error_reply(err, action)
        except MovieBotError as err:
            return Reply(text=str(err), is_error=True)
        except Exception:  # a bug must never put a traceback into a chat
            log.exception("command failed: %r", (command.name, command.args[:200]))
            return Reply(text="Sorry, something went wrong on my side. Please try again.",
                         is_error=True)

    async def press(self, action: str, user: User, message_ref: MessageRef | None = None,
                    event_id: str | None = None) -> Reply | None:
        """A button was pressed; ``action`` is a Button.action like "info:318".

        ``event_id`` is the platform's id for this press (Telegram callback query id,
        Discord interaction id): a redelivered press is then stored once.
        """
        verb, _, arg = (action or "").partition(":")
        try:
            if verb in ("info", "more", "watch") and arg.isdigit():
                name = {"info": "info", "more": "similar", "watch": "watchlist"}[verb]
                args = f"add #{arg}" if verb == "watch" else f"#{arg}"
                return await self.run(Command(name, args), user)
            if verb in ("like", "dislike") and arg.isdigit():
                movie = self.engine.movie(int(arg))     # a forged id fails here, unstored
                await self.record(user, movie.movie_id, verb, event_id, kind="button",
                                  source=f"{user.platform}:button", message_ref=message_ref)
                mark = "👍" if verb == "like" else "👎"
                return Reply(text=f"{mark} Noted for {movie.label}. /recommend uses it.")
            if verb == "song" and arg.isalnum():
                return await self.run(Command("song", f"spotify:track:{arg}"), user)
            if verb == "page":
                return await self._page(arg, user, message_ref)
            if verb == "forget":
                return await self._forget(arg == "yes", user)
        except MovieBotError as err:
            return Reply(text=str(err), is_error=True)
        except Exception:
            log.exception("button failed: %r", action[:80])
            return Reply(text="Sorry, something went wrong on my side. Please try again.",
                         is_error=True)
        return Reply(text="That button has expired. Try the command again.", is_error=True)

    # -- feedback and memory: see bot/feedback.py ----------------------------------
    def _need_store(self) -> FeedbackStore:
        return self.feedback.need_store()

    async def _uid(self, user: User) -> int:
        return await self.feedback.user_id(user)

    async def record(self, user: User, movie_id: int, signal: str,
                     event_id: str | None = None, *, value: float | None = None,
                     kind: str = "other", source: str = "",
                     message_ref: MessageRef | None = None,
                     at: datetime | None = None) -> bool:
        return await self.feedback.record(user, movie_id, signal, event_id, value=value,
                                          kind=kind, source=source, message_ref=message_ref,
                                          at=at)

    async def remember(self, ref: MessageRef, movie_id: int | None, context: dict) -> None:
        await self.feedback.remember(ref, movie_id, context)

    async def recent_messages(self, platform: str, since: datetime) -> list[SentMessage]:
        return await self.feedback.recent_messages(platform, since)

    async def reaction(self, user: User, ref: MessageRef, emoji: str, added: bool,
                       at: datetime | None = None) -> bool:
        return await self.feedback.reaction(user, ref, emoji, added, at)

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

    async def _cards(self, recs: Recommendations, page: int, command: str, arg: str,
                     context: dict, heading: str) -> Reply:
        start = page * self.page_size
        chunk = recs.results[start:start + self.page_size]
        if not chunk:
            return Reply(text="That's all I have for this one.", is_error=page == 0)
        movies = await self._enrich([r.movie for r in chunk])
        cards = [movie_card(m, reason=r.reason) for m, r in zip(movies, chunk, strict=True)]
        buttons = []
        if page > 0:
            buttons.append(Button("◀ Back", page_action(command, page - 1, arg)))
        if len(recs.results) > start + self.page_size and page + 1 < MAX_PAGES:
            buttons.append(Button("More ▶", page_action(command, page + 1, arg)))
        return Reply(text=heading if page == 0 else f"{heading} (page {page + 1})",
                     cards=cards, buttons=buttons, context={**context, "page": page})

    async def _page(self, arg: str, user: User, ref: MessageRef | None) -> Reply:
        command, _, rest = arg.partition(":")
        page_text, _, query = rest.partition(":")
        if not page_text.isdigit() or int(page_text) >= MAX_PAGES:
            return Reply(text="That button has expired. Try the command again.", is_error=True)
        page = int(page_text)
        if not query and ref is not None and self.store is not None:
            sent = await self.store.lookup_message(ref.platform, ref.chat_id, ref.message_id)
            query = str((sent.context or {}).get("query", "")) if sent else ""
        if command == "recommend":
            return await self.cmd_recommend(Command("recommend", query), user, page)
        if command == "similar" and query:
            return await self.cmd_similar(Command("similar", query), user, page)
        if command == "song" and query:
            return await self.cmd_song(Command("song", query), user, page)
        return Reply(text="That button has expired. Try the command again.", is_error=True)

    # -- commands -------------------------------------------------------------
    async def cmd_start(self, command: Command, user: User) -> Reply:
        name = user.display_name.split()[0] if user.display_name.strip() else "there"
        return Reply(text=START_TEXT.format(name=name),
                     buttons=[Button("Try: The Matrix", "more:2571"),
                              Button("Try: Toy Story", "more:1")])

    async def cmd_help(self, command: Command, user: User) -> Reply:
        return Reply(text=HELP_TEXT)

    async def cmd_info(self, command: Command, user: User) -> Reply:
        if not command.args:
            raise InvalidInput("Which movie? For example: /info Toy Story")
        movie = self.engine.resolve(command.args)
        movie = (await self._enrich([movie]))[0]
        return Reply(cards=[movie_card(movie, full=True)],
                     context={"command": "info", "movie_id": movie.movie_id})

    async def cmd_search(self, command: Command, user: User) -> Reply:
        if not command.args:
            raise InvalidInput("What should I search for? For example: /search godfather")
        found = self.engine.search(command.args, k=8)
        if not found:
            return Reply(text=f"No titles match “{command.args}”.", is_error=True)
        lines = "\n".join(f"{i}. {c.label}" for i, c in enumerate(found, 1))
        return Reply(text=f"Titles matching “{command.args}”:\n{lines}",
                     buttons=[Button(c.label, f"info:{c.movie_id}") for c in found])

    async def cmd_similar(self, command: Command, user: User, page: int = 0) -> Reply:
        title, filters = parse_filters(command.args)
        if not title:
            raise InvalidInput("Like which movie? For example: /similar Heat")
        movie = self.engine.resolve(title)
        k = (page + 1) * self.page_size + 1
        recs = self.engine.similar(movie, k=k, filters=None if filters.is_empty() else filters)
        query = f"#{movie.movie_id}" + filters_text(command.args)
        return await self._cards(recs, page, "similar", query,
                                 {"command": "similar", "query": query,
                                  "query_movie_id": movie.movie_id},
                                 f"Because you asked about {movie.label}:")

    async def cmd_song(self, command: Command, user: User, page: int = 0) -> Reply:
        text, filters = parse_filters(command.args)
        if not text:
            raise InvalidInput("Which song? For example: /song Bohemian Rhapsody")
        recs = self.engine.song(text, k=(page + 1) * self.page_size + 1,
                                filters=None if filters.is_empty() else filters)
        song = recs.query.get("song") or recs.query.get("label") or text
        if recs.query.get("artist"):
            song = f"{song} – {recs.query['artist']}"
        return await self._cards(recs, page, "song", command.args,
                                 {"command": "song", "query": command.args},
                                 f"Movies with the vibe of {song}:")

    async def cmd_recommend(self, command: Command, user: User, page: int = 0) -> Reply:
        _, filters = parse_filters(command.args)
        history = await self._need_store().history(await self._uid(user))
        if not history:
            return Reply(text="I don't know your taste yet. Send me a movie you love, then tap "
                              "👍 on it (or /rate Heat 4.5) and ask again.",
                         buttons=[Button("Try: The Matrix", "more:2571")])
        recs = self.engine.recommend(history, k=(page + 1) * self.page_size + 1,
                                     filters=None if filters.is_empty() else filters)
        return await self._cards(recs, page, "recommend", command.args,
                                 {"command": "recommend", "query": command.args},
                                 f"Picked for you from {len(history)} movies you reacted to:")

    async def cmd_rate(self, command: Command, user: User) -> Reply:
        title, stars = parse_rating(command.args)
        movie = self.engine.resolve(title)
        await self.record(user, movie.movie_id, "rating", value=stars, kind="command",
                          source=f"{user.platform}:command")
        return Reply(text=f"Saved: {movie.label} ★ {stars:g}/5.")

    async def cmd_watchlist(self, command: Command, user: User) -> Reply:
        store = self._need_store()
        verb, _, title = command.args.partition(" ")
        verb = verb.lower()
        if verb in ("", "list", "show"):
            ids = await store.watchlist(await self._uid(user))
            if not ids:
                return Reply(text="Your watchlist is empty. Add one: /watchlist add Heat")
            movies = [self.engine.movie(i) for i in ids]
            return Reply(text="Your watchlist:\n" + "\n".join(f"• {m.label}" for m in movies),
                         buttons=[Button(m.label, f"info:{m.movie_id}") for m in movies[:10]])
        if verb not in ("add", "remove", "rm", "delete"):
            raise InvalidInput("Use /watchlist add <title>, /watchlist remove <title> "
                               "or /watchlist.")
        if not title.strip():
            raise InvalidInput(f"Which movie? For example: /watchlist {verb} Heat")
        movie = self.engine.resolve(title.strip())
        uid = await self._uid(user)
        if verb == "add":
            added = await store.watchlist_add(uid, movie.movie_id)
            return Reply(text=f"Added {movie.label} to your watchlist." if added
                         else f"{movie.label} is already on your watchlist.")
        removed = await store.watchlist_remove(uid, movie.movie_id)
        return Reply(text=f"Removed {movie.label} from your watchlist." if removed
                     else f"{movie.label} wasn't on your watchlist.")

    async def cmd_forget(self, command: Command, user: User) -> Reply:
        self._need_store()
        return Reply(text="This deletes your likes, ratings and watchlist for good. Sure?",
                     buttons=[Button("Yes, delete everything", "forget:yes"),
                              Button("No, keep it", "forget:no")])

    async def _forget(self, confirmed: bool, user: User) -> Reply:
        if not confirmed:
            return Reply(text="OK, nothing was deleted.")
        counts = await self._need_store().forget_user(await self._uid(user))
        return Reply(text=f"Done: I deleted {counts.get('feedback_events', 0)} reactions and "
                          f"ratings and {counts.get('watchlist', 0)} watchlist entries.")

    async def cmd_stats(self, command: Command, user: User) -> Reply:
        if not user.is_admin:
            return Reply(text="/stats is for the bot's admins.", is_error=True)
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

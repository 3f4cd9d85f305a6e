"""The platform-neutral command layer: parse -> validate -> engine -> Reply.

Telegram, Discord and the console call `CommandLayer.handle()` with the text a user sent
(or `press()` with a button action) and render the `Reply` they get back. Nothing here
knows about any platform.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from engine import Engine
from engine.errors import AmbiguousTitle, InvalidInput, MovieBotError, UnknownTitle
from engine.results import Movie

from .replies import Button, Card, Reply

log = logging.getLogger("moviebot.commands")

MAX_MESSAGE_CHARS = 1000
_COMMAND_RE = re.compile(r"^/(?P<name>[A-Za-z_]{1,32})(?:@(?P<bot>[A-Za-z0-9_]{1,64}))?(?:\s+(?P<args>.*))?$", re.S)
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]")

HELP_TEXT = """I recommend movies. Try:
/info <title> – facts, poster and trailer (typos are fine: /info the godfater)
/search <text> – find titles
/help – this message
Or just send me a movie title."""


@dataclass(frozen=True)
class User:
    platform: str          # "telegram", "discord", "console"
    user_id: str           # the platform's user id, as text
    display_name: str = ""
    is_admin: bool = False


@dataclass(frozen=True)
class Command:
    name: str   # "info", "search", ... or "title" for a plain message
    args: str


def clean_text(text: str) -> str:
    """Drop control and zero-width characters; keep every script and emoji."""
    return _CONTROL_RE.sub("", text or "").strip()


def parse(text: str, bot_username: str = "") -> Command | None:
    """Read one message. None means "not for me" (a command addressed to another bot)."""
    if len(text or "") > MAX_MESSAGE_CHARS:
        raise InvalidInput(f"That message is too long ({len(text):,} characters); "
                           f"please keep it under {MAX_MESSAGE_CHARS}.")
    text = clean_text(text)
    if not text:
        raise InvalidInput("Send me a movie title, or /help to see what I can do.")
    if not text.startswith("/"):
        return Command("title", text)
    match = _COMMAND_RE.match(text)
    if not match:
        raise InvalidInput("That doesn't look like a command I know. Try /help.")
    if match["bot"] and bot_username and match["bot"].lower() != bot_username.lower():
        return None
    return Command(match["name"].lower(), (match["args"] or "").strip())


def movie_subtitle(movie: Movie) -> str:
    parts = []
    if movie.year:
        parts.append(str(movie.year))
    if movie.genres:
        parts.append(", ".join(movie.genres[:3]))
    if movie.rating_mean and movie.rating_count:
        parts.append(f"★ {movie.rating_mean:.1f}/5 ({movie.rating_count} ratings)")
    elif movie.vote_average and movie.vote_count:
        parts.append(f"TMDB {movie.vote_average:.1f}/10")
    if movie.runtime:
        parts.append(f"{int(movie.runtime)} min")
    return " · ".join(parts)


def movie_card(movie: Movie, reason: str = "", full: bool = False) -> Card:
    body = movie.overview or movie.tagline
    if not full and len(body) > 280:
        body = body[:277].rsplit(" ", 1)[0] + "…"
    facts = []
    if movie.directors:
        facts.append("Director: " + ", ".join(movie.directors[:2]))
    if movie.cast:
        facts.append("Starring: " + ", ".join(movie.cast[: 5 if full else 3]))
    if facts:
        body = (body + "\n" if body else "") + " · ".join(facts)
    buttons = [Button("👍", f"like:{movie.movie_id}"), Button("👎", f"dislike:{movie.movie_id}"),
               Button("More like this", f"more:{movie.movie_id}")]
    if movie.trailer_url:
        buttons.append(Button("Trailer", url=movie.trailer_url))
    return Card(title=movie.label, subtitle=movie_subtitle(movie), body=body, reason=reason,
                image_url=movie.poster_url, link_url=movie.trailer_url or movie.imdb_url,
                movie_id=movie.movie_id, buttons=buttons)


def title_error_reply(err: UnknownTitle | AmbiguousTitle, action: str) -> Reply:
    """Unknown titles get suggestions, ambiguous ones a choice; both as tappable buttons."""
    options = err.candidates if isinstance(err, AmbiguousTitle) else err.suggestions
    return Reply(text=str(err), is_error=True,
                 buttons=[Button(c.label, f"{action}:{c.movie_id}") for c in options])


Handler = Callable[["CommandLayer", Command, User], Awaitable[Reply]]


class CommandLayer:
    """One instance per bot process; `get_engine` returns the engine to use right now
    (so a hot reload swaps it between requests)."""

    def __init__(self, get_engine: Callable[[], Engine], bot_username: str = ""):
        self.get_engine = get_engine
        self.bot_username = bot_username
        self.handlers: dict[str, Handler] = {
            "start": CommandLayer.cmd_help,
            "help": CommandLayer.cmd_help,
            "info": CommandLayer.cmd_info,
            "search": CommandLayer.cmd_search,
            "title": CommandLayer.cmd_info,
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
            handler = self.handlers.get(command.name)
            if handler is None:
                return Reply(text=f"I don't know /{command.name}. Try /help.", is_error=True)
            return await handler(self, command, user)
        except (UnknownTitle, AmbiguousTitle) as err:
            return title_error_reply(err, "info")
        except MovieBotError as err:
            return Reply(text=str(err), is_error=True)
        except Exception:  # a bug must never put a traceback into a chat
            log.exception("command failed: %r", (text or "")[:200])
            return Reply(text="Sorry, something went wrong on my side. Please try again.",
                         is_error=True)

    async def press(self, action: str, user: User) -> Reply | None:
        """A button was pressed; ``action`` is a Button.action like "info:318"."""
        verb, _, arg = (action or "").partition(":")
        if verb == "info" and arg.isdigit():
            return await self.handle(f"/info #{arg}", user)
        return Reply(text="That button has expired. Try the command again.", is_error=True)

    # -- commands -------------------------------------------------------------
    async def cmd_help(self, command: Command, user: User) -> Reply:
        return Reply(text=HELP_TEXT)

    async def cmd_info(self, command: Command, user: User) -> Reply:
        if not command.args:
            raise InvalidInput("Which movie? For example: /info Toy Story")
        movie = self.engine.resolve(command.args)
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

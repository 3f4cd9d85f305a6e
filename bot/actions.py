"""Typed button actions: what a button does when it is pressed, encoded and decoded here
and nowhere else.

A button carries an `Action` (``Action.more(318)``, ``Action.page("similar", query, 2)``).
Platforms can only carry a short string with a button (Telegram's callback_data: at most
64 bytes; Discord's custom_id: 100), so `Action.encode()` writes one and `Action.decode()`
reads it back. Like discord.py's ``DynamicItem``, each verb has one regex template; a
string that matches none of them (forged, or from an older release) raises `InvalidAction`,
which the command layer answers with "That button has expired".

The simple verbs keep the wire form of earlier releases ("more:318", "like:1",
"forget:yes"), so buttons already sitting in chats keep working.

Paging carries its query as typed values (`PageQuery`: the movie id or the song text plus
the filters), never as chat text that is parsed again. When the query does not fit in the
64 bytes it is left out (``query=None``); the command layer then takes it from the reply
context stored with the message the button is on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from engine.results import Filters

MAX_BYTES = 64                 # Telegram's callback_data limit; Discord allows 100
PAGED = ("similar", "song", "recommend", "top")
MAX_PAGES = 6                  # page numbers are one digit on the wire


class InvalidAction(ValueError):
    """A button payload that is not one of ours (forged, truncated or outdated)."""


_ID = r"[1-9][0-9]{0,9}"
_YEAR = r"[1-9][0-9]{3}"
_QUERY_RE = re.compile(
    rf"(?:m=(?P<m>{_ID})(?:;|$))?"
    r"(?:g=(?P<g>[^;,]+(?:,[^;,]+)*)(?:;|$))?"
    rf"(?:y=(?P<lo>{_YEAR})?-(?P<hi>{_YEAR})?(?:;|$))?"
    rf"(?:v=(?P<v>{_ID})(?:;|$))?"
    r"(?:t=(?P<t>.+))?", re.S)


@dataclass(frozen=True)
class PageQuery:
    """What a paged list was asked for: the movie (/similar) or the song text (/song),
    and the filters. /recommend needs only the filters (the history is the user's)."""

    movie_id: int | None = None
    text: str = ""
    genres: tuple[str, ...] = ()
    year_min: int | None = None
    year_max: int | None = None
    min_votes: int = 0

    @classmethod
    def of(cls, filters: Filters | None, movie_id: int | None = None, text: str = "") -> PageQuery:
        f = filters or Filters()
        return cls(movie_id, text, tuple(f.genres), f.year_min, f.year_max, f.min_votes or 0)

    def filters(self) -> Filters:
        return Filters(year_min=self.year_min, year_max=self.year_max,
                       genres=list(self.genres), min_votes=self.min_votes)

    def encode(self) -> str:
        parts = []
        if self.movie_id is not None:
            parts.append(f"m={self.movie_id}")
        if self.genres:
            parts.append("g=" + ",".join(self.genres))
        if self.year_min is not None or self.year_max is not None:
            parts.append(f"y={self.year_min or ''}-{self.year_max or ''}")
        if self.min_votes:
            parts.append(f"v={self.min_votes}")
        if self.text:
            parts.append("t=" + self.text)      # last: the text may contain anything
        return ";".join(parts)

    @classmethod
    def decode(cls, text: str) -> PageQuery:
        match = _QUERY_RE.fullmatch(text)
        if match is None or text.endswith(";"):
            raise InvalidAction(f"not a page query: {text[:80]!r}")
        query = cls(movie_id=_int(match["m"]), text=match["t"] or "",
                    genres=tuple(match["g"].split(",")) if match["g"] else (),
                    year_min=_int(match["lo"]), year_max=_int(match["hi"]),
                    min_votes=_int(match["v"]) or 0)
        if query.encode() != text:               # only the one canonical spelling
            raise InvalidAction(f"not a page query: {text[:80]!r}")
        return query


def _int(text: str | None) -> int | None:
    return int(text) if text else None


@dataclass(frozen=True)
class Action:
    """One button's action. Build it with the constructors below, not field by field."""

    verb: str                       # info more like dislike watch song forget page party
    movie_id: int | None = None     # info more like dislike watch
    track: str = ""                 # song: a Spotify track id
    confirm: bool = False           # forget
    command: str = ""               # page: similar song recommend
    n: int = 0                      # page: which page to show (0 is the first)
    query: PageQuery | None = field(default=None)   # page: None = from the stored context
    step: str = ""                  # party: join leave go close vote pick event
    party: int = 0                  # party: the party's id (a button on an old party's
                                    # message names that party, never "the current one")

    # -- constructors ---------------------------------------------------------------
    @classmethod
    def info(cls, movie_id: int) -> Action:
        return cls("info", movie_id=int(movie_id))

    @classmethod
    def more(cls, movie_id: int) -> Action:
        return cls("more", movie_id=int(movie_id))

    @classmethod
    def like(cls, movie_id: int) -> Action:
        return cls("like", movie_id=int(movie_id))

    @classmethod
    def dislike(cls, movie_id: int) -> Action:
        return cls("dislike", movie_id=int(movie_id))

    @classmethod
    def watch(cls, movie_id: int) -> Action:
        return cls("watch", movie_id=int(movie_id))

    @classmethod
    def song(cls, track_id: str) -> Action:
        if not _TRACK_RE.fullmatch(track_id or ""):
            raise ValueError(f"not a track id: {track_id!r}")
        return cls("song", track=track_id)

    @staticmethod
    def is_track(track_id: str) -> bool:
        return bool(_TRACK_RE.fullmatch(track_id or ""))

    @classmethod
    def forget(cls, confirm: bool) -> Action:
        return cls("forget", confirm=bool(confirm))

    @classmethod
    def page(cls, command: str, query: PageQuery | None, n: int) -> Action:
        if command not in PAGED or not 0 <= n < MAX_PAGES:
            raise ValueError(f"no page {n} of /{command}")
        return cls("page", command=command, n=n, query=query)

    @classmethod
    def party_step(cls, step: str, party_id: int, movie_id: int | None = None) -> Action:
        """A watch-party button (`bot.party`): join, leave, go (start), close (the vote),
        vote (for ``movie_id``), pick (an onboarding favourite, ``movie_id``), event (put
        the winner on the server's calendar)."""
        if step not in PARTY_STEPS or (movie_id is None) != (step not in ("vote", "pick")):
            raise ValueError(f"no party step {step!r} with movie {movie_id!r}")
        return cls("party", movie_id=None if movie_id is None else int(movie_id),
                   step=step, party=int(party_id))

    # -- deep links -----------------------------------------------------------------
    def deep_link(self) -> str | None:
        """The action as a Telegram deep-link parameter (``t.me/<bot>?start=more-318``:
        letters, digits, ``_`` and ``-`` only), for a button whose answer cannot be posted
        where it was pressed (a card shared inline into a chat the bot is not in); None
        for actions that have no such form."""
        if self.verb in _LINKED_VERBS:
            return f"{self.verb}-{self.movie_id}"
        return None

    @classmethod
    def from_deep_link(cls, text: str) -> Action:
        match = _LINK_RE.fullmatch(text or "")
        if match is None:
            raise InvalidAction(f"not a deep link: {text[:80]!r}")
        return cls(match["verb"], movie_id=int(match["id"]))

    # -- the wire form ----------------------------------------------------------------
    def encode(self) -> str:
        """The button payload, at most 64 UTF-8 bytes (a page query that does not fit is
        left out: the reply context stored with the message has it)."""
        if self.verb in _MOVIE_VERBS:
            return f"{self.verb}:{self.movie_id}"
        if self.verb == "song":
            return f"song:{self.track}"
        if self.verb == "forget":
            return "forget:yes" if self.confirm else "forget:no"
        if self.verb == "party":
            tail = f":{self.movie_id}" if self.movie_id is not None else ""
            return f"party:{self.step}:{self.party}{tail}"
        head = f"page:{self.command}:{self.n}"
        if self.query is not None:
            full = f"{head}:{self.query.encode()}"
            if len(full.encode()) <= MAX_BYTES and _reads_back(self.query):
                return full
        return head

    @classmethod
    def decode(cls, text: str) -> Action:
        """The action a payload stands for; `InvalidAction` for anything else."""
        verb, _, rest = (text or "").partition(":")
        template = _TEMPLATES.get(verb)
        match = template.fullmatch(rest) if template is not None and len(text.encode()) <= MAX_BYTES else None
        if match is None:
            raise InvalidAction(f"unknown button payload {text[:80]!r}")
        if verb in _MOVIE_VERBS:
            return cls(verb, movie_id=int(match["id"]))
        if verb == "song":
            return cls.song(match["track"])
        if verb == "forget":
            return cls.forget(match["yes"] == "yes")
        if verb == "party":
            try:
                return cls.party_step(match["step"], int(match["party"]),
                                      int(match["id"]) if match["id"] else None)
            except ValueError as exc:        # "party:join:3:318", "party:vote:3"
                raise InvalidAction(f"unknown button payload {text[:80]!r}") from exc
        query = match["query"]
        return cls.page(match["command"], None if query is None else PageQuery.decode(query),
                        int(match["n"]))



def _reads_back(query: PageQuery) -> bool:
    """False for the odd query whose values contain the separators (a genre "a;b")."""
    try:
        return PageQuery.decode(query.encode()) == query
    except InvalidAction:
        return False


_MOVIE_VERBS = ("info", "more", "like", "dislike", "watch")
PARTY_STEPS = ("join", "leave", "go", "close", "vote", "pick", "event")
_LINKED_VERBS = ("info", "more")
_LINK_RE = re.compile(rf"(?P<verb>{'|'.join(_LINKED_VERBS)})-(?P<id>{_ID})")
_TRACK_RE = re.compile(r"[A-Za-z0-9]{1,40}")
_TEMPLATES: dict[str, re.Pattern[str]] = {
    **{verb: re.compile(rf"(?P<id>{_ID})") for verb in _MOVIE_VERBS},
    "song": re.compile(r"(?P<track>[A-Za-z0-9]{1,40})"),
    "forget": re.compile(r"(?P<yes>yes|no)"),
    "party": re.compile(rf"(?P<step>{'|'.join(PARTY_STEPS)}):(?P<party>{_ID})(?::(?P<id>{_ID}))?"),
    "page": re.compile(rf"(?P<command>{'|'.join(PAGED)}):(?P<n>[0-{MAX_PAGES - 1}])(?::(?P<query>.*))?", re.S),
}

"""Watch parties: `/party` in a group picks tonight's film with everyone in it.

One state machine, shared by every front-end (they only translate and render):

    open ──go / timer──► onboarding ──all picked / go / timer──► voting ──close / timer──► done
      │                  (only if a member has no history)          │  tie: one runoff round
      └───────────── everyone left / /party stop ──► cancelled ◄────┘

* **open**: the party message has Join / Leave / Start buttons; a 👍 on it joins too. The
  host starts it (the button or `/party go`), or the clock does after
  ``PartyOptions.start_after`` seconds. One open party per chat (the store's unique index).
* **onboarding**: members the bot knows nothing about (no ratings, 👍/👎 or watchlist) get
  3 questions in one message: a row of well-known films each (`Engine.group_onboarding`),
  one tap per row. A pick is stored as a like, so it is part of their history from now on.
* **voting**: `Engine.group_recommend` gives 3-5 candidates with a reason each; members vote
  with buttons (one vote per member, changeable; the counts on the message are redrawn
  live). The host closes it (button or `/party go`), or the clock after
  ``PartyOptions.vote_time``. A tie at the top gets one runoff round between the tied
  films; a second tie goes to the group's best match (the engine's order).
* **done**: the winner with its card and trailer.

Everything a party is lives in the store (`PartyRecord`: state and deadline as columns, the
rest in ``data``), and every change is a compare-and-set on its version, so a party
survives a restart and two presses at once cannot both win. Buttons name their party
(``party:vote:<party>:<movie>``): a button on an old party's message answers for that
party ("that party is over"), never for whatever party is open now.

Feedback: a vote is a mild like, stored as a 3.5-star rating (the weakest rating the
collaborative model reads as positive; a 👍 counts as 4.5) whose source says
``<platform>:party-vote``; keyed by (member, party, round, film, and the member's count of
votes cast), so a redelivered or repeated press stores it once. Changing a vote retracts
the earlier film's rating in the same write (``FeedbackEvent.replaces``): a member's votes
leave one 3.5★ per round, for the film they last voted for. The winner is a
``party_winner`` event for each member (kept for analysis, not part of anyone's taste).
Onboarding picks are likes. On Discord the host can put the winner on the server's
events (``offer_events``: the front-end that can create them registers itself).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.errors import InvalidInput, MovieBotError
from engine.queries import GroupMember, GroupQuery
from engine.results import Filters, Movie

from .actions import Action
from .cards import filters_label, movie_card
from .commands import COMMANDS, Chat, CommandLayer, MessageRef, User
from .parsing import FILTER_HELP, emoji_signal, parse_filters
from .registry import FILTERS, Arg
from .replies import Button, Reply, plural
from .store import FeedbackStore, PartyRecord
from .watch import add_line

log = logging.getLogger("moviebot.party")

VOTE_AS_RATING = 3.5           # "a vote is a mild like": the weakest positive rating
VOTE_SIGNAL = "rating"
WINNER_SIGNAL = "party_winner"
QUESTIONS = 3                  # onboarding: one row of films per question
PER_QUESTION = 3
SAVE_TRIES = 5                 # compare-and-set retries when presses collide

PRIVATE = ("Parties are for groups: add me to a Telegram group or a Discord server, then "
           "send /party there and everyone who joins gets a say.")
OVER = "That party is over. Start a new one with /party."


@dataclass(frozen=True)
class PartyOptions:
    """MOVIEBOT_PARTY_START_AFTER / MOVIEBOT_PARTY_VOTE_TIME (seconds; see bot/settings.py)."""

    start_after: float = 600.0     # the party starts by itself this long after /party
    vote_time: float = 300.0       # a vote (and the onboarding questions) last this long
    candidates: int = 4            # films in the vote (3-5)


_DESKS: weakref.WeakKeyDictionary[CommandLayer, PartyDesk] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class PlannedEvent:
    """A winner put on a server's calendar (Discord: a Guild Scheduled Event)."""

    name: str
    description: str
    start: datetime
    end: datetime


# platform -> the front-end's way to create a calendar event in a chat's server: (chat id,
# event) -> the event's link. Front-ends that have one offer it (the Discord cog); the
# winner's message gets a host-only "Schedule it" button only where one is registered.
EventMaker = Callable[[str, PlannedEvent], Awaitable[str]]
_EVENT_MAKERS: weakref.WeakKeyDictionary[CommandLayer, dict[str, EventMaker]] = \
    weakref.WeakKeyDictionary()
EVENT_LEAD = timedelta(minutes=15)    # an event starts at the first full hour this far away
EVENT_LENGTH = timedelta(hours=2)     # when the catalog has no runtime


def offer_events(layer: CommandLayer, platform: str, maker: EventMaker) -> None:
    """Let hosts on ``platform`` put their party's winner on the calendar through ``maker``."""
    _EVENT_MAKERS.setdefault(layer, {})[platform] = maker


def event_start(now: datetime) -> datetime:
    """The first full hour at least `EVENT_LEAD` after ``now``: time to get snacks."""
    start = (now + EVENT_LEAD).replace(minute=0, second=0, microsecond=0)
    return start if start >= now + EVENT_LEAD else start + timedelta(hours=1)


def configure(layer: CommandLayer, options: PartyOptions) -> PartyDesk:
    """Give ``layer`` its party desk with these options (the serve command does, from the
    settings; without it the defaults apply)."""
    _DESKS[layer] = PartyDesk(layer, options)
    return _DESKS[layer]


def desk(layer: CommandLayer) -> PartyDesk:
    found = _DESKS.get(layer)
    return found if found is not None else configure(layer, PartyOptions())


def _now() -> datetime:
    return datetime.now(UTC)


def _minutes(seconds: float) -> str:
    if seconds < 90:
        return plural(max(1, round(seconds)), "second")
    return plural(round(seconds / 60), "minute")


def _names(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


@dataclass
class Changed:
    """A step's outcome that changed the party: save it, answer ``reply``, then run
    ``after`` (the feedback writes, only once the change is stored)."""

    reply: Reply
    after: Callable[[], Awaitable[None]] | None = None


class Party:
    """A `PartyRecord` read as a party: its members, candidates and votes (in ``data``)."""

    def __init__(self, record: PartyRecord):
        self.record = record
        data = record.data
        data.setdefault("members", {})     # platform user id -> {"name", "in", "rows"}
        data.setdefault("round", 0)
        data.setdefault("votes", {})       # this round: platform user id -> movie id
        data.setdefault("candidates", [])  # [{"id": movie id, "reason": text}], best first
        self.data = data

    @property
    def id(self) -> int:
        return int(self.record.id or 0)

    @property
    def state(self) -> str:
        return self.record.state

    @property
    def host(self) -> str:
        return self.record.host

    def is_in(self, uid: str) -> bool:
        return bool(self.data["members"].get(uid, {}).get("in"))

    def members(self) -> list[str]:
        return [uid for uid, m in self.data["members"].items() if m.get("in")]

    def name(self, uid: str) -> str:
        return self.data["members"].get(uid, {}).get("name") or "someone"

    def add(self, user: User) -> bool:
        member = self.data["members"].setdefault(user.user_id, {})
        member["name"] = _first_name(user)
        was_in = bool(member.get("in"))
        member["in"] = True
        return not was_in

    def remove(self, uid: str) -> None:
        self.data["members"][uid]["in"] = False
        self.data["votes"].pop(uid, None)
        if uid == self.record.host and self.members():
            self.record.host = self.members()[0]     # the party goes on with a new host

    def filters(self) -> Filters:
        f = self.data.get("filters") or {}
        return Filters(year_min=f.get("year_min"), year_max=f.get("year_max"),
                       genres=list(f.get("genres") or []), min_votes=f.get("min_votes") or 0)

    def ballot(self) -> list[int]:
        """The films this round votes on: the candidates, or the runoff's tied ones."""
        runoff = self.data.get("runoff")
        return list(runoff) if runoff else [c["id"] for c in self.data["candidates"]]

    def reason(self, movie_id: int) -> str:
        return next((c["reason"] for c in self.data["candidates"] if c["id"] == movie_id), "")

    def vote_key(self, uid: str, movie_id: int) -> tuple[str, tuple[str, ...]]:
        """The feedback key of ``uid``'s new vote for ``movie_id`` this round, and the key
        of the vote it takes back (none for a first vote). Each vote of a round gets its
        own key, so voting A, then B, then A again stores A anew instead of meeting A's
        first, retracted event."""
        keys = self.data.setdefault("vote_keys", {})     # this round: uid -> active vote's key
        earlier = keys.get(uid)
        cast = self.data.setdefault("cast", {})          # votes each member ever cast
        n = cast.get(uid, 0)
        cast[uid] = n + 1
        key = f"party:{self.id}:r{self.data['round']}:vote:{movie_id}" + (f":{n}" if n else "")
        keys[uid] = key
        return key, (earlier,) if earlier else ()

    def counts(self) -> Counter[int]:
        members = set(self.members())
        return Counter(int(m) for uid, m in self.data["votes"].items() if uid in members)


def _first_name(user: User) -> str:
    name = (user.display_name or "").strip()
    return name.split()[0] if name else f"#{user.user_id[-4:]}"


class PartyDesk:
    """The parties of one command layer: commands, button presses, reactions, the clock."""

    def __init__(self, layer: CommandLayer, options: PartyOptions):
        self.layer = layer
        self.options = options
        self._locks: dict[int, asyncio.Lock] = {}

    @property
    def store(self) -> FeedbackStore:
        return self.layer.feedback.need_store()

    # -- entry points --------------------------------------------------------------
    async def command(self, user: User, chat: Chat | None, step: str,
                      filters: Filters | None = None) -> Reply:
        if chat is None or not chat.group:
            return Reply(text=PRIVATE)
        step = (step or "").strip().lower()
        current = await self.store.open_party_in(chat.platform, chat.chat_id)
        if step in ("", "start", "new", "rewatch"):
            if current is not None:
                party = Party(current)
                return Reply(text=f"There's already a party here (hosted by "
                             f"{party.name(party.host)}). Join it on its message, or "
                             f"{party.name(party.host)} can /party go.",
                             buttons=self._lobby_buttons(party), context={"party": party.id},
                             remember=True)
            return await self._open(user, chat, filters or Filters(), rewatch=step == "rewatch")
        if current is None:
            raise InvalidInput("There's no party here right now. Start one with /party.")
        if step in ("go", "close"):
            return await self._change(current.id, lambda p: self._go(p, user))
        if step == "leave":
            return await self._change(current.id, lambda p: self._leave(p, user))
        if step == "stop":
            return await self._change(current.id, lambda p: self._stop(p, user))
        raise InvalidInput("Use /party to start one, /party go to move it on (start, or close "
                           "the vote), /party leave, or /party stop.")

    async def press(self, action: Action, user: User, ref: MessageRef | None) -> Reply:
        step = action.step
        if step == "join":
            return await self._change(action.party, lambda p: self._join(p, user))
        if step == "leave":
            return await self._change(action.party, lambda p: self._leave(p, user))
        if step in ("go", "close"):
            return await self._change(action.party, lambda p: self._go(p, user, step))
        if step == "vote":
            return await self._change(action.party,
                                      lambda p: self._vote(p, user, action.movie_id, ref))
        if step == "event":
            return await self._change(action.party, lambda p: self._event(p, user))
        return await self._change(action.party, lambda p: self._pick(p, user, action.movie_id))

    async def reaction(self, user: User, ref: MessageRef, emoji: str, added: bool) -> bool:
        """A 👍 put on a party's message joins that party; True if it was one."""
        if not added or emoji_signal(emoji) != "like" or self.layer.store is None:
            return False
        try:
            sent = await self.layer.store.lookup_message(ref.platform, ref.chat_id, ref.message_id)
        except MovieBotError:
            return False
        if sent is None or sent.movie_id is not None:
            return False             # a movie card (the winner's too): a 👍 there is taste
        party_id = (sent.context or {}).get("party")
        if not isinstance(party_id, int):
            return False
        try:
            await self._change(party_id, lambda p: self._join(p, user))
        except MovieBotError as err:      # a closed party: the 👍 just stays a 👍
            log.info("party reaction not taken: %s", err)
        return True

    async def due(self, platform: str) -> list[tuple[str, Reply]]:
        """Move on every party whose clock ran out; (chat id, what to post there)."""
        out = []
        for record in await self.store.due_parties(platform, _now()):
            try:
                reply = await self._change(record.id, self._timeout)
            except MovieBotError as err:
                log.info("party %s: %s", record.id, err)
                continue
            if reply is not None:
                out.append((record.chat_id, reply))
        return out

    # -- one change = read, change, compare-and-set ---------------------------------
    async def _change(self, party_id: int, step: Callable[[Party], Awaitable[Any]]) -> Any:
        """Run ``step`` on the party as stored now. A `Changed` outcome is saved (compare-
        and-set; a lost race runs the step again on the fresher party), then its ``after``
        writes the feedback; any other outcome (a refusal, "you're already in") is returned
        as it is."""
        lock = self._locks.setdefault(party_id, asyncio.Lock())
        async with lock:
            for _ in range(SAVE_TRIES):
                record = await self.store.party(party_id)
                if record is None:
                    raise InvalidInput(OVER)
                outcome = await step(Party(record))
                if not isinstance(outcome, Changed):
                    return outcome
                if await self.store.save_party(record):
                    if outcome.after is not None:
                        await outcome.after()     # feedback, once the change is in
                    if not record.is_open:
                        self._locks.pop(party_id, None)
                    return outcome.reply
            raise InvalidInput("Lots of people are pressing at once. Try again in a moment.")

    # -- the steps (each returns the reply, or (reply, what to store once saved)) ----
    async def _open(self, user: User, chat: Chat, filters: Filters, rewatch: bool) -> Reply:
        record = PartyRecord(chat.platform, chat.chat_id, user.user_id,
                             deadline=_now() + timedelta(seconds=self.options.start_after))
        party = Party(record)
        party.add(user)
        party.data["rewatch"] = rewatch
        party.data["filters"] = {"genres": list(filters.genres), "year_min": filters.year_min,
                                 "year_max": filters.year_max, "min_votes": filters.min_votes}
        stored = await self.store.open_party(record)
        if stored is None:       # someone opened one a moment ago
            current = await self.store.open_party_in(chat.platform, chat.chat_id)
            if current is None:
                raise InvalidInput("Try /party again in a moment.")
            party = Party(current)
        return self._lobby(party)

    def _lobby(self, party: Party, notice: str = "", replace: bool = False) -> Reply:
        host = party.name(party.host)
        members = party.members()
        terms = [filters_label(party.filters())] if not party.filters().is_empty() else []
        terms += ["rewatches welcome"] if party.data.get("rewatch") else []
        lines = [f"🎬 Movie night! {host} is hosting" + (f" ({', '.join(terms)})" if terms else "")
                 + ".", "Tap Join (or react 👍 to this message) to be in."]
        if party.state == "open":
            left = (party.record.deadline - _now()).total_seconds() if party.record.deadline else 0
            lines.append(f"{host} starts it with ▶ Start or /party go; otherwise it starts by "
                         f"itself in {_minutes(max(left, 1))}.")
        else:
            lines.append("It has started: join now and you can still vote.")
        lines.append(f"In ({len(members)}): " + (_names([party.name(u) for u in members]) or "nobody yet"))
        reply = Reply(text="\n".join(lines), buttons=self._lobby_buttons(party),
                      context={"party": party.id}, replace=replace, notice=notice,
                      remember=not replace)
        return reply

    def _lobby_buttons(self, party: Party) -> list[Button]:
        buttons = [Button("🙋 Join", Action.party_step("join", party.id)),
                   Button("Leave", Action.party_step("leave", party.id))]
        if party.state == "open":
            buttons.append(Button("▶ Start", Action.party_step("go", party.id)))
        return buttons

    async def _join(self, party: Party, user: User):
        if not party.record.is_open:
            raise InvalidInput(OVER)
        if not party.add(user):
            return self._lobby(party, notice="You're already in. 🍿", replace=True)
        count = plural(len(party.members()), "person", "people")
        return Changed(self._lobby(party, notice=f"You're in! {count} so far.", replace=True))

    async def _leave(self, party: Party, user: User):
        if not party.record.is_open:
            raise InvalidInput(OVER)
        if not party.is_in(user.user_id):
            return Reply(text="You're not in this party.")
        party.remove(user.user_id)
        if not party.members():
            party.record.state, party.record.deadline = "cancelled", None
            return Changed(Reply(text="Everyone left, so the party is off. /party starts a new one."))
        return Changed(self._lobby(party, notice="You left the party.", replace=True))

    async def _stop(self, party: Party, user: User):
        if user.user_id != party.host:
            raise InvalidInput(f"Only {party.name(party.host)} (the host) can stop the party.")
        party.record.state, party.record.deadline = "cancelled", None
        return Changed(Reply(text="The party is off. /party starts a new one."))

    async def _go(self, party: Party, user: User, step: str = "go"):
        if not party.record.is_open:
            raise InvalidInput(OVER)
        if user.user_id != party.host:
            what = "close the vote" if party.state == "voting" else "start it"
            raise InvalidInput(f"Only {party.name(party.host)} (the host) can {what}; "
                               f"the clock does it otherwise.")
        if party.state == "voting":
            return await self._close(party)
        if party.state == "onboarding" or step == "close":
            return await self._vote_opens(party)
        return await self._start(party)

    async def _timeout(self, party: Party):
        if not party.record.is_open or party.record.deadline is None \
                or party.record.deadline > _now():
            return None                        # someone moved it on meanwhile
        if party.state == "open":
            return await self._start(party)
        if party.state == "onboarding":
            return await self._vote_opens(party)
        return await self._close(party)

    async def _start(self, party: Party):
        newcomers = [uid for uid in party.members() if not await self._taste(party, uid)]
        if newcomers:
            films = self.layer.engine.group_onboarding(k=QUESTIONS * PER_QUESTION)
            if len(films) >= QUESTIONS:
                rows = [films[i::QUESTIONS] for i in range(QUESTIONS)]
                party.data["onboarding"] = [[m.movie_id for m in row] for row in rows]
                party.data["newcomers"] = newcomers
                party.record.state = "onboarding"
                party.record.deadline = _now() + timedelta(seconds=self.options.vote_time)
                return Changed(self._questions(party, rows))
        return await self._vote_opens(party)

    def _questions(self, party: Party, rows: list[list[Movie]]) -> Reply:
        names = _names([party.name(u) for u in party.data["newcomers"]])
        lines = [f"Before we vote: {names}, I don't know your taste yet. Tap the film you like "
                 f"best in each row ({QUESTIONS} taps). The vote starts when you're done, or in "
                 f"{_minutes(self.options.vote_time)}."]
        buttons = []
        for q, row in enumerate(rows):
            lines.append(f"{q + 1}. " + " · ".join(m.label for m in row))
            buttons += [Button(f"{q + 1}: {m.title}", Action.party_step("pick", party.id, m.movie_id),
                               row=q) for m in row]
        buttons.append(Button("▶ Vote now", Action.party_step("close", party.id), row=QUESTIONS))
        return Reply(text="\n".join(lines), buttons=buttons, context={"party": party.id})

    async def _pick(self, party: Party, user: User, movie_id: int | None):
        if party.state != "onboarding":
            raise InvalidInput(OVER if not party.record.is_open else "The questions are closed.")
        rows = party.data.get("onboarding") or []
        row = next((i for i, r in enumerate(rows) if movie_id in r), None)
        if row is None or movie_id is None:
            raise InvalidInput("That film isn't one of the questions.")
        party.add(user)                 # answering is joining
        member = party.data["members"][user.user_id]
        picks = {int(k): v for k, v in member.get("rows", {}).items()}
        picks[row] = movie_id
        member["rows"] = {str(k): v for k, v in picks.items()}
        movie = self.layer.engine.movie(movie_id)

        async def store_pick() -> None:
            await self.layer.record(user, movie_id, "like",
                                    f"party:{party.id}:pick:{movie_id}", kind="button",
                                    source=f"{user.platform}:party-onboarding")

        done = all(len(party.data["members"][u].get("rows", {})) >= len(rows)
                   for u in party.data.get("newcomers", []) if party.is_in(u))
        if done:                    # the last answer opens the vote
            opened = await self._vote_opens(party)
            return Changed(opened.reply, store_pick)
        left = len(rows) - len(picks)
        note = f"👍 {movie.label}." + (f" {plural(left, 'row')} to go." if left
                                      else " Done! The vote starts when everyone is.")
        return Changed(Reply(text=note), store_pick)

    async def _taste(self, party: Party, uid: str) -> list[tuple[int, Any]]:
        """What the member told the bot: ratings, 👍/👎, then their watchlist."""
        store = self.store
        user = User(party.record.platform, uid, party.name(uid))
        sid = await self.layer.feedback.user_id(user)
        history: list[tuple[int, Any]] = list(await store.history(sid))
        seen = {m for m, _ in history}
        # onboarding picks are stored once the step is saved: the one that opens the vote
        # is not in the store yet when the candidates are chosen
        picks = party.data["members"].get(uid, {}).get("rows", {}).values()
        history += [(int(m), "like") for m in picks if int(m) not in seen]
        seen |= {int(m) for m in picks}
        history += [(m, "watchlist") for m in await store.watchlist(sid) if m not in seen]
        return history

    async def _vote_opens(self, party: Party):
        members = [GroupMember(party.name(uid), tuple(await self._taste(party, uid)))
                   for uid in party.members()]
        filters = party.filters()
        recs = self.layer.engine.group_recommend(
            GroupQuery(tuple(members), rewatch=bool(party.data.get("rewatch"))),
            k=self.options.candidates, filters=None if filters.is_empty() else filters)
        if not recs.results:
            party.record.state, party.record.deadline = "cancelled", None
            said = getattr(recs.query, "note", "") or "I couldn't find a film for this group."
            return Changed(Reply(text=f"{said} The party is off; /party starts a new one."))
        party.data["candidates"] = [{"id": r.movie.movie_id, "reason": r.reason}
                                    for r in recs.results]
        resolved = recs.query
        party.data["note"] = (getattr(resolved, "note", "") or "") \
            if getattr(resolved, "relaxed_veto", False) else ""
        party.data["round"], party.data["votes"], party.data["runoff"] = 1, {}, []
        party.record.state = "voting"
        party.record.deadline = _now() + timedelta(seconds=self.options.vote_time)
        return Changed(self._ballot(party))

    def _ballot(self, party: Party, notice: str = "", replace: bool = False) -> Reply:
        counts = party.counts()
        host = party.name(party.host)
        runoff = bool(party.data.get("runoff"))
        lines = []
        if party.data.get("note") and not runoff:
            lines.append("⚠️ " + party.data["note"])
        lines.append(("🔁 Runoff between the tied films!" if runoff else "🗳 Vote for tonight's film!")
                     + f" {host} closes the vote, or it closes in {_minutes(self.options.vote_time)}.")
        buttons = []
        for i, movie_id in enumerate(party.ballot(), 1):
            movie = self.layer.engine.movie(movie_id)
            lines.append(f"{i}. {movie.label} · {plural(counts[movie_id], 'vote')}")
            if party.reason(movie_id):
                lines.append(f"   💡 {party.reason(movie_id)}")
            buttons.append(Button(f"{i}. {movie.title} ({counts[movie_id]})",
                                  Action.party_step("vote", party.id, movie_id), row=i - 1))
        voted = len([u for u in party.data["votes"] if party.is_in(u)])
        lines.append(f"Voted: {voted} of {len(party.members())}.")
        buttons.append(Button("Close the vote", Action.party_step("close", party.id), row=len(buttons)))
        return Reply(text="\n".join(lines), buttons=buttons, context={"party": party.id},
                     replace=replace, notice=notice)

    async def _vote(self, party: Party, user: User, movie_id: int | None, ref: MessageRef | None):
        if party.state != "voting":
            raise InvalidInput(OVER if not party.record.is_open
                               else "The vote hasn't started yet.")
        if movie_id not in party.ballot():
            raise InvalidInput("That film isn't in this round of the vote any more.")
        if not party.is_in(user.user_id):
            raise InvalidInput("Join the party first (🙋 Join on its message), then vote.")
        movie = self.layer.engine.movie(movie_id)
        if party.data["votes"].get(user.user_id) == movie_id:
            return self._ballot(party, notice=f"You voted for {movie.title} already.", replace=True)
        party.data["votes"][user.user_id] = movie_id
        key, earlier = party.vote_key(user.user_id, movie_id)

        async def store_vote() -> None:
            await self.layer.record(user, movie_id, VOTE_SIGNAL, key, value=VOTE_AS_RATING,
                                    kind="button", source=f"{user.platform}:party-vote",
                                    message_ref=ref, replaces=earlier)

        return Changed(self._ballot(party, notice=f"🗳 Your vote: {movie.title}. You can "
                                                  "change it until the vote closes.",
                                    replace=True), store_vote)

    async def _close(self, party: Party):
        counts = party.counts()
        ballot = party.ballot()
        if not counts:
            winner, how = ballot[0], "Nobody voted, so here's the group's best match"
        else:
            top = max(counts.values())
            tied = [m for m in ballot if counts[m] == top]
            if len(tied) > 1 and not party.data.get("runoff"):
                party.data["runoff"] = tied
                party.data["round"] += 1
                party.data["votes"], party.data["vote_keys"] = {}, {}
                party.record.deadline = _now() + timedelta(seconds=self.options.vote_time)
                return Changed(self._ballot(party))
            winner = tied[0]
            how = (f"Still a tie, so the group's best match wins ({plural(top, 'vote')} each)"
                   if len(tied) > 1 else f"The winner, with {plural(top, 'vote')} of "
                   f"{len(party.members())}")
        party.data["winner"] = winner
        party.record.state, party.record.deadline = "done", None
        plain = self.layer.engine.movie(winner)
        host = User(party.record.platform, party.record.host, party.name(party.record.host))
        [movie], [where] = await asyncio.gather(self.layer._enrich([plain]),
                                                self.layer._watch_lines([plain], host))
        card = movie_card(movie, reason=party.reason(winner), full=True)
        add_line(card, where)          # in the host's country; "" without a TMDB key
        names = [party.name(u) for u in party.members()]
        members = [(uid, party.name(uid)) for uid in party.members()]
        buttons = []
        if party.record.platform in _EVENT_MAKERS.get(self.layer, {}):
            buttons.append(Button("📅 Schedule it", Action.party_step("event", party.id)))
        reply = Reply(text=f"🏆 {how}: {movie.label}!\nEnjoy the film, {_names(names)} 🍿",
                      cards=[card], buttons=buttons, context={"party": party.id, "winner": winner})

        async def store_winner() -> None:
            for uid, name in members:
                await self.layer.record(User(party.record.platform, uid, name), winner,
                                        WINNER_SIGNAL, f"party:{party.id}:winner", kind="other",
                                        source=f"{party.record.platform}:party")

        return Changed(reply, store_winner)

    async def _event(self, party: Party, user: User):
        """The host puts the winner on the server's calendar, once per party."""
        maker = _EVENT_MAKERS.get(self.layer, {}).get(party.record.platform)
        if maker is None:
            raise InvalidInput("I can't schedule events here.")
        if party.state != "done" or party.data.get("winner") is None:
            raise InvalidInput("The film is chosen when the vote closes: schedule it then.")
        if user.user_id != party.host:
            raise InvalidInput(f"Only {party.name(party.host)} (the host) can schedule it.")
        movie = self.layer.engine.movie(int(party.data["winner"]))
        if party.data.get("event"):
            return Reply(text=f"📅 {movie.title} is on the server's events already.",
                         buttons=[Button("📅 Open the event", url=party.data["event"])])
        start = event_start(_now())
        length = timedelta(minutes=movie.runtime) if movie.runtime else EVENT_LENGTH
        names = _names([party.name(u) for u in party.members()])
        reason = party.reason(movie.movie_id)
        planned = PlannedEvent(f"Movie night: {movie.label}",
                               f"Picked by {names}." + (f" {reason}" if reason else ""),
                               start, start + length)
        # the calendar call is not undone if the save below loses a race; the per-party
        # lock makes that a second process pressing at the same moment, nothing more
        party.data["event"] = await maker(party.record.chat_id, planned)
        return Changed(Reply(text=f"📅 {party.name(user.user_id)} put {movie.label} on the "
                                  f"server's events: {start:%H:%M} UTC, see you there 🍿",
                             buttons=[Button("📅 Open the event", url=party.data["event"])]))


# -- the command and the buttons, declared in the shared registry -----------------------
STEPS = ("go", "leave", "stop", "rewatch")


def _read_party(text: str) -> dict[str, Any]:
    """"/party go", "/party rewatch genre:horror", "/party before:1980"."""
    first, _, rest = text.strip().partition(" ")
    step = first.lower() if first.lower() in STEPS else ""
    rest, filters = parse_filters(rest if step else text)
    if rest.strip():
        raise InvalidInput(f"“{rest.strip()}” is not something /party understands. Try /party, "
                           f"/party go, /party leave, /party stop or /party rewatch. {FILTER_HELP}")
    return {"step": step, "filters": filters}


@COMMANDS.command("party", "movie night in a group: everyone joins, I suggest, you vote "
                  "(/party go starts it or closes the vote)",
                  Arg("step", "go (start, or close the vote), leave, stop, or rewatch (a new "
                      "party where seen films count)", required=False, choices=STEPS),
                  FILTERS, read=_read_party, wants_chat=True)
async def cmd_party(layer: CommandLayer, user: User, step: str = "",
                    filters: Filters | None = None, chat: Chat | None = None) -> Reply:
    return await desk(layer).command(user, chat, step, filters)


@COMMANDS.button("party")
async def press_party(layer: CommandLayer, action: Action, user: User, ref: MessageRef | None,
                      event_id: str | None, chat: Chat | None) -> Reply:
    return await desk(layer).press(action, user, ref)


@COMMANDS.reaction_hook
async def party_reaction(layer: CommandLayer, user: User, ref: MessageRef, emoji: str,
                         added: bool) -> bool:
    return await desk(layer).reaction(user, ref, emoji, added)

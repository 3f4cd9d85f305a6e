"""Property test: any sequence of reaction changes, delivered in order and then partly
again (a redelivery after kill -9, a stale duplicate), all in the same second and with
several emoji per card, ends in exactly the state a simple reference model says.

The reference model: per (user, emoji) the last change by the platform's order (``seq``,
Telegram's update id) wins; a user's like/dislike on a card is the set of signals of the
emoji they have on it now. The real path is `FeedbackDesk.reaction` on a real store
(SQLite, and PostgreSQL where configured: CI).

``MOVIEBOT_REACTION_EXAMPLES`` sets how many sequences Hypothesis tries (default 200, so
CI stays quick; the issue's acceptance run used 10,000).
"""

from __future__ import annotations

import itertools
import os
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.commands import MessageRef, User
from bot.feedback import FeedbackDesk
from bot.parsing import emoji_signal
from bot.store.testing import open_test_store

EXAMPLES = int(os.environ.get("MOVIEBOT_REACTION_EXAMPLES", "200"))
AT = datetime(2025, 3, 1, 20, 15, 7, tzinfo=UTC)   # every change in the same second
EMOJI = ["👍", "❤", "👍🏻", "👎", "💩", "🎉"]      # two like, one like variant, two dislike, noise
MOVIE = 318

Op = tuple[int, str, bool]          # (user, emoji, added)

ops = st.lists(st.tuples(st.integers(0, 2), st.sampled_from(EMOJI), st.booleans()),
               min_size=1, max_size=14)


def expected(changes: list[tuple[int, Op]]) -> list[tuple[str, str]]:
    """The reference model: (user, signal) pairs active after applying ``changes``."""
    state: dict[tuple[int, str], tuple[int, bool]] = {}
    for seq, (user, emoji, added) in changes:
        last = state.get((user, emoji))
        if last is None or seq > last[0]:
            state[(user, emoji)] = (seq, added)
    signals = {(user, emoji_signal(emoji)) for (user, emoji), (_, on) in state.items()
               if on and emoji_signal(emoji)}
    return sorted((str(user), signal) for user, signal in signals)


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request, tmp_path):
    async with open_test_store(request.param, tmp_path) as store:
        yield store


_cards = itertools.count(1)
RUNS = {"sequences": 0, "wrong": 0}


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=ops, again=st.lists(st.integers(0, 13), max_size=8), replay_from=st.integers(0, 14))
async def test_random_reaction_sequences_match_the_reference_model(store, ops, again, replay_from):
    desk = FeedbackDesk(store)
    card = MessageRef("telegram", "-100", str(next(_cards)))   # a fresh card per sequence
    await desk.remember(card, MOVIE, {"command": "info"})
    numbered = [(seq, op) for seq, op in enumerate(ops, start=1)]
    # Delivered in order; then the tail again from some point (kill -9 before the
    # confirmation), then some random earlier ones (stale duplicates).
    deliveries = numbered + numbered[replay_from:] + [numbered[i % len(numbered)] for i in again]
    users = {}
    for seq, (user, emoji, added) in deliveries:
        who = users.setdefault(user, User("telegram", f"{card.message_id}-{user}"))
        await desk.reaction(who, card, emoji, added, at=AT, seq=seq)
    got = sorted((user.split("-")[1], signal) for user, signal in await store.active_reactions(card))
    RUNS["sequences"] += 1
    if got != expected(deliveries):
        RUNS["wrong"] += 1
    assert got == expected(deliveries), deliveries


def test_report_the_count():
    """Printed with -s for the acceptance table: sequences tried and wrong."""
    print(f"\nreaction sequences tried: {RUNS['sequences']}, wrong: {RUNS['wrong']}")

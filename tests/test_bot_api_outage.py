"""The Bot API failing must never cost a command (issue 14, item 1).

The real PTB stack and `DurableUpdateLoop` against the fake Bot API: sendMessage and
sendPhoto answer 502 for a while. Every command sent during the outage is answered once
it ends, reactions keep being stored meanwhile, and only a permanent error (a 4xx other
than 429) gives up, logged without the user's text or name.

The outage lasts until every command has failed at least twice, with backoff capped at
0.2 s, so the test takes seconds. ``MOVIEBOT_OUTAGE_SECONDS=60`` keeps the API down for
60 real seconds with the production backoff (1 s doubling to 30 s) instead: the issue's
acceptance run.
"""

from __future__ import annotations

import asyncio
import logging
import os

from tests.fakes.harness import telegram_bot

COMMANDS = 20
NAME = "Privatissima"         # a user name that must not reach a log line
REAL_OUTAGE = float(os.environ.get("MOVIEBOT_OUTAGE_SECONDS", "0"))


def replies(fake, chat_id: int) -> list[str]:
    return [c.params.get("text") or c.params.get("caption") or ""
            for c in fake.sent(chat_id=chat_id) if c.method in ("sendMessage", "sendPhoto")]


async def test_no_command_is_lost_through_a_send_outage(engine, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    options = {} if REAL_OUTAGE else {"max_backoff": 0.2}
    if REAL_OUTAGE:
        options["retry_delay"] = 1.0          # production defaults (MAX_BACKOFF: 30 s)
    async with telegram_bot(engine, tmp_path / "o.db", loop_options=options) as (
            fake, frontend, loop):
        store = frontend.commands.store
        fake.push_text("/info heat", user_id=5)          # a card to react to, before the outage
        await fake.wait_for(lambda f: f.all_confirmed() and replies(f, 5), 30)
        card = next(c for c in fake.sent(chat_id=5) if c.params.get("reply_markup"))
        card_id = card.params["_message_id"]

        fake.down("sendMessage", "sendPhoto")
        users = range(1000, 1000 + COMMANDS)
        for user in users:
            fake.push_text("/help", user_id=user, first_name=NAME)
        if REAL_OUTAGE:
            await asyncio.sleep(REAL_OUTAGE)
        else:
            await fake.wait_for(lambda f: f.outage_failures >= 2 * COMMANDS, 60)
        # updates keep flowing meanwhile: a reaction is stored while the API is still down
        fake.push_reaction(5, card_id, 5, new=["👍"])
        uid = await store.user_id("telegram", "5")
        for _ in range(600):
            if await store.history(uid):
                break
            await asyncio.sleep(0.05)
        assert [s for _, s in await store.history(uid)] == ["like"]
        assert fake.down_methods and not fake.all_confirmed()   # the commands wait, unconfirmed
        failures = fake.outage_failures

        fake.up()
        await fake.wait_for(lambda f: f.all_confirmed(), 120)
        answered = {user: replies(fake, user) for user in users}
        lost = [u for u, r in answered.items() if not r]
        doubled = [u for u, r in answered.items() if len(r) > 1]
        print(f"\noutage: {COMMANDS} commands, {failures} refused sends, lost {len(lost)}, "
              f"doubled {len(doubled)}, given up {loop.given_up}")
        assert lost == [] and doubled == [] and loop.given_up == 0
        assert all(r[0].startswith("I recommend movies") for r in answered.values())
    assert NAME not in ours(caplog)


def ours(caplog) -> str:
    """What moviebot itself logged (PTB's own DEBUG lines print whole updates)."""
    return "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("moviebot"))


async def test_a_permanent_error_gives_up_without_logging_text_or_names(engine, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    async with telegram_bot(engine, tmp_path / "p.db") as (fake, _, loop):
        # the user blocked the bot: 403 on every send (the answer, then the apology)
        fake.fail("sendMessage", error_code=403, description="Forbidden: bot was blocked by the user",
                  retry_after=None, times=10)
        fake.push_text("/search hushhush", user_id=77, first_name=NAME)
        await fake.wait_for(lambda f: f.all_confirmed(), 30)
        assert loop.given_up == 1
    gave_up = [r.getMessage() for r in caplog.records if "giving up" in r.getMessage()]
    assert len(gave_up) == 1 and "Forbidden" in gave_up[0]
    assert "hushhush" not in ours(caplog) and NAME not in ours(caplog)


async def test_a_transient_failure_is_answered_once_with_no_apology(engine, tmp_path):
    """One 502 on the answer: the update is retried and answered. No "please try again"
    goes out meanwhile (it used to, when the API was back by the time of the apology: the
    user got the apology and the answer, and one who did try again got two answers)."""
    async with telegram_bot(engine, tmp_path / "t.db") as (fake, _, loop):
        fake.fail("sendMessage", error_code=502, description="Bad Gateway", retry_after=None)
        fake.push_text("/help", user_id=88)
        await fake.wait_for(lambda f: f.all_confirmed(), 30)
        assert loop.given_up == 0
    said = replies(fake, 88)
    assert len(said) == 1 and said[0].startswith("I recommend movies")


async def test_once_one_command_gets_through_the_waiting_ones_follow(engine, tmp_path):
    """After an outage the waiting commands are tried again as soon as another update gets
    through, not each at the end of its own backoff (here ten minutes, far longer than the test
    waits: without the early wake-up they would not be answered in time)."""
    options = {"retry_delay": 600.0, "max_backoff": 600.0, "min_wait": 0.05}
    async with telegram_bot(engine, tmp_path / "w.db", loop_options=options) as (
            fake, frontend, loop):
        fake.down("sendMessage", "sendPhoto")
        waiting = range(2000, 2005)
        for user in waiting:
            fake.push_text("/help", user_id=user)
        await fake.wait_for(lambda f: f.outage_failures >= len(waiting), 30)
        fake.up()
        fake.push_text("/help", user_id=2100)        # gets through at once: the API is back
        await fake.wait_for(lambda f: f.all_confirmed(), 120)
        assert all(len(replies(fake, user)) == 1 for user in [*waiting, 2100])
        assert loop.given_up == 0


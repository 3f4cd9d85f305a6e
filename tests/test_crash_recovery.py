"""kill -9 the Telegram bot during a burst of reactions, restart it: every reaction is
stored exactly once, in SQLite and in PostgreSQL (a schema of its own, dropped after).

The bot runs as a real `moviebot serve telegram` subprocess against the fake Bot API
(in this test's event loop). It is killed at the moment it comes back to confirm
updates it has already handled, so those reactions are stored but not confirmed, and
the restarted bot gets them again.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest

from bot.store import Store
from bot.store.testing import drop_schema, require_postgres
from tests.fakes import stop_process
from tests.fakes.telegram_api import FakeTelegram

CHATS = (777, 778, 779, 780)
MESSAGES = 40              # cards, spread over the chats
USERS = 5


def _env(fake: FakeTelegram, artifacts: Path, database: tuple[str, str]) -> dict:
    url, schema = database
    env = dict(os.environ)
    env.update(TELEGRAM_BOT_TOKEN=fake.token, TELEGRAM_API_BASE_URL=fake.base_url,
               DATABASE_URL=url, MOVIEBOT_DB_SCHEMA=schema, MOVIEBOT_ARTIFACTS=str(artifacts),
               DISCORD_BOT_TOKEN="", TMDB_API_KEY="", TF_NUM_INTEROP_THREADS="1",
               TF_NUM_INTRAOP_THREADS="1")
    return env


@pytest.fixture(params=["sqlite", "postgres"])
async def database(request, tmp_path):
    """(url, schema) of an empty database the bot subprocess and the test both open."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'crash.db'}", ""
        return
    url = await require_postgres()
    schema = f"crash_{os.getpid()}_{secrets.token_hex(4)}"
    yield url, schema
    await drop_schema(url, schema)


async def _open(database: tuple[str, str]) -> Store:
    url, schema = database
    return await Store.open(url, schema=schema or None)


async def _start(env: dict, tmp_path: Path, name: str) -> asyncio.subprocess.Process:
    log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "serve", "telegram", "--spool",
        str(tmp_path / "spool.jsonl"), env=env, stdout=log, stderr=log,
        cwd=Path(__file__).resolve().parent.parent)


async def test_kill_9_during_reaction_burst_loses_and_duplicates_nothing(
        quick_artifacts, engine, tmp_path, database):
    movie_ids = [int(m) for m in engine.catalog.df["movie_id"].head(MESSAGES)]
    store = await _open(database)
    for i, movie_id in enumerate(movie_ids):     # cards the bot sent earlier
        await store.remember_message("telegram", str(CHATS[i % len(CHATS)]), str(5000 + i),
                                     movie_id, {"command": "similar"})
    await store.close()

    fake = await FakeTelegram(batch_limit=10).start()
    reactions = 0
    for i in range(MESSAGES):
        for user in range(USERS):
            fake.push_reaction(CHATS[i % len(CHATS)], 5000 + i, 100 + user,
                               new=["👍" if (i + user) % 3 else "👎"])
            reactions += 1
    total = len(fake.updates)
    env = _env(fake, quick_artifacts, database)
    proc = await _start(env, tmp_path, "first")

    # Once a getUpdates would confirm 60+ handled updates, the bot dies before that
    # confirmation lands (the fake drops the request), mid-burst.
    first = fake.updates[0]["update_id"]
    original = fake._api_getUpdates
    kill_at = []

    async def get_updates(params):
        offset = params.get("offset") or 0
        if not kill_at and offset >= first + 60:
            kill_at.append((offset, fake.confirmed_offset))
            os.kill(proc.pid, signal.SIGKILL)
            return []
        return await original(params)

    fake._api_getUpdates = get_updates
    try:
        await asyncio.wait_for(proc.wait(), 120)
        assert proc.returncode == -signal.SIGKILL and not fake.all_confirmed()
        store = await _open(database)
        stored_before_restart = (await store.stats())["events"]
        await store.close()
        (wanted_offset, confirmed) = kill_at[0]
        # handled and stored, but never confirmed: the restarted bot gets these again
        assert confirmed < wanted_offset
        assert stored_before_restart >= wanted_offset - first > confirmed - first
        assert len(fake.updates) == total - (confirmed - first)

        fake._api_getUpdates = original
        proc = await _start(env, tmp_path, "second")
        await fake.wait_for(lambda f: f.all_confirmed(), 120)
    finally:
        await stop_process(proc)
        await fake.stop()

    for log in ("first.log", "second.log"):      # the token never reaches a log line
        assert fake.token not in (tmp_path / log).read_text()
    store = await _open(database)
    try:
        assert store.dialect == ("postgresql" if database[1] else "sqlite")
        stats = await store.stats()
        assert stats["events"] == reactions            # every reaction exactly once
        assert stats["retracted"] == 0
        for user in range(USERS):
            uid = await store.user_id("telegram", str(100 + user))
            history = dict(await store.history(uid))
            assert len(history) == MESSAGES
            for i, movie_id in enumerate(movie_ids):
                assert history[movie_id] == ("like" if (i + user) % 3 else "dislike")
    finally:
        await store.close()


RATERS = 12                # users, each in their own chat
RATES = 3                  # /rate commands per user
PRESSES = 2                # 👍 button presses per user
WATCH = 2                  # /watchlist add per user (7 in all: under the rate limit of 8)


async def test_kill_9_during_rate_press_and_watchlist_burst_duplicates_nothing(
        quick_artifacts, engine, tmp_path, database):
    """/rate, like-button presses and /watchlist add, killed twice mid-burst: every write
    is stored once (keys from the update / callback query id) and every update gets one
    reply (a redelivered update that was answered is recognised and skipped)."""
    movie_ids = []            # movies whose bare title resolves to them (no year needed)
    for movie_id in (int(m) for m in engine.catalog.df["movie_id"].head(200)):
        title = engine.movie(movie_id).title
        try:
            if engine.resolve(title).movie_id == movie_id:
                movie_ids.append(movie_id)
        except Exception:  # noqa: BLE001 - ambiguous: not for this test
            pass
    movie_ids = movie_ids[:40]
    titles = [engine.movie(m).title for m in movie_ids]
    fake = await FakeTelegram(batch_limit=10).start()
    rate_updates, press_ids, watch_updates = {}, {}, {}
    for user in range(RATERS):
        uid = 2000 + user
        for n in range(RATES):
            stars = 0.5 + ((user + n) % 10) * 0.5
            rate_updates[fake.push_text(f"/rate {titles[(user + n) % 40]} {stars:g}",
                                        user_id=uid)] = uid
        for n in range(PRESSES):
            card = fake._message(uid, "private", "card")       # a card the bot sent earlier
            update = fake.push_callback(f"like:{movie_ids[(user + 20 + n) % 40]}", card,
                                        user_id=uid)
            press_ids[fake.updates[-1]["callback_query"]["id"]] = update
        for n in range(WATCH):
            watch_updates[fake.push_text(f"/watchlist add {titles[(user + 30 + n) % 40]}",
                                         user_id=uid)] = uid
    total = len(fake.updates)
    first = fake.updates[0]["update_id"]
    env = _env(fake, quick_artifacts, database)
    original = fake._api_getUpdates
    procs = []
    kills = []

    def killer(at: int):
        async def get_updates(params):
            offset = params.get("offset") or 0
            if len(kills) < len(procs) and offset >= at:
                kills.append(offset)
                os.kill(procs[-1].pid, signal.SIGKILL)
                return []
            return await original(params)
        return get_updates

    try:
        for n, at in enumerate((first + total // 3, first + 2 * total // 3)):
            fake._api_getUpdates = killer(at)
            procs.append(await _start(env, tmp_path, f"run{n}"))
            await asyncio.wait_for(procs[-1].wait(), 180)
            assert procs[-1].returncode == -signal.SIGKILL
        fake._api_getUpdates = original
        procs.append(await _start(env, tmp_path, "last"))
        await fake.wait_for(lambda f: f.all_confirmed(), 180)
    finally:
        await stop_process(procs[-1])
        await fake.stop()

    assert len(kills) == 2
    store = await _open(database)
    try:
        stats = await store.stats()
        assert stats["events"] == RATERS * (RATES + PRESSES)      # 0 duplicates
        assert stats["watchlist"] == RATERS * WATCH
    finally:
        await store.close()
    # Replies per command update (they quote the user's message).
    per_update = Counter((c.params["chat_id"], c.params["reply_parameters"]["message_id"])
                         for c in fake.sent("sendMessage") if c.params.get("reply_parameters"))
    assert len(per_update) == RATERS * (RATES + WATCH)           # every command answered
    doubled = sum(n > 1 for n in per_update.values())
    said = [c.params.get("text", "") for c in fake.sent("sendMessage")]
    assert sum(t.startswith("Saved:") for t in said) - doubled <= RATERS * RATES
    # A reply sent in the instant before the kill, whose "answered" mark was not committed
    # yet, is sent again: at-least-once has that window (closing it would risk losing the
    # reply instead). Everything handled before the kill is recognised and not answered
    # again, so doubles are bounded by what was in flight (the concurrency, 8) per kill.
    assert doubled <= 8 * len(kills)
    toasts = Counter(c.params.get("callback_query_id") for c in fake.sent("answerCallbackQuery"))
    assert set(toasts) == set(press_ids)                         # each press answered
    doubled += sum(n > 1 for n in toasts.values())
    print(f"\nkill -9 x2: {len(rate_updates)} /rate, {len(press_ids)} presses, "
          f"{len(watch_updates)} /watchlist add; events {stats['events']}, "
          f"watchlist {stats['watchlist']}, updates answered twice {doubled}")

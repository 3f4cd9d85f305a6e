"""PostgreSQL going silent (a TCP proxy that black-holes its traffic) must not stall the
bot (issue 14, item 7): the spooling store's circuit breaker sends feedback to the spool
at once, updates keep being fetched and confirmed, and once the database answers again
the spool is replayed: every reaction stored exactly once.

Needs PostgreSQL (MOVIEBOT_TEST_POSTGRES_URL; CI has it)."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from urllib.parse import urlsplit, urlunsplit

from bot.commands import CommandLayer
from bot.store import Store
from bot.store.spool import SpoolingStore
from bot.store.testing import drop_schema, require_postgres
from bot.telegram.app import TelegramFrontend, TelegramOptions
from bot.telegram.polling import DurableUpdateLoop
from tests.fakes.blackhole import BlackHoleProxy
from tests.fakes.telegram_api import FakeTelegram

USERS = 40
REACTIONS = 5            # cards each user reacts to during the outage


def _through(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


async def test_updates_keep_flowing_while_postgres_is_black_holed(engine, tmp_path):
    url = await require_postgres()
    target = urlsplit(url.replace("+asyncpg", ""))
    proxy = await BlackHoleProxy(target.hostname or "127.0.0.1", target.port or 5432).start()
    schema = f"blackhole_{os.getpid()}_{secrets.token_hex(3)}"
    fake = await FakeTelegram().start()
    store = SpoolingStore(await Store.open(_through(url, proxy.port), schema=schema,
                                           connect_timeout=1.0, statement_timeout=30.0),
                          tmp_path / "spool.jsonl", retry_every=1.0, timeout=1.0)
    layer = CommandLayer(lambda: engine, store=store)
    frontend = TelegramFrontend(layer, TelegramOptions(token=fake.token, base_url=fake.base_url,
                                                       user_rate=100, user_period=1))
    await frontend.start()
    loop = DurableUpdateLoop(frontend, poll_timeout=1, retry_delay=0.05, max_backoff=0.5)
    task = asyncio.create_task(loop.run())
    try:
        cards = []
        for n in range(REACTIONS):                       # cards, sent while the db is up
            fake.push_text(f"/info {['heat', 'alien', 'fargo', 'jaws', 'toy story'][n]}")
            await fake.wait_for(lambda f: f.all_confirmed(), 60)
            cards.append(fake.sent()[-1].params["_message_id"])
        proxy.black_hole = True
        started = time.monotonic()
        for user in range(USERS):
            for card in cards:
                fake.push_reaction(42, card, 500 + user, new=["👍"])
            fake.push_text("/help", user_id=900 + user)
        # all fetched, handled (spooled) and confirmed while the database is still silent
        await fake.wait_for(lambda f: f.all_confirmed(), 120)
        took = time.monotonic() - started
        assert proxy.black_hole and store.spool.pending_count() >= USERS * REACTIONS
        assert len([c for c in fake.sent("sendMessage") if c.params["chat_id"] >= 900]) == USERS
        print(f"\nblack-holed PostgreSQL: {USERS * (REACTIONS + 1)} updates confirmed in "
              f"{took:.1f} s, {store.spool.pending_count()} operations spooled")
        proxy.black_hole = False
        for _ in range(600):                             # the breaker lets a probe through
            await asyncio.sleep(0.1)
            try:
                await store.flush()
            except Exception:  # noqa: BLE001 - still reconnecting
                continue
            if not store.spool.pending_count():
                break
        assert store.spool.pending_count() == 0
        stats = await store.stats()
        assert stats["events"] == USERS * REACTIONS and stats["retracted"] == 0
    finally:
        loop.stop()
        await asyncio.wait_for(task, 30)
        await frontend.stop()
        await store.close()
        await proxy.stop()
        await fake.stop()
        await drop_schema(url, schema)

"""Wire the real bot stack (command layer + store + PTB front-end + durable polling loop)
to the fake Telegram server, for tests and the benchmark."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from pathlib import Path

from bot.commands import CommandLayer
from bot.store import Store
from bot.telegram.app import TelegramFrontend, TelegramOptions
from bot.telegram.polling import DurableUpdateLoop

from .telegram_api import FakeTelegram


@asynccontextmanager
async def telegram_bot(engine, db_path: Path, *, options: dict | None = None,
                       fake: FakeTelegram | None = None, poll_timeout: int = 1,
                       spool: Path | None = None, loop_options: dict | None = None,
                       holder=None, layer_options: dict | None = None):
    """Yields (fake, frontend, loop) with the loop polling in the background.
    With ``spool``, the store is a SpoolingStore, as in production. With ``holder`` (an
    engine.reload.EngineHolder, as `moviebot serve` uses), it serves whatever version is
    published, and ``engine`` is ignored. ``layer_options`` go to the CommandLayer (e.g.
    ``tmdb``)."""
    own_fake = fake is None
    fake = fake or await FakeTelegram().start()
    store = await Store.open(f"sqlite:///{db_path}")
    if spool is not None:
        from bot.store.spool import SpoolingStore

        store = SpoolingStore(store, spool, retry_every=0.2)
    layer = CommandLayer(holder or (lambda: engine), store=store, **(layer_options or {}))
    frontend = TelegramFrontend(layer, TelegramOptions(token=fake.token, base_url=fake.base_url,
                                                       **(options or {})))
    await frontend.start()
    loop = DurableUpdateLoop(frontend, poll_timeout=poll_timeout,
                             **({"retry_delay": 0.05} | (loop_options or {})))
    task = asyncio.create_task(loop.run())
    try:
        yield fake, frontend, loop
    finally:
        loop.stop()
        try:
            await asyncio.wait_for(task, poll_timeout + 5)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
        await frontend.stop()
        await store.close()
        if own_fake:
            await fake.stop()

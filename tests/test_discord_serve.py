"""`moviebot serve discord` as a real process, pointed at the fake Discord by the
environment (DISCORD_API_BASE_URL, DISCORD_GATEWAY_URL), token only from the environment."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from bot.store import Store
from tests.fakes import stop_process
from tests.fakes.discord_api import FakeDiscord


async def test_serve_discord_process_answers_and_stores_reactions(quick_artifacts, tmp_path):
    fake = await FakeDiscord().start()
    db = tmp_path / "d.db"
    env = dict(os.environ)
    env.update(DISCORD_BOT_TOKEN=fake.token, DISCORD_API_BASE_URL=fake.api_base,
               DISCORD_GATEWAY_URL=fake.gateway_url, TELEGRAM_BOT_TOKEN="",
               DATABASE_URL=f"sqlite:///{db}", MOVIEBOT_ARTIFACTS=str(quick_artifacts))
    log = tmp_path / "discord.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "serve", "auto", "--spool", str(tmp_path / "s.jsonl"),
            env=env, stdout=out, stderr=out, cwd=Path(__file__).resolve().parent.parent)
        try:
            await fake.wait_identified(60)
            await asyncio.sleep(0.5)          # READY + GUILD_CREATE handled
            await fake.send_user_message("!info toy story")
            await fake.wait_for(lambda f: any(m.get("embeds") for m in f.sent), 30)
            card = next(m for m in fake.sent if m.get("embeds"))
            assert card["embeds"][0]["title"] == "Toy Story (1995)"
            await fake.wait_for(lambda f: f.reactions.get((card["id"], "👎")), 10)
            await fake.react(card["id"], "👍", user_id="555")
            store = await Store.open(f"sqlite:///{db}")
            try:
                uid = await store.user_id("discord", "555")
                for _ in range(100):
                    if await store.history(uid):
                        break
                    await asyncio.sleep(0.1)
                assert await store.history(uid) == [(1, "like")]
            finally:
                await store.close()
        finally:
            await stop_process(proc)
            await fake.stop()
    assert proc.returncode == 0, log.read_text()[-3000:]
    assert fake.token not in log.read_text()

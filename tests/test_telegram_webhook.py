"""Webhook mode: the bot answers Telegram's POST only after the update is handled."""

from __future__ import annotations

import time

import aiohttp
import pytest

from bot.commands import CommandLayer
from bot.store import Store
from bot.telegram.app import TelegramFrontend, TelegramOptions
from bot.telegram.webhook import SECRET_HEADER, WebhookServer
from tests.fakes.telegram_api import FakeTelegram


@pytest.fixture
async def webhook(engine, tmp_path):
    fake = await FakeTelegram().start()
    store = await Store.open(f"sqlite:///{tmp_path / 'w.db'}")
    layer = CommandLayer(lambda: engine, store=store)
    frontend = TelegramFrontend(layer, TelegramOptions(token=fake.token, base_url=fake.base_url))
    await frontend.start()
    server = WebhookServer(frontend, "http://127.0.0.1:0", listen="127.0.0.1", port=0,
                           secret="s3cret-token")
    await server.start()
    server.public_url = f"http://127.0.0.1:{server.port}"
    try:
        yield fake, frontend, server
    finally:
        await server.stop()
        await frontend.stop()
        await store.close()
        await fake.stop()


def _update(update_id: int, text: str) -> dict:
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": int(time.time()), "text": text,
        "chat": {"id": 42, "type": "private", "first_name": "Ada"},
        "from": {"id": 42, "is_bot": False, "first_name": "Ada"},
        "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        if text.startswith("/") else []}}


async def _post(server, body, secret="s3cret-token"):
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{server.public_url}{server.path}", json=body,
                                headers={SECRET_HEADER: secret}) as resp:
            return resp.status


async def test_set_webhook_registers_url_secret_and_reactions(webhook):
    fake, _, _ = webhook
    assert fake.webhook["url"].endswith("/telegram")
    assert fake.webhook["secret_token"] == "s3cret-token"
    assert "message_reaction" in fake.webhook["allowed_updates"]


async def test_update_is_answered_before_the_200(webhook):
    fake, _, server = webhook
    assert await _post(server, _update(1, "/help")) == 200
    # the reply was already sent when Telegram got its 200
    assert any("/similar" in c.params.get("text", "") for c in fake.sent("sendMessage", 42))


async def test_wrong_secret_and_garbage_are_refused(webhook):
    fake, _, server = webhook
    assert await _post(server, _update(2, "/help"), secret="guess") == 403
    assert await _post(server, ["not", "an", "update"]) == 400
    assert not fake.sent("sendMessage")


async def test_failure_asks_telegram_to_redeliver(webhook):
    fake, frontend, server = webhook

    async def broken(text, user, **kw):
        raise ConnectionError("database went away")

    frontend.commands.handle = broken
    assert await _post(server, _update(3, "/help")) == 500

"""`JSONBodyRequest` (bot/telegram/request.py) through the real PTB `Bot` against the fake
Bot API: calls go out as JSON, uploads as multipart, and failures become PTB's errors."""

from __future__ import annotations

import socket

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut

from bot.telegram.render import quiet_raw_send_hint
from bot.telegram.request import JSONBodyRequest
from tests.fakes.telegram_api import FakeTelegram


@pytest.fixture
async def fake():
    fake = await FakeTelegram().start()
    yield fake
    await fake.stop()


def bot_for(base_url: str, token: str = "123456:TEST-token", **timeouts) -> Bot:
    return Bot(token, base_url=base_url, request=JSONBodyRequest(**timeouts))


async def test_calls_are_sent_as_typed_json(fake):
    quiet_raw_send_hint()
    async with bot_for(fake.base_url) as bot:
        keys = InlineKeyboardMarkup([[InlineKeyboardButton("👍", callback_data="like:1")]])
        message = await bot.send_message(chat_id=5, text="Amélie <b> & “quotes”",
                                         reply_markup=keys, reply_to_message_id=3)
        raw = await bot.do_api_request("sendPhoto", api_kwargs={
            "chat_id": 5, "photo": "https://image.tmdb.org/t/p/w342/x.jpg", "caption": "ж",
            "reply_markup": {"inline_keyboard": [[{"text": "More", "callback_data": "m:1"}]]}})
    sent, photo = fake.sent("sendMessage")[0], fake.sent("sendPhoto")[0]
    assert sent.content_type == photo.content_type == "application/json"
    assert sent.params["chat_id"] == 5 and sent.params["text"] == "Amélie <b> & “quotes”"
    assert sent.params["reply_markup"] == {
        "inline_keyboard": [[{"text": "👍", "callback_data": "like:1"}]]}
    assert message.message_id == sent.params["_message_id"]
    assert photo.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "m:1"
    assert raw["message_id"] == photo.params["_message_id"]


async def test_uploads_still_go_as_multipart(fake):
    async with bot_for(fake.base_url) as bot:
        await bot.send_photo(chat_id=5, photo=b"\x89PNG not really", caption="poster")
    call = fake.sent("sendPhoto")[0]
    assert call.content_type == "multipart/form-data"
    assert call.params["photo"] == "<file>" and call.params["caption"] == "poster"


async def test_api_errors_keep_ptb_meaning(fake):
    async with bot_for(fake.base_url) as bot:
        fake.fail("sendMessage", 429, retry_after=7)
        with pytest.raises(RetryAfter, match="Retry in 7"):
            await bot.send_message(chat_id=5, text="hi")
        fake.fail("sendMessage", 400, "Bad Request: chat not found", retry_after=None)
        with pytest.raises(BadRequest, match="Chat not found"):
            await bot.send_message(chat_id=5, text="hi")


async def test_slow_answer_is_timed_out(fake):
    async with bot_for(fake.base_url) as bot:
        fake.latency = 1.0
        with pytest.raises(TimedOut):
            await bot.send_message(chat_id=5, text="hi", read_timeout=0.1)


async def test_unreachable_server_is_a_network_error():
    with socket.socket() as probe:           # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    bot = bot_for(f"http://127.0.0.1:{port}/bot")
    with pytest.raises(NetworkError):
        await bot.initialize()               # its getMe call
    await bot.shutdown()

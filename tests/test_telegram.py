"""The real python-telegram-bot stack against a fake Bot API server on 127.0.0.1.

Every test drives the bot the way Telegram would (updates through getUpdates) and
checks what the bot sent back and what the store holds.
"""

from __future__ import annotations

import asyncio
import html
import time

import pytest
from telegram import Update

from bot.frontend import APOLOGY as OOPS
from bot.frontend import SLOW_DOWN
from tests.fakes.harness import telegram_bot
from tests.fakes.telegram_api import BOT_USER, FakeTelegram

USER = 42


@pytest.fixture
async def bot(engine, tmp_path):
    async with telegram_bot(engine, tmp_path / "bot.db") as stack:
        yield stack


def texts(fake, chat_id=USER):
    out = []
    for call in fake.sent(chat_id=chat_id):
        if call.method in ("sendMessage", "sendPhoto"):
            out.append(call.params.get("text") or call.params.get("caption") or "")
    return out


async def answered(fake, n: int = 1, chat_id: int = USER, timeout: float = 15.0):
    """Wait until the bot sent at least ``n`` messages to ``chat_id``."""
    await fake.wait_for(lambda f: len(texts(f, chat_id)) >= n, timeout)
    return texts(fake, chat_id)


async def processed(fake, timeout: float = 15.0):
    await fake.wait_for(lambda f: f.all_confirmed(), timeout)


async def test_help_and_start(bot):
    fake, _, _ = bot
    fake.push_text("/start", first_name="Ada")
    fake.push_text("/help")
    sent = await answered(fake, 2)
    assert "Hi Ada" in sent[0]
    assert "/similar" in sent[1] and "/watchlist" in sent[1]


async def test_title_gets_a_card_with_poster_buttons_and_memory(bot, engine):
    fake, frontend, _ = bot
    fake.push_text("toy story")
    await answered(fake)
    await processed(fake)
    call = fake.sent("sendPhoto", USER)[0] if fake.sent("sendPhoto", USER) else fake.sent("sendMessage", USER)[-1]
    caption = call.params.get("caption") or call.params.get("text")
    assert caption.startswith("<b>Toy Story (1995)</b>")
    assert call.params["parse_mode"] == "HTML"
    buttons = [b for row in call.params["reply_markup"]["inline_keyboard"] for b in row]
    actions = {b.get("callback_data") for b in buttons}
    assert {"like:1", "dislike:1", "more:1"} <= actions
    movie = engine.movie(1)
    if movie.poster_url:
        assert call.method == "sendPhoto" and call.params["photo"] == movie.poster_url
    if movie.trailer_url:
        assert any(b.get("url") == movie.trailer_url for b in buttons)
    # the message -> movie mapping is persisted for reactions later
    store = frontend.commands.store
    message_id = await _last_card_id(fake)
    sent = await store.lookup_message("telegram", str(USER), str(message_id))
    assert sent is not None and sent.movie_id == 1


async def _last_card_id(fake, chat_id=USER):
    cards = [c for c in fake.sent(chat_id=chat_id) if c.method in ("sendPhoto", "sendMessage")
             and c.params.get("reply_markup")]
    assert cards, "no card sent"
    return cards[-1].params["_message_id"]


async def test_reactions_are_stored_once_and_retracted(bot):
    fake, frontend, _ = bot
    store = frontend.commands.store
    fake.push_text("/info heat")
    await answered(fake)
    message_id = await _last_card_id(fake)
    uid = await store.user_id("telegram", str(USER))
    update = fake.push_reaction(USER, message_id, USER, new=["👍"])
    # Telegram delivering the very same update twice (e.g. after a crash): stored once.
    copy = next(u for u in fake.updates if u["update_id"] == update)
    fake.push({k: v for k, v in copy.items() if k != "update_id"})
    await processed(fake)
    history = await store.history(uid)
    assert len(history) == 1 and history[0][1] == "like"
    assert (await store.stats())["events"] == 1
    fake.push_reaction(USER, message_id, USER, new=[], old=["👍"])
    await processed(fake)
    assert await store.history(uid) == []
    # re-adding later is a new event, a different emoji is ignored
    await asyncio.sleep(1.1)
    fake.push_reaction(USER, message_id, USER, new=["👎", "🤔"])
    await processed(fake)
    assert [s for _, s in await store.history(uid)] == ["dislike"]


async def test_like_button_stores_feedback_and_answers_with_a_toast(bot):
    fake, frontend, _ = bot
    store = frontend.commands.store
    fake.push_text("/info toy story")
    await answered(fake)
    card = [c for c in fake.sent(chat_id=USER) if c.params.get("reply_markup")][-1]
    message = {"message_id": card.params["_message_id"], "date": int(time.time()),
               "chat": {"id": USER, "type": "private"}, "from": BOT_USER, "text": "x"}
    fake.push_callback("like:1", message)
    await fake.wait_for(lambda f: f.sent("answerCallbackQuery"))
    await processed(fake)
    toast = fake.sent("answerCallbackQuery")[0].params
    assert "Noted" in toast["text"]
    uid = await store.user_id("telegram", str(USER))
    assert await store.history(uid) == [(1, "like")]


@pytest.mark.parametrize("text, expect", [
    ("x" * 10_000, "too long"),
    ("\x00\x07\x1b", "Send me a movie title"),
    ("<b>bold</b> & <script>", "couldn"),
    ("**boom** _x_ [a](http://e.vil)", "couldn"),
    ("🎬🍿🎥", "I recommend movies"),      # no words at all: small talk, so the help
    ("千と千尋の神隠し", None),
    ("/info", "Which movie"),
    ("/nope", "I don't know /nope"),
    ("/rate Heat 7", "0.5 to 5"),
    ("/info qwzxv plorkt", "couldn"),
])
async def test_bad_input_gets_a_clear_reply(bot, text, expect):
    fake, _, _ = bot
    fake.push_text(text)
    sent = await answered(fake)
    reply = sent[0]
    assert "Traceback" not in reply and "Error:" not in reply
    if expect:
        assert expect in html.unescape(reply)
    # user text comes back escaped, never as markup
    assert "<script>" not in reply


async def test_commands_for_other_bots_are_ignored_in_groups(bot):
    fake, _, _ = bot
    group = -100123
    fake.push_text("/info@some_other_bot heat", chat_id=group, chat_type="group")
    fake.push_text(f"/info@{BOT_USER['username']} heat", chat_id=group, chat_type="group")
    sent = await answered(fake, 1, chat_id=group)
    await processed(fake)
    assert len(texts(fake, group)) == 1 and "Heat" in sent[0]


async def test_missing_component_is_a_friendly_message(bot, engine):
    fake, _, _ = bot
    fake.push_text("/similar heat")
    reply = (await answered(fake))[0]
    if not engine.has("content"):
        assert "not built yet" in reply
    else:
        assert "Heat" in reply


async def test_flood_control_waits_for_retry_after(bot):
    fake, _, _ = bot
    fake.fail("sendMessage", retry_after=1)
    started = time.monotonic()
    fake.push_text("/help")
    await answered(fake)
    assert time.monotonic() - started >= 1.0
    assert [c.method for c in fake.calls if c.method.startswith("sendMessage")] == [
        "sendMessage:failed", "sendMessage"]


async def test_per_user_rate_limit(engine, tmp_path):
    async with telegram_bot(engine, tmp_path / "b.db",
                            options={"user_rate": 3, "user_period": 60}) as (fake, _, _):
        for _ in range(6):
            fake.push_text("/help")
        fake.push_text("/help", user_id=7)          # someone else is not affected
        await processed(fake)
        await answered(fake, 4)
        sent = texts(fake)
        assert sent.count(SLOW_DOWN) == 1 and len(sent) == 4
        assert len(texts(fake, 7)) == 1


async def test_offsets_are_confirmed_only_after_processing(bot):
    """While a handler runs, its update must still be unconfirmed on the server."""
    fake, frontend, _ = bot
    seen = []
    original = frontend.commands.handle

    async def spy(text, user, **kw):
        seen.append((text, {u["update_id"] for u in fake.updates}))
        return await original(text, user, **kw)

    frontend.commands.handle = spy
    ids = [fake.push_text(f"/help {i}") for i in range(3)]
    await processed(fake)
    assert len(seen) == 3
    for text, pending in seen:
        assert ids[int(text.split()[1])] in pending   # not yet confirmed while handled
    assert fake.confirmed_offset == ids[-1] + 1


async def test_failed_update_is_retried_not_lost(bot):
    fake, frontend, _ = bot
    store = frontend.commands.store
    fake.push_text("/info heat")
    await answered(fake)
    message_id = await _last_card_id(fake)
    original = frontend.commands.reaction
    calls = []

    async def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("database went away")
        return await original(*args, **kwargs)

    frontend.commands.reaction = flaky
    fake.push_reaction(USER, message_id, USER, new=["👍"])
    await processed(fake)
    uid = await store.user_id("telegram", str(USER))
    assert len(calls) == 2
    assert [s for _, s in await store.history(uid)] == ["like"]


async def test_a_card_that_could_not_be_remembered_is_not_confirmed(bot):
    """Remembering the sent cards is awaited after the handler (outside its concurrency
    slot); failing there still keeps the update unconfirmed and handles it again."""
    fake, frontend, _ = bot
    original = frontend.commands.remember
    calls = []

    async def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("cannot store this")
        return await original(*args, **kwargs)

    frontend.commands.remember = flaky
    update = fake.push_text("/info heat")
    await processed(fake)
    assert len(calls) == 2 and fake.confirmed_offset == update + 1
    assert texts(fake).count(OOPS) == 1                 # apologised once
    message_id = await _last_card_id(fake)              # the second, remembered card
    sent = await frontend.commands.store.lookup_message("telegram", str(USER), str(message_id))
    assert sent is not None


async def test_updates_sent_again_while_in_flight_are_parsed_once(bot, monkeypatch):
    """getUpdates returns every unconfirmed update again, the running ones included; only
    those not seen before become `Update` objects."""
    fake, frontend, _ = bot
    parsed = []
    original_de_json = Update.de_json

    def counting(cls, data, bot=None):
        parsed.append(data["update_id"])
        return original_de_json(data, bot)

    monkeypatch.setattr(Update, "de_json", classmethod(counting))
    original = frontend.commands.handle

    async def slow(text, user, **kw):
        await asyncio.sleep(0.3)
        return await original(text, user, **kw)

    frontend.commands.handle = slow
    polls = fake.get_updates_calls
    ids = [fake.push_text("/help", user_id=USER + i) for i in range(3)]
    await processed(fake)
    assert fake.get_updates_calls - polls >= 4          # they were sent again meanwhile
    assert sorted(parsed) == ids                        # ... but parsed once each


async def test_reactions_during_a_database_outage_are_spooled_not_lost(engine, tmp_path):
    from bot.store.testing import unopenable_sqlite

    async with telegram_bot(engine, tmp_path / "o.db", spool=tmp_path / "spool.jsonl") as (
            fake, frontend, _):
        store = frontend.commands.store            # a SpoolingStore
        fake.push_text("/info heat")
        await answered(fake)
        await processed(fake)
        message_id = await _last_card_id(fake)
        real = store.store.database
        store.store.database = unopenable_sqlite(tmp_path)
        try:
            update = fake.push_reaction(USER, message_id, USER, new=["👍"])
            copy = next(u for u in fake.updates if u["update_id"] == update)
            fake.push({k: v for k, v in copy.items() if k != "update_id"})   # delivered twice
            await processed(fake)                       # confirmed: it is safe in the spool
            assert store.spool.pending_count() >= 1
        finally:
            await store.store.database.dispose()
            store.store.database = real
        await asyncio.sleep(0.25)                       # past retry_every
        await store.flush()
        uid = await store.user_id("telegram", str(USER))
        assert [s for _, s in await store.history(uid)] == ["like"]
        assert (await store.stats())["events"] == 1


async def test_a_poster_telegram_cannot_fetch_falls_back_to_a_text_card(bot, engine):
    fake, _, _ = bot
    assert engine.movie(1).poster_url      # the dataset has Toy Story's poster
    fake.fail("sendPhoto", error_code=400, retry_after=None,
              description="Bad Request: wrong file identifier/HTTP URL specified")
    fake.push_text("/info toy story")
    sent = await answered(fake)
    assert sent[0].startswith("<b>Toy Story (1995)</b>")
    assert [c.method for c in fake.sent(chat_id=USER)] == ["sendPhoto:failed", "sendMessage"]


async def test_stopping_finishes_in_flight_updates_and_confirms_them(engine, tmp_path, caplog):
    fake = await FakeTelegram().start()
    try:
        async with telegram_bot(engine, tmp_path / "s.db", fake=fake) as (_, frontend, loop):
            original = frontend.commands.handle

            async def slow(text, user, **kw):
                await asyncio.sleep(0.5)
                return await original(text, user, **kw)

            frontend.commands.handle = slow
            update = fake.push_text("/help")
            await fake.wait_for(lambda f: f.get_updates_calls >= 3)
            loop.stop()                      # while /help is still being handled
        assert texts(fake)                   # it was answered ...
        assert fake.confirmed_offset == update + 1 and fake.all_confirmed()   # ... and confirmed
        assert "could not confirm" not in caplog.text
    finally:
        await fake.stop()

"""Telegram inline mode on the real PTB stack and the fake Bot API: "@bot incep" lists
films with posters; a shared card's 👍/👎 and More-like-this work for whoever presses them
(More like this opens the bot's chat through a deep link)."""

from __future__ import annotations

import pytest

from tests.fakes.harness import telegram_bot
from tests.fakes.telegram_api import BOT_USER

STRANGER = 77          # someone in the chat where the card was shared, not its sharer


@pytest.fixture
async def bot(engine, tmp_path):
    async with telegram_bot(engine, tmp_path / "inline.db") as stack:
        yield stack


async def answer_to(fake, query_id):
    await fake.wait_for(lambda f: any(c.params.get("inline_query_id") == query_id
                                      for c in f.sent("answerInlineQuery")))
    return next(c.params for c in fake.sent("answerInlineQuery")
                if c.params.get("inline_query_id") == query_id)


async def test_inline_query_lists_matching_films_with_posters(bot, engine):
    fake, _, _ = bot
    answer = await answer_to(fake, fake.push_inline_query("incep"))
    first = answer["results"][0]
    inception = engine.movie(int(first["id"]))
    assert inception.title == "Inception" and first["type"] == "article"
    assert first["title"] == "Inception (2010)" and "2010" in first["description"]
    content = first["input_message_content"]
    assert content["parse_mode"] == "HTML" and "<b>Inception (2010)</b>" in content["message_text"]
    if inception.poster_url:
        assert first["thumbnail_url"] == inception.poster_url
        assert content["link_preview_options"]["url"] == inception.poster_url
    data = {b.get("callback_data") for row in first["reply_markup"]["inline_keyboard"] for b in row}
    assert {f"like:{inception.movie_id}", f"dislike:{inception.movie_id}",
            f"more:{inception.movie_id}"} <= data
    # nothing typed yet: the best-known films; nonsense: nothing
    assert len((await answer_to(fake, fake.push_inline_query("")))["results"]) == 10
    assert (await answer_to(fake, fake.push_inline_query("qqqqzzzz")))["results"] == []


async def test_a_shared_card_works_for_whoever_presses_it(bot, engine):
    fake, frontend, _ = bot
    store = frontend.commands.store
    heat = engine.resolve("Heat")
    inline_id = fake.push_chosen_inline_result(str(heat.movie_id), "heat")
    await fake.wait_for(lambda f: f.all_confirmed())
    sent = await store.lookup_message("telegram", "inline", inline_id)
    assert sent is not None and sent.movie_id == heat.movie_id

    fake.press_inline(inline_id, f"like:{heat.movie_id}", user_id=STRANGER, first_name="Zoe")
    await fake.wait_for(lambda f: f.sent("answerCallbackQuery"))
    assert "Noted" in fake.sent("answerCallbackQuery")[-1].params["text"]
    uid = await store.user_id("telegram", str(STRANGER))
    await fake.wait_for(lambda f: f.all_confirmed())
    assert await store.history(uid) == [(heat.movie_id, "like")]

    # More like this cannot be posted in a chat the bot may not be in: a deep link
    fake.press_inline(inline_id, f"more:{heat.movie_id}", user_id=STRANGER, first_name="Zoe")
    await fake.wait_for(lambda f: len(f.sent("answerCallbackQuery")) == 2)
    link = fake.sent("answerCallbackQuery")[-1].params["url"]
    assert link == f"https://t.me/{BOT_USER['username']}?start=more-{heat.movie_id}"
    # ... which opens the bot's chat with "/start more-<id>": the list comes there
    fake.push_text(f"/start more-{heat.movie_id}", user_id=STRANGER, first_name="Zoe")
    await fake.wait_for(lambda f: len(f.sent(chat_id=STRANGER)) >= 2)
    first = fake.sent(chat_id=STRANGER)[0].params["text"]
    assert "Because you asked about Heat (1995)" in first
    # an ordinary /start still greets
    fake.push_text("/start hello", user_id=STRANGER, first_name="Zoe")
    await fake.wait_for(lambda f: any("Hi Zoe" in (c.params.get("text") or "")
                                      for c in f.sent(chat_id=STRANGER)))

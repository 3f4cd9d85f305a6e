"""The front-end contract (bot/frontend.py), checked against the console adapter and a
minimal web-chat adapter written here: what a fourth front-end has to implement is `send`
and `toast`; the rate limit, the admin check, the toast rule, the apology and
remember-before-confirm come from the base."""

from __future__ import annotations

import io

import pytest

from bot.commands import CommandLayer, MessageRef
from bot.console import ConsoleFrontend
from bot.frontend import APOLOGY, SLOW_DOWN, Frontend, Incoming, Sent, is_admin
from bot.replies import EXPIRED, Reply
from bot.store import Store


class WebChat(Frontend):
    """A web chat in a few lines: each reply is a list of JSON-ish messages in an outbox."""

    platform = "web"

    def __init__(self, layer, **options):
        super().__init__(layer, **options)
        self.outbox: list[dict] = []

    async def send(self, ev: Incoming, reply: Reply) -> list[Sent]:
        sent = []
        for card in [None, *reply.cards] if reply.text or not reply.cards else reply.cards:
            message_id = str(len(self.outbox) + 1)
            self.outbox.append({"to": ev.chat, "id": message_id,
                                "text": card.title if card else reply.text,
                                "buttons": [b.action.encode() for b in (card.buttons if card else reply.buttons)
                                            if b.action is not None]})
            sent.append(Sent(MessageRef("web", str(ev.chat), message_id), card and card.movie_id))
        return sent

    async def toast(self, ev: Incoming, text: str | None) -> None:
        self.outbox.append({"to": ev.chat, "toast": text})

    def seen(self) -> str:
        return "\n".join(str(m.get("text") or m.get("toast") or "") for m in self.outbox)


class Console(ConsoleFrontend):
    def __init__(self, layer, **options):
        super().__init__(layer, io.StringIO())
        if options:   # the console has no limit and one admin; the contract checks both ways
            Frontend.__init__(self, layer, **options)

    def seen(self) -> str:
        return self.stdout.getvalue()


@pytest.fixture
async def store(tmp_path):
    s = await Store.open(f"sqlite:///{tmp_path / 'f.db'}")
    yield s
    await s.close()


@pytest.fixture(params=[WebChat, Console])
def adapter(request):
    return request.param


def ev(front: Frontend, user_id: str = "7", **kw) -> Incoming:
    return Incoming(front.user(user_id, "Ada"), chat="room", **kw)


async def test_the_admin_check_is_one_function(engine, adapter):
    front = adapter(CommandLayer(lambda: engine), admins=frozenset({f"{adapter.platform}:1", "2"}))
    # a bare id is no admin anywhere (settings refuse one: see test_hardening)
    assert front.user("1").is_admin and not front.user("2").is_admin
    assert not front.user("3").is_admin
    assert is_admin(frozenset({"telegram:5"}), "telegram", "5")
    assert not is_admin(frozenset({"telegram:5"}), "discord", "5")
    await front.text(ev(front, "3"), "/stats")
    assert "for the bot's admins" in front.seen()
    await front.text(ev(front, "1"), "/stats")
    assert "no memory" in front.seen()     # passed the admin check; this layer has no store


async def test_one_rate_limit_with_one_slow_down_per_burst(engine, adapter):
    front = adapter(CommandLayer(lambda: engine), user_rate=2, user_period=60)
    for _ in range(5):
        await front.text(ev(front), "/help")
    await front.text(ev(front, "8"), "/help")          # someone else is not affected
    assert front.seen().count(SLOW_DOWN) == 1
    assert front.seen().count("I recommend movies") == 3
    await front.press(ev(front), "more:1")            # a press is always answered
    assert front.seen().count(SLOW_DOWN) == 2


async def test_short_text_answers_to_a_press_are_toasts_the_rest_new_messages(engine, adapter):
    front = adapter(CommandLayer(lambda: engine))
    await front.press(ev(front), "forget:no")
    await front.press(ev(front), "drop table")
    await front.press(ev(front), "info:1")
    if isinstance(front, WebChat):
        assert front.outbox[0] == {"to": "room", "toast": "OK, nothing was deleted."}
        assert front.outbox[1] == {"to": "room", "toast": EXPIRED}
        assert front.outbox[2] == {"to": "room", "toast": None}     # acknowledged ...
        assert front.outbox[3]["text"] == "Toy Story (1995)"        # ... then a new message
        assert "like:1" in front.outbox[3]["buttons"]
    else:
        assert "OK, nothing was deleted." in front.seen() and EXPIRED in front.seen()
        assert "■ Toy Story (1995)" in front.seen()


@pytest.mark.parametrize("deferred", [False, True])
async def test_cards_are_remembered_before_the_event_is_confirmed(engine, store, deferred):
    layer = CommandLayer(lambda: engine, store=store)
    front = WebChat(layer)
    front.defer_memory = deferred
    event = ev(front, key="update-1")
    await front.text(event, "toy story")
    card = front.outbox[-1]
    if deferred:      # Telegram: stored by `settle`, which the adapter awaits before confirming
        await front.settle("update-1")
    sent = await store.lookup_message("web", "room", card["id"])
    assert sent is not None and sent.movie_id == 1
    assert await layer.reaction(front.user("9"), MessageRef("web", "room", card["id"]), "👍", added=True)


async def test_a_failed_memory_write_fails_settle_so_the_event_stays_unconfirmed(engine):
    class Broken:
        async def remember_messages(self, *args, **kwargs):
            raise ConnectionError("database down")

        def __getattr__(self, name):
            raise ConnectionError("database down")

    layer = CommandLayer(lambda: engine, store=Broken())
    front = WebChat(layer)
    front.defer_memory = True
    await front.text(ev(front, key=1), "toy story")
    with pytest.raises(ConnectionError):
        await front.settle(1)


async def test_the_one_apology(engine, adapter):
    front = adapter(CommandLayer(lambda: engine))
    await front.apologise(ev(front), RuntimeError("boom"))
    assert APOLOGY in front.seen() and "boom" not in front.seen()


async def test_reactions_have_their_own_per_user_rate_limit(engine, store):
    """One user toggling 👍 500 times writes at most the bucket's worth of rows; someone
    else is not affected (issue 14, item 8)."""
    layer = CommandLayer(lambda: engine, store=store)
    front = WebChat(layer, reaction_rate=10, reaction_period=3600)
    card = MessageRef("web", "room", "c1")
    await layer.remember(card, 318, {"command": "info"})
    for n in range(500):
        await front.reaction(ev(front, "7"), card, {"👍": n % 2 == 0}, seq=n + 1)
    await front.reaction(ev(front, "8"), card, {"👍": True}, seq=1)
    stats = await store.stats()
    assert stats["events"] == 5 + 1          # 10 changes let through: 5 adds, 5 removals
    assert await store.active_reactions(card) == [("8", "like")]


async def test_a_retried_event_is_not_charged_to_the_rate_limit_again(engine):
    front = WebChat(CommandLayer(lambda: engine), user_rate=2, user_period=3600)
    for _ in range(5):                       # one event, tried five times (an outage)
        await front.text(ev(front, key=1), "/help")
    assert SLOW_DOWN not in front.seen()
    await front.text(ev(front, key=2), "/help")
    await front.text(ev(front, key=3), "/help")
    assert SLOW_DOWN in front.seen()

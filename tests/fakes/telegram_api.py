"""A fake Telegram Bot API server (aiohttp, 127.0.0.1) for driving the real PTB stack.

It keeps what the real server keeps that matters to us: a queue of updates that stays
until a ``getUpdates`` call with a higher ``offset`` confirms it, long polling, and the
messages the bot sent. Tests push updates in with ``push_*`` helpers and read ``sent``.

Request bodies follow PTB: form fields where every non-string value is JSON-encoded
(``chat_id=123``, ``reply_markup={"inline_keyboard": ...}``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from . import serve_on_loopback

BOT_USER = {"id": 999000, "is_bot": True, "first_name": "MovieBot", "username": "moviebot_test_bot"}

# Fields PTB sends JSON-encoded; everything else arrives as a plain string.
_JSON_FIELDS = {"results", "reply_markup", "allowed_updates", "entities", "caption_entities", "commands",
                "link_preview_options", "reply_parameters", "reaction", "scope"}
_INT_FIELDS = {"chat_id", "message_id", "offset", "limit", "timeout", "reply_to_message_id",
               "max_connections", "user_id"}


@dataclass
class SentCall:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    wall: float = field(default_factory=time.perf_counter)   # for latency benchmarks
    content_type: str = ""                                    # how the bot encoded it


class FakeTelegram:
    def __init__(self, token: str = "123456:TEST-token", batch_limit: int = 100):
        self.token = token
        self.batch_limit = batch_limit
        self.updates: list[dict] = []          # unconfirmed updates, in order
        self.confirmed_offset = 0              # highest offset a getUpdates call confirmed
        self.calls: list[SentCall] = []        # every API call except getUpdates
        self.get_updates_calls = 0
        self.webhook: dict[str, Any] = {}
        self.fail_next: dict[str, list[dict]] = {}  # method -> queued error answers
        self._update_ids = itertools.count(1000)
        self._message_ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._closing = False
        self.latency = 0.0     # seconds added to every answer, like a real network round trip
        self.down_methods: set[str] = set()   # methods answering 502 Bad Gateway (an outage)
        self.outage_failures = 0              # calls refused by that outage
        self.edits: dict[int, list[dict]] = {}  # message id -> its editMessageText calls
        self.port = 0

    # -- lifecycle ----------------------------------------------------------------
    async def start(self) -> FakeTelegram:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        self._runner, self.port = await serve_on_loopback(app)
        return self

    async def stop(self) -> None:
        self._closing = True    # end pending long polls now, not at their timeout
        if self._runner:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        """What TELEGRAM_API_BASE_URL is set to (PTB appends the token)."""
        return f"http://127.0.0.1:{self.port}/bot"

    # -- test helpers ---------------------------------------------------------------
    def sent(self, method: str | None = None, chat_id: int | None = None) -> list[SentCall]:
        return [c for c in self.calls if (method is None or c.method == method)
                and (chat_id is None or c.params.get("chat_id") == chat_id)]

    def push(self, update: dict) -> int:
        update = {"update_id": next(self._update_ids), **update}
        self.updates.append(update)
        self._notify()
        return update["update_id"]

    def push_text(self, text: str, user_id: int = 42, chat_id: int | None = None,
                  chat_type: str = "private", first_name: str = "Ada",
                  language_code: str | None = None) -> int:
        chat_id = chat_id if chat_id is not None else user_id
        sender = {"id": user_id, "is_bot": False, "first_name": first_name}
        if language_code:
            sender["language_code"] = language_code      # the user's app language (IETF tag)
        message = self._message(chat_id, chat_type, text, sender=sender)
        if text.startswith("/"):
            command = text.split()[0]
            # Telegram marks commands with a bot_command entity; PTB's CommandHandler needs it.
            message["entities"] = [{"type": "bot_command", "offset": 0,
                                    "length": len(command.encode("utf-16-le")) // 2}]
        return self.push({"message": message})

    def push_callback(self, data: str, message: dict, user_id: int = 42,
                      first_name: str = "Ada") -> int:
        return self.push({"callback_query": {
            "id": str(next(self._update_ids)), "chat_instance": "ci",
            "from": {"id": user_id, "is_bot": False, "first_name": first_name},
            "message": message, "data": data}})

    def press(self, call: SentCall, data: str, user_id: int = 42, first_name: str = "Ada") -> int:
        """Press the button ``data`` on a message the bot sent (``call``), as ``user_id``."""
        chat_id = call.params["chat_id"]
        message = self._message(chat_id, "private" if chat_id > 0 else "supergroup",
                                call.params.get("text") or "", **{})
        message["message_id"] = call.params["_message_id"]
        message["reply_markup"] = call.params.get("reply_markup") or {}
        return self.push_callback(data, message, user_id, first_name)

    def push_inline_query(self, text: str, user_id: int = 42, first_name: str = "Ada") -> str:
        """Someone types "@bot <text>" in any chat; returns the inline query's id."""
        query_id = str(next(self._update_ids))
        self.push({"inline_query": {"id": query_id, "query": text, "offset": "",
                                    "chat_type": "group",
                                    "from": {"id": user_id, "is_bot": False,
                                             "first_name": first_name}}})
        return query_id

    def push_chosen_inline_result(self, result_id: str, query: str, user_id: int = 42) -> str:
        """The user picked result ``result_id``: Telegram posts it in their chat as a
        message the bot can only address by its inline_message_id (returned)."""
        inline_message_id = f"AQAAA{next(self._update_ids)}"
        self.push({"chosen_inline_result": {
            "result_id": result_id, "query": query, "inline_message_id": inline_message_id,
            "from": {"id": user_id, "is_bot": False, "first_name": "Ada"}}})
        return inline_message_id

    def press_inline(self, inline_message_id: str, data: str, user_id: int = 42,
                     first_name: str = "Ada") -> int:
        """A button on a shared inline card, pressed by anyone in that chat."""
        return self.push({"callback_query": {
            "id": str(next(self._update_ids)), "chat_instance": "ci-inline",
            "inline_message_id": inline_message_id, "data": data,
            "from": {"id": user_id, "is_bot": False, "first_name": first_name}}})

    def push_reaction(self, chat_id: int, message_id: int, user_id: int,
                      new: list[str], old: list[str] | None = None,
                      first_name: str = "Ada") -> int:
        def emojis(items):
            return [{"type": "emoji", "emoji": e} for e in items]
        return self.push({"message_reaction": {
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "message_id": message_id, "date": int(time.time()),
            "user": {"id": user_id, "is_bot": False, "first_name": first_name},
            "old_reaction": emojis(old or []), "new_reaction": emojis(new)}})

    def fail(self, method: str, error_code: int = 429, description: str = "Too Many Requests",
             retry_after: int | None = 1, times: int = 1) -> None:
        answer: dict[str, Any] = {"ok": False, "error_code": error_code, "description": description}
        if retry_after is not None:
            answer["parameters"] = {"retry_after": retry_after}
        self.fail_next.setdefault(method, []).extend([answer] * times)

    def down(self, *methods: str) -> None:
        """Start an outage: these methods answer 502 Bad Gateway until `up()`."""
        self.down_methods |= set(methods)

    def up(self) -> None:
        self.down_methods = set()
        self._notify()

    async def wait_for(self, predicate, timeout: float = 10.0) -> None:
        """Wait until ``predicate(self)`` holds (checked whenever the server state changes)."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: predicate(self)), timeout)

    def all_confirmed(self) -> bool:
        return not self.updates

    # -- the API ------------------------------------------------------------------
    def _notify(self) -> None:
        async def notify():
            async with self._changed:
                self._changed.notify_all()
        asyncio.get_running_loop().create_task(notify())

    async def _dispatch(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401,
                                      "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params = await _params(request)
        if self.latency:
            await asyncio.sleep(self.latency)
        if method in self.down_methods:
            self.outage_failures += 1
            self._notify()
            return web.json_response({"ok": False, "error_code": 502,
                                      "description": "Bad Gateway"}, status=502)
        if method != "getUpdates" and self.fail_next.get(method):
            answer = self.fail_next[method].pop(0)
            self.calls.append(SentCall(method + ":failed", params,
                                       content_type=request.content_type))
            return web.json_response(answer, status=answer["error_code"])
        handler = getattr(self, "_api_" + method, None)
        if handler is None:
            result: Any = True
        else:
            result = await handler(params)
        if method != "getUpdates":
            if isinstance(result, dict) and "message_id" in result:
                params["_message_id"] = result["message_id"]   # what the bot got back
            self.calls.append(SentCall(method, params, content_type=request.content_type))
            self._notify()
        return web.json_response({"ok": True, "result": result})

    async def _api_getMe(self, params):
        return {**BOT_USER, "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": True}

    async def _api_getUpdates(self, params):
        self.get_updates_calls += 1
        offset = params.get("offset") or 0
        if offset:
            # Confirming: everything below offset is gone for good.
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
            self.confirmed_offset = max(self.confirmed_offset, offset)
            self._notify()
        limit = min(params.get("limit") or 100, self.batch_limit)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        while True:
            batch = [u for u in self.updates if u["update_id"] >= offset][:limit]
            if batch or time.monotonic() >= deadline or self._closing:
                return batch
            await asyncio.sleep(0.02)

    def _message(self, chat_id: int, chat_type: str, text: str | None,
                 sender: dict | None = None, **extra) -> dict:
        chat = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = "Ada"
        else:
            chat["title"] = "Movie night"
        message = {"message_id": next(self._message_ids), "date": int(time.time()),
                   "chat": chat, "from": sender or BOT_USER, **extra}
        if text is not None:
            message["text"] = text
        return message

    def _bot_message(self, params: dict, **extra) -> dict:
        chat_id = params["chat_id"]
        text = extra.pop("text", None)
        message = self._message(chat_id, "private" if chat_id > 0 else "group", text, **extra)
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        return message

    async def _api_sendMessage(self, params):
        return self._bot_message(params, text=params.get("text", ""))

    async def _api_sendPhoto(self, params):
        photo = [{"file_id": "AgAD" + str(len(self.calls)), "file_unique_id": "u1",
                  "width": 500, "height": 750}]
        return self._bot_message(params, photo=photo, caption=params.get("caption", ""))

    async def _api_editMessageText(self, params):
        message = self._bot_message(params, text=params.get("text", ""))
        message["message_id"] = params.get("message_id")     # the same message, redrawn
        self.edits.setdefault(params.get("message_id"), []).append(params)
        return message

    async def _api_editMessageCaption(self, params):
        return self._bot_message(params, caption=params.get("caption", ""))

    async def _api_setWebhook(self, params):
        self.webhook = params
        return True

    async def _api_deleteWebhook(self, params):
        self.webhook = {}
        return True

    async def _api_getWebhookInfo(self, params):
        return {"url": self.webhook.get("url", ""), "has_custom_certificate": False,
                "pending_update_count": len(self.updates)}


async def _params(request: web.Request) -> dict[str, Any]:
    """The call's parameters, typed, from a JSON body or a form (the Bot API takes both;
    in either, objects may come JSON-encoded as strings and integers as digits)."""
    if request.content_type == "application/json":
        raw = await request.json()
    else:
        raw = {key: value if isinstance(value, str) else "<file>"
               for key, value in (await request.post()).items()}
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _JSON_FIELDS and isinstance(value, str):
            params[key] = json.loads(value)
        elif key in _INT_FIELDS and isinstance(value, str) and value.lstrip("-").isdigit():
            params[key] = int(value)
        else:
            params[key] = value
    return params

"""A fake Discord REST API + gateway (aiohttp, 127.0.0.1) for the real discord.py client.

Point discord.py at it with ``api_base`` and ``gateway_url`` (the bot's
``configure_endpoints`` sets ``http.Route.BASE`` and ``gateway.DiscordWebSocket.DEFAULT_GATEWAY``). It implements what the bot uses: login,
the gateway handshake (HELLO, IDENTIFY -> READY + one GUILD_CREATE, heartbeats), sending
messages, reactions (add/list), interaction callbacks and follow-ups, and guild scheduled
events (create; ``refuse_events`` answers 403 as a server without Manage Events would). Tests inject events
with ``dispatch`` and helpers such as ``send_user_message`` and ``slash``.

Details that matter to discord.py: every JSON answer carries ``Content-Type:
application/json`` exactly, and snowflakes encode the current time (interactions whose
id looks old are treated as expired).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from aiohttp import WSMsgType, web
from discord import gateway, http

from . import serve_on_loopback

DISCORD_EPOCH_MS = 1420070400000
_counter = itertools.count()


def snowflake() -> int:
    return ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (next(_counter) % 4096)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _json(data: Any, status: int = 200) -> web.Response:
    # discord.py parses a body only when Content-Type is exactly "application/json";
    # aiohttp's content_type= would append "; charset=utf-8".
    return web.Response(body=json.dumps(data).encode(), status=status,
                        headers={"Content-Type": "application/json"})


class FakeDiscord:
    def __init__(self, token: str = "discord-test-token"):
        self.token = token
        self.bot_user = {"id": str(snowflake()), "username": "MovieBot", "discriminator": "0",
                         "global_name": "MovieBot", "avatar": None, "bot": True}
        self.app_id = self.bot_user["id"]
        self.guild_id = str(snowflake())
        self.channel_id = str(snowflake())
        self.messages: dict[str, dict] = {}          # message id -> payload (all channels)
        self.sent: list[dict] = []                   # messages the bot created, in order
        self.reactions: dict[tuple[str, str], list[str]] = {}  # (message, emoji) -> user ids
        self.callbacks: list[dict] = []              # interaction responses
        self.refuse_posts = 0                        # next N channel posts get 403 Missing Permissions
        self.events: list[dict] = []                 # guild scheduled events the bot created
        self.refuse_events = False                   # 403: the bot lacks Manage Events
        self.requests: list[tuple[str, str]] = []
        self._pressed: dict[str, str] = {}            # interaction id -> the pressed message id
        self._sockets: list[web.WebSocketResponse] = []
        self._seq = itertools.count(1)
        self._identified = asyncio.Event()
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle ----------------------------------------------------------------
    async def start(self) -> FakeDiscord:
        # discord.py keeps its API base and gateway in class attributes that pointing a bot
        # at this fake changes; stop() puts them back so later tests see the real ones
        self._discord_globals = (http.Route.BASE, gateway.DiscordWebSocket.DEFAULT_GATEWAY)
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        r = app.router
        r.add_get("/api/v10/users/@me", self._me)
        r.add_get("/api/v10/oauth2/applications/@me", self._application)
        r.add_get("/api/v10/gateway", self._gateway_info)
        r.add_get("/api/v10/gateway/bot", self._gateway_info)
        r.add_post("/api/v10/channels/{channel}/messages", self._create_message)
        r.add_get("/api/v10/channels/{channel}/messages/{message}", self._get_message)
        r.add_put("/api/v10/channels/{channel}/messages/{message}/reactions/{emoji}/@me",
                  self._bot_react)
        r.add_get("/api/v10/channels/{channel}/messages/{message}/reactions/{emoji}",
                  self._list_reactions)
        r.add_post("/api/v10/guilds/{guild}/scheduled-events", self._create_event)
        r.add_post("/api/v10/interactions/{id}/{token}/callback", self._callback)
        r.add_get("/api/v10/webhooks/{app}/{token}/messages/@original", self._original)
        r.add_patch("/api/v10/webhooks/{app}/{token}/messages/@original", self._original)
        r.add_post("/api/v10/webhooks/{app}/{token}", self._followup)
        r.add_route("*", "/api/v10/{tail:.*}", self._unknown)
        self._runner, self.port = await serve_on_loopback(app)
        return self

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner:
            await self._runner.cleanup()
        http.Route.BASE, gateway.DiscordWebSocket.DEFAULT_GATEWAY = self._discord_globals

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # -- helpers for tests ------------------------------------------------------------
    def user(self, user_id: str, name: str = "ada") -> dict:
        return {"id": user_id, "username": name, "discriminator": "0", "global_name": name,
                "avatar": None, "bot": False}

    def member(self, user: dict) -> dict:
        return {"user": user, "roles": [], "joined_at": _now(), "deaf": False, "mute": False,
                "permissions": "2147483647", "flags": 0}

    async def wait_identified(self, timeout: float = 15.0) -> None:
        await asyncio.wait_for(self._identified.wait(), timeout)

    async def wait_for(self, predicate, timeout: float = 10.0) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: predicate(self)), timeout)

    async def dispatch(self, event: str, data: dict) -> None:
        for ws in self._sockets:
            await ws.send_str(json.dumps({"op": 0, "t": event, "s": next(self._seq), "d": data}))

    async def send_user_message(self, content: str, user_id: str = "4242",
                                mention_bot: bool = False, name: str = "ada") -> dict:
        user = self.user(user_id, name)
        message = self._message(self.channel_id, user, content,
                                mentions=[self.bot_user] if mention_bot else [])
        message["member"] = {k: v for k, v in self.member(user).items() if k != "user"}
        await self.dispatch("MESSAGE_CREATE", message)
        return message

    async def slash(self, name: str, options: dict[str, str | float] | None = None,
                    user_id: str = "4242", user_name: str = "ada", locale: str = "en-US") -> str:
        interaction_id = str(snowflake())
        # option types as Discord sends them: 3 string, 4 integer, 10 number
        kinds = {str: 3, int: 4, float: 10}
        data = {"id": str(snowflake()), "name": name, "type": 1,
                "options": [{"name": k, "type": kinds[type(v)], "value": v}
                            for k, v in (options or {}).items()]}
        await self.dispatch("INTERACTION_CREATE", self._interaction(interaction_id, 2, data, user_id,
                                                                     user_name, locale))
        return interaction_id

    async def autocomplete(self, command: str, option: str, typed: str,
                           user_id: str = "4242") -> list[dict]:
        """Type ``typed`` into ``option`` of ``/command``; returns the choices offered."""
        interaction_id = str(snowflake())
        data = {"id": str(snowflake()), "name": command, "type": 1,
                "options": [{"name": option, "type": 3, "value": typed, "focused": True}]}
        await self.dispatch("INTERACTION_CREATE", self._interaction(interaction_id, 4, data, user_id))
        await self.wait_for(lambda f: any(c["interaction_id"] == interaction_id
                                          for c in f.callbacks))
        answer = next(c for c in self.callbacks if c["interaction_id"] == interaction_id)
        assert answer["type"] == 8, answer          # APPLICATION_COMMAND_AUTOCOMPLETE_RESULT
        return answer["data"]["choices"]

    async def press(self, message: dict, custom_id: str, user_id: str = "4242",
                    name: str = "ada") -> str:
        interaction_id = str(snowflake())
        payload = self._interaction(interaction_id, 3, {"custom_id": custom_id, "component_type": 2},
                                    user_id, name)
        payload["message"] = self.messages.get(message["id"], message)
        self._pressed[interaction_id] = message["id"]
        await self.dispatch("INTERACTION_CREATE", payload)
        return interaction_id

    async def react(self, message_id: str, emoji: str, user_id: str = "4242",
                    add: bool = True, live: bool = True, name: str = "ada") -> None:
        """A user reacts (or un-reacts); ``live=False`` changes state without an event,
        as if it happened while the bot was offline."""
        users = self.reactions.setdefault((message_id, emoji), [])
        if add and user_id not in users:
            users.append(user_id)
        elif not add and user_id in users:
            users.remove(user_id)
        if live:
            event = "MESSAGE_REACTION_ADD" if add else "MESSAGE_REACTION_REMOVE"
            data = {"user_id": user_id, "channel_id": self.channel_id, "message_id": message_id,
                    "guild_id": self.guild_id, "emoji": {"id": None, "name": emoji},
                    "burst": False, "type": 0}
            if add:
                data["member"] = self.member(self.user(user_id, name))
            await self.dispatch(event, data)

    # -- payloads -------------------------------------------------------------------
    def _message(self, channel_id: str, author: dict, content: str, **extra) -> dict:
        message = {"id": str(snowflake()), "channel_id": channel_id, "guild_id": self.guild_id,
                   "author": author, "content": content, "timestamp": _now(),
                   "edited_timestamp": None, "tts": False, "mention_everyone": False,
                   "mentions": [], "mention_roles": [], "attachments": [], "embeds": [],
                   "pinned": False, "type": 0, "components": [], "flags": 0, **extra}
        self.messages[message["id"]] = message
        return message

    def _interaction(self, interaction_id: str, kind: int, data: dict, user_id: str,
                     name: str = "ada", locale: str = "en-US") -> dict:
        return {"id": interaction_id, "application_id": self.app_id, "type": kind, "data": data,
                "guild_id": self.guild_id,
                "channel": {"id": self.channel_id, "type": 0, "guild_id": self.guild_id,
                            "name": "movies", "position": 0, "permission_overwrites": []},
                "channel_id": self.channel_id, "member": self.member(self.user(user_id, name)),
                "token": f"itoken-{interaction_id}", "version": 1,
                "app_permissions": "2147483647", "locale": locale, "guild_locale": "en-US",
                "entitlements": [], "authorizing_integration_owners": {"0": self.guild_id},
                "context": 0, "attachment_size_limit": 8 * 1024 * 1024}

    def _guild(self) -> dict:
        return {"id": self.guild_id, "name": "Movie night", "icon": None, "owner_id": "1",
                "roles": [{"id": self.guild_id, "name": "@everyone", "permissions": "2147483647",
                           "position": 0, "color": 0, "hoist": False, "managed": False,
                           "mentionable": False, "flags": 0}],
                "channels": [{"id": self.channel_id, "type": 0, "name": "movies", "position": 0,
                              "permission_overwrites": [], "guild_id": self.guild_id,
                              "nsfw": False, "topic": None, "rate_limit_per_user": 0}],
                "members": [self.member(self.bot_user)], "member_count": 2, "large": False,
                "unavailable": False, "features": [], "emojis": [], "stickers": [], "threads": [],
                "voice_states": [], "presences": [], "stage_instances": [],
                "guild_scheduled_events": [], "verification_level": 0,
                "default_message_notifications": 0, "explicit_content_filter": 0, "mfa_level": 0,
                "system_channel_flags": 0, "premium_tier": 0, "preferred_locale": "en-US",
                "nsfw_level": 0, "afk_timeout": 300, "joined_at": _now()}

    # -- REST -----------------------------------------------------------------------
    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bot {self.token}"

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _ok(self, request: web.Request, data: Any) -> web.Response:
        if not self._authorised(request):
            return _json({"message": "401: Unauthorized", "code": 0}, 401)
        return _json(data)

    async def _unknown(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path))
        return _json({"message": "Unknown route in fake", "code": 0}, 404)

    async def _me(self, request: web.Request) -> web.Response:
        return self._ok(request, self.bot_user)

    async def _gateway_info(self, request: web.Request) -> web.Response:
        return self._ok(request, {"url": self.gateway_url, "shards": 1,
                                  "session_start_limit": {"total": 1000, "remaining": 999,
                                                          "reset_after": 0, "max_concurrency": 1}})

    async def _application(self, request: web.Request) -> web.Response:
        return self._ok(request, {
            "id": self.app_id, "name": "MovieBot", "icon": None, "description": "",
            "bot_public": True, "bot_require_code_grant": False, "owner": self.user("1", "owner"),
            "verify_key": "00", "flags": 0, "team": None, "summary": "",
            "interactions_endpoint_url": None})

    async def _create_message(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _json({"message": "401: Unauthorized", "code": 0}, 401)
        if self.refuse_posts > 0:
            self.refuse_posts -= 1
            return _json({"message": "Missing Permissions", "code": 50013}, 403)
        body = await _body(request)
        message = self._message(request.match_info["channel"], self.bot_user,
                                body.get("content") or "", embeds=body.get("embeds") or [],
                                components=body.get("components") or [])
        self.sent.append(message)
        await self._notify()
        return _json(message)

    async def _create_event(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _json({"message": "401: Unauthorized", "code": 0}, 401)
        if self.refuse_events:
            return _json({"message": "Missing Permissions", "code": 50013}, 403)
        body = await _body(request)
        if request.match_info["guild"] != self.guild_id or not body.get("name") \
                or not body.get("scheduled_start_time"):
            return _json({"message": "Invalid Form Body", "code": 50035}, 400)
        if body.get("entity_type") == 3 and not (body.get("scheduled_end_time")
                                                 and (body.get("entity_metadata") or {}).get("location")):
            # Discord's rule: an external event needs an end and a location
            return _json({"message": "Invalid Form Body", "code": 50035}, 400)
        event = {"id": str(snowflake()), "guild_id": self.guild_id,
                 "channel_id": body.get("channel_id"), "creator_id": self.bot_user["id"],
                 "creator": self.bot_user, "name": body["name"],
                 "description": body.get("description"),
                 "scheduled_start_time": body["scheduled_start_time"],
                 "scheduled_end_time": body.get("scheduled_end_time"),
                 "privacy_level": body.get("privacy_level", 2), "status": 1,
                 "entity_type": body.get("entity_type", 3), "entity_id": None,
                 "entity_metadata": body.get("entity_metadata"), "user_count": 0, "image": None}
        self.events.append(event)
        await self._notify()
        return _json(event)

    async def _get_message(self, request: web.Request) -> web.Response:
        message = self.messages.get(request.match_info["message"])
        if message is None:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        reactions = [{"emoji": {"id": None, "name": emoji}, "count": len(users),
                      "count_details": {"burst": 0, "normal": len(users)}, "burst_colors": [],
                      "me": self.bot_user["id"] in users, "me_burst": False}
                     for (mid, emoji), users in self.reactions.items()
                     if mid == message["id"] and users]
        return self._ok(request, {**message, "reactions": reactions})

    async def _bot_react(self, request: web.Request) -> web.Response:
        emoji = unquote(request.match_info["emoji"])
        users = self.reactions.setdefault((request.match_info["message"], emoji), [])
        if self.bot_user["id"] not in users:
            users.append(self.bot_user["id"])
        await self._notify()
        return web.Response(status=204)

    async def _list_reactions(self, request: web.Request) -> web.Response:
        emoji = unquote(request.match_info["emoji"])
        ids = self.reactions.get((request.match_info["message"], emoji), [])
        after = int(request.query.get("after", 0))
        limit = int(request.query.get("limit", 25))
        users = [self.bot_user if i == self.bot_user["id"] else self.user(i)
                 for i in sorted(ids, key=int) if int(i) > after][:limit]
        self.requests.append(("GET", request.path))
        return self._ok(request, users)

    async def _callback(self, request: web.Request) -> web.Response:
        body = await _body(request)
        interaction_id = request.match_info["id"]
        data = body.get("data") or {}
        entry = {"interaction_id": interaction_id, "type": body.get("type"), "data": data}
        message = None
        pressed = self.messages.get(self._pressed.get(interaction_id, ""))
        if body.get("type") == 7 and pressed is not None:   # the pressed message, redrawn
            pressed.update({k: v for k, v in data.items() if k in {"content", "components"}})
            pressed.setdefault("edits", []).append(data)
            message = pressed
        elif body.get("type") in (4, 7):   # a message now (4) or an edit of the pressed one (7)
            message = self._message(self.channel_id, self.bot_user, data.get("content") or "",
                                    embeds=data.get("embeds") or [],
                                    components=data.get("components") or [],
                                    interaction_id=interaction_id)
            self.sent.append(message)
        self.callbacks.append(entry)
        await self._notify()
        result = {"interaction": {"id": interaction_id, "type": 2,
                                  "response_message_loading": body.get("type") == 5,
                                  "response_message_ephemeral": bool(data.get("flags", 0) & 64)}}
        if message is not None:
            result["interaction"]["response_message_id"] = message["id"]
            result["resource"] = {"type": body.get("type"), "message": message}
        return _json(result)

    async def _original(self, request: web.Request) -> web.Response:
        interaction_id = request.match_info["token"].removeprefix("itoken-")
        for message in reversed(self.sent):
            if message.get("interaction_id") == interaction_id:
                if request.method == "PATCH":
                    body = await _body(request)
                    message.update({k: v for k, v in body.items()
                                    if k in {"content", "embeds", "components"}})
                return _json(message)
        if request.method == "PATCH":   # editing a deferred response creates the message
            body = await _body(request)
            message = self._message(self.channel_id, self.bot_user, body.get("content") or "",
                                    embeds=body.get("embeds") or [],
                                    components=body.get("components") or [],
                                    interaction_id=interaction_id)
            self.sent.append(message)
            await self._notify()
            return _json(message)
        return _json({"message": "Unknown Message", "code": 10008}, 404)

    async def _followup(self, request: web.Request) -> web.Response:
        body = await _body(request)
        message = self._message(self.channel_id, self.bot_user, body.get("content") or "",
                                embeds=body.get("embeds") or [],
                                components=body.get("components") or [],
                                flags=body.get("flags", 0),
                                interaction_id=request.match_info["token"].removeprefix("itoken-"))
        self.sent.append(message)
        await self._notify()
        return _json(message)

    # -- gateway --------------------------------------------------------------------
    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            payload = json.loads(msg.data)
            op = payload.get("op")
            if op == 1:
                await ws.send_str(json.dumps({"op": 11}))
            elif op == 2:
                if payload["d"].get("token") != self.token:
                    await ws.close(code=4004, message=b"Authentication failed.")
                    break
                self._sockets.append(ws)
                ready = {"v": 10, "user": self.bot_user, "guilds": [{"id": self.guild_id,
                                                                     "unavailable": True}],
                         "session_id": "fake-session", "resume_gateway_url": self.gateway_url,
                         "application": {"id": self.app_id, "flags": 0},
                         "private_channels": [], "relationships": []}
                await ws.send_str(json.dumps({"op": 0, "t": "READY", "s": next(self._seq),
                                              "d": ready}))
                await ws.send_str(json.dumps({"op": 0, "t": "GUILD_CREATE",
                                              "s": next(self._seq), "d": self._guild()}))
                self._identified.set()
        if ws in self._sockets:
            self._sockets.remove(ws)
        return ws


async def _body(request: web.Request) -> dict:
    if request.content_type == "application/json":
        return await request.json()
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        return json.loads(form.get("payload_json", "{}"))
    return {}

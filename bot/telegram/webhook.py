"""Webhook mode: Telegram POSTs each update to us; we answer 200 only once it is handled.

Telegram retries a delivery that did not get a 2xx answer, so answering *after* the
handlers ran (and the feedback was stored) gives the same guarantee as the durable
polling loop. PTB's built-in webhook server answers before processing, which is why
this small aiohttp server is used instead.
"""

from __future__ import annotations

import hmac
import logging
import secrets

from aiohttp import web
from telegram import Update

from .app import ALLOWED_UPDATES, TelegramFrontend

log = logging.getLogger("moviebot.telegram.webhook")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookServer:
    def __init__(self, frontend: TelegramFrontend, public_url: str, *, listen: str = "0.0.0.0",
                 port: int = 8443, path: str = "/telegram", secret: str = ""):
        self.frontend = frontend
        self.public_url = public_url.rstrip("/")
        self.listen, self.port, self.path = listen, port, path
        # The secret proves a request comes from Telegram (it echoes what setWebhook got).
        self.secret = secret or secrets.token_urlsafe(24)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application(client_max_size=1 << 20)
        app.router.add_post(self.path, self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.listen, self.port)
        await site.start()
        if self.port == 0:
            self.port = site._server.sockets[0].getsockname()[1]
        await self.frontend.app.bot.set_webhook(self.public_url + self.path,
                                                allowed_updates=ALLOWED_UPDATES,
                                                secret_token=self.secret)
        log.info("webhook listening on %s:%s%s", self.listen, self.port, self.path)

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def handle(self, request: web.Request) -> web.Response:
        if not hmac.compare_digest(request.headers.get(SECRET_HEADER, ""), self.secret):
            return web.Response(status=403)
        try:
            update = Update.de_json(await request.json(), self.frontend.app.bot)
        except Exception:  # noqa: BLE001 - garbage in is the sender's problem
            return web.Response(status=400)
        if update is None:
            return web.Response(status=400)
        ok = await self.frontend.process(update)     # bounded by options.concurrency there
        if ok:
            return web.Response(status=200)
        # Not stored: ask Telegram to deliver it again later.
        return web.Response(status=500)

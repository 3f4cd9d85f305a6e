"""`moviebot serve telegram|discord|console|auto`: run a bot.

Tokens come only from the environment (TELEGRAM_BOT_TOKEN, DISCORD_BOT_TOKEN,
TMDB_API_KEY) and never reach a log line. `auto` picks Telegram when its token is set,
else Discord, else the console chat when stdin is a terminal; with no token and no terminal
(a container) it exits with NO_TOKEN_EXIT and says which variables to set.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import stat
import sys
from pathlib import Path

log = logging.getLogger("moviebot.serve")


def register(groups) -> None:
    from bot.cli import add_common

    parser = groups.top.add_parser(
        "serve", help="run the bot on Telegram, Discord or the console",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""Tokens are read from the environment only, never from arguments:
  TELEGRAM_BOT_TOKEN        Telegram bot token (from @BotFather)
  TELEGRAM_API_BASE_URL     optional: a self-hosted Bot API server
  TELEGRAM_WEBHOOK_URL      optional: public HTTPS URL -> webhook mode instead of polling
  TELEGRAM_WEBHOOK_SECRET   optional: secret Telegram echoes in each webhook request
  DISCORD_BOT_TOKEN         Discord bot token
  DISCORD_API_BASE_URL      optional: another REST base (default https://discord.com/api/v10)
  DISCORD_GATEWAY_URL       optional: another gateway (default wss://gateway.discord.gg/)
  TMDB_API_KEY              optional: live posters, cast and trailers from TMDB
  MOVIEBOT_ADMINS           who may use /stats: "telegram:123,discord:456"
  DATABASE_URL              feedback store (default: SQLite under data/)""")
    parser.add_argument("platform", choices=["telegram", "discord", "console", "auto"],
                        nargs="?", default="auto")
    add_common(parser)
    parser.add_argument("--webhook-url", default=None,
                        help="Telegram: public HTTPS base URL; enables webhook mode instead of polling")
    parser.add_argument("--listen", default="0.0.0.0", help="webhook listen address")
    parser.add_argument("--port", type=int, default=None, help="webhook port (env PORT, 8443)")
    parser.add_argument("--concurrency", type=int, default=8,
                        help="updates handled at once (bounded is faster on small machines)")
    parser.add_argument("--spool", default=None,
                        help="file that buffers feedback while the database is down")
    parser.add_argument("--sync-commands", action="store_true",
                        help="Discord: publish the slash commands (after they changed)")
    parser.add_argument("--no-store", action="store_true",
                        help="run without the feedback database (no likes, watchlist...)")
    parser.set_defaults(func=run)


NO_TOKEN_EXIT = 78  # EX_CONFIG: not a crash, a setting is missing; restarting will not help


class RejectedToken(Exception):
    """The platform refused the bot token: a setting to fix, not a crash."""


def rejected_token(platform: str, error: BaseException) -> RejectedToken:
    variable = "TELEGRAM_BOT_TOKEN" if platform == "telegram" else "DISCORD_BOT_TOKEN"
    where = "@BotFather" if platform == "telegram" else "the Discord developer portal"
    return RejectedToken(f"{platform.title()} rejected the bot token in {variable} "
                         f"({type(error).__name__}); copy it again from {where}.")


class NotConfigured(Exception):
    """`serve auto` with no token and no terminal: nothing to serve."""


def someone_on_stdin(stream) -> bool:
    """A terminal, a pipe or a file: someone (or a script, `printf ... | make run`) can talk
    to the console. /dev/null or a closed stdin (a container, a service manager) cannot."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    if os.isatty(fd):
        return True
    mode = os.fstat(fd).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISREG(mode)


def pick_platform(requested: str, settings, interactive: bool | None = None) -> str:
    """Telegram when its token is set, else Discord, else the console chat, but only when
    something can come in on stdin (``make run`` at a terminal or with piped lines): in a
    container or a service manager stdin is /dev/null, the console would read EOF at once
    and exit 0, so that is a configuration error instead."""
    if requested != "auto":
        return requested
    if settings.telegram_token:
        return "telegram"
    if settings.discord_token:
        return "discord"
    if interactive is None:
        interactive = someone_on_stdin(sys.stdin)
    if not interactive:
        raise NotConfigured(
            "no bot token is set and nothing can come in on stdin (it is not a terminal, a "
            "pipe or a file), so there is nothing to serve. "
            "Set TELEGRAM_BOT_TOKEN (from @BotFather) or DISCORD_BOT_TOKEN (Discord developer "
            "portal) in the environment (with docker compose: `TELEGRAM_BOT_TOKEN=... docker "
            "compose up -d bot`, or put it in .env), or run `moviebot serve console` to chat "
            "on the console.")
    return "console"


def run(args: argparse.Namespace) -> int:
    from bot.cli import settings_from

    settings = settings_from(args)   # the only place the environment is read (bot/settings.py)
    if args.webhook_url is None:
        args.webhook_url = settings.telegram_webhook_url
    if args.port is None:
        args.port = settings.port
    try:
        platform = pick_platform(args.platform, settings)
    except NotConfigured as exc:
        print(f"moviebot: {exc}", file=sys.stderr)
        return NO_TOKEN_EXIT
    # httpx logs every request URL at INFO, and Telegram puts the bot token in the URL.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    log.info("serving on %s with %r", platform, settings)   # Settings.__repr__ masks tokens
    try:
        return asyncio.run(serve(platform, settings, args))
    except RejectedToken as exc:     # one clean line, no traceback (which would quote it)
        print(f"moviebot: {exc}", file=sys.stderr)
        return NO_TOKEN_EXIT


async def open_layer(settings, args, *, warm: bool = True):
    """The command layer with its engine, store and (optional) TMDB client; `serve` and
    `moviebot chat` both open it here. ``args``: ``no_store`` and (optional) ``spool``.
    ``warm``: load every recommender now (a server) or on first use (a one-shot chat)."""
    from bot.commands import CommandLayer
    from engine import Engine
    from engine.heap import freeze_long_lived
    from engine.reload import EngineHolder, load_warm  # swaps engines when a job publishes

    holder = EngineHolder(Path(settings.artifacts), after_swap=freeze_long_lived,
                          loader=load_warm if warm else Engine.load)
    store = None
    if not getattr(args, "no_store", False):
        from bot.store import Store, is_outage
        from bot.store.spool import SpoolingStore, default_spool_path
        from engine.errors import MovieBotError

        spool = Path(getattr(args, "spool", None) or settings.spool or default_spool_path(settings.database_url))
        # Short timeouts: a database that stops answering means spooling at once (see
        # SpoolingStore's circuit breaker), not updates waiting on it.
        try:
            opened = await Store.open(settings.database_url,
                                      schema=settings.database_schema or None,
                                      connect_timeout=2.0, statement_timeout=30.0)
        except Exception as exc:
            if not is_outage(exc):
                raise
            # One line, not the driver's traceback: the fix is a setting or a server, and
            # a container is restarted after a non-zero exit anyway.
            raise MovieBotError(
                f"the database in DATABASE_URL does not answer ({type(exc).__name__}); start "
                "it or fix the URL, or run with --no-store (no likes, watchlist...).") from None
        store = SpoolingStore(opened, spool)
    tmdb = None
    if settings.tmdb_api_key:
        from engine.tmdb import TMDBClient

        tmdb = TMDBClient(settings.tmdb_api_key,
                          base_url=settings.tmdb_api_base_url)
    layer = CommandLayer(holder, store=store, tmdb=tmdb, default_country=settings.default_country)
    from bot.party import PartyOptions, configure

    configure(layer, PartyOptions(start_after=settings.party_start_after,
                                  vote_time=settings.party_vote_time))
    return layer


async def close_layer(layer) -> None:
    if layer.tmdb is not None:
        await layer.tmdb.close()
    if layer.store is not None:
        await layer.store.close()


async def serve(platform: str, settings, args) -> int:
    from engine.errors import MovieBotError

    if platform == "telegram" and not settings.telegram_token:
        raise MovieBotError("TELEGRAM_BOT_TOKEN is not set (get one from @BotFather).")
    if platform == "discord" and not settings.discord_token:
        raise MovieBotError("DISCORD_BOT_TOKEN is not set (create a bot in the Discord "
                            "developer portal).")
    layer = await open_layer(settings, args)
    try:
        if platform == "telegram":
            from telegram.error import EndPointNotFound, InvalidToken

            try:
                await serve_telegram(layer, settings, args)
            except (InvalidToken, EndPointNotFound) as exc:   # a revoked token: 404
                raise rejected_token(platform, exc) from None
        elif platform == "discord":
            from discord import LoginFailure

            try:
                await serve_discord(layer, settings, args)
            except LoginFailure as exc:
                raise rejected_token(platform, exc) from None
        else:
            from bot.console import chat

            await chat(layer)
    finally:
        await close_layer(layer)
    return 0


def _stop_on_signals(stop) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop)


async def serve_telegram(layer, settings, args) -> None:
    from bot.telegram.app import TelegramFrontend, TelegramOptions
    from bot.telegram.polling import DurableUpdateLoop
    from bot.telegram.webhook import WebhookServer
    from engine.heap import freeze_long_lived

    frontend = TelegramFrontend(layer, TelegramOptions(
        token=settings.telegram_token, base_url=settings.telegram_api_base_url,
        concurrency=args.concurrency, admins=settings.admins))
    await frontend.start()
    freeze_long_lived()    # engine, store and PTB are loaded: see engine/heap.py
    flusher = None
    if hasattr(layer.store, "run_flusher"):
        flusher = asyncio.create_task(layer.store.run_flusher())
    try:
        if args.webhook_url:
            server = WebhookServer(frontend, args.webhook_url, listen=args.listen, port=args.port,
                                   secret=settings.telegram_webhook_secret)
            stopped = asyncio.Event()
            _stop_on_signals(stopped.set)
            await server.start()
            try:
                await stopped.wait()
            finally:
                await server.stop()
        else:
            loop = DurableUpdateLoop(frontend)
            _stop_on_signals(loop.stop)
            log.info("polling Telegram as @%s", frontend.app.bot.username)
            await loop.run()
    finally:
        if flusher is not None:
            flusher.cancel()
        await frontend.stop()


async def serve_discord(layer, settings, args) -> None:
    from bot.discord.client import DiscordOptions, build_bot
    from engine.heap import freeze_long_lived

    bot = build_bot(layer, DiscordOptions(
        api_base=settings.discord_api_base_url,
        gateway=settings.discord_gateway_url,
        sync_commands=args.sync_commands, admins=settings.admins))
    _stop_on_signals(lambda: asyncio.ensure_future(bot.close()))
    freeze_long_lived()    # engine, store and discord.py are loaded: see engine/heap.py
    async with bot:
        await bot.start(settings.discord_token)

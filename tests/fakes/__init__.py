"""Fake platform servers (Telegram Bot API, Discord REST + gateway, TMDB) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import signal

from aiohttp import web


async def serve_on_loopback(app: web.Application) -> tuple[web.AppRunner, int]:
    """Start ``app`` on 127.0.0.1 at a free port; returns the runner (to stop it) and the port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]


async def stop_process(proc: asyncio.subprocess.Process, grace: float = 30) -> None:
    """SIGTERM a bot subprocess (it finishes in-flight work), SIGKILL if it does not exit."""
    if proc.returncode is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), grace)
    except TimeoutError:
        proc.kill()

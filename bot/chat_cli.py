"""`moviebot chat`: talk to the bot in the terminal, offline.

It opens the same command layer as `moviebot serve console` (`bot.serve_cli.open_layer`):
the configured feedback store (DATABASE_URL; default SQLite under data/), so /rate, 👍/👎,
/watchlist and a personal /recommend are remembered between runs, for one local user
(``--user NAME`` keeps several local profiles apart; ``--no-store``: no memory).
"""

from __future__ import annotations

import argparse


def register(groups) -> None:
    from bot.cli import add_common

    parser = groups.top.add_parser(
        "chat", help="chat with the bot in this terminal (offline)",
        description="The same commands the Telegram and Discord bots accept, remembered in "
                    "the feedback store (DATABASE_URL, default SQLite under data/). Lines can "
                    "also be piped in: echo '/info toy story' | moviebot chat")
    add_common(parser)
    parser.add_argument("-c", "--command", action="append", metavar="MESSAGE",
                        help="answer this message (repeatable) and exit")
    parser.add_argument("--user", default=None, metavar="NAME",
                        help="whose likes, ratings and watchlist to use (default: the one "
                             "local user); each name is its own profile")
    parser.add_argument("--no-store", action="store_true",
                        help="no feedback store: nothing is remembered (no likes, watchlist...)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from bot.cli import settings_from

    settings = settings_from(args)
    return asyncio.run(_chat(settings, args))


async def _chat(settings, args: argparse.Namespace) -> int:
    from engine.errors import InvalidInput

    from .console import LOCAL_USER, ConsoleFrontend, chat
    from .serve_cli import close_layer, open_layer

    user = LOCAL_USER if args.user is None else args.user.strip()
    if not user or len(user) > 64 or not user.isprintable():
        raise InvalidInput("--user takes a short name, e.g. --user ada")
    layer = await open_layer(settings, args, warm=False)
    try:
        if args.command:
            console = ConsoleFrontend(layer, user=user, hint=False)
            several = len(args.command) > 1    # then each answer follows its message
            for message in args.command:
                if several:
                    print(f"> {message}", flush=True)
                await console.line(message)
                if several:
                    print(flush=True)
        else:
            await chat(layer, user=user)
    finally:
        await close_layer(layer)
    return 0

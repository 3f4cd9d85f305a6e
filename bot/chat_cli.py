"""`moviebot chat`: talk to the bot in the terminal, offline."""

from __future__ import annotations

import argparse


def register(groups) -> None:
    from bot.cli import add_common

    parser = groups.top.add_parser(
        "chat", help="chat with the bot in this terminal (offline)",
        description="The same commands the Telegram and Discord bots accept. Lines can also "
                    "be piped in: echo '/info toy story' | moviebot chat")
    add_common(parser)
    parser.add_argument("-c", "--command", action="append", metavar="MESSAGE",
                        help="answer this message (repeatable) and exit")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from bot.cli import settings_from
    from engine import Engine

    from .commands import CommandLayer
    from .console import ConsoleFrontend, chat

    settings = settings_from(args)
    engine = Engine.load(settings.artifacts)
    layer = CommandLayer(lambda: engine)
    if args.command:
        async def answer_all() -> None:
            console = ConsoleFrontend(layer)
            for message in args.command:
                await console.line(message)
        asyncio.run(answer_all())
        return 0
    asyncio.run(chat(layer))
    return 0

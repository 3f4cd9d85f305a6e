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

    from .commands import CommandLayer, User
    from .console import chat, render

    settings = settings_from(args)
    engine = Engine.load(settings.artifacts)
    layer = CommandLayer(lambda: engine)
    if args.command:
        async def answer_all() -> None:
            user = User("console", "local", "you", is_admin=True)
            for message in args.command:
                reply = await layer.handle(message, user)
                if reply is not None:
                    print(render(reply)[0])
        asyncio.run(answer_all())
        return 0
    asyncio.run(chat(layer))
    return 0

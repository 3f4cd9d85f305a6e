"""The offline console chat: the same commands as the chat bots, rendered as text."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import Callable
from typing import TextIO

from .commands import CommandLayer, User
from .replies import Button, Reply

WIDTH = 78


def render(reply: Reply) -> tuple[str, list[Button]]:
    """Text for a terminal, plus the numbered action buttons it shows."""
    lines: list[str] = []
    actions: list[Button] = []

    def button_line(buttons: list[Button]) -> str:
        shown = []
        for button in buttons:
            if button.url:
                shown.append(f"{button.label}: {button.url}")
            elif button.action:
                actions.append(button)
                shown.append(f"[{len(actions)}] {button.label}")
        return "   ".join(shown)

    if reply.text:
        lines.append(reply.text)
    for card in reply.cards:
        lines.append("")
        lines.append(f"■ {card.title}")
        if card.subtitle:
            lines.append(f"  {card.subtitle}")
        if card.reason:
            lines.append(f"  ↳ {card.reason}")
        for para in card.body.splitlines():
            lines.extend(textwrap.wrap(para, WIDTH, initial_indent="  ", subsequent_indent="  "))
        if card.image_url:
            lines.append(f"  Poster: {card.image_url}")
        if card.buttons:
            lines.append("  " + button_line(card.buttons))
    if reply.buttons:
        lines.append(button_line(reply.buttons))
    if actions:
        lines.append("(type a number to press a button)")
    return "\n".join(lines), actions


async def chat(layer: CommandLayer, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout,
               prompt: Callable[[], None] | None = None) -> None:
    user = User("console", "local", "you", is_admin=True)
    interactive = stdin.isatty()
    if interactive:
        print("moviebot console – type /help, a movie title, or /quit.", file=stdout)
    actions: list[Button] = []
    while True:
        if interactive:
            print("> ", end="", file=stdout, flush=True)
        line = await asyncio.to_thread(stdin.readline)
        if not line:
            break
        text = line.strip()
        if text in ("/quit", "/exit"):
            break
        if not text and not interactive:
            continue
        if text.isdigit() and 1 <= int(text) <= len(actions):
            reply = await layer.press(actions[int(text) - 1].action, user)
        else:
            reply = await layer.handle(text, user)
        if reply is None:
            continue
        out, actions = render(reply)
        print(out, file=stdout, flush=True)
        if not interactive:
            print(file=stdout)

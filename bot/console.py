"""The offline console chat: the same commands as the chat bots, rendered as text."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import Callable
from typing import TextIO

from .commands import CommandLayer
from .frontend import Frontend, Incoming, Sent
from .replies import Button, Reply

WIDTH = 78
ECHO_LIMIT = 200         # characters of a piped line echoed before its answer
LOCAL_USER = "local"     # the console's one user unless `moviebot chat --user NAME`


def render(reply: Reply, hint: bool = True) -> tuple[str, list[Button]]:
    """Text for a terminal, plus the numbered action buttons it shows. ``hint``: say how
    to press one (not where nobody can type a number: ``chat -c``)."""
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
    if actions and hint:
        lines.append("(type a number to press a button)")
    return "\n".join(lines), actions


class ConsoleFrontend(Frontend):
    """The terminal as a front-end: replies are printed, buttons are numbered, and a
    number typed alone presses one. The local user (``user``: one profile per name, kept
    apart in the store as ``console:<name>``) is the admin; there is no rate limit.
    ``hint``: show how to press a button (off where no more lines come: ``chat -c``)."""

    platform = "console"

    def __init__(self, layer: CommandLayer, stdout: TextIO = sys.stdout, *,
                 user: str = LOCAL_USER, hint: bool = True):
        super().__init__(layer, admins=frozenset({f"console:{user}"}), user_rate=0)
        self.stdout = stdout
        self.hint = hint
        self.buttons: list[Button] = []       # what the numbers stand for right now
        self.me = self.user(user, "" if user == LOCAL_USER else user)   # /start: "Hi there!"

    async def send(self, ev: Incoming, reply: Reply) -> list[Sent]:
        out, self.buttons = render(reply, hint=self.hint)
        print(out, file=self.stdout, flush=True)
        return []      # no message ids: nothing to react to later

    async def toast(self, ev: Incoming, text: str | None) -> None:
        if text:
            print(text, file=self.stdout, flush=True)

    async def line(self, text: str) -> None:
        """One typed line: a button number or a chat line."""
        ev = Incoming(self.me, chat="console")   # answers print here (None: no chat to post in)
        if text.isdigit() and 1 <= int(text) <= len(self.buttons):
            action = self.buttons[int(text) - 1].action
            await self.press(ev, action.encode() if action is not None else "")
        else:
            await self.text(ev, text)


async def chat(layer: CommandLayer, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout,
               prompt: Callable[[], None] | None = None, user: str = LOCAL_USER) -> None:
    """Answer lines from ``stdin`` until EOF or /quit. Typed at a terminal: a prompt and
    the button hint. Piped in: each answer follows the line it answers ("> /rate heat 4.5"),
    so a transcript can be matched to its input, and blocks are separated by a blank line."""
    interactive = stdin.isatty()
    console = ConsoleFrontend(layer, stdout, user=user, hint=interactive)
    if interactive:
        print("moviebot console – type /help, a movie title, or /quit.", file=stdout)
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
        if not interactive:
            shown = text if len(text) <= ECHO_LIMIT else text[:ECHO_LIMIT] + "…"
            print(f"> {shown}", file=stdout, flush=True)
        await console.line(text)
        if not interactive:
            print(file=stdout)

"""Draw a platform-neutral `bot.replies.Reply` as Discord messages: one embed per card
(poster as thumbnail) with its buttons, so each movie can be reacted to on its own.

Buttons carry their encoded `bot.actions.Action` in their ``custom_id`` (prefixed with
``mb:``); presses are routed by the cog's ``on_interaction`` listener, which keeps them
working after a restart (no in-memory View has to survive).
"""

from __future__ import annotations

from dataclasses import dataclass

import discord

from bot.replies import Button, Card, Reply

ACTION_PREFIX = "mb:"
CUSTOM_ID_LIMIT = 100
EMBED_DESCRIPTION_LIMIT = 4096
CONTENT_LIMIT = 2000
MAX_ROW = 4
COLOUR = discord.Colour.from_rgb(229, 9, 20)


@dataclass
class Outgoing:
    """One message to send: what ``Messageable.send`` / ``Context.send`` take."""

    content: str | None = None
    embed: discord.Embed | None = None
    view: discord.ui.View | None = None
    movie_id: int | None = None

    def kwargs(self) -> dict:
        out: dict = {"allowed_mentions": discord.AllowedMentions.none()}
        if self.content:
            out["content"] = self.content
        if self.embed is not None:
            out["embed"] = self.embed
        if self.view is not None:
            out["view"] = self.view
        return out


def safe(text: str, limit: int) -> str:
    """User text shown verbatim: no Markdown, no pings."""
    text = discord.utils.escape_mentions(discord.utils.escape_markdown(text or ""))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def card_embed(card: Card) -> discord.Embed:
    lines = []
    if card.subtitle:
        lines.append(f"*{safe(card.subtitle, 300)}*")
    if card.reason:
        lines.append("💡 " + safe(card.reason, 500))
    if card.body:
        lines.append(safe(card.body, 1500))
    embed = discord.Embed(title=safe(card.title, 256), description="\n\n".join(lines)[:EMBED_DESCRIPTION_LIMIT],
                          url=card.link_url or None, colour=COLOUR)
    if card.image_url:
        embed.set_thumbnail(url=card.image_url)
    return embed


def view_for(buttons: list[Button]) -> discord.ui.View | None:
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for b in buttons[:25]:
        row = None if b.row is None else min(b.row, MAX_ROW)   # Discord has 5 rows (0-4)
        if b.url:
            view.add_item(discord.ui.Button(label=b.label[:80], url=b.url, row=row))
        elif b.action is not None and len(custom_id := ACTION_PREFIX + b.action.encode()) <= CUSTOM_ID_LIMIT:
            style = discord.ButtonStyle.secondary
            view.add_item(discord.ui.Button(label=b.label[:80], style=style, custom_id=custom_id,
                                            row=row))
    return view if view.children else None


def render(reply: Reply) -> list[Outgoing]:
    out: list[Outgoing] = []
    if reply.text or not reply.cards:
        out.append(Outgoing(content=safe(reply.text or "…", CONTENT_LIMIT),
                            view=view_for(reply.buttons) if not reply.cards else None))
    for i, card in enumerate(reply.cards):
        buttons = list(card.buttons)
        if i == len(reply.cards) - 1:
            buttons += reply.buttons   # paging under the last card
        out.append(Outgoing(embed=card_embed(card), view=view_for(buttons), movie_id=card.movie_id))
    return out

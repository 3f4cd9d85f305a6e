"""`FeedbackStore`: what the command layer and the front-ends need of a store.

`Store` (the database) and `SpoolingStore` (the database, with writes spooled to a file
while it is down) both implement it; the jobs use `Store` itself (retraining frames,
job runs), which has more.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from .values import FeedbackEvent, MessageKey, ReactionChange, SentMessage

# (platform, chat_id, message_id, movie_id, context): one card the bot sent.
MessageRow = tuple[str, str, str, int | None, dict | None]


@runtime_checkable
class FeedbackStore(Protocol):
    # -- users
    async def user_id(self, platform: str, platform_user_id: str,
                      display_name: str | None = None) -> int: ...

    # -- feedback: writes keep working through an outage in a SpoolingStore
    async def record_feedback(self, event: FeedbackEvent) -> bool: ...

    async def record_reaction(self, change: ReactionChange) -> bool: ...

    async def active_reactions(self, message: MessageKey) -> list[tuple[str, str]]: ...

    async def history(self, user_id: int) -> list[tuple[int, str | float]]: ...

    # -- the cards the bot sent
    async def remember_message(self, platform: str, chat_id: str, message_id: str,
                               movie_id: int | None, context: dict | None = None) -> None: ...

    async def remember_messages(self, messages: Iterable[MessageRow]) -> None: ...

    async def lookup_message(self, platform: str, chat_id: str,
                             message_id: str) -> SentMessage | None: ...

    async def recent_messages(self, platform: str, since: datetime) -> list[SentMessage]: ...

    # -- where to watch
    async def user_country(self, user_id: int) -> str | None: ...

    async def set_user_country(self, user_id: int, country: str | None) -> None: ...

    # -- watchlist, privacy, admin
    async def watchlist_add(self, user_id: int, movie_id: int) -> bool: ...

    async def watchlist_remove(self, user_id: int, movie_id: int) -> bool: ...

    async def watchlist(self, user_id: int) -> list[int]: ...

    async def forget_user(self, user_id: int) -> dict[str, int]: ...

    async def stats(self, days: int = 14) -> dict[str, Any]: ...

    async def close(self) -> None: ...

"""Per-user command rate limit: a token bucket per user, in memory.

Telegram itself throttles what the bot *sends* (flood control, handled by PTB's
AIORateLimiter); this limits what one user can make the bot *do*, so a single chat
hammering /recommend cannot starve everyone else on a 2-core box.
"""

from __future__ import annotations

import time
from collections import OrderedDict


class UserRateLimit:
    """``allow(user)`` is True while the user has tokens; ``rate`` tokens per ``per`` seconds."""

    def __init__(self, rate: int = 8, per: float = 10.0, max_users: int = 50_000):
        self.rate = rate
        self.per = per
        self.max_users = max_users
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # user -> (tokens, t)
        self._warned: set[str] = set()

    def allow(self, user: str, now: float | None = None) -> bool:
        if self.rate <= 0:
            return True
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(user, (float(self.rate), now))
        tokens = min(float(self.rate), tokens + (now - last) * self.rate / self.per)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
            self._warned.discard(user)
        self._buckets[user] = (tokens, now)
        if len(self._buckets) > self.max_users:   # forget the least recently seen user
            old, _ = self._buckets.popitem(last=False)
            self._warned.discard(old)
        return allowed

    def first_refusal(self, user: str) -> bool:
        """True once per burst, so a flooding user gets one "slow down", not one per message."""
        if user in self._warned:
            return False
        self._warned.add(user)
        return True

"""The idempotency keys of schema 0001, read once, by migration 0002 and by the spool.

Before 0002 an event's identity was one colon-joined ``idempotency_key``:

* reaction  ``{platform}:{chat}:{message}:reaction:{platform user}:{signal}:{stamp}``
* button    ``{platform}:button:{event id}`` (the callback query / interaction id) or,
            without one, ``{platform}:button:{message ref}:{platform user}:{verb}:{ns}``
* /rate     ``{platform}:rate:{platform user}:{movie}:{ns}``
* anything else (imports, tests, benchmarks): free text

and the message an event was about was ``message_ref = "{platform}:{chat}:{message}"``.
Migration 0002 turns these into typed columns; a spool file written before the upgrade
still replays, its lines translated here. Nothing else may parse keys.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LegacyKey:
    kind: str                       # "reaction", "button", "command" or "other"
    platform: str | None = None
    chat_id: str | None = None      # the message the event was about
    message_id: str | None = None
    event_id: str | None = None     # None for reactions (identified by their columns)
    platform_user_id: str | None = None   # reactions only
    signal: str | None = None             # reactions only


def parse_message_ref(ref: str | None) -> tuple[str, str, str] | None:
    parts = (ref or "").split(":")
    if len(parts) != 3 or not all(parts):
        return None          # None, "None" (a button pressed with no message), junk
    return parts[0], parts[1], parts[2]


def parse_key(key: str, message_ref: str | None = None) -> LegacyKey:
    """The typed identity of a 0001 row, from its ``idempotency_key`` and ``message_ref``."""
    message = parse_message_ref(message_ref)
    if ":reaction:" in key:
        ref, _, rest = key.partition(":reaction:")
        on = parse_message_ref(ref)
        parts = rest.split(":")
        if on is not None and len(parts) == 3 and all(parts[:2]):
            return LegacyKey("reaction", *on, None, parts[0], parts[1])
    platform, _, rest = key.partition(":")
    verb, _, event = rest.partition(":")
    chat_id, message_id = (message[1], message[2]) if message else (None, None)
    if verb == "button" and event:
        # The platform's own event id where there was one, so a press redelivered after
        # the upgrade is still recognised; else the old key, unique and opaque.
        return LegacyKey("button", platform, chat_id, message_id,
                         event if ":" not in event else key)
    if verb == "rate" and event:
        return LegacyKey("command", platform, chat_id, message_id, key)
    return LegacyKey("other", message[0] if message else None, chat_id, message_id, key)

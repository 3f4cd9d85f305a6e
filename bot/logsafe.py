"""Secrets never reach a log line or a traceback on stderr.

`install(secrets)` (called by `moviebot`'s `main` once logging is set up) wraps every root
handler's formatter so the finished line (message, arguments, traceback, stack) has each
configured secret replaced, whichever library logged it and at whatever level: PTB's
debug line "Set Bot API URL: .../bot<token>", httpx's request URLs, a driver's error that
quotes the database URL. Uncaught exceptions (printed by `sys.excepthook`, not logging)
are redacted the same way.

The secrets are the values themselves (bot tokens, the TMDB key, the database password,
the webhook secret), as they are and URL-quoted, longest first.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Iterable
from urllib.parse import quote

REDACTED = "[redacted]"
MIN_SECRET = 4        # shorter values would blank out ordinary words


class Redactor:
    def __init__(self, secrets: Iterable[str]):
        variants = set()
        for secret in secrets:
            if secret and len(secret) >= MIN_SECRET:
                variants |= {secret, quote(secret, safe=""), quote(secret)}
        self.secrets = sorted(variants, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text


class RedactingFormatter(logging.Formatter):
    """Formats as ``inner`` does, then redacts the whole line (traceback included)."""

    def __init__(self, inner: logging.Formatter, redact: Redactor):
        super().__init__()
        self.inner = inner
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(self.inner.format(record))


def install(secrets: Iterable[str]) -> Redactor:
    redact = Redactor(secrets)
    if not redact.secrets:
        return redact
    for handler in logging.getLogger().handlers:
        current = handler.formatter or logging.Formatter()
        if not isinstance(current, RedactingFormatter):
            handler.setFormatter(RedactingFormatter(current, redact))

    def excepthook(kind, value, tb) -> None:
        sys.stderr.write(redact("".join(traceback.format_exception(kind, value, tb))))

    def thread_excepthook(args) -> None:
        excepthook(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook
    return redact

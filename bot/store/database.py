"""How the store's transactions reach the database.

A store operation is a plain function over a SQLAlchemy ``Connection``; ``Database.run``
executes it as one transaction, so `Store` is written once for both back-ends:

* ``SQLiteDatabase`` (the default) runs it on the calling thread, i.e. the bot's event loop.
  SQLite is a library, not a server: remembering a reply's cards takes well under a
  millisecond of CPU, and handing every statement to a worker thread (aiosqlite) cost more
  than the work itself. The GIL hand-offs between the loop and that thread took the
  CPU-bound Telegram benchmark from 0.98 to 0.80 of the echo bot's throughput.
  The loop never waits long on the file lock (another process writing): the busy timeout
  is short and a locked database is retried after an ``asyncio.sleep``. Operations that
  may read many rows (``bulk=True``) run in a worker thread.
* ``AsyncDatabase`` (PostgreSQL in production) runs it on an asyncpg ``AsyncEngine``
  through ``AsyncConnection.run_sync``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import StaticPool

log = logging.getLogger("moviebot.store")

T = TypeVar("T")

# How long SQLite itself waits for another writer (blocking the caller), and how long
# `SQLiteDatabase.run` keeps retrying a locked database (sleeping on the event loop).
SQLITE_BUSY_TIMEOUT_MS = 20
SQLITE_LOCK_WAIT_S = 10.0


class Database(Protocol):
    dialect: str

    async def run(self, operation: Callable[..., T], *args: Any, write: bool = False,
                  bulk: bool = False) -> T:
        """``operation(connection, *args)`` in one transaction (committed if ``write``)."""
        ...

    async def dispose(self) -> None: ...


def normalise_url(url: str) -> str:
    """Accept the spellings people put in DATABASE_URL.

    PostgreSQL always goes through asyncpg; SQLite always through the standard library's
    driver (``sqlite+aiosqlite://``, the spelling of earlier versions, still works).
    """
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + url[len("postgresql://"):]
    for old in ("sqlite+aiosqlite://", "sqlite+pysqlite://"):
        if url.startswith(old):
            return "sqlite://" + url[len(old):]
    return url


def open_database(url: str, *, schema: str | None = None,
                  connect_timeout: float = 5.0, statement_timeout: float | None = None) -> Database:
    """A `Database` for ``url``; nothing is connected until the first ``run``."""
    url = normalise_url(url)
    if url.startswith("sqlite://"):
        return SQLiteDatabase(url)
    kwargs: dict[str, Any] = {}
    if url.startswith("postgresql"):
        connect_args: dict[str, Any] = {"timeout": connect_timeout}
        if statement_timeout:
            # asyncpg gives up on a statement after this long (a server that went silent),
            # and the server cancels one running longer than that.
            connect_args["command_timeout"] = statement_timeout
            connect_args["server_settings"] = {
                "statement_timeout": str(int(statement_timeout * 1000))}
        if schema:
            connect_args.setdefault("server_settings", {})["search_path"] = schema
        # pool_timeout: waiting for a free connection is bounded too (SQLAlchemy: 30 s).
        kwargs.update(pool_pre_ping=True, connect_args=connect_args,
                      pool_timeout=max(connect_timeout, statement_timeout or 0))
    return AsyncDatabase(url, **kwargs)


class SQLiteDatabase:
    dialect = "sqlite"

    def __init__(self, url: str):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        self.in_memory = not path or path == ":memory:"
        # The loop thread and the bulk worker thread share the pool's connections.
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
        if self.in_memory:  # one shared connection, or every connection sees its own empty DB
            kwargs["poolclass"] = StaticPool
        else:
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        self.engine = create_engine(url, **kwargs)
        event.listen(self.engine, "connect", _sqlite_pragmas)

    async def run(self, operation: Callable[..., T], *args: Any, write: bool = False,
                  bulk: bool = False) -> T:
        deadline = time.monotonic() + SQLITE_LOCK_WAIT_S
        pause = 0.002
        while True:
            try:
                if bulk and not self.in_memory:
                    return await asyncio.to_thread(self._transaction, operation, args, write)
                return self._transaction(operation, args, write)
            except OperationalError as exc:
                if not _is_locked(exc) or time.monotonic() > deadline:
                    raise
            # The transaction was rolled back as a whole, so running it again is safe.
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.1)

    def _transaction(self, operation: Callable[..., T], args: tuple, write: bool) -> T:
        with (self.engine.begin() if write else self.engine.connect()) as conn:
            return operation(conn, *args)

    async def dispose(self) -> None:
        self.engine.dispose()


class AsyncDatabase:
    def __init__(self, url: str, **engine_kwargs: Any):
        self.engine = create_async_engine(url, **engine_kwargs)
        self.dialect = self.engine.dialect.name

    async def run(self, operation: Callable[..., T], *args: Any, write: bool = False,
                  bulk: bool = False) -> T:
        async with (self.engine.begin() if write else self.engine.connect()) as conn:
            return await conn.run_sync(operation, *args)

    async def dispose(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the bots read while the jobs write; foreign keys make /forget cascade.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _is_locked(exc: OperationalError) -> bool:
    # SQLITE_BUSY: "database is locked"; SQLITE_LOCKED: "database table is locked".
    return "locked" in str(exc.orig).lower()

"""Helpers for tests that need a real database (used by tests/ and the bots' tests).

PostgreSQL tests get a schema of their own, dropped afterwards, so runs never see each
other's rows. Where the server is unreachable they fail on CI (env ``CI`` set) and skip
locally, with the reason.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from .database import Database, normalise_url, open_database
from .store import Store

DEFAULT_TEST_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def postgres_url() -> str:
    return normalise_url(os.environ.get("MOVIEBOT_TEST_POSTGRES_URL",
                                         DEFAULT_TEST_POSTGRES_URL))


async def postgres_unreachable_reason(url: str | None = None) -> str | None:
    """None when the test server answers, else why not."""
    import asyncpg

    dsn = (url or postgres_url()).replace("postgresql+asyncpg://", "postgresql://")
    try:
        conn = await asyncpg.connect(dsn, timeout=5)
    except Exception as exc:  # any reason at all means "cannot test against it"
        return f"PostgreSQL at {dsn} unreachable: {exc!r}"
    await conn.close()
    return None


async def require_postgres() -> str:
    """The test server's URL, or fail (CI) / skip (locally) the calling test."""
    import pytest

    reason = await postgres_unreachable_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI is set, so PostgreSQL tests must run)")
        pytest.skip(reason)
    return postgres_url()


async def drop_schema(url: str, schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@asynccontextmanager
async def open_test_store(backend: str, tmp_path: os.PathLike) -> AsyncIterator[Store]:
    """A migrated, empty store: ``backend`` is "sqlite" or "postgres"."""
    if backend == "sqlite":
        store = await Store.open(f"sqlite:///{tmp_path}/moviebot-test.db")
        try:
            yield store
        finally:
            await store.close()
        return
    url = await require_postgres()
    schema = f"test_{os.getpid()}_{secrets.token_hex(4)}"
    store = await Store.open(url, schema=schema)
    try:
        yield store
    finally:
        await store.close()
        await drop_schema(url, schema)


def unopenable_sqlite(tmp_path: os.PathLike) -> Database:
    """A database whose every call fails the way an outage does: a real SQLite driver
    error ("unable to open database file"), because its path is a directory."""
    path = Path(tmp_path) / "not-a-database.db"
    path.mkdir(exist_ok=True)
    return open_database(f"sqlite:///{path}")

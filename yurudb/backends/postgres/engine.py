"""psycopg connections with yurudb's settings: durable commits, UTC, and values read back as SQLite gives them.

The rest of yurudb reads rows as the SQLite backend returns them: JSON columns as their text,
timestamps as `YYYY-MM-DD HH:MM:SS.mmm` UTC text (yurudb/times.py). The loaders below make
PostgreSQL's `json`, `jsonb` and `timestamptz` read back the same way, so one read path serves both.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ...errors import ValidationError

# What every connection runs first: commits durable on return (the server's fsync before COMMIT
# answers), UTC for the naive UTC text yurudb writes, and waits bounded like SQLite's busy_timeout.
DEFAULT_TIMEOUT_MS = 5_000
# The key of the advisory lock each write transaction takes: one writer at a time per database,
# as SQLite's BEGIN IMMEDIATE gives (two machines' syncs queue; neither sees a conflict).
WRITE_LOCK = int.from_bytes(hashlib.sha256(b"yurudb write lock").digest()[:8], "big", signed=True)
APPLICATION = "yurudb"


def settings(busy_timeout_ms: int) -> list[str]:
    """The SET statements of every yurudb connection."""
    return ["SET synchronous_commit = on", "SET TIME ZONE 'UTC'", f"SET lock_timeout = {int(busy_timeout_ms)}",
            "SET standard_conforming_strings = on"]


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise ValidationError("a postgresql:// database needs the postgres extra: pip install 'yurudb[postgres]'") from None
    return psycopg


def _adapt(conn: Any) -> None:
    """Load json, jsonb and timestamptz as the text SQLite holds (see the module's docstring)."""
    from psycopg.adapt import Loader

    class Text(Loader):
        def load(self, data: Any) -> str:
            return bytes(data).decode()

    class Timestamp(Loader):
        def load(self, data: Any) -> str:
            return column_text(bytes(data).decode())

    for name in ("json", "jsonb"):
        conn.adapters.register_loader(name, Text)
    conn.adapters.register_loader("timestamptz", Timestamp)
    conn.adapters.register_loader("timestamp", Timestamp)


def column_text(value: str) -> str:
    """PostgreSQL's text of a UTC timestamp as yurudb's column text (`2026-12-04 01:05:04.120`)."""
    value = value.removesuffix("+00")
    head, _, frac = value.partition(".")
    if len(frac) <= 3:
        return f"{head}.{frac:0<3}"
    return f"{head}.{frac}"


def connect_sync(url: str, *, busy_timeout_ms: int = DEFAULT_TIMEOUT_MS) -> Any:
    """A psycopg connection in autocommit (the unit of work says BEGIN and COMMIT itself)."""
    psycopg = _psycopg()
    # raw cursors: the dialect's statements use PostgreSQL's $n placeholders, sent as they are
    conn = psycopg.connect(url, autocommit=True, application_name=APPLICATION, cursor_factory=psycopg.RawCursor,
                           connect_timeout=max(1, busy_timeout_ms // 1000))
    try:
        _adapt(conn)
        for stmt in settings(busy_timeout_ms):
            conn.execute(stmt)
    except BaseException:
        conn.close()
        raise
    return conn


async def connect_async(url: str, *, busy_timeout_ms: int = DEFAULT_TIMEOUT_MS, read_only: bool = False) -> Any:
    """An asyncio psycopg connection in autocommit (each SELECT its own snapshot, as SQLite's readers)."""
    psycopg = _psycopg()
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True, application_name=APPLICATION,
                                                 cursor_factory=psycopg.AsyncRawCursor,
                                                 connect_timeout=max(1, busy_timeout_ms // 1000))
    try:
        _adapt(conn)
        for stmt in settings(busy_timeout_ms) + (["SET default_transaction_read_only = on"] if read_only else []):
            await conn.execute(stmt)
    except BaseException:
        await conn.close()
        raise
    return conn

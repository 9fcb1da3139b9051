"""A sqlite3 connection owned by one thread: `await conn.call(fn, ...)` runs fn there in one hop.

This is aiosqlite's model (a thread fed by a queue, results handed back to the loop) with one
difference that matters for group commit: a whole batch of statements crosses to the thread at
once, instead of one thread round trip per statement.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from .engine import Durability, connect_sync

T = TypeVar("T")


class ThreadConnection:
    """One sqlite3 connection, one thread."""

    def __init__(
        self,
        path: Path,
        *,
        durability: Durability = "full",
        busy_timeout_ms: int = 5_000,
        max_size_bytes: int | None = None,
        connect: Callable[[], Any] | None = None,
        executor: ThreadPoolExecutor | None = None,
    ) -> None:
        self.path = path
        self.durability = durability
        self.busy_timeout_ms = busy_timeout_ms
        self.max_size_bytes = max_size_bytes
        # Another way to connect (the in-memory twin), and a thread shared with sibling connections.
        self._connect = connect
        self._owns_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix="yurudb-writer")
        self._conn: Any = None
        self._closed = False

    def opened(self) -> Any:
        """The sqlite3 connection, opened on first use (only on this connection's thread)."""
        if self._conn is None:
            if self._connect is not None:
                self._conn = self._connect()
            else:
                self._conn = connect_sync(self.path, durability=self.durability, busy_timeout_ms=self.busy_timeout_ms)
            if self.max_size_bytes is not None:
                _limit(self._conn, self.max_size_bytes)
        return self._conn

    async def set_max_size(self, max_size_bytes: int | None) -> None:
        """Cap the database file's size (SQLITE_FULL past it), or lift the cap with None."""
        self.max_size_bytes = max_size_bytes
        await self.call(_limit, max_size_bytes)

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn(connection, *args) on the connection's thread (connecting first if needed)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(self.opened(), *args))

    async def reset(self) -> None:
        """Drop the connection (after a failure) so the next call reconnects."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close)

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # already broken (any engine's driver): nothing more to release
                pass
            self._conn = None

    def abandon(self) -> None:
        """Stop the thread without a running loop (a store garbage-collected unclosed)."""
        self._executor.submit(self._close)
        if self._owns_executor:
            self._executor.shutdown(wait=False)

    async def close(self) -> None:
        """Close the connection and stop the thread if it is this connection's own (idempotent)."""
        if self._closed:
            return
        self._closed = True
        await self.reset()
        if self._owns_executor:
            self._executor.shutdown(wait=True)


# SQLite's own ceiling on max_page_count: "no limit".
_NO_LIMIT = 4294967294


def _limit(conn: sqlite3.Connection, max_size_bytes: int | None) -> None:
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = _NO_LIMIT if max_size_bytes is None else max(1, max_size_bytes // page_size)
    conn.execute(f"PRAGMA max_page_count = {int(pages)}")

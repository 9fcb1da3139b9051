"""The PostgreSQL reader pool: a few asyncio psycopg connections beside the writer, each SELECT its own snapshot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from .dialect import statement
from .engine import DEFAULT_TIMEOUT_MS, connect_async


class PgReaderPool:
    """Up to `size` reader connections, opened on first use (ReaderPool's interface)."""

    def __init__(self, url: str, *, size: int = 4, busy_timeout_ms: int = DEFAULT_TIMEOUT_MS,
                 read_only: bool = False) -> None:
        self.url, self.size, self.read_only, self.busy_timeout_ms = url, size, read_only, busy_timeout_ms
        self.dialect = "postgresql"
        self._idle: asyncio.Queue[Any] = asyncio.Queue()
        self._opened: list[Any] = []
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        """Borrow a connection (opening one if the pool is not full yet); a broken one is dropped."""
        conn = await self._checkout()
        broken = False
        try:
            yield conn
        except BaseException:
            broken = True
            raise
        finally:
            if broken or conn.closed:
                await self._discard(conn)
            else:
                self._idle.put_nowait(conn)

    async def _checkout(self) -> Any:
        while True:
            if self._idle.empty():
                async with self._lock:
                    if len(self._opened) < self.size:
                        conn = await connect_async(self.url, busy_timeout_ms=self.busy_timeout_ms,
                                                   read_only=self.read_only)
                        self._opened.append(conn)
                        return conn
            conn = await self._idle.get()
            if not conn.closed:
                return conn
            await self._discard(conn)  # the server dropped it while idle

    async def _discard(self, conn: Any) -> None:
        if conn in self._opened:
            self._opened.remove(conn)
        try:
            await conn.close()
        except Exception:  # already broken; nothing more to release
            pass

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        """Run one SELECT and return its rows as tuples; a connection the server dropped is retried once."""
        st = statement(sql)
        args = st.params(tuple(params))
        for attempt in (1, 2):
            try:
                async with self.connection() as conn:
                    cur = await conn.execute(st.sql, args)
                    return await cur.fetchall() if cur.description else []
            except Exception as exc:
                if attempt == 2 or not _connection_lost(exc):
                    raise
        raise AssertionError("unreachable")

    def abandon(self) -> None:
        """Forget the connections without a running loop (their sockets close with the process)."""
        self._opened.clear()

    async def close(self) -> None:
        """Close every connection."""
        for conn in self._opened:
            try:
                await conn.close()
            except Exception:  # already broken
                pass
        self._opened.clear()
        self._idle = asyncio.Queue()


def _connection_lost(exc: BaseException) -> bool:
    """Whether a read failed because its connection went away (a server restart): worth one retry."""
    import psycopg

    return isinstance(exc, psycopg.OperationalError) and getattr(exc, "sqlstate", None) in (None, "57P01", "57P02", "57P03")

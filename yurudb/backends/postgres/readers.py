"""The PostgreSQL reader pool: the SQLite pool's lending, over psycopg connections read on threads
(each SELECT its own snapshot).

Each read runs on a worker thread with a plain (blocking) connection, as SQLite's readers run on
aiosqlite's threads: psycopg's asyncio connection hands a large result to the event loop a socket
read at a time (1,866 turns of the loop for a 10,000-message session), which took more time than
the query; libpq's own blocking read takes it whole.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..sqlite.readers import ReaderPool
from .dialect import statement
from .engine import DEFAULT_TIMEOUT_MS, connect_sync, unescape_rows


class PgReaderPool(ReaderPool):
    """Up to `size` reader connections to a server, opened on first use; one a server dropped is replaced."""

    dialect = "postgresql"

    def __init__(self, url: str, path: Path, *, size: int = 4, busy_timeout_ms: int = DEFAULT_TIMEOUT_MS,
                 read_only: bool = False) -> None:
        super().__init__(path, size=size, busy_timeout_ms=busy_timeout_ms, read_only=read_only)
        self.url = url

    async def _connect(self) -> Any:
        return await asyncio.to_thread(connect_sync, self.url, busy_timeout_ms=self.busy_timeout_ms,
                                       read_only=self.read_only)

    async def _discard(self, conn: Any) -> None:
        if conn in self._opened:
            self._opened.remove(conn)
        try:
            conn.close()  # a read cancelled on its thread fails there, once the socket is gone
        except Exception:  # already broken; nothing more to release
            pass

    async def close(self) -> None:
        """Close every connection."""
        for conn in self._opened:
            conn.close()
        self._opened.clear()
        self._idle = asyncio.Queue()

    @staticmethod
    def _gone(conn: Any) -> bool:
        return bool(conn.closed)

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        """Run one SELECT and return its rows as tuples; a connection the server dropped is retried once."""
        st = statement(sql)
        args = st.params(tuple(params))
        attempts = 2
        while True:
            attempts -= 1
            try:
                async with self.connection() as conn:
                    return await asyncio.to_thread(_read, conn, st.sql, args)
            except Exception as exc:
                if not attempts or not _connection_lost(exc):
                    raise

    def abandon(self) -> None:
        """Forget the connections without a running loop (their sockets close with the process)."""
        self._opened.clear()


def _read(conn: Any, sql: str, args: Any) -> list[Any]:
    cur = conn.execute(sql, args)
    return unescape_rows(cur.fetchall()) if cur.description else []


def _connection_lost(exc: BaseException) -> bool:
    """Whether a read failed because its connection went away (a server restart): worth one retry."""
    import psycopg

    return isinstance(exc, psycopg.OperationalError) and getattr(exc, "sqlstate", None) in (None, "57P01", "57P02", "57P03")

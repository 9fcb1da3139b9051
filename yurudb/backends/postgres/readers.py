"""The PostgreSQL reader pool: the SQLite pool's lending, over asyncio psycopg connections (each SELECT its own snapshot)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..sqlite.readers import ReaderPool
from .dialect import statement
from .engine import DEFAULT_TIMEOUT_MS, connect_async, unescape_rows


class PgReaderPool(ReaderPool):
    """Up to `size` reader connections to a server, opened on first use; one a server dropped is replaced."""

    dialect = "postgresql"

    def __init__(self, url: str, path: Path, *, size: int = 4, busy_timeout_ms: int = DEFAULT_TIMEOUT_MS,
                 read_only: bool = False) -> None:
        super().__init__(path, size=size, busy_timeout_ms=busy_timeout_ms, read_only=read_only)
        self.url = url

    async def _connect(self) -> Any:
        return await connect_async(self.url, busy_timeout_ms=self.busy_timeout_ms, read_only=self.read_only)

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
                    cur = await conn.execute(st.sql, args)
                    return unescape_rows(await cur.fetchall()) if cur.description else []
            except Exception as exc:
                if not attempts or not _connection_lost(exc):
                    raise

    def abandon(self) -> None:
        """Forget the connections without a running loop (their sockets close with the process)."""
        self._opened.clear()


def _connection_lost(exc: BaseException) -> bool:
    """Whether a read failed because its connection went away (a server restart): worth one retry."""
    import psycopg

    return isinstance(exc, psycopg.OperationalError) and getattr(exc, "sqlstate", None) in (None, "57P01", "57P02", "57P03")

"""The unit of work: one transaction on the writer connection that rolls back unless committed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncTransaction

# SQLite's default limit on host parameters in one statement is 999 in old builds.
MAX_PARAMS = 900


class UnitOfWork:
    """`async with UnitOfWork(conn) as uow: ...; await uow.commit()`; anything else rolls back."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        self.committed = False
        self._tx: AsyncTransaction | None = None

    async def __aenter__(self) -> UnitOfWork:
        self.committed = False
        self._tx = await self.connection.begin()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self.committed:
            await self.rollback()

    async def commit(self) -> None:
        """Make the transaction durable."""
        assert self._tx is not None
        await self._tx.commit()
        self.committed = True

    async def rollback(self) -> None:
        """Undo the transaction (a no-op once it is over)."""
        if self._tx is not None and self._tx.is_active:
            await self._tx.rollback()

    # Driver-level SQL: the hot path skips SQLAlchemy's statement compilation and type processing.
    async def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Run one statement, returning its rows (if any)."""
        result = await self.connection.exec_driver_sql(sql, tuple(params))
        return list(result.fetchall()) if result.returns_rows else []

    async def executemany(self, sql: str, rows: list[Sequence[Any]]) -> None:
        """Run one statement over many parameter rows."""
        if rows:
            await self.connection.exec_driver_sql(sql, [tuple(r) for r in rows])

    async def lastrowid(self, sql: str, params: Sequence[Any]) -> int:
        """Run an INSERT and return its rowid."""
        result = await self.connection.exec_driver_sql(sql, tuple(params))
        return int(result.lastrowid)

    async def select_in(self, sql: str, keys: Iterable[Any]) -> list[Any]:
        """Run `sql` (with one `{}` for the placeholders) over keys, in chunks under the parameter limit."""
        keys = list(keys)
        rows: list[Any] = []
        for start in range(0, len(keys), MAX_PARAMS):
            chunk = keys[start : start + MAX_PARAMS]
            rows += await self.execute(sql.format(",".join("?" * len(chunk))), chunk)
        return rows

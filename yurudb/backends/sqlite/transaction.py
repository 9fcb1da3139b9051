"""The unit of work: one transaction on the writer connection that rolls back unless committed."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Any, TypeVar

from .connection import ThreadConnection
from .engine import begin_immediate

T = TypeVar("T")
# SQLite's default limit on host parameters in one statement is 999 in old builds.
MAX_PARAMS = 900


class Tx:
    """Statement helpers over a sqlite3 connection inside an open transaction (runs on the writer thread)."""

    dialect = "sqlite"  # the SQL the engine speaks: code that must differ (the full-text index) asks

    def __init__(self, conn: sqlite3.Connection, *, index_search: bool = True) -> None:
        self.conn = conn
        # Whether this transaction keeps the full-text index in step (off: benchmarks, bulk loads).
        self.index_search = index_search
        # and the secrets found in the texts it indexes (yurudb.secrets.found)
        self.keeps_findings = True

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Run one statement, returning its rows (if any)."""
        return self.conn.execute(sql, params).fetchall()

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement over many parameter rows."""
        if rows:
            self.conn.executemany(sql, rows)

    def select_in(self, sql: str, keys: Iterable[Any]) -> list[Any]:
        """Run `sql` (with one `{}` for the placeholders) over keys, in chunks under the parameter limit."""
        keys = list(keys)
        rows: list[Any] = []
        for start in range(0, len(keys), MAX_PARAMS):
            chunk = keys[start : start + MAX_PARAMS]
            rows += self.execute(sql.format(",".join("?" * len(chunk))), chunk)
        return rows


class UnitOfWork:
    """`async with UnitOfWork(conn) as uow: await uow.run(fn, ...); await uow.commit()`; else it rolls back."""

    def __init__(self, connection: ThreadConnection, *, index_search: bool = True) -> None:
        self.connection = connection
        # how this engine begins, commits and rolls back (SQLite's below; the PostgreSQL backend has its own)
        self.ops = getattr(connection, "ops", SQLITE_OPS)
        self.index_search = index_search
        self.committed = False
        self._begun = False

    async def __aenter__(self) -> UnitOfWork:
        self.committed = False
        self._begun = False
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._begun and not self.committed:
            await self.rollback()

    async def run(self, fn: Callable[..., T], *args: Any, commit: bool = False) -> T:
        """Run fn(Tx, *args) inside the transaction; the first call opens it (BEGIN IMMEDIATE) in the same hop.

        With commit=True the transaction is committed in that same hop too (one thread round trip
        for a whole group commit); if fn raises, nothing is committed.
        """
        begin = not self._begun
        self._begun = True
        wait_ms = self.connection.busy_timeout_ms if begin else None
        result = await self.connection.call(self.ops.in_tx, wait_ms, fn, args, commit, self.index_search)
        if commit:
            self.committed = True
        return result

    async def commit(self) -> None:
        """Make the transaction durable."""
        await self.connection.call(self.ops.commit)
        self.committed = True

    async def rollback(self) -> None:
        """Undo the transaction (harmless if SQLite already rolled it back)."""
        await self.connection.call(self.ops.rollback)


def _in_tx(conn: sqlite3.Connection, begin_wait_ms: int | None, fn: Callable[..., T], args: tuple[Any, ...],
           commit: bool, index_search: bool = True) -> T:
    if begin_wait_ms is not None:
        # IMMEDIATE takes the write lock now: a deferred BEGIN that upgrades later can fail with
        # SQLITE_BUSY at once instead of waiting out busy_timeout.
        begin_immediate(conn, begin_wait_ms)
    result = fn(Tx(conn, index_search=index_search), *args)
    if commit:
        conn.execute("COMMIT")
    return result


def _commit(conn: sqlite3.Connection) -> None:
    conn.execute("COMMIT")


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


class Ops:
    """How a unit of work drives its engine's connection, on the writer's thread."""

    def __init__(self, in_tx: Callable[..., Any], commit: Callable[[Any], None], rollback: Callable[[Any], None]) -> None:
        self.in_tx, self.commit, self.rollback = in_tx, commit, rollback


SQLITE_OPS = Ops(_in_tx, _commit, _rollback)


class DriverTx(Tx):
    """A Tx over a DB-API connection used through cursors (a revision's, behind SQLAlchemy's async adapter)."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Run one statement, returning its rows (if any)."""
        cursor = self.conn.cursor()
        try:
            cursor.execute(sql, tuple(params))
            return cursor.fetchall() if cursor.description else []
        finally:
            cursor.close()

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement over many parameter rows."""
        if rows:
            cursor = self.conn.cursor()
            try:
                cursor.executemany(sql, [tuple(r) for r in rows])
            finally:
                cursor.close()

"""The PostgreSQL writer: one psycopg connection on one thread, its unit of work, and its statement helpers.

The same model as the SQLite writer (`backends/sqlite/connection.py`): a whole batch crosses to
the writer's thread at once and runs there synchronously, one transaction at a time. Each write
transaction takes the database's advisory write lock first, so writers on several machines take
turns as SQLite's BEGIN IMMEDIATE makes processes do; a lost connection is dropped and the next
call reconnects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ..sqlite.connection import ThreadConnection
from ..sqlite.transaction import MAX_PARAMS, Ops, Tx
from .dialect import multirow, statement
from .engine import DEFAULT_TIMEOUT_MS, WRITE_LOCK, connect_sync, unescape_rows

T = TypeVar("T")


_MAX_BIND = 30_000  # parameters in one statement (PostgreSQL takes 65,535)


class PgTx(Tx):
    """A Tx over a psycopg connection: the same statements, said in PostgreSQL's dialect."""

    dialect = "postgresql"

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Run one statement, returning its rows (if any)."""
        st = statement(sql)
        cur = self.conn.execute(st.sql, st.params(params))
        return unescape_rows(cur.fetchall()) if st.rows else []

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement over many parameter rows: an INSERT as one statement of many rows (one
        round trip, one parse: per-row executes cost most of a batch), anything else row by row."""
        if not rows:
            return
        st = statement(sql)
        many = multirow(st.sql) if len(rows) > 1 else None
        if many is not None and not many.clashes(rows):
            per = max(1, _MAX_BIND // len(rows[0]))
            for start in range(0, len(rows), per):
                chunk = rows[start : start + per]
                self.conn.execute(many.sql(len(chunk)), [v for r in chunk for v in st.params(r)])
            return
        with self.conn.cursor() as cur:
            cur.executemany(st.sql, [st.params(r) for r in rows])

    def select_in(self, sql: str, keys: Iterable[Any]) -> list[Any]:
        """Run `sql` (with one `{}` for the placeholders) over keys, in chunks."""
        keys = list(keys)
        rows: list[Any] = []
        for start in range(0, len(keys), MAX_PARAMS * 8):  # PostgreSQL takes 65,535 parameters
            chunk = keys[start : start + MAX_PARAMS * 8]
            rows += self.execute(sql.format(",".join("?" * len(chunk))), chunk)
        return rows


_BEGIN = f"BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})"


class Lost(Exception):
    """The connection was gone before the transaction began (a server restart since the last write):
    nothing was done, so the call is made again on a new connection."""


def _in_tx(conn: Any, begin_wait_ms: int | None, fn: Callable[..., T], args: tuple[Any, ...],
           commit: bool, index_search: bool = True) -> T:
    if begin_wait_ms is not None:
        import psycopg

        try:
            # one writer at a time (lock_timeout bounds the wait, as busy_timeout does on SQLite); one round trip
            conn.execute(_BEGIN)
        except psycopg.OperationalError as exc:
            if conn.closed:
                raise Lost(str(exc)) from exc
            raise
        # the transaction's statements in pipeline mode: a write is sent without waiting for its
        # answer, so the round trips are the reads' (and COMMIT's), not every statement's
        _PIPELINES[id(conn)] = pipeline = conn.pipeline()
        pipeline.__enter__()
    result = fn(PgTx(conn, index_search=index_search), *args)
    if commit:
        _commit(conn)
    return result


# the open pipeline of each writer connection (one transaction at a time on each)
_PIPELINES: dict[int, Any] = {}


def _commit(conn: Any) -> None:
    pipeline = _PIPELINES.pop(id(conn), None)
    conn.execute("COMMIT")
    if pipeline is not None:
        pipeline.__exit__(None, None, None)  # sends what is left and waits: the first error, if any, raised here


def _rollback(conn: Any) -> None:
    pipeline = _PIPELINES.pop(id(conn), None)
    if pipeline is not None:
        try:
            pipeline.__exit__(None, None, None)
        except Exception:  # the error the transaction failed on, already raised to its caller
            pass
    if not conn.closed and conn.info.transaction_status != 0:  # 0: idle, nothing open
        conn.execute("ROLLBACK")


PG_OPS = Ops(_in_tx, _commit, _rollback)


class PgConnection(ThreadConnection):
    """One psycopg connection, one thread: the PostgreSQL writer (the SQLite writer's thread and lifecycle)."""

    ops = PG_OPS
    dialect = "postgresql"

    def __init__(self, url: str, path: Path, *, busy_timeout_ms: int = DEFAULT_TIMEOUT_MS) -> None:
        super().__init__(path, busy_timeout_ms=busy_timeout_ms,
                         connect=lambda: connect_sync(url, busy_timeout_ms=busy_timeout_ms))
        self.url = url

    def opened(self) -> Any:
        """The psycopg connection, opened on first use (again after the server dropped it)."""
        if self._conn is not None and self._conn.closed:
            _PIPELINES.pop(id(self._conn), None)
            self._conn = None
        return super().opened()

    def _close(self) -> None:
        if self._conn is not None:
            _PIPELINES.pop(id(self._conn), None)  # a transaction it had open went with it
        super()._close()

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn(connection, *args) on the connection's thread; once more on a new connection when
        the old one was found gone before anything was done (`Lost`)."""
        try:
            return await super().call(fn, *args)
        except Lost:
            await self.reset()
            return await super().call(fn, *args)

    async def set_max_size(self, max_size_bytes: int | None) -> None:
        """A size cap is SQLite's (max_page_count); a server's disk is the server's."""
        self.max_size_bytes = max_size_bytes

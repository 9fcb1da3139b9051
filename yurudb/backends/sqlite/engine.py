"""Engine factory: SQLAlchemy async engines over aiosqlite with yurudb's pragmas on every connection."""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import quote

if TYPE_CHECKING:  # SQLAlchemy loads only when an engine is made (migrations, maintenance)
    from sqlalchemy.ext.asyncio import AsyncEngine

Durability = Literal["full", "normal"]
Role = Literal["reader", "maintenance"]  # an engine's job; the writer is a plain sqlite3 connection (connect_sync)

DURABILITY_SYNC: dict[str, str] = {"full": "FULL", "normal": "NORMAL"}
BUSY_TIMEOUT_MS = 5_000
READER_POOL_SIZE = 4
# The writer never checkpoints inside a commit (that costs ~20 ms to one unlucky save); the
# checkpointer task does it off the write path. Other processes keep SQLite's default.
WRITER_AUTOCHECKPOINT = 0
# The writer's page cache (KiB; SQLite's default is 2 MiB). Random message ids put each insert on its
# own leaf of the id index: a first sync of 200 MB spent a seventh of its commits re-reading leaves.
# The cache grows only as pages are used, so a small database never holds this much.
WRITER_CACHE_KIB = 32_768  # 8 MiB and 64 MiB measured slower on that sync; 32 MiB cut its commits by 13%


def database_url(path: Path | str) -> str:
    """The SQLAlchemy URL of a database file."""
    return f"sqlite+aiosqlite:///{Path(path)}"


def pragmas(durability: Durability, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> list[str]:
    """The pragmas every yurudb connection runs, in order (busy_timeout first so the rest can wait)."""
    if durability not in DURABILITY_SYNC:
        from ...errors import ValidationError

        raise ValidationError(f"durability must be 'full' or 'normal', not {durability!r}")
    stmts = [
        f"PRAGMA busy_timeout = {int(busy_timeout_ms)}",
        "PRAGMA journal_mode = WAL",
        "PRAGMA foreign_keys = ON",
        f"PRAGMA synchronous = {DURABILITY_SYNC[durability]}",
    ]
    if durability == "full" and sys.platform == "darwin":
        # A plain fsync on macOS stops at the drive's cache; F_FULLFSYNC reaches the platter.
        stmts += ["PRAGMA fullfsync = ON", "PRAGMA checkpoint_fullfsync = ON"]
    return stmts


def read_only_uri(path: Path | str) -> str:
    """A URI that opens the database read-only and creates nothing beside it.

    SQLite's mode=ro still creates -wal and -shm files for a WAL database (and cannot remove them
    at close). When no -wal file exists no connection has the database open, so the file is read
    as immutable, which creates nothing; while one exists another connection owns them.
    """
    path = Path(path)
    uri = f"file:{quote(str(path.absolute()))}?mode=ro"
    try:
        os.lstat(f"{path}-wal")
        wal = True
    except FileNotFoundError:
        wal = False
    except OSError:
        wal = True  # cannot tell: the careful reading
    return uri if wal else uri + "&immutable=1"


def read_only_pragmas(busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> list[str]:
    """The pragmas of a read-only connection (journal_mode cannot change without writing)."""
    return [f"PRAGMA busy_timeout = {int(busy_timeout_ms)}", "PRAGMA foreign_keys = ON", "PRAGMA query_only = ON"]


def apply_pragmas(dbapi_connection: Any, statements: list[str], *, wait_ms: int = BUSY_TIMEOUT_MS) -> None:
    """Run pragma statements on a DB-API connection (sqlite3 or SQLAlchemy's aiosqlite adapter).

    `journal_mode = WAL` on a new file can fail at once with "database is locked" while another
    process switches or creates it: SQLite does not call the busy handler there. Such a pragma is
    tried again for up to `wait_ms`, as a busy handler would (two processes opening one new database
    at once both open it; one went degraded about one time in ten).
    """
    cursor = dbapi_connection.cursor()
    try:
        for stmt in statements:
            when_free(lambda: cursor.execute(stmt), wait_ms)  # noqa: B023 - called at once
    finally:
        cursor.close()


LOCK_POLL_S = 0.001  # how often a connection waiting for another process's lock looks again
T = TypeVar("T")


def when_free(run: Callable[[], T], wait_ms: int) -> T:
    """run(), tried again every millisecond while it fails with SQLITE_BUSY, for up to `wait_ms`."""
    deadline = time.monotonic() + wait_ms / 1000
    while True:
        try:
            return run()
        except sqlite3.OperationalError as exc:
            code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
            busy = code == sqlite3.SQLITE_BUSY or (not code and "locked" in str(exc))
            if not busy or time.monotonic() >= deadline:
                raise
            time.sleep(LOCK_POLL_S)


def begin_immediate(conn: sqlite3.Connection, wait_ms: int) -> None:
    """BEGIN IMMEDIATE, waiting up to `wait_ms` for another process's write to end, looking every ms.

    SQLite's busy handler looks again after 1, 2, 5, ... ms, then only every 100 ms: behind a process
    that commits back to back (a large `yurudb sync`), it misses the short gaps between its commits
    for seconds. Measured, a save every 50 ms during a 200 MB sync in another process: p50 332 ms,
    max 2.4 s to get the lock with the busy handler; looking every ms, p50 99 ms, max 272 ms (about
    one of the sync's transactions). The connection's busy timeout is put back afterwards.
    """
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        when_free(lambda: conn.execute("BEGIN IMMEDIATE"), wait_ms)
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(wait_ms)}")


def create_engine(
    path: Path | str,
    *,
    durability: Durability = "full",
    role: Role = "maintenance",
    pool_size: int = READER_POOL_SIZE,
    busy_timeout_ms: int = BUSY_TIMEOUT_MS,
) -> AsyncEngine:
    """An async SQLAlchemy engine: a small reader pool, or throwaway connections for maintenance.

    The store's own writer and readers do not go through SQLAlchemy (see yurudb/readers.py); these
    engines serve Alembic and the command line.
    """
    from sqlalchemy import event
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import AsyncAdaptedQueuePool, NullPool

    statements = pragmas(durability, busy_timeout_ms=busy_timeout_ms)
    kwargs: dict[str, Any]
    if role == "maintenance":
        kwargs = {"poolclass": NullPool}
    else:
        kwargs = {"poolclass": AsyncAdaptedQueuePool, "pool_size": pool_size, "max_overflow": 0}
    engine = create_async_engine(database_url(path), **kwargs)
    # BEGIN IMMEDIATE takes the write lock up front: a deferred BEGIN that later upgrades can
    # fail with SQLITE_BUSY at once instead of waiting out busy_timeout.
    begin_sql = "BEGIN IMMEDIATE" if role == "maintenance" else "BEGIN"

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's begin event instead of sqlite3's implicit BEGIN.
        dbapi_connection.isolation_level = None
        apply_pragmas(dbapi_connection, statements, wait_ms=busy_timeout_ms)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin_sql)

    return engine


def connect_sync(
    path: Path | str,
    *,
    durability: Durability = "full",
    busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    role: Literal["writer", "maintenance"] = "writer",
) -> sqlite3.Connection:
    """A plain sqlite3 connection with the same pragmas, for the writer thread and maintenance tools."""
    statements = pragmas(durability, busy_timeout_ms=busy_timeout_ms)
    if role == "writer":
        statements.append(f"PRAGMA wal_autocheckpoint = {WRITER_AUTOCHECKPOINT}")
        statements.append(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")
    # isolation_level=None: we issue BEGIN IMMEDIATE / COMMIT ourselves. The busy handler applies
    # to connect-time reads too, so a held lock waits instead of failing at once.
    conn = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout_ms / 1000)
    try:
        apply_pragmas(conn, statements, wait_ms=busy_timeout_ms)
    except BaseException:
        conn.close()
        raise
    return conn


def write_lock_free(path: Path) -> bool:
    """Whether the database's write lock can be had at once (a probe that takes it and gives it back)."""
    try:
        conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    except sqlite3.Error:
        return False
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return True
    except sqlite3.Error:
        return False
    finally:
        conn.close()

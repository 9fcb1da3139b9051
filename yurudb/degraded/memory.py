"""Degraded mode's twin of the database: the same schema in memory, written by the same `apply_batch`,
and read through views that lay it over the file by one rule.

While the file cannot take writes, each batch is applied to an in-memory SQLite database. Before a
batch runs, the rows it depends on are copied in from the file ("faulted in": the sessions it
names, the messages it appends or updates, each appended-to session's newest message for the next
seq), so `apply_batch` finds there exactly what it would find in the file. Reads run the store's
ordinary SQL on a second connection whose `sessions`, `messages` and `analytics` are views: every
row of memory, plus every row of the file that memory does not replace (same key) or delete (its
session deleted in memory). When the file cannot be read at all, the views lay memory over an
empty schema instead, which is what the store can still answer.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any, Protocol

from ..backends.sqlite import schema
from ..backends.sqlite.connection import ThreadConnection
from ..backends.sqlite.engine import BUSY_TIMEOUT_MS, read_only_uri
from ..backends.sqlite.transaction import MAX_PARAMS, UnitOfWork
from ..errors import translated
from ..search.text import FILE_INDEXED
from ..tables.rows import MESSAGE_COLUMNS, SESSION_COLUMNS, USAGE_COLUMNS
from ..writes.batch import BatchEffects, apply_batch
from ..writes.ops import Write

log = logging.getLogger(__name__)

_TOMBSTONES = """
CREATE TABLE deleted_sessions (id TEXT PRIMARY KEY);
CREATE TRIGGER remember_deleted_session AFTER DELETE ON sessions
BEGIN INSERT OR IGNORE INTO deleted_sessions VALUES (old.id); END;
"""
# The one rule: memory's rows, then the file's rows that memory neither replaces nor deleted.
_VIEWS = f"""
CREATE TEMP VIEW sessions AS
  SELECT {SESSION_COLUMNS} FROM mem.sessions
  UNION ALL SELECT {SESSION_COLUMNS} FROM main.sessions
  WHERE id NOT IN (SELECT id FROM mem.sessions) AND id NOT IN (SELECT id FROM mem.deleted_sessions);
CREATE TEMP VIEW messages AS
  SELECT {MESSAGE_COLUMNS} FROM mem.messages
  UNION ALL SELECT {MESSAGE_COLUMNS} FROM main.messages
  WHERE id NOT IN (SELECT id FROM mem.messages) AND session_id NOT IN (SELECT id FROM mem.deleted_sessions);
CREATE TEMP VIEW analytics AS
  SELECT {USAGE_COLUMNS} FROM mem.analytics
  UNION ALL SELECT {USAGE_COLUMNS} FROM main.analytics AS f
  WHERE session_id NOT IN (SELECT id FROM mem.deleted_sessions)
    AND NOT EXISTS (SELECT 1 FROM mem.analytics AS m WHERE m.session_id = f.session_id AND m.source_id = f.source_id);
"""


class MemoryTwin:
    """The in-memory database of a degraded store: `apply` writes to it, `fetch` reads memory over the file."""

    def __init__(self, db: Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS, source: Source | None = None) -> None:
        self.db = db
        # Where rows are faulted in from when the database is not a file beside us (a server: the
        # reads then show memory alone, over an empty schema, as for a file that cannot be read).
        self.source = source
        self.busy_timeout_ms = busy_timeout_ms
        self.applied: list[Write] = []  # what memory holds that the file does not, in order: the replay
        # Both connections live on one thread: a shared-cache database locks per table, without a
        # busy handler, so its users must never overlap.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="yurudb-twin")
        self._uri = ""
        self._file_readable = source is None
        self._lost_file = False  # the merged connection still reads the file, which no longer answers
        self._mem: sqlite3.Connection | None = None
        self._writes: ThreadConnection | None = None
        self._reads: ThreadConnection | None = None

    @property
    def file_readable(self) -> bool:
        """The file still answers reads (else memory stands over an empty schema)."""
        return self._file_readable

    def __len__(self) -> int:
        return len(self.applied)

    # ---- connections (made on the twin's thread) ---------------------------------------------
    async def _connections(self) -> tuple[ThreadConnection, ThreadConnection]:
        if self._writes is None or self._reads is None:
            self._uri = f"file:yurudb-twin-{uuid.uuid4().hex}?mode=memory&cache=shared"
            self._writes = ThreadConnection(self.db, connect=self._connect_memory, executor=self._executor)
            self._reads = ThreadConnection(self.db, connect=self._connect_merged, executor=self._executor)
        elif self._lost_file and self._reads is not None:
            # The file stopped answering: lay memory over an empty schema from now on.
            await self._reads.close()
            self._reads = ThreadConnection(self.db, connect=self._connect_merged, executor=self._executor)
            self._lost_file = False
        return self._writes, self._reads

    def _file_lost(self, exc: BaseException) -> None:
        log.warning("yurudb degraded: the database cannot be read (%s); reads show memory only", exc)
        self._file_readable = False
        self._lost_file = True

    def _connect_memory(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._uri, uri=True, isolation_level=None)
        conn.execute("PRAGMA foreign_keys = ON")
        schema.create(conn)
        conn.executescript(_TOMBSTONES)
        # Usage ids go on from the file's, so the ids memory hands out are the ones a replay gives.
        conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('analytics', ?)", (self._file_usage_seq(),))
        self._mem = conn
        return conn

    def _file_usage_seq(self) -> int:
        if self.source is not None:
            return self.source.usage_seq()
        try:
            with closing(sqlite3.connect(read_only_uri(self.db), uri=True)) as conn:
                row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'analytics'").fetchone()
            return int(row[0]) if row else 0
        except (sqlite3.Error, OSError):
            return 0

    def _connect_merged(self) -> sqlite3.Connection:
        if self._mem is None:
            assert self._writes is not None
            self._writes.opened()  # memory first: the merged connection attaches it
        conn = None
        if self._file_readable:
            try:
                conn = sqlite3.connect(read_only_uri(self.db), uri=True, isolation_level=None,
                                       timeout=self.busy_timeout_ms / 1000)
                for table in schema.TABLES:  # the file must hold today's schema to be laid under memory
                    conn.execute(f"SELECT * FROM main.{table} LIMIT 0")
            except (sqlite3.Error, OSError) as exc:
                log.warning("yurudb degraded: the database cannot be read (%s); reads show memory only", exc)
                if conn is not None:
                    conn.close()
                conn, self._file_readable = None, False
        if conn is None:
            conn = sqlite3.connect(":memory:", isolation_level=None)  # an empty file: memory over nothing
            schema.create(conn)
        conn.execute("ATTACH DATABASE ? AS mem", (self._uri,))
        conn.executescript(_VIEWS)
        return conn

    # ---- writes ------------------------------------------------------------------------------
    async def apply(self, writes: list[Write]) -> tuple[list[Any], BatchEffects]:
        """Apply writes with the writer's own code; one result or exception per write."""
        memory, merged = await self._connections()
        await merged.call(self._fault_in, writes)
        with translated():
            async with UnitOfWork(memory) as uow:
                # Retention is the file's business: the replay applies it there (memory holds only part).
                results, effects = await uow.run(apply_batch, writes, None, commit=True)
        self.applied += [w for w, r in zip(writes, results, strict=True) if not isinstance(r, BaseException)]
        return results, effects

    def _fault_in(self, merged: sqlite3.Connection, writes: list[Write]) -> None:
        """Copy from the file the rows these writes depend on (runs on the twin's thread)."""
        if not self._file_readable and self.source is None:
            return
        mem = self._mem
        assert mem is not None
        deleted = {r[0] for r in mem.execute("SELECT id FROM deleted_sessions")}
        session_ids = {w.values.get("session_id", w.target) for w in writes if w.kind != "update_message"} - deleted
        message_ids = {w.target for w in writes if w.kind in ("append_message", "update_message")}
        appended_to = {w.values["session_id"] for w in writes if w.kind == "append_message"} - deleted
        rows: Rows = self.source if self.source is not None else FileRows(merged)
        try:
            messages = rows.messages(message_ids - _present(mem, "messages", message_ids))
            for sid in appended_to:
                messages += rows.newest(sid)
            messages = [m for m in messages if m[1] not in deleted]
            session_ids |= {m[1] for m in messages}
            sessions = rows.sessions(session_ids - _present(mem, "sessions", session_ids))
        except sqlite3.DatabaseError as exc:
            self._file_lost(exc)  # from now on memory stands alone, as if over an empty file
            return
        mem.execute("BEGIN")
        mem.executemany(f"INSERT OR IGNORE INTO sessions ({SESSION_COLUMNS}) VALUES ({_marks(SESSION_COLUMNS)})",
                        sessions)
        # the file's index has these (search.text.FILE_INDEXED) until memory writes them
        mem.executemany(f"INSERT OR IGNORE INTO messages ({MESSAGE_COLUMNS}, search_doc) "
                        f"VALUES ({_marks(MESSAGE_COLUMNS)}, {FILE_INDEXED})", messages)
        mem.execute("COMMIT")

    # ---- reads -------------------------------------------------------------------------------
    async def fetch(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        """Run one of the store's reads over memory laid on the file."""
        args = tuple(params)
        _, merged = await self._connections()
        try:
            return await merged.call(_fetch, sql, args)
        except sqlite3.DatabaseError as exc:
            if not self._file_readable or "locked" in str(exc):
                raise
            self._file_lost(exc)  # the file broke under the read (a damaged page, an I/O error)
            _, merged = await self._connections()
            return await merged.call(_fetch, sql, args)

    # ---- lifecycle ---------------------------------------------------------------------------
    async def clear(self) -> None:
        """Forget everything (the file has taken it all): close both connections; the next use starts afresh."""
        self.applied = []
        self._file_readable, self._lost_file = self.source is None, False
        for conn in (self._reads, self._writes):  # the attaching connection goes first
            if conn is not None:
                await conn.close()
        self._reads = self._writes = None
        self._mem = None

    async def close(self) -> None:
        """Release the connections and the thread."""
        await self.clear()
        if self.source is not None:
            self._executor.submit(self.source.close)  # on the thread that used it
        self._executor.shutdown(wait=True)

    def abandon(self) -> None:
        """Stop the thread without a running loop (a store garbage-collected unclosed)."""
        for conn in (self._reads, self._writes):
            if conn is not None:
                conn.abandon()
        self._executor.shutdown(wait=False)


def _fetch(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[Any]:
    return conn.execute(sql, params).fetchall()


def _marks(columns: str) -> str:
    return ", ".join("?" * len(columns.split(",")))


def _present(mem: sqlite3.Connection, table: str, keys: set[str]) -> set[str]:
    return {r[0] for r in _select_in(mem, f"SELECT id FROM {table} WHERE id IN ({{}})", keys)}


def _select_in(conn: sqlite3.Connection, sql: str, keys: Iterable[Any]) -> list[Any]:
    keys = list(keys)
    rows: list[Any] = []
    for start in range(0, len(keys), MAX_PARAMS):
        chunk: Sequence[Any] = keys[start : start + MAX_PARAMS]
        rows += conn.execute(sql.format(",".join("?" * len(chunk))), chunk).fetchall()
    return rows


class Rows(Protocol):
    """Where the twin faults rows in from: MESSAGE_COLUMNS and SESSION_COLUMNS rows by id."""

    def messages(self, ids: set[str]) -> list[Any]:
        """The messages with these ids."""

    def newest(self, session_id: str) -> list[Any]:
        """A session's newest message (none: an empty list), so memory counts seq on from it."""

    def sessions(self, ids: set[str]) -> list[Any]:
        """The sessions with these ids."""


class Source(Rows, Protocol):
    """Rows from a database that is not a file the twin can attach (a server)."""

    def usage_seq(self) -> int:
        """The highest usage id handed out, so memory's ids go on from it."""

    def close(self) -> None:
        """Release what it holds open."""


class FileRows:
    """The database file's rows, through the twin's merged connection (its `main` schema)."""

    def __init__(self, merged: sqlite3.Connection) -> None:
        self.merged = merged

    def messages(self, ids: set[str]) -> list[Any]:
        """The messages with these ids."""
        return _select_in(self.merged, f"SELECT {MESSAGE_COLUMNS} FROM main.messages WHERE id IN ({{}})", ids)

    def newest(self, session_id: str) -> list[Any]:
        """A session's newest message in the file, so memory counts seq on from it."""
        sql = f"SELECT {MESSAGE_COLUMNS} FROM main.messages{{}} WHERE session_id = ? ORDER BY seq DESC LIMIT 1"
        try:
            return self.merged.execute(sql.format(""), (session_id,)).fetchall()
        except sqlite3.DatabaseError:
            # The damage may be in the index alone: the table can still answer, by a full scan.
            return self.merged.execute(sql.format(" NOT INDEXED"), (session_id,)).fetchall()

    def sessions(self, ids: set[str]) -> list[Any]:
        """The sessions with these ids."""
        return _select_in(self.merged, f"SELECT {SESSION_COLUMNS} FROM main.sessions WHERE id IN ({{}})", ids)

"""The store's one read path: a reader connection, or, while degraded, memory laid over the file (one rule)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import EllipsisType
from typing import Any

from .. import errors
from ..backends.sqlite import integrity
from ..backends.sqlite.readers import ReaderPool
from ..degraded.memory import MemoryTwin
from ..errors import CorruptDatabaseError, ValidationError
from ..lines import codec
from ..lines import runs as archive_lines
from ..models import Message, Session
from ..search import query as queries
from ..tables.rows import (LINE_AT, MESSAGE_READ, READ_WIDTH, SESSION_COLUMNS, build_all, message_from_row,
                           session_from_row)


class Reads:
    """Runs the store's SQL reads; every read method goes through `fetch`, degraded or not."""

    def __init__(
        self, path: Path, pool: ReaderPool, *, degraded: Callable[[], bool], memory: MemoryTwin | None
    ) -> None:
        self.path = path
        self.pool = pool
        self._degraded = degraded
        self._memory = memory

    @property
    def read_only(self) -> bool:
        """The store was opened read-only (its reads write nothing, not even a suspect marker)."""
        return self.pool.read_only

    @property
    def degraded(self) -> bool:
        """Reads are memory laid over the file (the store is degraded)."""
        return self._degraded() and self._memory is not None

    @property
    def file_unread(self) -> bool:
        """Degraded, and the file cannot be read: reads show only what memory holds."""
        return self.degraded and self._memory is not None and not self._memory.file_readable

    async def fetch(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        """The rows of one SELECT: from the file (WAL: never waits behind the writer), or from memory over it."""
        if self._degraded() and self._memory is not None:
            with errors.translated():
                return await self._memory.fetch(sql, params)
        try:
            with errors.translated():
                return await self.pool.fetchall(sql, params)
        except CorruptDatabaseError as exc:
            if not self.read_only:
                integrity.mark_suspect(self.path, str(exc))  # the next start checks in full and repairs
            raise

    async def one(self, sql: str, params: Iterable[Any] = ()) -> Any:
        """The first column of the first row (None when there is no row)."""
        rows = await self.fetch(sql, params)
        return rows[0][0] if rows else None

    # ---- what the store reads: every statement of the read path ----------------------------
    async def session(self, session_id: str) -> Session | None:
        """One session by id."""
        rows = await self.fetch(f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?", (session_id,))
        return session_from_row(rows[0]) if rows else None

    async def sessions(self, *, status: str | None, limit: int, offset: int) -> list[Session]:
        """Sessions, most recently updated first (limit -1: all)."""
        where, params = ("WHERE status = ? ", [status]) if status is not None else ("", [])
        sql = f"SELECT {SESSION_COLUMNS} FROM sessions {where}ORDER BY updated_at DESC, id LIMIT ? OFFSET ?"
        return build_all(session_from_row, await self.fetch(sql, [*params, limit, offset]))

    async def session_of_claude(self, claude_session_id: str) -> Session | None:
        """The oldest session that mirrors a Claude Code session id."""
        sql = f"SELECT {SESSION_COLUMNS} FROM sessions WHERE claude_session_id = ? ORDER BY created_at, id LIMIT 1"
        rows = await self.fetch(sql, (claude_session_id,))
        return session_from_row(rows[0]) if rows else None

    async def owners(self, message_ids: Sequence[str]) -> dict[str, str]:
        """The session of each of these message ids that the database holds."""
        owners: dict[str, str] = {}
        for start in range(0, len(message_ids), 500):
            chunk = list(message_ids[start : start + 500])
            sql = f"SELECT id, session_id FROM messages WHERE id IN ({', '.join('?' * len(chunk))})"
            owners.update((r[0], r[1]) for r in await self.fetch(sql, chunk))
        return owners

    async def messages(self, session_id: str, *, thread: str | None | EllipsisType, before: int | None,
                       limit: int | None, after: int | None = None) -> list[Message]:
        """A session's newest `limit` messages of a thread (None: the main one, ...: all), oldest first; with
        `after`, the oldest `limit` past that seq."""
        where = "session_id = ?"
        params: list[Any] = [session_id]
        if thread is None:
            where += " AND thread IS NULL"
        elif thread is not ...:
            where += " AND thread = ?"
            params.append(thread)
        if before is not None:
            where += " AND seq < ?"
            params.append(before)
        if after is not None:
            where += " AND seq > ?"
            params.append(after)
        if limit is None or after is not None:  # all of them, or the oldest `limit` after a seq
            tail = "" if limit is None else " LIMIT ?"
            rows = await self.fetch(f"SELECT {MESSAGE_READ} FROM messages WHERE {where} ORDER BY seq{tail}",
                                    params if limit is None else [*params, limit])
        else:
            rows = await self.fetch(f"SELECT {MESSAGE_READ} FROM messages WHERE {where} ORDER BY seq DESC LIMIT ?",
                                    [*params, limit])
            rows.reverse()
        return build_all(message_from_row, await self.with_lines(rows, LINE_AT))

    async def pending_secrets(self, where: str, params: list[Any]) -> list[Any]:
        """Findings rows (as Store.secrets reads them) of the messages still queued for the scanner, found now."""
        from ..search.text import indexed, text_of
        from ..secrets import found

        rows = await self.fetch(f"SELECT {queries.QUALIFIED_READ}, s.name, s.updated_at FROM secret_scans AS q "
                                "JOIN messages ON messages.id = q.message_id JOIN sessions AS s ON s.id = messages.session_id "
                                f"{where}", params)
        out = []
        for r in await self.with_lines(rows, LINE_AT):
            m = message_from_row(r[:READ_WIDTH])
            for kind, preview in found.pairs(indexed(text_of(m.content, m.tool_uses, m.payload))):
                out.append((m.session_id, r[READ_WIDTH], m.id, m.seq, m.thread, m.line, kind, preview,
                            r[READ_WIDTH + 1]))
        return out

    async def threads(self, session_id: str) -> list[str]:
        """A session's subagent threads, in the order they began."""
        rows = await self.fetch("SELECT thread, MIN(seq) FROM messages WHERE session_id = ? AND thread IS NOT NULL "
                                "GROUP BY thread ORDER BY 2", (session_id,))
        return [r[0] for r in rows]

    async def count_sessions(self) -> int:
        """How many sessions the database holds."""
        return int(await self.one("SELECT COUNT(*) FROM sessions"))

    async def count_messages(self, session_id: str) -> int:
        """How many messages a session holds."""
        return int(await self.one("SELECT COUNT(*) FROM messages WHERE session_id = ?", (session_id,)))

    async def search(self, query: str, expression: str, where: str, params: list[Any], *, limit: int, offset: int,
                     raw: bool, redact: bool = False) -> queries.SearchHits:
        """The hits of an FTS5 expression under the filters, best first (the file, or memory over it)."""
        hits = queries.SearchHits()
        degraded = self.degraded
        # degraded, reads are the memory twin's (SQLite, FTS5), whatever the database is
        dialect = "sqlite" if degraded else getattr(self.pool, "dialect", "sqlite")
        if dialect == "postgresql":
            if raw:
                raise ValidationError("raw FTS5 queries are SQLite's: on PostgreSQL, search with words, "
                                      '"phrases" and prefix*')
            expression = queries.pg_expression(query)
        try:
            # the newest RANK_WINDOW matches are ranked (queries.RANK_WINDOW says why); memory's few
            # writes of degraded mode are all ranked
            floor = await self.one(queries.window_sql(where, dialect), (expression, *params, queries.RANK_WINDOW))
            hits.ranked_newest = floor is not None
            parts = [[expression, floor or 0, *params]]
            if degraded:
                parts.insert(0, [expression, 0, *params])
            rows = await self.fetch(queries.query_sql(where, degraded=degraded, dialect=dialect),
                                    [a for part in parts for a in part] + [limit, offset])
        except errors.DatabaseError as exc:
            if raw and queries.is_syntax_error(exc):
                raise ValidationError(f"not a valid FTS5 query: {query!r}") from None
            raise
        terms = queries.terms(query)
        hits += [queries.hit_from_row(r, terms, redact) for r in await self.with_lines(rows, LINE_AT)]
        if self.file_unread:
            hits.complete = False
            hits.note = "the database file cannot be read: only the writes held in memory were searched"
        elif hits.ranked_newest:
            hits.note = (f"more than {queries.RANK_WINDOW:,} messages match: these are the best of the newest "
                         f"{queries.RANK_WINDOW:,} (add a word or a filter to reach older ones)")
        return hits

    async def with_lines(self, rows: list[Any], at: int) -> list[Any]:
        """MESSAGE_READ rows with each synced message's line in column `at` (lines.runs.with_lines)."""
        ids = archive_lines.wanted(rows, at)
        if not ids:
            return rows
        runs: list[Any] = []
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            runs += await self.fetch(archive_lines.RUNS_BY_ID.format(",".join("?" * len(part))), part)
        try:
            return archive_lines.with_lines(rows, runs, at)
        except codec.UnknownDictionary:
            await self.load_dictionaries()  # another process trained one since: load, decode again
            return archive_lines.with_lines(rows, runs, at)

    async def load_dictionaries(self) -> None:
        """Load the archive's zstd dictionaries (raw transcript lines are compressed with them)."""
        for dict_id, data in await self.fetch("SELECT id, data FROM archive_dicts"):
            codec.register(dict_id, data)

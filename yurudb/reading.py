"""What every part of the store shares: its connections, the read path, and reads while degraded."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import errors, integrity
from .models import Message, Session
from .errors import CorruptDatabaseError, DatabaseError, NotFoundError, StoreClosedError
from .fallback import Overlay
from .readers import ReaderPool
from .rows import MESSAGE_COLUMNS, SESSION_COLUMNS, message_from_row, session_from_row
from .writer import Writer


class StoreBase:
    """Connections and reads; `Store` builds the public API on top."""

    path: Path
    _writer: Writer
    _readers: ReaderPool
    _closed: bool

    def _live(self) -> None:
        if self._closed:
            raise StoreClosedError("the store is closed")

    async def _read(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        """One read on a reader connection (WAL: never waits behind the writer)."""
        try:
            with errors.translated():
                return await self._readers.fetchall(sql, params)
        except CorruptDatabaseError as exc:
            if not self._readers.read_only:  # a read-only store writes nothing, not even this note
                integrity.mark_suspect(self.path, str(exc))  # the next start checks in full and repairs
            raise

    # ---- degraded mode: the database merged with what only memory holds ----------------------
    def _overlay(self) -> Overlay:
        assert self._writer.fallback is not None
        return self._writer.fallback.overlay

    async def _read_or_nothing(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        """A read that returns nothing instead of failing (the database may be unreadable while degraded)."""
        try:
            return await self._read(sql, params)
        except DatabaseError:
            return []

    async def _db_session(self, session_id: str) -> Session | None:
        rows = await self._read_or_nothing(f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?", (session_id,))
        return session_from_row(rows[0]) if rows else None

    async def _db_message(self, message_id: str) -> Message | None:
        rows = await self._read_or_nothing(f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,))
        return message_from_row(rows[0]) if rows else None

    async def _db_max_seq(self, session_id: str) -> int:
        try:
            rows = await self._read("SELECT MAX(seq) FROM messages WHERE session_id = ?", (session_id,))
        except DatabaseError:
            # The damage may be in the index alone: the table can still answer, by a full scan
            # (once per session: the overlay counts on from there).
            rows = await self._read_or_nothing(
                "SELECT MAX(seq) FROM messages NOT INDEXED WHERE session_id = ?", (session_id,))
        return int(rows[0][0] or 0) if rows else 0

    async def _overlay_session(self, session_id: str) -> Session | None:
        overlay = self._overlay()
        if session_id in overlay.sessions:
            return overlay.sessions[session_id]
        return await self._db_session(session_id)

    async def _overlay_messages(self, session_id: str, limit: int | None, before: int | None) -> list[Message]:
        if await self._overlay_session(session_id) is None:
            raise NotFoundError(f"session {session_id} not found")
        rows = await self._read_or_nothing(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE session_id = ? ORDER BY seq", (session_id,))
        merged = self._overlay().merge_messages(session_id, [message_from_row(r) for r in rows])
        if before is not None:
            merged = [m for m in merged if m.seq < before]
        return merged if limit is None else merged[-limit:] if limit else []

"""Degraded mode on a PostgreSQL server: the rows the in-memory twin faults in, from the server or, while it
cannot be reached, from what the store holds in memory.

A write held in memory needs the rows it builds on (its session; for an append, the session's
newest message for the next seq). While the server answers they are read from it; while it does
not, a session the store has in its session cache (every session the app opened, listed or wrote)
is taken from there, and an append counts seq on from memory alone. The replay into the server
works out seq again, so the order the messages were acknowledged in is the order they keep.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..backends.postgres.dialect import statement
from ..backends.postgres.engine import connect_sync
from ..tables.rows import MESSAGE_COLUMNS, SESSION_COLUMNS

log = logging.getLogger(__name__)

# After a failed connect, the server is taken as down for this long: a held write never waits on
# a connect timeout more than once in that time.
DOWN_FOR_S = 5.0
CONNECT_TIMEOUT_MS = 1_000


class ServerRows:
    """The twin's rows from a server (on the twin's thread), else from `known` (the store's cached sessions)."""

    def __init__(self, url: str, known: Callable[[Iterable[str]], list[tuple[Any, ...]]]) -> None:
        self.url = url
        self.known = known
        self._conn: Any = None
        self._down_until = 0.0

    def _rows(self, sql: str, params: tuple[Any, ...]) -> list[Any] | None:
        """The rows of one SELECT on the server; None while it cannot be reached."""
        if time.monotonic() < self._down_until:
            return None
        try:
            if self._conn is None or self._conn.closed:
                self._conn = connect_sync(self.url, busy_timeout_ms=CONNECT_TIMEOUT_MS, decode_text=True)
            st = statement(sql)
            return [tuple(r) for r in self._conn.execute(st.sql, st.params(params)).fetchall()]
        except Exception as exc:  # any failure to read is the server being away, for this purpose
            log.info("yurudb degraded: the server cannot be read (%s); memory goes on from what it holds", exc)
            self._down_until = time.monotonic() + DOWN_FOR_S
            self.close()
            return None

    def messages(self, ids: set[str]) -> list[Any]:
        """The messages with these ids (none while the server is away: an update of one then fails)."""
        if not ids:
            return []
        return self._rows(f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id IN ({','.join('?' * len(ids))})",
                          tuple(ids)) or []

    def newest(self, session_id: str) -> list[Any]:
        """A session's newest message on the server (none while it is away)."""
        return self._rows(f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE session_id = ? ORDER BY seq DESC LIMIT 1",
                          (session_id,)) or []

    def sessions(self, ids: set[str]) -> list[Any]:
        """The sessions with these ids: the server's, else the ones the store has cached."""
        if not ids:
            return []
        rows = self._rows(f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id IN ({','.join('?' * len(ids))})",
                          tuple(ids))
        return rows if rows is not None else self.known(ids)

    def usage_seq(self) -> int:
        """The highest usage id the server handed out (0 while it is away: the replay numbers them anew)."""
        rows = self._rows("SELECT COALESCE(MAX(id), 0) FROM analytics", ())
        return int(rows[0][0]) if rows else 0

    def close(self) -> None:
        """Drop the connection."""
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # already broken
                pass
            self._conn = None

"""The session cache: sessions by id, kept exact by every committed batch (in the file or in memory)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from ..models import Session
from ..writes.batch import BatchEffects


class SessionCache:
    """Sessions read or written through this store; a read that raced a commit never caches its older row."""

    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}
        # Bumped by every commit: a read that started before one must not cache what it read.
        self.generation = 0
        # updated_at moved by message writes, folded into cached rows only when read (streaming
        # moves it on every batch; copying the row each time would cost more than the write).
        self._touched: dict[str, datetime] = {}

    def get(self, session_id: str) -> Session | None:
        """The cached session with its latest updated_at, or None."""
        cached = self._sessions.get(session_id)
        if cached is None:
            return None
        touched = self._touched.pop(session_id, None)
        if touched is not None and touched > cached.updated_at:
            cached = self._sessions[session_id] = cached.model_copy(update={"updated_at": touched})
        return cached

    def put(self, sessions: Iterable[Session], generation: int) -> None:
        """Cache sessions read when the generation was `generation` (dropped if a commit came since)."""
        if generation != self.generation:
            return
        for s in sessions:
            self._sessions[s.id] = s
            self._touched.pop(s.id, None)

    def apply(self, effects: BatchEffects) -> None:
        """Fold a committed batch in."""
        self.generation += 1
        for sid, session in effects.sessions.items():
            self._touched.pop(sid, None)
            if session is None:
                self._sessions.pop(sid, None)
            else:
                self._sessions[sid] = session
        self._touched.update(effects.touched)

    def clear(self) -> None:
        """Forget everything (what memory served while degraded may differ from the file's rows)."""
        self._sessions.clear()
        self._touched.clear()
        self.generation += 1

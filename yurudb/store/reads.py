"""The store's one read path: a reader connection, or, while degraded, memory laid over the file (one rule)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .. import errors
from ..backends.sqlite import integrity
from ..backends.sqlite.readers import ReaderPool
from ..degraded.memory import MemoryTwin
from ..errors import CorruptDatabaseError


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

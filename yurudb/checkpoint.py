"""WAL checkpoints off the write path: a background task on its own connection, PASSIVE, after commits."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Protocol

import aiosqlite

from .engine import Durability, pragmas

log = logging.getLogger(__name__)


class _Commits(Protocol):
    commits: int


class Checkpointer:
    """Copies committed WAL frames into the database file every `interval` seconds when there were commits.

    The writer connection runs with wal_autocheckpoint=0, because SQLite's automatic checkpoint runs
    inside whichever commit crosses the threshold and adds tens of ms to that one save. PASSIVE
    never blocks the writer or the readers.
    """

    def __init__(self, path: Path, writer: _Commits, durability: Durability, interval: float = 0.25) -> None:
        self.path = path
        self.writer = writer
        self.durability = durability
        self.interval = interval
        self.checkpoints = 0
        self._conn: aiosqlite.Connection | None = None

    async def run(self) -> None:
        """Loop until cancelled."""
        seen = self.writer.commits
        while True:
            await asyncio.sleep(self.interval)
            if self.writer.commits != seen:
                seen = self.writer.commits
                await self.checkpoint("PASSIVE")

    async def checkpoint(self, mode: str = "PASSIVE") -> None:
        """One checkpoint; failures are logged (the next one will try again), never raised."""
        try:
            if self._conn is None:
                self._conn = await aiosqlite.connect(self.path, isolation_level=None)
                for stmt in pragmas(self.durability):
                    await self._conn.execute(stmt)
            await self._conn.execute(f"PRAGMA wal_checkpoint({mode})")
            self.checkpoints += 1
        except Exception as exc:  # the database may be degraded or locked; try again next time
            log.debug("checkpoint failed: %s", exc)

    async def close(self) -> None:
        """Leave a truncated WAL behind and close the connection."""
        if self._conn is not None:
            await self.checkpoint("TRUNCATE")
            await self._conn.close()
            self._conn = None

"""Degraded mode: the spill journal beside the database, and the policy around the in-memory twin (yurudb/memory.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..errors import STORAGE_FAULTS
from ..events import Degraded, Recovered, Retrying
from ..times import now_text
from ..validation import new_id, now_ms
from ..writes.batch import BatchEffects
from ..writes.ops import Write, coalesce
from .memory import MemoryTwin

log = logging.getLogger(__name__)


def journal_path(db: Path) -> Path:
    """The spill journal of a database: `<name>.journal` beside it."""
    return db.with_name(db.name + ".journal")


class SpillJournal:
    """Append-only JSON lines, fsynced per append; replayed (idempotently) when the database works again."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writable = True
        # Set when the file exists but could not be read: it may hold writes we never replayed,
        # so it is set aside instead of removed.
        self.unread = False

    def append(self, writes: list[Write]) -> bool:
        """Append and fsync; False when the folder cannot be written (the writes then live in memory only)."""
        data = "".join(json.dumps(w.to_record(), separators=(",", ":")) + "\n" for w in writes).encode()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            if self.writable:
                log.warning("spill journal %s not writable: %s", self.path, exc)
            self.writable = False
            return False
        self.writable = True
        return True

    def files(self) -> list[Path]:
        """Journals to replay, oldest first: ones set aside unread by an earlier run, then the current one."""
        aside = sorted(self.path.parent.glob(f"{self.path.name}.unreplayed-*"),
                       key=lambda p: int(p.name.rsplit("-", 1)[1]) if p.name.rsplit("-", 1)[1].isdigit() else 0)
        return [*aside, self.path]

    def read(self) -> tuple[list[Write], int]:
        """Every complete entry, in order, and how many lines were unreadable (a torn last line after a crash)."""
        writes: list[Write] = []
        bad = 0
        try:
            files = self.files()
        except OSError:
            files = [self.path]
        for path in files:
            try:
                raw = path.read_bytes()
            except FileNotFoundError:
                continue
            except OSError as exc:
                log.error("spill journal %s cannot be read (%s); it is kept for a later start", path, exc)
                self.unread = True
                continue
            for line in raw.splitlines():
                if not line.strip():
                    continue
                try:
                    writes.append(Write.from_record(json.loads(line)))
                except (ValueError, KeyError, TypeError):
                    bad += 1
        return writes, bad

    def clear(self) -> None:
        """Remove the journal once its writes are committed to the database."""
        try:
            if self.unread and self.path.exists():
                aside = self.path.with_name(f"{self.path.name}.unreplayed-{now_ms()}")
                os.replace(self.path, aside)
                log.error("spill journal set aside unreplayed as %s", aside)
                self.unread = False
                return
            for path in self.files():
                path.unlink(missing_ok=True)
        except OSError as exc:  # a later replay is idempotent; keeping it is safe
            log.warning("could not remove spill journal %s: %s", self.path, exc)


class Fallback:
    """The degraded-mode policy: journal + in-memory twin, exponential backoff, and the way back to `ready`."""

    def __init__(
        self,
        db: Path,
        emit: Callable[[Any], None],
        *,
        first_delay: float = 0.1,
        max_delay: float = 30.0,
        busy_timeout_ms: int = 5_000,
        on_applied: Callable[[BatchEffects], None] | None = None,
        prepare: Callable[[], Awaitable[Any]] | None = None,
        memory: MemoryTwin | None = None,
    ) -> None:
        self.journal = SpillJournal(journal_path(db))
        self.memory = memory if memory is not None else MemoryTwin(db, busy_timeout_ms=busy_timeout_ms)
        # Run before each replay attempt (start-up's is "migrate if behind": a database that could
        # not be created at start-up has no tables yet when it comes back).
        self.prepare = prepare
        self.emit = emit
        # What a batch applied in memory changed (the store keeps its session cache exact with it).
        self.on_applied = on_applied
        self.active = False
        self.attempts = 0
        self.first_delay, self.max_delay = first_delay, max_delay
        self.delay = first_delay
        self._retry_at = 0.0

    def handles(self, exc: BaseException) -> bool:
        """Whether this failure should degrade the store instead of failing the callers."""
        return isinstance(exc, STORAGE_FAULTS)

    def enter(self, reason: str, now: float) -> None:
        """Switch to degraded (idempotent)."""
        if not self.active:
            self.active = True
            self.delay = self.first_delay
            self._retry_at = now + self.delay
            log.warning("yurudb degraded: %s", reason)
            self.emit(Degraded(reason=reason, journal=str(self.journal.path)))

    def seconds_to_retry(self, now: float) -> float:
        """How long until the next attempt on the database."""
        return max(0.0, self._retry_at - now)

    async def accept(self, writes: list[Write], *, journal: bool = True) -> None:
        """Take writes in memory (and the journal), then answer their callers."""
        writes = coalesce(writes)
        acknowledged = now_text()
        for w in writes:
            # the time its caller hears "saved": memory and the replay into the file both use it
            w.values.setdefault("at", acknowledged)
            if w.kind == "record_usage" and w.values.get("source_id") is None:
                # Replaying the journal twice (a crash between commit and clear) must not count twice.
                w.values["source_id"] = f"yurudb-journal:{new_id()}"
        results, effects = await self.memory.apply(writes)
        accepted = [w for w, r in zip(writes, results, strict=True) if not isinstance(r, BaseException)]
        if journal and accepted:
            # fsynced before anyone hears "saved", on a worker thread: an fsync can take milliseconds
            # and the event loop serves every other caller meanwhile (the writer task awaits it, so
            # journal order stays the order of acceptance)
            await asyncio.to_thread(self.journal.append, accepted)
        if self.on_applied is not None:
            self.on_applied(effects)
        for w, r in zip(writes, results, strict=True):
            if isinstance(r, BaseException):
                w.fail(r)
            else:
                w.resolve(r)

    def retry_failed(self, exc: BaseException, now: float) -> None:
        """Back off after another failed attempt."""
        self.attempts += 1
        self.delay = min(self.delay * 2, self.max_delay)
        self._retry_at = now + self.delay
        self.emit(Retrying(attempt=self.attempts, delay=self.delay, reason=str(exc)))

    async def recovered(self) -> int:
        """Everything reached the database: clear the journal and memory; returns how many writes."""
        count = len(self.memory)
        self.journal.clear()
        await self.memory.clear()
        self.active = False
        self.attempts = 0
        self.emit(Recovered(replayed=count))
        return count

    def pending(self) -> list[Write]:
        """Fresh copies of what memory holds, for a replay (no callers attached)."""
        return [Write.from_record(w.to_record()) for w in self.memory.applied]

    async def close(self) -> None:
        """Release the in-memory twin."""
        await self.memory.close()

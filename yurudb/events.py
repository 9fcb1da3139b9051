"""Typed store events (recovery progress, degraded, retrying, recovered, backup restored, write failed) and their bus."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """Base of every event; `at` is time.time() when it happened."""

    at: float = field(default_factory=time.time, kw_only=True)


@dataclass(frozen=True)
class RecoveryProgress(Event):
    """A start-up step finished (the app shows a loading state until `ready`)."""

    step: str
    ms: float
    detail: str = ""
    done: int | None = None  # a long step's progress (a revision indexing messages): done of total
    total: int | None = None


@dataclass(frozen=True)
class Degraded(Event):
    """The database failed; the store keeps working in memory (and in the spill journal)."""

    reason: str
    journal: str | None = None


@dataclass(frozen=True)
class Retrying(Event):
    """Another attempt to reach the database is scheduled."""

    attempt: int
    delay: float
    reason: str


@dataclass(frozen=True)
class Recovered(Event):
    """The database works again; everything kept in memory was written to it."""

    replayed: int


@dataclass(frozen=True)
class BackupRestored(Event):
    """A corrupt database was quarantined and a backup put in its place."""

    backup: str | None
    quarantined: tuple[str, ...]


@dataclass(frozen=True)
class WriteFailed(Event):
    """Writes could not be stored anywhere; their callers got the error."""

    error: str
    writes: int


@dataclass(frozen=True)
class MessagesDeleted(Event):
    """Retention (`retention="delete"`, opt-in) deleted a session's oldest messages."""

    session_id: str
    count: int


@dataclass(frozen=True)
class LinesArchived(Event):
    """A watch (`yurudb serve --watch`) archived new lines Claude Code wrote."""

    root: str
    lines: int
    files: int
    last_session: str | None


Listener = Callable[[Event], object]


class EventBus:
    """Fan-out of events to callbacks and async iterators; a failing listener never breaks the store."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._queues: list[asyncio.Queue[Event | None]] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(event)` for every event; returns a function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    async def stream(self) -> AsyncIterator[Event]:
        """`async for event in store.events(): ...` until the store closes."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._queues.append(queue)
        try:
            while (event := await queue.get()) is not None:
                yield event
        finally:
            self._queues.remove(queue)

    def emit(self, event: Event) -> None:
        """Deliver an event to everyone listening."""
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # the app's bug must not take the store down
                log.exception("yurudb event listener failed")
        for queue in self._queues:
            queue.put_nowait(event)

    def close(self) -> None:
        """End every async iterator."""
        for queue in self._queues:
            queue.put_nowait(None)

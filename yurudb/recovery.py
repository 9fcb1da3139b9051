"""Start-up: the recovery coordinator that `yurudb.open` runs, and its report."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import migrations, paths
from .checkpoint import Checkpointer
from .dbthread import ThreadConnection
from .engine import Durability, create_engine, pragmas
from .errors import ValidationError
from .store import Store
from .writer import Writer

INDEX_PRELOAD = 200  # sessions put in the cache at start-up: the sidebar's first screen


@dataclass
class StepTiming:
    """One start-up step and how long it took."""

    name: str
    ms: float
    detail: str = ""


@dataclass
class RecoveryReport:
    """What start-up found and did."""

    path: str = ""
    steps: list[StepTiming] = field(default_factory=list)
    sessions_restored: int = 0
    sessions_interrupted: int = 0
    journal_entries_replayed: int = 0
    migrated_from: str | None = None
    migrated_to: str | None = None
    backup_restored: str | None = None
    backup_made: str | None = None
    quarantined: list[str] = field(default_factory=list)
    state: str = "starting"
    error: str | None = None

    @property
    def total_ms(self) -> float:
        """Start-up time in milliseconds."""
        return sum(s.ms for s in self.steps)


class _Timer:
    def __init__(self, report: RecoveryReport) -> None:
        self.report = report

    def step(self, name: str) -> _Step:
        return _Step(self.report, name)


class _Step:
    def __init__(self, report: RecoveryReport, name: str) -> None:
        self.report, self.name, self.detail = report, name, ""

    def __enter__(self) -> _Step:
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.report.steps.append(StepTiming(self.name, (time.perf_counter() - self.t0) * 1000, self.detail))


@dataclass
class Options:
    """Everything `open` accepts besides the path."""

    durability: Durability = "full"
    max_messages_per_session: int = 10_000
    batch_size: int = 500
    linger_ms: float = 0.0
    queue_size: int = 10_000
    readers: int = 4
    busy_timeout_ms: int = 5_000
    checkpoint_interval: float = 0.25

    def validate(self) -> None:
        """ValidationError for options that cannot work."""
        pragmas(self.durability)
        for name in ("max_messages_per_session", "batch_size", "queue_size", "readers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValidationError(f"{name} must be a positive integer, not {value!r}")


async def start(path: str | Path | None, options: Options) -> Store:
    """Run every start-up step and return a ready store."""
    options.validate()
    report = RecoveryReport()
    timer = _Timer(report)
    with timer.step("resolve path"):
        db = paths.prepare(paths.resolve(path))
        report.path = str(db)
    common = {"durability": options.durability, "busy_timeout_ms": options.busy_timeout_ms}
    readers = create_engine(db, role="reader", pool_size=options.readers, **common)
    maintenance = create_engine(db, role="maintenance", **common)
    engines = [readers]
    try:
        with timer.step("migrate") as step:
            current = await migrations.current_revision(readers)
            if current != migrations.head_revision():
                report.migrated_from = current
                report.migrated_to = await migrations.migrate(maintenance)
                step.detail = f"{current or '<blank>'} -> {report.migrated_to}"
        with timer.step("mark interrupted"):
            async with maintenance.begin() as conn:
                result = await conn.exec_driver_sql(
                    "UPDATE sessions SET status = 'interrupted' WHERE status = 'active'"
                )
                report.sessions_interrupted = result.rowcount
    except BaseException:
        await readers.dispose()
        raise
    finally:
        await maintenance.dispose()
    writer = Writer(
        ThreadConnection(db, durability=options.durability, busy_timeout_ms=options.busy_timeout_ms), batch_size=options.batch_size, linger=options.linger_ms / 1000,
        queue_size=options.queue_size, max_messages=options.max_messages_per_session,
    )
    store = Store(db, writer, readers, engines=engines)
    store.recovery = report
    writer.start()
    with timer.step("load session index"):
        report.sessions_restored = await store.count_sessions()
        await store.list_sessions(limit=INDEX_PRELOAD)
    checkpointer = Checkpointer(db, writer, options.durability, options.checkpoint_interval)
    store._attach_checkpointer(checkpointer)
    store.state = report.state = "ready"
    return store


class Opening:
    """What `yurudb.open()` returns: await it for a store, or use it as `async with`."""

    def __init__(self, path: str | Path | None, options: Options) -> None:
        self._path, self._options = path, options
        self._store: Store | None = None

    def __await__(self) -> Generator[Any, None, Store]:
        return start(self._path, self._options).__await__()

    async def __aenter__(self) -> Store:
        self._store = await start(self._path, self._options)
        return self._store

    async def __aexit__(self, *exc_info: object) -> None:
        if self._store is not None:
            await self._store.close()


def open(  # noqa: A001 - the public name the app calls: yurudb.open(...)
    path: str | Path | None = None,
    *,
    durability: Durability = "full",
    max_messages_per_session: int = 10_000,
    batch_size: int = 500,
    linger_ms: float = 0.0,
    queue_size: int = 10_000,
    readers: int = 4,
    busy_timeout_ms: int = 5_000,
) -> Opening:
    """Open (creating or upgrading) the database: `async with yurudb.open() as store` or `await yurudb.open()`."""
    return Opening(path, Options(
        durability=durability, max_messages_per_session=max_messages_per_session, batch_size=batch_size,
        linger_ms=linger_ms, queue_size=queue_size, readers=readers, busy_timeout_ms=busy_timeout_ms,
    ))

"""Start-up, the deciding half: what the file needs (a verdict on its health, its schema, a pending
salvage), the options, and the report. yurudb/recovery.py does what these decide."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..backends.sqlite import backup, integrity, revision
from ..backends.sqlite.engine import Durability, pragmas
from ..errors import ValidationError
from ..events import EventBus, RecoveryProgress
from . import salvage
from .salvage import SalvageReport


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
    journal_entries_pending: int = 0
    migrated_from: str | None = None
    migrated_to: str | None = None
    backup_restored: str | None = None
    backup_made: str | None = None
    quarantined: list[str] = field(default_factory=list)
    salvage: SalvageReport | None = None  # rows rescued from a quarantined file
    state: str = "starting"
    error: str | None = None

    @property
    def total_ms(self) -> float:
        """Start-up time in milliseconds."""
        return sum(s.ms for s in self.steps)


class Steps:
    """Times each start-up step into the report and announces it as a RecoveryProgress event."""

    def __init__(self, report: RecoveryReport, bus: EventBus) -> None:
        self.report, self.bus = report, bus

    @contextmanager
    def step(self, name: str) -> Iterator[StepTiming]:
        timing = StepTiming(name, 0.0)
        t0 = time.perf_counter()
        try:
            yield timing
        finally:
            timing.ms = (time.perf_counter() - t0) * 1000
            self.report.steps.append(timing)
            self.bus.emit(RecoveryProgress(step=name, ms=timing.ms, detail=timing.detail))


@dataclass
class Options:
    """Everything `open` accepts besides the path."""

    durability: Durability = "full"
    max_messages_per_session: int = 10_000
    retention: str = "keep"  # "delete": keep only the window, deleting older messages (opt-in)
    batch_size: int = 500
    linger_ms: float = 0.0
    queue_size: int = 10_000
    readers: int = 4
    busy_timeout_ms: int = 5_000
    checkpoint_interval: float = 0.1
    backup_keep: int = backup.KEEP
    daily_backup: bool = True
    max_size_bytes: int | None = None
    read_only: bool = False
    repair: bool = True  # False: a damaged file is reported (CorruptDatabaseError), never moved
    index_search: bool = True  # False: writes leave the full-text index behind (bulk loads, benchmarks)

    @property
    def keep_messages(self) -> int | None:
        """What the writer's retention keeps per session: None unless retention="delete"."""
        return self.max_messages_per_session if self.retention == "delete" else None

    def validate(self) -> None:
        """ValidationError for options that cannot work."""
        pragmas(self.durability)
        if self.retention not in ("keep", "delete"):
            raise ValidationError(f"retention must be 'keep' or 'delete', not {self.retention!r}")
        for name in ("max_messages_per_session", "batch_size", "queue_size", "readers", "backup_keep"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValidationError(f"{name} must be a positive integer, not {value!r}")


@dataclass(frozen=True)
class Verdict:
    """What the integrity check found: damage to repair, or a repair a crash left half done."""

    problem: str | None  # the file is damaged: quarantine it and restore (then salvage)
    restore_unfinished: bool  # a blank file beside a salvage marker: a crash came before the restore

    @property
    def healthy(self) -> bool:
        """Nothing to repair."""
        return self.problem is None and not self.restore_unfinished


def examine(db: Path) -> Verdict:
    """The file's health (UnavailableError when it cannot be read: that is not damage)."""
    problem = integrity.check_file(db)
    unfinished = problem is None and salvage.read_marker(db) is not None and integrity.is_blank(db)
    return Verdict(problem, unfinished)


def schema_is_current(stamped: str | None) -> bool:
    """Whether a stamped revision is this build's head (no Alembic needed to tell)."""
    return stamped == revision.HEAD


def salvage_source(db: Path) -> Path | None | bool:
    """The quarantined file a salvage must still read; None when none is pending, False when it is gone."""
    files = salvage.read_marker(db)
    if files is None:
        return None
    main = salvage.main_file(files)
    return main if main is not None and main.exists() else False


def daily_backup_due(db: Path, options: Options, sessions: int) -> bool:
    """A store with sessions that keeps daily backups and has none from the last day."""
    return options.daily_backup and sessions > 0 and backup.backup_is_due(db)

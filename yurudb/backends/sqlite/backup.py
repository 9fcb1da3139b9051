"""Online backups (SQLite's backup API), rotation, verification, and restoring one in place of the database."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from ...errors import BackupError, ValidationError
from ...paths import DIR_MODE, FILE_MODE

KEEP = 5
SUFFIX = ".db"
DAY = 86_400


def backups_dir(db: Path) -> Path:
    """`backups/` beside the database."""
    return db.parent / "backups"


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


def verify(path: Path, *, require_schema: bool = False) -> str | None:
    """None if the file is a healthy SQLite database (with yurudb's tables if asked), else what is wrong."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
    except sqlite3.Error as exc:
        return str(exc)
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            return f"integrity_check: {result}"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if require_schema and "sessions" not in tables:
            return "not a yurudb database (no sessions table)"
        return None
    except sqlite3.Error as exc:
        return str(exc)
    finally:
        conn.close()


def copy_database(source: sqlite3.Connection, dest: Path) -> Path:
    """A consistent copy of an open database through the online backup API (writers keep going)."""
    tmp = dest.with_name(dest.name + ".part")
    tmp.unlink(missing_ok=True)
    target = sqlite3.connect(tmp)
    try:
        # One step: the copy reads one WAL snapshot while writers go on beside it. Copying in
        # small steps restarts from scratch whenever another connection commits, and under a
        # steady stream of saves it never finishes (seen: 2 minutes, 60,000 saves).
        source.backup(target, pages=-1)
        target.execute("PRAGMA journal_mode = DELETE")  # a backup is one self-contained file
    finally:
        target.close()
    if os.name == "posix":
        os.chmod(tmp, FILE_MODE)
    problem = verify(tmp)
    if problem is not None:
        tmp.unlink(missing_ok=True)
        raise BackupError(f"the backup failed verification: {problem}")
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, dest)
    return dest


def make_backup(db: Path, dest: Path | None = None, *, keep: int = KEEP, label: str = "manual") -> Path:
    """Back the database up to `dest` or to a new file in backups/ (rotated to `keep` files)."""
    if not db.exists():
        raise BackupError(f"no database at {db}")
    auto = dest is None
    if dest is None:
        dest = backups_dir(db) / f"{db.stem}-{_stamp()}-{label}{SUFFIX}"
    elif not dest.parent.is_dir():
        raise ValidationError(f"cannot write backup {dest}: the folder {dest.parent} does not exist")
    try:
        if auto:
            dest.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        source = sqlite3.connect(db, timeout=5)
        try:
            copy_database(source, dest)
        finally:
            source.close()
    except sqlite3.Error as exc:
        raise BackupError(f"backup of {db} failed: {exc}") from exc
    except OSError as exc:
        raise BackupError(f"cannot write backup {dest}: {exc.strerror or exc}") from exc
    if auto:
        rotate(db, keep)
    return dest


def list_backups(db: Path) -> list[Path]:
    """Backups in backups/, newest first."""
    folder = backups_dir(db)
    if not folder.is_dir():
        return []
    found = [p for p in folder.glob(f"{db.stem}-*{SUFFIX}") if p.is_file()]
    return sorted(found, key=lambda p: (p.stat().st_mtime, p.name), reverse=True)


def rotate(db: Path, keep: int = KEEP) -> list[Path]:
    """Delete all but the newest `keep` backups; returns what was removed."""
    removed = list_backups(db)[keep:]
    for p in removed:
        p.unlink(missing_ok=True)
    return removed


def newest_good_backup(db: Path) -> Path | None:
    """The newest backup that passes verification."""
    for candidate in list_backups(db):
        if verify(candidate, require_schema=True) is None:
            return candidate
    return None


def backup_is_due(db: Path, every: float = DAY) -> bool:
    """Whether the newest backup is older than `every` seconds (or there is none)."""
    backups = list_backups(db)
    return not backups or time.time() - backups[0].stat().st_mtime >= every


def quarantine(db: Path, *, record: Callable[[list[Path]], None] | None = None) -> list[Path]:
    """Move the database and its -wal/-shm aside as *.corrupt-<timestamp>; never deletes anything.

    `record` is told the new names before anything moves (start-up writes its salvage marker then,
    so a crash halfway still leaves a note of where the damaged files went).
    """
    stamp = _stamp()
    plan = []
    for suffix in ("", "-wal", "-shm", "-journal"):
        p = Path(str(db) + suffix)
        if p.exists():
            plan.append((p, Path(f"{p}.corrupt-{stamp}")))
    if record is not None:
        record([target for _, target in plan])
    for p, target in plan:
        os.replace(p, target)
    return [target for _, target in plan]


def in_use(db: Path) -> bool:
    """Whether another connection (any process) has the database open."""
    if not db.exists():
        return False
    conn = sqlite3.connect(db, timeout=0.2, isolation_level=None)
    try:
        # WAL-mode connections hold a shared lock on the file while open; an exclusive lock
        # is granted only when nobody else has it open.
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        conn.close()


def restore(backup: Path, db: Path) -> list[Path]:
    """Replace the database by a verified backup; the file it replaces is kept as *.replaced-<timestamp>."""
    problem = verify(backup, require_schema=True)
    if problem is not None:
        raise BackupError(f"{backup} is not a usable backup: {problem}")
    if in_use(db):
        raise BackupError(f"{db} is open in another process; close yurucode (and other yurudb commands) first")
    stamp = _stamp()
    kept = []
    for suffix in ("", "-wal", "-shm"):
        p = Path(str(db) + suffix)
        if p.exists():
            target = Path(f"{p}.replaced-{stamp}")
            os.replace(p, target)
            kept.append(target)
    restore_file(backup, db)
    return kept


def rotate_replaced(db: Path, keep: int = KEEP) -> list[Path]:
    """The files `restore` set aside (`<db>.replaced-<time>` with their -wal/-shm), the newest `keep` kept."""
    stamps = sorted({p.name.rsplit(".replaced-", 1)[1] for p in db.parent.glob(f"{db.name}*.replaced-*")},
                    reverse=True)
    removed = []
    for stamp in stamps[keep:]:
        for suffix in ("", "-wal", "-shm"):
            p = Path(f"{db}{suffix}.replaced-{stamp}")
            if p.exists():
                p.unlink()
                removed.append(p)
    return removed


def restore_file(backup: Path, db: Path) -> Path:
    """Copy a backup to where the database belongs (nothing may be there: the caller moved it aside)."""
    db.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    source = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    try:
        return copy_database(source, db)
    finally:
        source.close()

"""Start-up integrity check: cheap structural checks always, SQLite's quick_check when the file is small."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Literal

from ...errors import CorruptDatabaseError, ForeignFileError, LockedError, UnavailableError, classify
from .engine import read_only_uri
from .revision import APPLICATION_ID

HEADER = b"SQLite format 3\x00"
# quick_check reads every page: fine for a few MB, far too slow for start-up on a 1 GB history.
FULL_CHECK_MAX_BYTES = 32 * 1024 * 1024


def suspect_path(db: Path) -> Path:
    """Where a store notes that SQLite reported corruption in a file too big for the start-up quick_check."""
    return Path(f"{db}.suspect")


def mark_suspect(db: Path, reason: str) -> None:
    """Make the next start-up run the full quick_check on this file (and repair it if that fails)."""
    try:
        with open(suspect_path(db), "w", encoding="utf-8") as f:
            f.write(reason + "\n")
            f.flush()
            os.fsync(f.fileno())
    except OSError:
        pass  # a folder we cannot write: the corruption will be met again and reported again


def check_file(db: Path, *, full_check_max_bytes: int = FULL_CHECK_MAX_BYTES) -> str | None:
    """None if the database looks healthy (or is new and empty), else a description of the damage.

    The full quick_check runs on files up to `full_check_max_bytes`, and on any file a store has
    marked suspect. Raises UnavailableError (or another DatabaseError) when the file cannot be read.
    """
    if not suspect_path(db).exists():
        return _check(db, full_check_max_bytes)
    problem = _check(db, None)
    if problem is None:
        suspect_path(db).unlink(missing_ok=True)  # checked in full and healthy after all
    return problem


def inspect(db: Path) -> str | None:
    """The full check of `yurudb check`: like check_file with quick_check at any size, changing nothing
    (not even a suspect marker, and the file is opened read-only)."""
    return _check(db, None, read_only=True)


def _check(db: Path, full_check_max_bytes: int | None, *, read_only: bool = False) -> str | None:
    try:
        size = db.stat().st_size
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UnavailableError(f"cannot read {db}: {exc.strerror or exc}") from exc
    if size == 0:
        return None
    try:
        with open(db, "rb") as f:
            header = f.read(100)
    except OSError as exc:
        raise UnavailableError(f"cannot read {db}: {exc.strerror or exc}") from exc
    if len(header) < 100 or not header.startswith(HEADER):
        return "file is not a database (bad header)"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages_in_header = int.from_bytes(header[28:32], "big")
    wal = Path(str(db) + "-wal")
    wal_pending = wal.exists() and wal.stat().st_size > 0
    # The header's page count is trustworthy when its change counter matches (bytes 24 and 92),
    # and the file may only be shorter than that while a WAL still holds pages for it.
    counter_ok = header[24:28] == header[92:96]
    if counter_ok and not wal_pending and pages_in_header and size < pages_in_header * page_size:
        return f"file is truncated ({size} bytes, header says {pages_in_header * page_size})"
    try:
        # Start-up opens it like any connection: immutable reads could meet another process's writes.
        conn = sqlite3.connect(read_only_uri(db), uri=True, timeout=5) if read_only else sqlite3.connect(db, timeout=5)
    except sqlite3.Error as exc:
        raise classify(exc) from exc
    try:
        conn.execute("SELECT name, sql FROM sqlite_master").fetchall()
        if full_check_max_bytes is None or size <= full_check_max_bytes:
            result = [r[0] for r in conn.execute("PRAGMA quick_check")]
            if result != ["ok"]:
                return "quick_check: " + "; ".join(result[:5])
        else:
            for table in ("sessions", "messages", "analytics"):
                # the first and last pages of every table and index: where truncation shows
                try:
                    conn.execute(f"SELECT * FROM {table} ORDER BY rowid DESC LIMIT 1").fetchall()
                    conn.execute(f"SELECT * FROM {table} LIMIT 1").fetchall()
                except sqlite3.OperationalError as exc:
                    if "no such table" not in str(exc):
                        raise
        return None
    except sqlite3.DatabaseError as exc:
        error = classify(exc)
        if isinstance(error, CorruptDatabaseError):
            return str(exc)
        if isinstance(error, LockedError):
            return None  # another process is writing: not corruption
        raise error from exc  # unreadable is not corrupt: never quarantine a file we cannot read
    finally:
        conn.close()


Ownership = Literal["blank", "ours", "foreign"]
YURUDB_TABLES = frozenset({"sessions", "messages", "analytics"})


def is_sqlite(path: Path) -> bool:
    """Whether a file starts as an SQLite database does (what a damaged header may no longer say)."""
    try:
        with open(path, "rb") as f:
            return f.read(len(HEADER)) == HEADER
    except OSError:
        return False


def ownership(db: Path) -> Ownership:
    """Whether a path is free ("blank": missing, empty, or SQLite with no tables), yurudb's, or not ours.

    Ours: yurudb's application_id in the header, or (an older file, revision 0001) yurudb's
    tables. A file whose header is unreadable is ours only if yurudb has backups of it. Raises
    UnavailableError when the file cannot be read at all.
    """
    try:
        if not db.exists() or db.stat().st_size == 0:
            return "blank"
        with open(db, "rb") as f:
            header = f.read(100)
    except OSError as exc:
        raise UnavailableError(f"cannot read {db}: {exc.strerror or exc}") from exc
    if len(header) < 100 or not header.startswith(HEADER):
        return "ours" if _backed_up_by_us(db) else "foreign"
    app_id = int.from_bytes(header[68:72], "big")
    if app_id == APPLICATION_ID:
        return "ours"
    if app_id != 0:
        return "foreign"
    try:
        conn = sqlite3.connect(read_only_uri(db), uri=True)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return "ours" if _backed_up_by_us(db) else "foreign"
    if not tables:
        return "blank"
    if tables == {"alembic_version"} and _no_rows(db, "alembic_version"):
        # emptied by an older yurudb's `migrate downgrade base` (its mark went with 0002): ours if
        # yurudb backed it up first, as every downgrade does; another program's empty one stays foreign
        return "ours" if _backed_up_by_us(db) else "foreign"
    return "ours" if YURUDB_TABLES <= tables else "foreign"


def _no_rows(db: Path, table: str) -> bool:
    conn = sqlite3.connect(read_only_uri(db), uri=True)
    try:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0
    finally:
        conn.close()


def refuse_foreign(db: Path) -> Ownership:
    """ownership(db), with ForeignFileError for a file that is not ours (which is left untouched)."""
    found = ownership(db)
    if found == "foreign":
        raise ForeignFileError(f"{db} is not a yurudb database; yurudb leaves it untouched "
                               "(point --db or YURUDB_PATH at a yurudb database)")
    return found


def _backed_up_by_us(db: Path) -> bool:
    from .backup import list_backups

    return bool(list_backups(db))


def is_blank(db: Path) -> bool:
    """True for a missing or empty file (a database that has never been written)."""
    return not db.exists() or os.path.getsize(db) == 0

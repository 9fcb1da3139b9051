"""The error tree every public yurudb call raises from, and the one place driver errors are translated."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = [
    "BackupError", "ConflictError", "CorruptDatabaseError", "DatabaseError", "ForeignFileError", "LockedError",
    "MigrationError", "NotFoundError", "ReadOnlyError", "RecoveryError", "STORAGE_FAULTS", "StorageFullError",
    "StoreClosedError", "UnavailableError", "UnknownRevisionError", "ValidationError", "YurudbError", "classify",
    "translated",
]


class YurudbError(Exception):
    """Base class of every error yurudb raises on purpose."""


class ValidationError(YurudbError, ValueError):
    """The input is malformed: wrong type, empty name, unknown message type, not JSON."""


class NotFoundError(YurudbError, LookupError):
    """The session or message does not exist."""


class ForeignFileError(ValidationError):
    """The path holds a file that is not a yurudb database; it is left untouched."""


class ConflictError(YurudbError):
    """The write contradicts what is stored (e.g. a message id owned by another session)."""


class StoreClosedError(YurudbError):
    """The store was closed; open a new one."""


class MigrationError(YurudbError):
    """The schema could not be brought to the wanted revision."""


class UnknownRevisionError(ValidationError, MigrationError):
    """No Alembic revision has that name (bad input: nothing was changed)."""


class DatabaseError(YurudbError):
    """SQLite refused the operation (I/O error, disk full, locked, corrupt...)."""


class StorageFullError(DatabaseError):
    """The disk (or the database's page limit) is full."""


class LockedError(DatabaseError):
    """Another connection held the lock past busy_timeout."""


class ReadOnlyError(DatabaseError):
    """The database file or its folder cannot be written."""


class CorruptDatabaseError(DatabaseError):
    """The file is not a healthy SQLite database."""


class UnavailableError(DatabaseError):
    """The database file cannot be opened or read (missing permission, I/O error)."""


# Failures that retrying the same write will not fix soon: the store degrades to memory instead.
STORAGE_FAULTS = (StorageFullError, LockedError, ReadOnlyError, CorruptDatabaseError, UnavailableError)


class RecoveryError(YurudbError):
    """A repair could not bring the database to a usable state (`yurudb repair` on a database it cannot reach)."""


class BackupError(YurudbError):
    """A backup could not be made, verified or restored."""


def _sqlalchemy_error() -> type[BaseException] | None:
    """SQLAlchemy's DBAPIError when SQLAlchemy is loaded (only migrations and maintenance load it)."""
    exc_module = sys.modules.get("sqlalchemy.exc")
    return getattr(exc_module, "DBAPIError", None)


def _driver_error(exc: BaseException) -> BaseException:
    """The sqlite3 exception under a SQLAlchemy wrapper, if any."""
    wrapper = _sqlalchemy_error()
    if wrapper is not None and isinstance(exc, wrapper) and getattr(exc, "orig", None) is not None:
        return exc.orig  # type: ignore[attr-defined, no-any-return]
    return exc


def _psycopg_error() -> type[BaseException] | None:
    """psycopg's Error when it is loaded (only a PostgreSQL store loads it)."""
    return getattr(sys.modules.get("psycopg"), "Error", None)


# PostgreSQL's SQLSTATE classes and codes, as the SQLite errors they amount to
_PG_STATES: tuple[tuple[str, type[DatabaseError]], ...] = (
    ("53100", StorageFullError), ("53", StorageFullError),  # disk full, out of resources
    ("55P03", LockedError), ("40P01", LockedError), ("40001", LockedError), ("57014", LockedError),
    ("25006", ReadOnlyError), ("42501", ReadOnlyError),  # read-only transaction, no privilege
    ("XX001", CorruptDatabaseError), ("XX002", CorruptDatabaseError),  # data or index corrupted
    ("08", UnavailableError), ("57P", UnavailableError), ("3D000", UnavailableError), ("28", UnavailableError),
)


def _classify_pg(orig: BaseException) -> DatabaseError | None:
    pg = _psycopg_error()
    if pg is None or not isinstance(orig, pg):
        return None
    state = getattr(orig, "sqlstate", None)
    text = str(orig).strip()
    if state is None:
        psycopg = sys.modules["psycopg"]
        if isinstance(orig, (psycopg.OperationalError, psycopg.InterfaceError)):
            # no answer from the server at all: it is down, or unreachable
            return UnavailableError(text or "the PostgreSQL server cannot be reached")
        # refused before it was sent (a NUL in text, which PostgreSQL cannot hold): this write's
        # failure alone, never a reason to degrade the store
        return DatabaseError(text)
    for prefix, kind in _PG_STATES:
        if state.startswith(prefix):
            return kind(text)
    return DatabaseError(text)


def classify(exc: BaseException) -> DatabaseError:
    """Map a driver exception to the matching DatabaseError subclass."""
    orig = _driver_error(exc)
    pg = _classify_pg(orig)
    if pg is not None:
        return pg
    text = str(orig)
    lower = text.lower()
    code = getattr(orig, "sqlite_errorname", "") or ""
    if "full" in lower or code == "SQLITE_FULL":
        return StorageFullError(text)
    if "locked" in lower or "busy" in lower or code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return LockedError(text)
    if "readonly" in lower or "read-only" in lower or code.startswith("SQLITE_READONLY"):
        return ReadOnlyError(text)
    if "malformed" in lower or "not a database" in lower or code.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return CorruptDatabaseError(text)
    if "unable to open" in lower or "i/o error" in lower or code.startswith(("SQLITE_CANTOPEN", "SQLITE_IOERR")):
        return UnavailableError(text)
    return DatabaseError(text)


@contextmanager
def translated() -> Iterator[None]:
    """Re-raise sqlite3 / SQLAlchemy errors as yurudb errors, keeping the cause."""
    try:
        yield
    except YurudbError:
        raise
    except sqlite3.Error as exc:
        raise classify(exc) from exc
    except Exception as exc:
        wrapper = _sqlalchemy_error()
        pg = _psycopg_error()
        if (wrapper is not None and isinstance(exc, wrapper)) or (pg is not None and isinstance(exc, pg)):
            raise classify(exc) from exc
        raise

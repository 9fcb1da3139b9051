"""yurudb: the durable SQLite session store of yurucode.

Public names load on first use (PEP 562), so `import yurudb` and the `yurudb` command start fast;
`yurudb.open` brings in the store, and SQLAlchemy/Alembic load only when a migration runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import (
        BackupError,
        ConflictError,
        CorruptDatabaseError,
        DatabaseError,
        ForeignFileError,
        LockedError,
        MigrationError,
        NotFoundError,
        ReadOnlyError,
        RecoveryError,
        StorageFullError,
        StoreClosedError,
        UnavailableError,
        UnknownRevisionError,
        ValidationError,
        YurudbError,
    )
    from .models import Message, Session, Usage
    from .paths import default_db_path
    from .recovery.coordinator import open
    from .recovery.startup import RecoveryReport
    from .search.query import SearchHit, SearchHits
    from .store.store import Store

# public name -> the module that defines it
_WHERE = {
    **dict.fromkeys(
        ["BackupError", "ConflictError", "CorruptDatabaseError", "DatabaseError", "ForeignFileError", "LockedError",
         "MigrationError", "NotFoundError", "ReadOnlyError", "RecoveryError", "StorageFullError", "StoreClosedError",
         "UnavailableError", "UnknownRevisionError", "ValidationError", "YurudbError"], ".errors"),
    **dict.fromkeys(["Message", "Session", "Usage"], ".models"),
    "default_db_path": ".paths",
    "RecoveryReport": ".recovery.startup",
    "open": ".recovery.coordinator",
    "Store": ".store.store",
    **dict.fromkeys(["SearchHit", "SearchHits"], ".search.query"),
}

__all__ = [
    "BackupError", "ConflictError", "CorruptDatabaseError", "DatabaseError", "ForeignFileError", "LockedError",
    "Message", "MigrationError", "NotFoundError", "ReadOnlyError", "RecoveryError", "RecoveryReport", "SearchHit",
    "SearchHits", "Session",
    "StorageFullError", "Store", "StoreClosedError", "UnavailableError", "UnknownRevisionError", "Usage",
    "ValidationError", "YurudbError", "default_db_path", "open",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'yurudb' has no attribute {name!r}")
    value = getattr(importlib.import_module(where, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

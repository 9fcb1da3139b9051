"""yurudb: the durable SQLite session store of yurucode."""

from .entities import Message, Session, Usage
from .errors import (
    ConflictError,
    DatabaseError,
    MigrationError,
    NotFoundError,
    RecoveryError,
    StoreClosedError,
    ValidationError,
    YurudbError,
)
from .paths import default_db_path
from .recovery import RecoveryReport, open
from .store import Store

__all__ = [
    "ConflictError",
    "DatabaseError",
    "Message",
    "MigrationError",
    "NotFoundError",
    "RecoveryError",
    "RecoveryReport",
    "Session",
    "Store",
    "StoreClosedError",
    "Usage",
    "ValidationError",
    "YurudbError",
    "default_db_path",
    "open",
]
__version__ = "0.1.0"

"""The SQLite backend as one object: what the composition root builds a store from."""

from __future__ import annotations

from pathlib import Path

from ... import paths
from .backup import make_backup
from .checkpoint import Checkpointer
from .connection import ThreadConnection
from .engine import BUSY_TIMEOUT_MS, Durability
from .integrity import Ownership, refuse_foreign
from .readers import ReaderPool


class SQLiteBackend:
    """One SQLite file: the `Backend` that `yurudb.open(path)` composes the store from."""

    name = "sqlite"

    def __init__(self, path: Path, *, durability: Durability = "full", busy_timeout_ms: int = BUSY_TIMEOUT_MS,
                 max_size_bytes: int | None = None, readers: int = 4) -> None:
        self.path = path
        self.durability = durability
        self.busy_timeout_ms = busy_timeout_ms
        self.max_size_bytes = max_size_bytes
        self.readers = readers

    def prepare(self) -> None:
        """The folder 0700 and the file 0600 (transcripts hold source code and secrets)."""
        paths.prepare(self.path)

    def refuse_foreign(self) -> Ownership:
        """ForeignFileError for a file that is not a yurudb database: it is never touched."""
        return refuse_foreign(self.path)

    def writer_connection(self) -> ThreadConnection:
        """The writer's connection on a thread of its own (aiosqlite's model: one thread, one queue)."""
        return ThreadConnection(self.path, durability=self.durability, busy_timeout_ms=self.busy_timeout_ms,
                                max_size_bytes=self.max_size_bytes)

    def reader_pool(self, *, read_only: bool = False) -> ReaderPool:
        """Reader connections: WAL lets them read beside the writer without waiting."""
        return ReaderPool(self.path, size=self.readers, durability=self.durability,
                          busy_timeout_ms=self.busy_timeout_ms, read_only=read_only)

    def checkpointer(self, writer: object, interval: float) -> Checkpointer:
        """PASSIVE WAL checkpoints while the writer is idle (the writer runs with autocheckpoint off)."""
        return Checkpointer(self.path, writer, self.durability, interval)  # type: ignore[arg-type]

    def make_backup(self, dest: Path | None = None, *, keep: int, label: str = "manual") -> Path:
        """SQLite's online backup into backups/ beside the file (rotated), or to `dest`."""
        return make_backup(self.path, dest, keep=keep, label=label)

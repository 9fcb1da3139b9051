"""The PostgreSQL backend as one object: what the composition root builds a store on a server from."""

from __future__ import annotations

from pathlib import Path

from ... import paths
from .connection import PgConnection
from .engine import DEFAULT_TIMEOUT_MS
from .readers import PgReaderPool


class PostgresBackend:
    """A database on a PostgreSQL server: the `Backend` that `yurudb.open("postgresql://...")` composes."""

    name = "postgresql"

    def __init__(self, url: str, *, busy_timeout_ms: int = DEFAULT_TIMEOUT_MS, readers: int = 4) -> None:
        self.url = url
        self.busy_timeout_ms = busy_timeout_ms
        self.readers = readers
        # the local side: the spill journal of degraded mode (the server holds everything else)
        self.path: Path = paths.server_folder(url) / "postgres"

    def prepare(self) -> None:
        """The local folder, 0700 (a journal holds what the app saved)."""
        folder = self.path.parent
        if not folder.exists():
            folder.mkdir(parents=True, mode=paths.DIR_MODE)

    def writer_connection(self) -> PgConnection:
        """The writer's psycopg connection on a thread of its own (the SQLite writer's model)."""
        return PgConnection(self.url, self.path, busy_timeout_ms=self.busy_timeout_ms)

    def reader_pool(self, *, read_only: bool = False) -> PgReaderPool:
        """Reader connections: MVCC lets them read beside the writer without waiting."""
        return PgReaderPool(self.url, self.path, size=self.readers, busy_timeout_ms=self.busy_timeout_ms,
                            read_only=read_only)

    def checkpointer(self, writer: object, interval: float) -> None:
        """None: the server checkpoints its own log."""
        return

"""The backend seam: everything the store, recovery and the archive assume of a database engine, named once.

SQLite (`backends.sqlite`) and PostgreSQL (`backends.postgres`, docs/postgres.md) fill it. What a backend provides:

- a writer connection with one transaction at a time (`writer_connection`, and the unit of work
  of `backends/sqlite/transaction.py`: BEGIN IMMEDIATE, commit in the same hop);
- reader connections that never wait behind the writer (`reader_pool`; WAL on SQLite);
- the durability settings of every connection (`backends/sqlite/engine.py`: pragmas);
- checkpoints off the write path (`checkpointer`; WAL on SQLite, nothing on a server);
- the head schema for a new database, with the full-text index (`backends/sqlite/schema.py`, FTS5;
  its statements are `search/index.py` and `search/query.py`);
- a mark that a database is ours (`refuse_foreign`; `PRAGMA application_id` on SQLite) and its
  revision stamp (`backends/sqlite/revision.py`);
- backups, quarantine and the files beside the database (`backends/sqlite/backup.py`,
  `integrity.py`; the spill journal of degraded mode lives beside the file too).

SQL elsewhere is written once, in SQLite's dialect (`?` placeholders, `json_each`, `INSERT OR IGNORE`,
scalar MIN/MAX); `backends/postgres/dialect.py` says each statement again in PostgreSQL's, and the
full-text index's statements are per engine (`search/fulltext.py`). `writes/statements.py` holds
the statements every write path shares.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Protocol

Ownership = Literal["blank", "ours"]


class Backend(Protocol):
    """One database behind the store: where it is, how to connect, how to keep it."""

    name: str
    path: Path

    def prepare(self) -> None:
        """Create what the database needs to exist (a folder and a file with safe modes)."""

    def refuse_foreign(self) -> Ownership:
        """ForeignFileError unless the database is blank or ours; which of the two it is."""

    def writer_connection(self) -> Any:
        """The single writer's connection (one transaction at a time, on its own thread)."""

    def reader_pool(self, *, read_only: bool = False) -> Any:
        """Connections for reads beside the writer."""

    def checkpointer(self, writer: Any, interval: float) -> Any:
        """A background task that keeps the log short, off the write path (None where none is needed)."""

    def make_backup(self, dest: Path | None = None, *, keep: int, label: str) -> Path:
        """A consistent copy while writes go on."""

"""The schema revision this build expects, and the one a file holds, both read without Alembic.

HEAD is recorded here so that start-up and read-only commands compare revisions without
importing Alembic or SQLAlchemy; tests/test_schema.py keeps it equal to the newest revision
under alembic/versions/.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .engine import read_only_uri

HEAD = "0014_machines"
APPLICATION_ID = 0x79757275  # "yuru": PRAGMA application_id of every yurudb database (set by revision 0002)


def stamped_revision(conn: sqlite3.Connection) -> str | None:
    """The revision recorded in a database, read with a plain sqlite3 connection (None if blank)."""
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return None
        raise
    return row[0] if row else None


def revision_of(path: Path, *, read_only: bool = True) -> str | None:
    """The revision stamped in a database file (None if blank).

    read_only=False opens it as the store does (start-up, where another process may be writing).
    """
    conn = sqlite3.connect(read_only_uri(path), uri=True) if read_only else sqlite3.connect(path)
    try:
        return stamped_revision(conn)
    finally:
        conn.close()

"""Helpers shared by the tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def rows(db: Path, sql: str) -> list[tuple]:
    """The result of one query on a database file, through a connection of its own."""
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def dump(path: Path) -> dict[str, list[tuple]]:
    """Every row of every yurudb table, for "nothing changed" assertions."""
    conn = sqlite3.connect(path)
    try:
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
                for t in ("sessions", "messages", "analytics")}
    finally:
        conn.close()

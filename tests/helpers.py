"""Helpers shared by the tests."""

from __future__ import annotations

from pathlib import Path


def dump(path: Path) -> dict[str, list[tuple]]:
    """Every row of every yurudb table, for "nothing changed" assertions."""
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
                for t in ("sessions", "messages", "analytics")}
    finally:
        conn.close()

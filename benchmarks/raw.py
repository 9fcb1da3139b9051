"""The baseline: plain stdlib sqlite3 doing the same work (WAL, same synchronous, executemany per transaction)."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

INSERT = ("INSERT INTO messages (id, session_id, seq, type, role, content, tool_uses, usage, timestamp, payload) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


def connect(path: Path, synchronous: str = "FULL") -> sqlite3.Connection:
    """A raw connection with the same pragmas yurudb uses."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def insert_batched(conn: sqlite3.Connection, rows: list[tuple[Any, ...]], batch: int = 500) -> float:
    """Insert rows, one executemany and one commit per `batch`; seconds taken."""
    t0 = time.perf_counter()
    for start in range(0, len(rows), batch):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(INSERT, rows[start : start + batch])
        conn.execute("COMMIT")
    return time.perf_counter() - t0


def insert_each(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> list[float]:
    """Insert and commit rows one at a time; the latency of each in seconds."""
    out = []
    for row in rows:
        t0 = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(INSERT, row)
        conn.execute("COMMIT")
        out.append(time.perf_counter() - t0)
    return out


def load_messages(conn: sqlite3.Connection, session_id: str, limit: int | None = None) -> list[tuple[Any, ...]]:
    """Read a session's messages and decode their JSON columns, like get_messages."""
    cols = "id, session_id, seq, type, role, content, tool_uses, usage, timestamp, payload"
    if limit is None:
        rows = conn.execute(f"SELECT {cols} FROM messages WHERE session_id = ? ORDER BY seq", (session_id,)).fetchall()
    else:
        rows = conn.execute(f"SELECT {cols} FROM messages WHERE session_id = ? ORDER BY seq DESC LIMIT ?",
                            (session_id, limit)).fetchall()
        rows.reverse()
    loads = json.loads
    # timestamps become datetimes as yurudb hands them out (the same work)
    return [(*r[:6], r[6] and loads(r[6]), r[7] and loads(r[7]), r[8] and _when(r[8]), r[9] and loads(r[9]))
            for r in rows]


def list_sessions(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    """Every session, most recently updated first, metadata decoded."""
    rows = conn.execute("SELECT id, name, status, working_directory, claude_session_id, claude_title, user_renamed, "
                        "created_at, updated_at, metadata FROM sessions ORDER BY updated_at DESC, id").fetchall()
    return [(*r[:7], _when(r[7]), _when(r[8]), r[9] and json.loads(r[9])) for r in rows]


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)

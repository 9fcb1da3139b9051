"""Helpers shared by the tests."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class _Server:
    """A PostgreSQL connection with sqlite3's `execute`, statements in SQLite's dialect (yurudb's own rewrite)."""

    def __init__(self, url: str) -> None:
        from yurudb.backends.postgres.engine import connect_sync

        self.conn = connect_sync(url)

    def execute(self, sql: str, params: Any = ()) -> Any:
        from yurudb.backends.postgres.dialect import statement

        st = statement(sql)
        return self.conn.execute(st.sql, st.params(tuple(params)))

    def close(self) -> None:
        self.conn.close()


def connect(db: Path | str) -> Any:
    """A connection of its own to a database file, or to a postgresql:// URL, read the same way."""
    if str(db).startswith("postgresql://"):
        return _Server(str(db))
    return sqlite3.connect(db)


def rows(db: Path | str, sql: str) -> list[tuple]:
    """The result of one query on a database file (or a postgresql:// URL), through a connection of its own."""
    conn = connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def dump(path: Path | str) -> dict[str, list[tuple]]:
    """Every row of every yurudb table, for "nothing changed" assertions (a SQLite file, or a postgresql:// URL).

    A message's search document shows as whether it has one: the numbers are the index's own and
    follow the order writes were batched in (two equal imports may number differently).
    """
    if str(path).startswith("postgresql://"):
        return _dump_pg(str(path))
    conn = sqlite3.connect(path)
    try:
        out = {}
        for t in ("sessions", "messages", "analytics"):
            cols = [r[1] if r[1] != "search_doc" else "search_doc IS NOT NULL" for r in conn.execute(f"PRAGMA table_info({t})")]
            out[t] = sorted(conn.execute(f"SELECT {', '.join(cols)} FROM {t}").fetchall(), key=repr)
        return out
    finally:
        conn.close()


def _dump_pg(url: str) -> dict[str, list[tuple]]:
    import psycopg

    with psycopg.connect(url) as conn:
        out = {}
        for t in ("sessions", "messages", "analytics"):
            cols = [r[0] if r[0] != "search_doc" else "search_doc IS NOT NULL" for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND column_name != 'rowid' "
                "ORDER BY ordinal_position", (t,))]
            out[t] = sorted(conn.execute(f"SELECT {', '.join(cols)} FROM {t}").fetchall(), key=repr)
        return out


def archived_lines(db: Path) -> tuple[int, int]:
    """The lines the archive holds (over every run) and how many different (file, line) they are:
    equal when no line is stored twice."""
    runs = rows(db, "SELECT file_id, first_line, lines FROM transcript_blocks")
    return sum(n for _, _, n in runs), len({(f, first + k) for f, first, n in runs for k in range(n)})


HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")  # the write lock, held until told (a line on stdin)
print("held", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


def hold_write_lock(db_path: Path) -> subprocess.Popen:
    """A second process holding the database's write lock until a line is written to its stdin."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(db_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def release(holder: subprocess.Popen) -> None:
    """Let the holder roll back and end."""
    assert holder.stdin is not None
    holder.stdin.write("go\n")
    holder.stdin.flush()
    assert holder.wait(10) == 0


BACK_TO_BACK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
print("writing", flush=True)
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    conn.execute("BEGIN IMMEDIATE")  # the write lock for 50 ms, then 2 ms without it, over and over
    time.sleep(0.05)
    conn.execute("COMMIT")
    time.sleep(0.002)
"""


def commit_back_to_back(db_path: Path, seconds: float) -> subprocess.Popen:
    """A second process taking the write lock for 50 ms at a time with 2 ms gaps (a big sync's pattern)."""
    writer = subprocess.Popen([sys.executable, "-c", BACK_TO_BACK, str(db_path), str(seconds)],
                              stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None and writer.stdout.readline().strip() == "writing"
    return writer


def damage(db: Path, blob: bytes) -> None:
    """Change one byte inside `blob` where the database file holds it: a blob's content, which SQLite's
    checks do not cover (the file must hold that blob once, checkpointed)."""
    data = bytearray(db.read_bytes())
    probe = blob[len(blob) // 2: len(blob) // 2 + 24]
    at = data.find(probe)
    assert at > 0 and data.find(probe, at + 1) < 0, "the blob is not in the file exactly once"
    data[at + 8] ^= 0xFF
    db.write_bytes(bytes(data))


# ---- a real `yurudb serve` process ---------------------------------------------------------------
YURUDB = [sys.executable, "-c", "from yurudb.cli import main; main()"]


@contextmanager
def serving(db: Path, *extra: str, env: dict[str, str] | None = None) -> Iterator[tuple[dict[str, Any], subprocess.Popen]]:
    """A `yurudb serve` process on a free port: (what it announced, the process)."""
    proc = subprocess.Popen([*YURUDB, "--db", str(db), "serve", "--port", "0", *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first, proc.stderr.read() if proc.stderr else ""
        yield json.loads(first), proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise AssertionError("the server did not stop within 30 s of SIGTERM") from None


def call(info: dict[str, Any], method: str, path: str, body: Any = None, *, token: str | None = "",
         headers: dict[str, str] | None = None, raw: bytes | None = None) -> tuple[int, Any]:
    """One request: (status, the JSON answer or None)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(info["url"] + path, data=data, method=method)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token or info['token']}")
    for k, v in (headers or {}).items():
        request.add_header(k, v)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            text = answer.read()
            return answer.status, json.loads(text) if text else None
    except urllib.error.HTTPError as exc:
        text = exc.read()
        return exc.code, json.loads(text) if text else None

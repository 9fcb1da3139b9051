"""Kill -9 at random moments: every acknowledged write is there afterwards and the file is healthy."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import yurudb

CHILD = str(Path(__file__).with_name("child.py"))
ROUNDS = int(os.environ.get("YURUDB_CRASH_ROUNDS", "5"))


def run_and_kill(db: Path, seconds: float, *extra: str) -> list[str]:
    """Start the append loop, SIGKILL it after `seconds` of acknowledged writes; its stdout lines."""
    proc = subprocess.Popen([sys.executable, CHILD, "append-loop", str(db), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    started = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.strip())
            if line.startswith("msg"):
                started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if not started.wait(60):
        proc.kill()
        raise AssertionError(f"child never acknowledged a write: {proc.stderr.read() if proc.stderr else ''}")
    time.sleep(seconds)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    reader.join(10)
    return lines


def assert_all_acknowledged_present(db: Path, lines: list[str]) -> int:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        ids = {r[0] for r in conn.execute("SELECT id FROM messages")}
        contents = dict(conn.execute("SELECT id, content FROM messages").fetchall())
        usage = {r[0] for r in conn.execute("SELECT source_id FROM analytics")}
        # the full-text index moved with the writes it indexes, kill or no kill: well-formed, every
        # message with text in it once, nothing else in it
        conn.execute("INSERT INTO search_index (search_index, rank) VALUES ('integrity-check', 0)")
        assert conn.execute("SELECT COUNT(*) FROM messages WHERE search_doc IS NULL AND content != ''").fetchone() == (0,)
        docs = {r[0] for r in conn.execute("SELECT id FROM search_index_docsize")}
        assert docs == {r[0] for r in conn.execute("SELECT search_doc FROM messages WHERE search_doc IS NOT NULL")}
        for mid, text in list(contents.items())[-20:]:  # the last writes before the kill are found
            words = " ".join(f'"{w}"' for w in text.replace("-", " ").split()[:6])
            hit = conn.execute("SELECT messages.id FROM search_index(?) AS h JOIN messages ON search_doc = h.rowid "
                               "WHERE messages.id = ?", (words, mid)).fetchall()
            assert hit, (mid, text)
    finally:
        conn.close()
    acked = [line.split()[1] for line in lines if line.startswith("msg ")]
    missing = [m for m in acked if m not in ids]
    assert not missing, f"{len(missing)} acknowledged messages lost"
    # an acknowledged update is there (a later update of the same message may have replaced it)
    last_update: dict[str, str] = {}
    for line in lines:
        if line.startswith("upd "):
            _, mid, text = line.split(" ", 2)
            last_update[mid] = text
    for mid, text in last_update.items():
        assert contents[mid] == text
    assert {line.split()[1] for line in lines if line.startswith("use ")} <= usage
    return len(acked)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_sigkill_never_loses_an_acknowledged_write(tmp_path: Path, round_: int) -> None:
    db = tmp_path / "crash.db"
    rng = random.Random(round_)
    total = 0
    for _ in range(2):  # kill, then kill again on top of the recovered file
        lines = run_and_kill(db, rng.uniform(0.05, 0.6))
        total += assert_all_acknowledged_present(db, lines)
    assert total > 0

    async def reopen() -> None:
        async with yurudb.open(db, daily_backup=False) as store:
            assert store.state == "ready"
            # the sessions the killed processes had running are flagged for the app
            assert {s.status for s in await store.list_sessions()} == {"interrupted"}
            assert store.recovery.sessions_interrupted == 1  # the first was flagged by the second child
            assert await store.check() == ["ok"]

    asyncio.run(reopen())


def test_sigkill_while_degraded_replays_the_journal_at_start_up(tmp_path: Path) -> None:
    db = tmp_path / "full.db"
    # A cap just above the empty database: the child degrades almost at once and keeps
    # acknowledging writes from the spill journal until it is killed.
    async def make() -> int:
        async with yurudb.open(db, daily_backup=False):
            pass
        return db.stat().st_size + 4096 * 4
    cap = asyncio.run(make())
    lines = run_and_kill(db, 0.8, str(cap))
    journal = db.with_name(db.name + ".journal")
    assert journal.exists() and journal.stat().st_size > 0

    async def reopen() -> yurudb.RecoveryReport:
        async with yurudb.open(db, daily_backup=False) as store:
            assert store.state == "ready"
            return store.recovery

    report = asyncio.run(reopen())
    assert report.journal_entries_replayed > 0
    assert not journal.exists()
    assert_all_acknowledged_present(db, lines)

"""Online backups while writes go on, rotation, verification, and restore's refusals."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import yurudb
from yurudb.backends.sqlite import backup
from yurudb.errors import BackupError

CHILD = str(Path(__file__).with_name("child.py"))


async def test_backup_is_consistent_while_writes_go_on(db_path: Path, tmp_path: Path) -> None:
    async with yurudb.open(db_path, daily_backup=False) as store:
        s = await store.create_session("s")
        await store.append_messages(s.id, [{"type": "user", "content": "x" * 1000} for _ in range(2000)])

        async def keep_writing() -> int:
            n = 0
            while not done.is_set():
                await store.append_message(s.id, type="user", content="during")
                n += 1
            return n

        done = asyncio.Event()
        writer = asyncio.create_task(keep_writing())
        copy = await store.backup(tmp_path / "copy.db")
        done.set()
        during = await writer
    assert during > 0
    conn = sqlite3.connect(copy)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    count = conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
    seqs = [r[0] for r in conn.execute("SELECT seq FROM messages ORDER BY seq")]
    assert count >= 2000 and seqs == list(range(1, count + 1))  # a committed prefix, no torn batch


async def test_backups_rotate_to_keep_n(db_path: Path) -> None:
    async with yurudb.open(db_path, daily_backup=False, backup_keep=3) as store:
        await store.create_session("s")
        made = [await store.backup() for _ in range(5)]
    kept = backup.list_backups(db_path)
    assert kept == list(reversed(made[-3:]))
    assert all(backup.verify(p, require_schema=True) is None for p in kept)


async def test_check_reports_ok(store) -> None:
    assert await store.check() == ["ok"]


async def test_check_reports_what_sqlite_finds_in_a_damaged_file(db_path: Path) -> None:
    from test_salvage import leaves, smash

    async with yurudb.open(db_path, daily_backup=False) as store:
        s = await store.create_session("s")
        await store.append_messages(s.id, [{"type": "user", "content": "x" * 400} for _ in range(300)])
    smash(db_path, sorted(leaves(db_path, "idx_messages_session"))[0])  # an index leaf: the table stays readable
    async with yurudb.open(db_path, read_only=True) as store:  # read-only: no start-up repair first
        found = await store.check()
    assert found != ["ok"] and found


async def test_restore_refuses_while_the_database_is_open(db_path: Path) -> None:
    async with yurudb.open(db_path, daily_backup=False) as store:
        await store.create_session("s")
        good = await store.backup()
        with pytest.raises(BackupError, match="open in another process"):
            await asyncio.to_thread(backup.restore, good, db_path)


async def test_restore_refuses_a_backup_that_fails_verification(db_path: Path, tmp_path: Path) -> None:
    async with yurudb.open(db_path, daily_backup=False) as store:
        await store.create_session("s")
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"nope" * 1000)
    before = db_path.read_bytes()
    with pytest.raises(BackupError, match="not a usable backup"):
        backup.restore(bad, db_path)
    assert db_path.read_bytes() == before


async def test_restore_puts_the_backup_in_place_and_keeps_the_old_file(db_path: Path) -> None:
    async with yurudb.open(db_path, daily_backup=False) as store:
        kept = await store.create_session("in the backup")
        good = await store.backup()
        await store.create_session("after the backup")
    replaced = backup.restore(good, db_path)
    assert replaced and all(".replaced-" in p.name for p in replaced)
    async with yurudb.open(db_path, daily_backup=False) as store:
        assert [s.id for s in await store.list_sessions()] == [kept.id]


def test_two_processes_writing_one_file_both_succeed(db_path: Path) -> None:
    async def create() -> None:
        async with yurudb.open(db_path, daily_backup=False):
            pass
    asyncio.run(create())
    procs = [subprocess.Popen([sys.executable, CHILD, "append-n", str(db_path), name, "300"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0 and "locked" not in err, err
    conn = sqlite3.connect(db_path)
    for name in ("a", "b"):
        contents = [r[0] for r in conn.execute(
            "SELECT m.content FROM messages m JOIN sessions s ON s.id = m.session_id WHERE s.name = ? ORDER BY m.seq",
            (name,))]
        assert contents == [f"{name}-{i}" for i in range(300)]
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)

"""Start-up against damaged files: garbage, truncation, a leftover WAL; the report and the events."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

import yurudb
from yurudb.backends.sqlite import backup
from yurudb.errors import ForeignFileError
from yurudb.events import BackupRestored, RecoveryProgress

STEPS = ["resolve path", "integrity check", "migrate", "replay journal", "mark interrupted", "load session index"]


async def fill(db: Path, sessions: int = 3, messages: int = 20) -> list[str]:
    async with yurudb.open(db, daily_backup=False) as store:
        ids = []
        for i in range(sessions):
            s = await store.create_session(f"s{i}", status="active" if i == 0 else "completed")
            await store.append_messages(s.id, [{"type": "user", "content": "x" * 500} for _ in range(messages)])
            ids.append(s.id)
        return ids


async def test_report_times_every_step_and_events_announce_them(db_path: Path) -> None:
    await fill(db_path)
    events = []
    async with yurudb.open(db_path, daily_backup=False, on_event=events.append) as store:
        report = store.recovery
        assert [s.name for s in report.steps] == STEPS
        assert all(s.ms >= 0 for s in report.steps) and report.total_ms > 0
        assert report.sessions_restored == 3 and report.sessions_interrupted == 1
        assert report.state == "ready" and report.quarantined == [] and report.backup_restored is None
        assert [e.step for e in events if isinstance(e, RecoveryProgress)] == STEPS


async def test_recovery_is_safe_to_run_twice(db_path: Path) -> None:
    ids = await fill(db_path)
    for _ in range(2):
        async with yurudb.open(db_path, daily_backup=False) as store:
            assert {s.id for s in await store.list_sessions()} == set(ids)
            assert store.recovery.quarantined == []
    async with yurudb.open(db_path, daily_backup=False) as store:
        assert store.recovery.sessions_interrupted == 0  # already flagged by the first run


async def test_garbage_file_is_quarantined_and_the_newest_backup_restored(db_path: Path) -> None:
    ids = await fill(db_path)
    async with yurudb.open(db_path, daily_backup=False) as store:
        good = await store.backup()
    db_path.write_bytes(os.urandom(64 * 1024))
    events = []
    async with yurudb.open(db_path, daily_backup=False, on_event=events.append) as store:
        report = store.recovery
        assert store.state == "ready"
        assert report.backup_restored == str(good)
        assert len(report.quarantined) >= 1 and all(".corrupt-" in q for q in report.quarantined)
        assert {s.id for s in await store.list_sessions()} == set(ids)
        assert await store.check() == ["ok"]
    restored = [e for e in events if isinstance(e, BackupRestored)]
    assert restored and restored[0].backup == str(good)
    # never deleted: the damaged bytes are kept aside
    assert Path(report.quarantined[0]).stat().st_size == 64 * 1024


async def test_truncated_file_is_detected_and_the_backup_restored(db_path: Path) -> None:
    ids = await fill(db_path, sessions=5, messages=200)
    async with yurudb.open(db_path, daily_backup=False) as store:
        await store.backup()
        later = await store.create_session("after the backup")
    size = db_path.stat().st_size
    with open(db_path, "r+b") as f:
        f.truncate(size // 2)
    async with yurudb.open(db_path, daily_backup=False) as store:
        assert store.recovery.backup_restored is not None
        listed = {s.id for s in await store.list_sessions()}
        assert set(ids) <= listed and later.id not in listed  # as of the backup
        assert await store.check() == ["ok"]


async def test_a_file_that_is_not_a_database_is_refused_and_left_untouched(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    db_path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(ForeignFileError):
        await yurudb.open(db_path, daily_backup=False)
    assert db_path.read_bytes() == b"this is not sqlite at all" * 100
    assert sorted(p.name for p in db_path.parent.iterdir()) == [db_path.name]


async def test_a_sqlite_file_of_another_program_is_refused_and_left_untouched(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.execute("INSERT INTO notes VALUES ('mine')")
    conn.commit()
    conn.close()
    before = db_path.read_bytes()
    for read_only in (False, True):
        with pytest.raises(ForeignFileError):
            await yurudb.open(db_path, daily_backup=False, read_only=read_only)
    assert db_path.read_bytes() == before
    assert sorted(p.name for p in db_path.parent.iterdir()) == [db_path.name]


async def test_a_damaged_yurudb_file_without_a_backup_starts_empty_and_keeps_the_damage_aside(db_path: Path) -> None:
    await fill(db_path)
    data = bytearray(db_path.read_bytes())
    data[100:4096] = os.urandom(4096 - 100)  # the schema page: SQLite can no longer read anything
    db_path.write_bytes(bytes(data))
    async with yurudb.open(db_path, daily_backup=False) as store:
        assert store.state == "ready"
        assert store.recovery.backup_restored is None
        assert store.recovery.quarantined and Path(store.recovery.quarantined[0]).read_bytes() == bytes(data)
        await store.create_session("works")


async def test_a_corrupt_backup_is_skipped_for_an_older_good_one(db_path: Path) -> None:
    await fill(db_path)
    async with yurudb.open(db_path, daily_backup=False) as store:
        older = await store.backup()
    newer = backup.backups_dir(db_path) / f"{db_path.stem}-29991231T000000000000Z-manual.db"
    newer.write_bytes(b"garbage" * 1000)
    os.utime(newer, (older.stat().st_mtime + 10, older.stat().st_mtime + 10))
    db_path.write_bytes(b"garbage" * 1000)
    async with yurudb.open(db_path, daily_backup=False) as store:
        assert store.recovery.backup_restored == str(older)


async def test_a_wal_left_by_a_crash_is_recovered(db_path: Path, tmp_path: Path) -> None:
    ids = await fill(db_path, sessions=1)
    store = await yurudb.open(db_path, daily_backup=False)
    late = await store.append_message(ids[0], type="user", content="only in the WAL")
    # Copy the files as a crash would leave them: the commit is in -wal, not yet in the main file.
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    for suffix in ("", "-wal", "-shm"):
        shutil.copy(str(db_path) + suffix, str(crashed / "yurucode.db") + suffix)
    await store.close()
    assert (crashed / "yurucode.db-wal").stat().st_size > 0
    async with yurudb.open(crashed / "yurucode.db", daily_backup=False) as copy:
        assert copy.recovery.quarantined == []
        contents = [m.content for m in await copy.get_messages(ids[0], limit=None)]
        assert contents[-1] == late.content
        assert await copy.check() == ["ok"]


async def test_a_blank_database_is_not_backed_up_but_an_old_schema_is(db_path: Path) -> None:
    async with yurudb.open(db_path, daily_backup=False) as store:
        assert store.recovery.migrated_to is not None and store.recovery.backup_made is None
    await fill(db_path)
    # put the schema back one revision (what an older yurudb left) and reopen
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE alembic_version SET version_num = 'base_for_test'")
    conn.commit()
    conn.close()
    # an unknown revision cannot be migrated: the store must say so and keep working from memory
    async with yurudb.open(db_path, daily_backup=False) as store:
        assert store.state == "degraded" and "base_for_test" in (store.recovery.error or "")
        # the database was backed up before the migration was tried, once (retries do not repeat it)
        assert store.recovery.backup_made and "pre-migrate" in store.recovery.backup_made
        s = await store.create_session("still usable")
        assert (await store.get_session(s.id)).name == "still usable"
        await asyncio.sleep(0.5)  # a few retries
    assert len(backup.list_backups(db_path)) == 1


async def test_daily_backup_runs_once_at_start_up(db_path: Path) -> None:
    await fill(db_path)
    async with yurudb.open(db_path) as store:
        await store.flush()
    async with yurudb.open(db_path) as store:
        pass
    assert len(backup.list_backups(db_path)) == 1


async def test_a_start_up_that_fails_outright_leaves_no_threads_behind(db_path: Path) -> None:
    import threading

    import pytest

    before = threading.active_count()
    with pytest.raises(yurudb.ValidationError):
        await yurudb.open(db_path, durability="eventually")  # type: ignore[arg-type]
    with pytest.raises(yurudb.ValidationError):
        await yurudb.open(db_path, batch_size=0)
    assert threading.active_count() == before


def store_threads() -> list[str]:
    """Threads a store owns: its writer and its aiosqlite readers (asyncio's own executor is not ours)."""
    import threading

    return [t.name for t in threading.enumerate() if t.name.startswith("yurudb") or "_connection_worker" in t.name]


async def test_a_start_up_cancelled_midway_closes_what_it_opened(db_path: Path) -> None:
    import subprocess
    import sys

    await fill(db_path)  # an active session: start-up must write to mark it interrupted
    child = Path(__file__).with_name("child.py")
    holder = subprocess.Popen([sys.executable, str(child), "hold-lock", str(db_path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"

        async def opening() -> object:
            return await yurudb.open(db_path, daily_backup=False, busy_timeout_ms=1_000)

        task = asyncio.get_running_loop().create_task(opening())
        await asyncio.sleep(0.4)  # inside start-up, waiting for the lock the child holds
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        assert holder.stdin is not None
        holder.stdin.write("go\n")
        holder.stdin.close()
        holder.wait(timeout=30)
    assert store_threads() == []

"""Corruption repair keeps what the damaged file still holds: pages smashed on disk, then start-up or `yurudb salvage`."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import rows
from typer.testing import CliRunner

import yurudb
from yurudb.backends.sqlite import integrity
from yurudb.cli import app
from yurudb.errors import DatabaseError
from yurudb.events import Degraded
from yurudb.recovery.salvage import marker_path, salvage

BODY = "salvage me " * 40  # ~440 bytes: several messages per page, many pages


# ---- reading and damaging b-tree pages straight from the file --------------------------------
def _varint(buf: bytes, at: int) -> tuple[int, int]:
    value = 0
    for i in range(9):
        byte = buf[at + i]
        if i == 8:
            return (value << 8) | byte, at + 9
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, at + i + 1
    raise AssertionError("unreachable")


def leaves(db: Path, name: str) -> dict[int, list[int]]:
    """Leaf pages of a table or index b-tree -> the rowids each holds (rowids only for tables)."""
    conn = sqlite3.connect(db)
    try:
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()
    data = db.read_bytes()
    found: dict[int, list[int]] = {}

    def walk(page: int) -> None:
        start = (page - 1) * page_size
        header = start + (100 if page == 1 else 0)
        kind = data[header]
        cells = int.from_bytes(data[header + 3 : header + 5], "big")
        if kind in (0x0D, 0x0A):  # table leaf, index leaf
            pointers = header + 8
            rowids = []
            if kind == 0x0D:
                for c in range(cells):
                    cell = start + int.from_bytes(data[pointers + 2 * c : pointers + 2 * c + 2], "big")
                    _, after_size = _varint(data, cell)
                    rowids.append(_varint(data, after_size)[0])
            found[page] = rowids
            return
        assert kind in (0x05, 0x02), f"page {page}: unexpected kind {kind}"
        pointers = header + 12
        for c in range(cells):
            cell = start + int.from_bytes(data[pointers + 2 * c : pointers + 2 * c + 2], "big")
            walk(int.from_bytes(data[cell : cell + 4], "big"))
        walk(int.from_bytes(data[header + 8 : header + 12], "big"))

    walk(root)
    return found


def smash(db: Path, page: int) -> None:
    """Overwrite one page with garbage, as a failing disk would."""
    page_size = sqlite3.connect(db).execute("PRAGMA page_size").fetchone()[0]
    with open(db, "r+b") as f:
        f.seek((page - 1) * page_size)
        f.write(os.urandom(page_size))


MESSAGES = "SELECT rowid, id, session_id, seq, payload FROM messages ORDER BY rowid"


async def history(db: Path, *, backup_midway: bool) -> dict[str, str]:
    """Three sessions of 150 messages, usage, a rename; optionally a backup after the first 100 of each."""
    async with yurudb.open(db, daily_backup=False) as store:
        sessions = [await store.create_session(f"s{i}") for i in range(3)]
        for s in sessions:
            await store.append_messages(s.id, [{"type": "user", "content": f"{k} {BODY}"} for k in range(100)])
            await store.record_usage(s.id, model="opus", tokens_input=1, tokens_output=2, source_id=f"{s.id}/a")
        if backup_midway:
            await store.backup()
        for s in sessions:
            await store.append_messages(s.id, [{"type": "assistant", "content": f"{k} {BODY}"} for k in range(50)])
            await store.record_usage(s.id, model="opus", tokens_input=3, tokens_output=4, source_id=f"{s.id}/b")
        await store.rename_session(sessions[0].id, "renamed after the backup")
        return {s.id: s.name for s in sessions}


# ---- start-up ---------------------------------------------------------------------------------
async def test_rows_written_after_the_backup_survive_a_smashed_page(db_path: Path) -> None:
    await history(db_path, backup_midway=True)
    before = rows(db_path, MESSAGES)
    usage_before = rows(db_path, "SELECT session_id, source_id, tokens_output FROM analytics ORDER BY id")
    # a leaf holding messages written after the backup: only the damaged file has them
    backed_up = len(before) - 150
    page, lost = next((p, r) for p, r in sorted(leaves(db_path, "messages").items()) if min(r) > backed_up + 20)
    smash(db_path, page)

    async with yurudb.open(db_path, daily_backup=False) as store:
        report = store.recovery
        assert report.backup_restored and report.quarantined
        assert report.salvage is not None and report.salvage.damaged_regions == 1
        assert report.salvage.new_messages == 150 - len(lost)
        assert "salvage" in [s.name for s in report.steps]
        assert await store.check() == ["ok"]
        names = {s.name for s in await store.list_sessions()}
        assert "renamed after the backup" in names
    after = {r[1]: r[1:] for r in rows(db_path, MESSAGES)}
    expected = {r[1]: r[1:] for r in before if r[0] not in lost}
    assert after == expected  # everything but the one smashed page, byte for byte
    assert rows(db_path, "SELECT session_id, source_id, tokens_output FROM analytics ORDER BY id") == usage_before
    assert not marker_path(db_path).exists()
    assert all(Path(p).exists() for p in report.quarantined)  # the damaged file is kept


async def test_a_smashed_index_page_loses_nothing_even_without_a_backup(db_path: Path) -> None:
    await history(db_path, backup_midway=False)
    before = rows(db_path, MESSAGES)
    page = sorted(leaves(db_path, "idx_messages_session"))[1]
    smash(db_path, page)

    async with yurudb.open(db_path, daily_backup=False) as store:
        assert store.recovery.backup_restored is None and store.recovery.quarantined
        assert store.recovery.salvage.damaged_regions == 0
        got = await store.get_messages(before[0][2], limit=None)  # through the rebuilt index
        assert [m.seq for m in got] == list(range(1, 151))
    assert rows(db_path, MESSAGES) == before


async def test_messages_of_a_lost_session_row_get_a_rebuilt_session(db_path: Path) -> None:
    names = await history(db_path, backup_midway=False)
    before = rows(db_path, MESSAGES)
    [sessions_page] = leaves(db_path, "sessions")  # three rows: the root is the only leaf
    smash(db_path, sessions_page)

    async with yurudb.open(db_path, daily_backup=False) as store:
        salvaged = store.recovery.salvage
        assert salvaged.placeholder_sessions == 3 and salvaged.messages == 450
        rebuilt = await store.list_sessions()
        assert sorted(s.id for s in rebuilt) == sorted(names)
        assert all(s.status == "interrupted" and s.name.startswith("Recovered session") for s in rebuilt)
    assert rows(db_path, MESSAGES) == before


async def test_commits_still_in_the_wal_of_a_corrupt_file_are_salvaged(db_path: Path, tmp_path: Path) -> None:
    names = await history(db_path, backup_midway=False)
    sid = next(iter(names))
    # Another writer commits 40 more messages that live only in the WAL, then "crashes": the files
    # are copied as they are while its connection is still open (closing would checkpoint them).
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO messages (id, session_id, seq, type, content, payload) VALUES (?, ?, ?, 'user', ?, ?)",
        [(f"wal-{k}", sid, 151 + k, "in the wal", '{"type":"user","content":"in the wal"}') for k in range(40)])
    conn.execute("COMMIT")
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    db = crashed / "yurucode.db"
    shutil.copyfile(db_path, db)
    shutil.copyfile(f"{db_path}-wal", f"{db}-wal")
    conn.close()
    before = rows(db_path, MESSAGES)
    assert len(before) == 490
    page, lost = sorted(leaves(db, "messages").items())[1]  # an early leaf: the WAL does not hold it
    smash(db, page)

    async with yurudb.open(db, daily_backup=False) as store:
        assert store.recovery.quarantined and store.recovery.salvage.damaged_regions == 1
    after = {r[1]: r[1:] for r in rows(db, MESSAGES)}
    assert after == {r[1]: r[1:] for r in before if r[0] not in lost}
    assert sum(k.startswith("wal-") for k in after) == 40


def test_a_repair_killed_halfway_finishes_at_the_next_start(db_path: Path, tmp_path: Path) -> None:
    """SIGKILL at moments through the repair; every time, the next start ends with the same data."""
    asyncio.run(history(db_path, backup_midway=True))
    before = rows(db_path, MESSAGES)
    page, lost = next((p, r) for p, r in sorted(leaves(db_path, "messages").items()) if min(r) > len(before) - 130)
    smash(db_path, page)
    pristine = tmp_path / "pristine"
    pristine.mkdir()
    for p in db_path.parent.rglob("*"):
        if p.is_file() and pristine not in p.parents:
            target = pristine / p.relative_to(db_path.parent)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(p.read_bytes())
    program = ("import asyncio, sys, yurudb\n"
               "async def main():\n"
               "    async with yurudb.open(sys.argv[1], daily_backup=False):\n"
               "        pass\n"
               "asyncio.run(main())\n")
    interrupted = []
    for delay in (0.0, 0.001, 0.002, 0.004, 0.008, 0.015, 0.03, 0.06):
        for p in list(db_path.parent.iterdir()):  # back to the damaged state
            if p.is_file():
                p.unlink()
        for p in pristine.rglob("*"):
            if p.is_file():
                target = db_path.parent / p.relative_to(pristine)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(p.read_bytes())
        child = subprocess.Popen([sys.executable, "-c", program, str(db_path)])
        deadline = time.monotonic() + 30
        while not marker_path(db_path).exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        if marker_path(db_path).exists():
            interrupted.append(delay)  # the kill landed inside the repair

        async def reopen() -> None:
            async with yurudb.open(db_path, daily_backup=False) as store:
                assert await store.check() == ["ok"]

        asyncio.run(reopen())
        assert not marker_path(db_path).exists()
        after = {r[1]: r[1:] for r in rows(db_path, MESSAGES)}
        assert after == {r[1]: r[1:] for r in before if r[0] not in lost}, f"killed {delay} s after the marker"
    assert interrupted, "no kill landed inside the repair: the test proved nothing"


async def test_corruption_met_at_run_time_in_a_large_file_is_repaired_at_the_next_start(db_path: Path) -> None:
    # Start-up runs the full quick_check only up to 32 MB; past that, damage shows when it is read.
    big = "x" * 12_000
    async with yurudb.open(db_path, daily_backup=False) as store:
        sessions = [await store.create_session(f"s{i}") for i in range(3)]
        for s in sessions:
            for _ in range(2):
                await store.append_messages(s.id, [{"type": "user", "content": f"{k} {big}"} for k in range(250)])
    assert db_path.stat().st_size > integrity.FULL_CHECK_MAX_BYTES
    before = rows(db_path, MESSAGES)
    page, lost = sorted(leaves(db_path, "messages").items())[len(leaves(db_path, "messages")) // 2]
    victim = next(r for r in before if r[0] == lost[0])[2]  # the session the smashed rows belong to
    smash(db_path, page)

    async with yurudb.open(db_path, daily_backup=False) as store:
        assert store.recovery.quarantined == []  # the structural check cannot see it
        with pytest.raises(DatabaseError):
            await store.get_messages(victim, limit=None)
        late = await store.append_message(victim, type="user", content="written after the damage")
    assert integrity.suspect_path(db_path).exists()

    async with yurudb.open(db_path, daily_backup=False) as store:
        assert store.recovery.quarantined and store.recovery.salvage.damaged_regions == 1
        got = await store.get_messages(victim, limit=None)
        assert got[-1].id == late.id
    assert not integrity.suspect_path(db_path).exists()
    after = {r[1]: r[1:] for r in rows(db_path, MESSAGES)}
    assert len(after) == len(before) - len(lost) + 1
    assert {k: v for k, v in after.items() if k != late.id} == {r[1]: r[1:] for r in before if r[0] not in lost}


async def test_a_save_that_meets_corruption_is_kept_and_lands_after_the_repair(db_path: Path) -> None:
    big = "x" * 12_000
    async with yurudb.open(db_path, daily_backup=False) as store:
        s = await store.create_session("long")
        for _ in range(6):
            await store.append_messages(s.id, [{"type": "user", "content": f"{k} {big}"} for k in range(250)])
    assert db_path.stat().st_size > integrity.FULL_CHECK_MAX_BYTES
    before = rows(db_path, MESSAGES)
    for page in leaves(db_path, "idx_messages_session"):  # every save looks up its seq here
        smash(db_path, page)

    events = []
    async with yurudb.open(db_path, daily_backup=False, on_event=events.append) as store:
        assert store.state == "ready"  # the structural check cannot see it
        saved = await store.append_message(s.id, type="user", content="typed while the disk was failing")
        assert store.state == "degraded"
        assert "next start repairs it" in next(e for e in events if isinstance(e, Degraded)).reason
        assert saved.seq == 1501
    assert integrity.suspect_path(db_path).exists()

    async with yurudb.open(db_path, daily_backup=False) as store:
        report = store.recovery
        assert report.quarantined and report.salvage.damaged_regions == 0
        assert report.journal_entries_replayed == 1
        got = await store.get_messages(s.id, limit=2)
        assert [m.content for m in got][-1] == "typed while the disk was failing" and got[-1].seq == 1501
    after = rows(db_path, MESSAGES)
    assert after[:-1] == before and len(after) == len(before) + 1


# ---- the command --------------------------------------------------------------------------------
def test_salvage_command_merges_a_damaged_copy_into_the_database(db_path: Path, tmp_path: Path) -> None:
    asyncio.run(history(db_path, backup_midway=False))
    before = rows(db_path, MESSAGES)
    old = tmp_path / "old.db"
    os.replace(db_path, old)
    smash(old, sorted(leaves(old, "idx_messages_session"))[0])  # damaged, but only in an index

    async def empty() -> None:
        async with yurudb.open(db_path, daily_backup=False):
            pass  # a new, empty database where the old one was

    asyncio.run(empty())

    result = CliRunner().invoke(app, ["--db", str(db_path), "salvage", str(old)])
    assert result.exit_code == 0, result.output
    assert "450 messages" in result.output
    assert rows(db_path, MESSAGES) == before
    again = CliRunner().invoke(app, ["--db", str(db_path), "salvage", str(old)])
    assert again.exit_code == 0 and "(0, 0 and 0 of them new)" in again.output  # idempotent
    assert rows(db_path, MESSAGES) == before


def test_salvage_of_garbage_changes_nothing(db_path: Path, tmp_path: Path) -> None:
    asyncio.run(history(db_path, backup_midway=False))
    before = rows(db_path, MESSAGES)
    junk = tmp_path / "junk.db"
    junk.write_bytes(os.urandom(50_000))
    report = salvage(junk, db_path)
    assert report.error and report.messages == 0
    assert rows(db_path, MESSAGES) == before
    result = CliRunner().invoke(app, ["--db", str(db_path), "salvage", str(tmp_path / "missing.db")])
    assert result.exit_code == 2


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder / "yurucode.db"

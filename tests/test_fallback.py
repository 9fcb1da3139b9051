"""Real faults degrade the store to memory + spill journal; nothing acknowledged is lost when it comes back."""

from __future__ import annotations

import asyncio
import json
import os
import select
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import rows

import yurudb
from yurudb import NotFoundError
from yurudb.events import Degraded, Recovered, Retrying

CHILD = str(Path(__file__).with_name("child.py"))
BLOB = "x" * 2000


async def wait_for_state(store, state: str, seconds: float = 15.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if store.state == state:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"store stayed {store.state}, expected {state}")


async def test_disk_full_degrades_keeps_working_and_replays_everything(db_path: Path) -> None:
    events = []
    async with yurudb.open(db_path, daily_backup=False, on_event=events.append) as store:
        s = await store.create_session("busy")
        await store.set_max_size(db_path.stat().st_size)  # the "disk" is full from here on
        written = [await store.append_message(s.id, type="assistant", content=f"{i}{BLOB}") for i in range(150)]
        await store.record_usage(s.id, model="opus", tokens_input=5, tokens_output=7, cost_usd=0.5)
        assert store.state == "degraded"
        journal = db_path.with_name(db_path.name + ".journal")
        assert journal.stat().st_size > 150 * 2000  # every acknowledged write is on disk, fsynced
        # reads keep working from memory, merged with what the database has
        got = await store.get_messages(s.id, limit=None)
        assert [m.id for m in got] == [m.id for m in written]
        assert (await store.get_messages(s.id, limit=10))[-1].id == written[-1].id
        assert [x.id for x in await store.list_sessions()] == [s.id]
        renamed = await store.rename_session(s.id, "renamed while degraded")
        assert (await store.get_session(s.id)).name == renamed.name
        updated = await store.update_message(written[0].id, content="edited")
        assert updated.content == "edited"
        assert (await store.usage_summary())[0]["tokens_output"] == 7
        with pytest.raises(NotFoundError):
            await store.append_message("ghost", type="user", content="x")

        await store.set_max_size(None)  # space is back
        await wait_for_state(store, "ready")
        assert not journal.exists()
        assert (await store.get_session(s.id)).name == "renamed while degraded"
    ids = [r[0] for r in rows(db_path, "SELECT id FROM messages ORDER BY seq")]
    assert ids == [m.id for m in written]  # all there, in order, once each
    assert rows(db_path, "SELECT content FROM messages WHERE id = '%s'" % written[0].id) == [("edited",)]
    assert rows(db_path, "SELECT SUM(tokens_output) FROM analytics") == [(7,)]
    kinds = [type(e) for e in events]
    assert Degraded in kinds and Recovered in kinds
    assert kinds.index(Degraded) < kinds.index(Recovered)


async def test_restart_while_degraded_replays_the_journal(db_path: Path) -> None:
    store = await yurudb.open(db_path, daily_backup=False)
    s = await store.create_session("s")
    await store.set_max_size(db_path.stat().st_size)
    written = [await store.append_message(s.id, type="user", content=f"{i}{BLOB}") for i in range(100)]
    assert store.state == "degraded"
    await store.close()  # the last attempt fails too: the journal keeps the writes
    assert db_path.with_name(db_path.name + ".journal").exists()
    async with yurudb.open(db_path, daily_backup=False) as store:
        assert store.state == "ready"
        assert store.recovery.journal_entries_replayed == 100
        assert [m.id for m in await store.get_messages(s.id, limit=None)] == [m.id for m in written]
    async with yurudb.open(db_path, daily_backup=False) as store:
        assert store.recovery.journal_entries_replayed == 0
        assert await store.count_messages(s.id) == 100


async def everything(store) -> dict:
    """Every session, message and usage record the store reads back, field by field."""
    sessions = await store.list_sessions()
    return {
        "sessions": [x.model_dump() for x in sessions],
        "messages": {x.id: [m.model_dump() for m in await store.get_messages(x.id, limit=None)] for x in sessions},
        "usage": {x.id: [u.model_dump(exclude={"id"}) for u in await store.usage_records(x.id)] for x in sessions},
    }


async def test_writes_held_while_degraded_keep_the_times_they_were_acknowledged_with(db_path: Path) -> None:
    async with yurudb.open(db_path, daily_backup=False) as store:
        a = await store.create_session("a")
        b = await store.create_session("b")
        await store.append_message(a.id, type="user", content="before")
        await store.set_max_size(db_path.stat().st_size)
        for i in range(30):  # every kind of write, each at a moment of its own
            await store.append_message(a.id if i % 2 else b.id, type="user", content=f"{i}{BLOB}")
            await asyncio.sleep(0.003)
        assert store.state == "degraded"
        await store.rename_session(b.id, "renamed while degraded")
        await asyncio.sleep(0.003)
        first = (await store.get_messages(a.id))[0]
        await store.update_message(first.id, content="edited while degraded")
        await asyncio.sleep(0.003)
        await store.record_usage(a.id, model="opus", tokens_input=1, tokens_output=2, cost_usd=0.5)
        c = await store.create_session("made while degraded")
        await store.append_message(c.id, type="assistant", content="hello")
        during = await everything(store)
        await asyncio.sleep(0.05)  # a replay now would stamp now: it must not
        await store.set_max_size(None)
        await wait_for_state(store, "ready")
        after = await everything(store)
    async with yurudb.open(db_path, daily_backup=False) as store:
        reopened = await everything(store)
    assert after == during
    assert reopened == during


async def test_a_lock_held_past_busy_timeout_degrades_then_completes(db_path: Path) -> None:
    events = []
    async with yurudb.open(db_path, daily_backup=False, busy_timeout_ms=200, on_event=events.append) as store:
        s = await store.create_session("s")
        holder = subprocess.Popen([sys.executable, CHILD, "hold-lock", str(db_path)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
            written = await asyncio.wait_for(
                asyncio.gather(*(store.append_message(s.id, type="user", content=str(i)) for i in range(20))), 10)
            assert store.state == "degraded"
            assert len(await store.get_messages(s.id)) == 20  # readers are not blocked by the lock
        finally:
            assert holder.stdin is not None
            holder.stdin.write("go\n")
            holder.stdin.flush()
            holder.wait(10)
        await wait_for_state(store, "ready")
    assert [r[0] for r in rows(db_path, "SELECT id FROM messages ORDER BY seq")] == [m.id for m in written]
    assert any(isinstance(e, Retrying) for e in events) or any(isinstance(e, Recovered) for e in events)


async def test_events_reach_async_iterators(db_path: Path) -> None:
    async with yurudb.open(db_path, daily_backup=False) as store:
        seen = []

        async def listen() -> None:
            async for event in store.events():
                seen.append(type(event))
                if isinstance(event, Recovered):
                    return

        listener = asyncio.create_task(listen())
        await asyncio.sleep(0)
        s = await store.create_session("s")
        await store.set_max_size(db_path.stat().st_size)
        for i in range(60):
            await store.append_message(s.id, type="user", content=f"{i}{BLOB}")
        await store.set_max_size(None)
        await asyncio.wait_for(listener, 15)
    assert seen[0] is Degraded and seen[-1] is Recovered


# ---- permission faults, in a process that cannot override file modes ---------------------------
def unprivileged() -> list[str]:
    """A command prefix under which file permissions apply (root keeps them only without its capabilities)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: permissions cannot be enforced")
    caps = "-dac_override,-dac_read_search,-fowner"
    return [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}"]


def probe(db: Path) -> dict:
    out = subprocess.run([*unprivileged(), sys.executable, CHILD, "probe", str(db)],
                         capture_output=True, text=True, timeout=120)
    assert "Traceback" not in out.stderr, out.stderr
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


async def test_read_only_database_file_degrades_without_a_traceback(db_path: Path) -> None:
    async with yurudb.open(db_path, daily_backup=False) as store:
        await store.create_session("existing")
    os.chmod(db_path, 0o444)
    try:
        report = probe(db_path)
    finally:
        os.chmod(db_path, 0o600)
    assert report["state"] == "degraded" and report["read_back"] is True
    assert report["sessions_listed"] == 2  # the one on disk and the one kept in memory
    assert "Degraded" in report["events"]


async def test_folder_without_permission_degrades_to_memory(db_path: Path) -> None:
    async with yurudb.open(db_path, daily_backup=False) as store:
        await store.create_session("existing")
    os.chmod(db_path.parent, 0o000)
    try:
        report = probe(db_path)
    finally:
        os.chmod(db_path.parent, 0o700)
    assert report["state_at_open"] == "degraded" and report["recovery_error"]
    assert report["read_back"] is True and report["sessions_listed"] == 1


async def test_uncreatable_folder_starts_degraded_in_memory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    async with yurudb.open(blocker / "sub" / "yurucode.db", daily_backup=False) as store:
        assert store.state == "degraded" and "cannot create" in store.recovery.error
        s = await store.create_session("memory only")
        await store.append_message(s.id, type="user", content="kept in memory")
        assert [m.content for m in await store.get_messages(s.id)] == ["kept in memory"]


async def test_a_torn_last_journal_line_is_skipped_and_the_rest_replayed(db_path: Path) -> None:
    store = await yurudb.open(db_path, daily_backup=False)
    s = await store.create_session("s")
    await store.set_max_size(db_path.stat().st_size)
    written = [await store.append_message(s.id, type="user", content=f"{i}{BLOB}") for i in range(30)]
    await store.close()
    journal = db_path.with_name(db_path.name + ".journal")
    with open(journal, "ab") as f:
        f.write(b'{"kind":"append_message","target":"torn","val')  # a crash in the middle of a write
    async with yurudb.open(db_path, daily_backup=False) as store:
        assert store.recovery.journal_entries_replayed == 30
        assert [m.id for m in await store.get_messages(s.id, limit=None)] == [m.id for m in written]
    assert not journal.exists()


async def test_an_unreadable_journal_is_kept_aside_never_deleted(db_path: Path) -> None:
    store = await yurudb.open(db_path, daily_backup=False)
    s = await store.create_session("s")
    await store.set_max_size(db_path.stat().st_size)
    for i in range(10):
        await store.append_message(s.id, type="user", content=f"{i}{BLOB}")
    await store.close()
    journal = db_path.with_name(db_path.name + ".journal")
    os.chmod(journal, 0o000)
    try:
        probe(db_path)  # a process that cannot read it opens, works, closes
    finally:
        os.chmod(journal, 0o600)
    kept = list(db_path.parent.glob(journal.name + "*"))
    assert kept, "the journal was deleted"
    # once readable again, the next start replays it
    async with yurudb.open(db_path, daily_backup=False) as store:
        assert store.recovery.journal_entries_replayed >= 10
        assert await store.count_messages(s.id) == 10
    assert not list(db_path.parent.glob(journal.name + "*"))


def test_a_journaled_save_is_fsynced_before_it_is_acknowledged(db_path: Path, tmp_path: Path) -> None:
    """Seen from the kernel's side: the journal's fsync comes before the process says "saved"."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed: the system calls cannot be watched")
    db_path.parent.mkdir(parents=True, exist_ok=True)
    log = tmp_path / "strace.log"
    done = subprocess.run([strace, "-f", "-qq", "-o", str(log), "-e", "trace=openat,fsync,fdatasync,write",
                           sys.executable, CHILD, "degraded-ack", str(db_path)], capture_output=True, text=True,
                          timeout=120)
    if done.returncode != 0 and "ptrace" in done.stderr:
        pytest.skip(f"strace cannot trace here: {done.stderr.strip()[:200]}")
    assert done.returncode == 0 and done.stdout.strip() == "acked", done.stderr
    journal_fd, synced = None, False  # the journal's latest opening, and whether it was fsynced since
    for line in log.read_text().splitlines():
        call = line.split(None, 1)[1] if line[:1].isdigit() else line
        if call.startswith("openat(") and ".journal" in call and "= " in call:
            journal_fd, synced = call.rsplit("= ", 1)[1].split()[0], False
        elif call.startswith(("fsync(", "fdatasync(")) and call.split("(", 1)[1].split(")", 1)[0] == journal_fd:
            synced = True
        elif call.startswith('write(1, "acked'):
            assert synced, "the save was acknowledged before its journal entry was fsynced"
            return
    raise AssertionError("no acknowledgement seen in the trace")


def test_a_degraded_save_is_answered_only_after_the_journal_holds_it(db_path: Path) -> None:
    """A FIFO stands in for the journal: its writer blocks until read, so an early answer shows up as "acked"."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    child = subprocess.Popen([sys.executable, CHILD, "degraded-ack", str(db_path), "wait"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "degraded", child.stderr.read()
        journal = db_path.with_name(db_path.name + ".journal")
        journal.rename(journal.with_name(journal.name + ".before"))
        os.mkfifo(journal)
        child.stdin.write("go\n")
        child.stdin.flush()
        # the save is now blocked opening the FIFO; nothing may answer it meanwhile
        answered, _, _ = select.select([child.stdout], [], [], 2.0)
        assert not answered, "the save was acknowledged before the journal received it"
        with open(journal, "rb") as fifo:
            records = [json.loads(line) for line in fifo.read().splitlines()]
        journal.unlink()  # anything journaled later goes to a plain file again
        assert [r["values"].get("content") for r in records] == ["the save under test"]
        assert child.stdout.readline().strip() == "acked"
        assert child.wait(timeout=60) == 0, child.stderr.read()
    finally:
        child.kill()
        child.wait()

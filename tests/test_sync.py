"""`sync`: incremental by cursor, complete lines only, rewrites and gone files, bad input, crashes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers import archived_lines, commit_back_to_back, damage, hold_write_lock, release, rows

import yurudb
from yurudb.claude import WatchStatus, restore_files, sync, transcript_files, watch

SID = "5e550000-0000-4000-8000-0000000000a1"


def line(n: int, sid: str = SID, **extra: object) -> bytes:
    return json.dumps({"type": "user", "sessionId": sid, "uuid": f"{sid}-u{n}", "cwd": "/repo",
                       "timestamp": f"2026-03-01T10:00:{n % 60:02d}.000Z",
                       "message": {"role": "user", "content": f"line {n}"}, **extra}).encode()


async def eventually(check: Callable[[], Awaitable[object]], expected: object, seconds: float = 10.0,
                     watching: asyncio.Task | None = None) -> object:
    """What `check()` gives once it is `expected`, or at the deadline: a watch works in the background
    (`watching`: the watch's task, which must not end meanwhile)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while (got := await check()) != expected and asyncio.get_running_loop().time() < deadline:
        assert watching is None or not watching.done(), watching.exception()
        await asyncio.sleep(0.02)
    return got


@dataclass
class Watching:
    """A watch running over a project folder (`watching`), and what it reported."""

    store: yurudb.Store
    root: Path
    path: Path  # the session SID's transcript
    task: asyncio.Task
    stop: asyncio.Event
    errors: list[str]  # status.error of each failed pass, in order

    async def lines(self) -> int:
        """How many of SID's lines are archived as messages (every thread)."""
        if not await self.store.count_sessions():
            return 0
        return len(await self.store.get_messages(SID, limit=None, thread=...))

    async def until(self, check: Callable[[], Awaitable[object]], expected: object) -> object:
        """eventually(), while the watch must go on."""
        return await eventually(check, expected, watching=self.task)

    async def stopped(self) -> WatchStatus:
        self.stop.set()
        return await asyncio.wait_for(self.task, 10)


@contextlib.asynccontextmanager
async def watching(tmp_path: Path, db_path: Path, first: bytes, **open_options: Any) -> AsyncIterator[Watching]:
    """`watch` over a project folder whose transcript starts as `first`, on a store opened with open_options."""
    root, path = project(tmp_path)
    path.write_bytes(first)
    stop = asyncio.Event()
    errors: list[str] = []
    async with yurudb.open(db_path, daily_backup=False, **open_options) as store:
        task = asyncio.get_running_loop().create_task(
            watch(store, root, stop=stop, on_error=lambda exc, status: errors.append(status.error or "")))
        try:
            yield Watching(store, root, path, task, stop, errors)
        finally:
            stop.set()
            await asyncio.wait([task], timeout=10)


@contextlib.asynccontextmanager
async def synced(tmp_path: Path, db_path: Path, lines: int) -> AsyncIterator[tuple[yurudb.Store, Path, Path]]:
    """(store, root, transcript) once a sync archived a project folder whose transcript has `lines` lines."""
    root, path = project(tmp_path)
    path.write_bytes(b"".join(line(i) + b"\n" for i in range(lines)))
    async with yurudb.open(db_path, daily_backup=False) as store:
        await sync(store, root)
        yield store, root, path


def project(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "projects"
    (root / "-repo").mkdir(parents=True)
    return root, root / "-repo" / f"{SID}.jsonl"


async def archived(store: yurudb.Store) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for s in await store.list_sessions():
        files.update(await transcript_files(store, s.id))
    return files


async def test_only_new_complete_lines_are_read_and_a_line_being_written_waits(tmp_path: Path, target) -> None:
    root, path = project(tmp_path)
    path.write_bytes(b"\n".join(line(i) for i in range(3)) + b"\n" + line(3)[:20])  # the last is half written
    async with yurudb.open(target, daily_backup=False) as store:
        first = await sync(store, root)
        assert (first.lines, first.waiting) == (3, 1)
        with open(path, "ab") as f:
            f.write(line(3)[20:] + b"\n" + line(4) + b"\n")
        second = await sync(store, root)
        assert second.lines == 2 and second.bytes == len(line(3)) + len(line(4)) + 2  # read from the cursor
        again = await sync(store, root)
        assert (again.files_unchanged, again.lines) == (1, 0)  # a stat, nothing read
        assert await archived(store) == {f"-repo/{SID}.jsonl": path.read_bytes()}
        assert [m.content for m in await store.get_messages(SID)] == [f"line {i}" for i in range(5)]


@pytest.mark.sqlite_only
async def test_a_rewritten_or_shrunk_file_is_read_again_and_nothing_is_lost(tmp_path: Path, db_path: Path) -> None:
    root, path = project(tmp_path)
    path.write_bytes(b"".join(line(i) + b"\n" for i in range(6)))
    async with yurudb.open(db_path, daily_backup=False) as store:
        await sync(store, root)
        # Replaced by a different file (a new inode), then shrunk in place: both read from the start.
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(b"".join(line(i, extra="rewritten") + b"\n" for i in range(6)))
        os.replace(tmp, path)
        report = await sync(store, root)
        assert report.files_rewritten == 1
        assert await archived(store) == {f"-repo/{SID}.jsonl": path.read_bytes()}
        path.write_bytes(b"".join(line(i) + b"\n" for i in range(2)))
        report = await sync(store, root)
        assert report.files_rewritten == 1
        assert await archived(store) == {f"-repo/{SID}.jsonl": path.read_bytes()}
        # every message ever archived is still there
        assert len(await store.get_messages(SID, limit=None)) == 6


async def test_a_file_edited_in_place_past_its_first_bytes_is_read_again_and_nothing_is_lost(
    tmp_path: Path, target
) -> None:
    root, path = project(tmp_path)
    pad = "x" * 900  # the lines edited are well past the file's first 4 KiB, which the cursor also checks
    first = [line(i, note=pad) for i in range(12)]
    path.write_bytes(b"".join(raw + b"\n" for raw in first))
    async with yurudb.open(target, daily_backup=False) as store:
        await sync(store, root)
        # the last two lines replaced in place by a longer one, then a line appended: the file is
        # longer than the cursor, its first bytes unchanged, and the old cursor falls inside a line
        edited = line(100, note=pad + "y" * 300)
        with open(path, "r+b") as f:
            f.seek(sum(len(raw) + 1 for raw in first[:10]))
            f.write(edited + b"\n" + line(101) + b"\n")
        report = await sync(store, root)
        assert report.files_rewritten == 1
        assert await archived(store) == {f"-repo/{SID}.jsonl": path.read_bytes()}  # the edit is archived
        ids = {m.id for m in await store.get_messages(SID, limit=None)}
        assert {f"{SID}-u{n}" for n in [*range(12), 100, 101]} <= ids  # the replaced lines' messages too


async def test_a_file_emptied_stays_its_sessions_and_exports_as_it_is(tmp_path: Path, target) -> None:
    async with synced(tmp_path, target, 3) as (store, root, path):
        path.write_bytes(b"")  # emptied in place (a new copy with no line yet)
        assert (await sync(store, root)).files_rewritten == 1
        assert await transcript_files(store, SID) == {f"-repo/{SID}.jsonl": b""}
        assert len(await store.get_messages(SID)) == 3  # the earlier copy's lines are kept
        path.write_bytes(line(7) + b"\n")
        await sync(store, root)
        assert await transcript_files(store, SID) == {f"-repo/{SID}.jsonl": path.read_bytes()}


@pytest.mark.parametrize("how", ["rename", "copy then delete", "two passes"])
async def test_a_moved_project_folder_takes_its_archive_along(tmp_path: Path, target, how: str) -> None:
    root, path = project(tmp_path)
    agent = root / "-repo" / SID / "subagents" / "agent-a1.jsonl"
    agent.parent.mkdir(parents=True)
    agent.write_bytes(line(50, isSidechain=True) + b"\n")
    path.write_bytes(b"".join(line(i) + b"\n" for i in range(3)))
    async with yurudb.open(target, daily_backup=False) as store:
        await sync(store, root)
        moved = root / "-repo-renamed"
        if how == "copy then delete":  # another inode (a move across file systems)
            shutil.copytree(root / "-repo", moved)
            shutil.rmtree(root / "-repo")
        else:
            (root / "-repo").rename(moved)
        if how == "two passes":  # a watch may see the folder go in one pass and arrive in the next
            assert (await sync(store, root, only=[path, agent])).files_gone == 2
            assert "source_gone" in ((await store.get_session(SID)).meta or {})
            report = await sync(store, root, only=[moved / path.name, moved / SID / "subagents" / agent.name])
        else:
            report = await sync(store, root)
        assert (report.files_moved, report.files_gone, report.messages_new) == (2, 0, 0)
        assert "source_gone" not in ((await store.get_session(SID)).meta or {})
        assert len(await store.get_messages(SID, limit=None)) == 3  # not each message twice
        assert rows(target, "SELECT COUNT(*) FROM transcript_files") == [(2,)]  # nor each line, nor an earlier copy
        assert await archived(store) == {f"-repo-renamed/{SID}.jsonl": (moved / path.name).read_bytes(),
                                         f"-repo-renamed/{SID}/subagents/agent-a1.jsonl":
                                             (moved / SID / "subagents" / agent.name).read_bytes()}
        assert len(await store.get_messages(SID, thread=f"{SID}/subagents/agent-a1.jsonl", limit=None)) == 1
        with open(moved / path.name, "ab") as f:
            f.write(line(3) + b"\n")
        again = await sync(store, root)
        assert (again.lines, again.files_rewritten) == (1, 0)  # read on from the cursor it took along


async def test_a_file_with_a_missing_files_name_but_other_bytes_is_a_file_of_its_own(
    tmp_path: Path, target
) -> None:
    async with synced(tmp_path, target, 3) as (store, root, path):
        other = root / "-elsewhere" / path.name
        other.parent.mkdir()
        other.write_bytes(b"".join(line(i, extra="other") + b"\n" for i in range(3)))
        path.unlink()
        report = await sync(store, root)
        assert (report.files_moved, report.files_gone, report.files_read) == (0, 1, 1)
        assert set(await archived(store)) == {f"-repo/{SID}.jsonl", f"-elsewhere/{SID}.jsonl"}


async def test_a_restored_file_takes_up_its_cursor_and_its_session_is_no_longer_gone(
    tmp_path: Path, target
) -> None:
    async with synced(tmp_path, target, 4) as (store, root, path):
        os.link(path, tmp_path / "held")  # its inode stays taken: the file put back gets another
        inode = path.stat().st_ino
        path.unlink()
        await sync(store, root)
        assert "source_gone" in ((await store.get_session(SID)).meta or {})
        restore_files(await transcript_files(store, SID), root)  # a new inode, the same bytes
        assert path.stat().st_ino != inode
        with open(path, "ab") as f:
            f.write(line(4) + b"\n")  # and Claude Code resumed it
        report = await sync(store, root)
        assert (report.files_rewritten, report.lines, report.messages_new) == (0, 1, 1)
        assert "source_gone" not in ((await store.get_session(SID)).meta or {})
        assert rows(target, "SELECT COUNT(*) FROM transcript_files") == [(1,)]  # no earlier copy kept beside it
        assert await archived(store) == {f"-repo/{SID}.jsonl": path.read_bytes()}


@pytest.mark.sqlite_only
async def test_lines_appended_after_a_damaged_last_run_are_archived_beside_it(tmp_path: Path, db_path: Path) -> None:
    root, path = project(tmp_path)
    path.write_bytes(b"".join(line(i) + b"\n" for i in range(3)))  # one small run, which the next lines join
    async with yurudb.open(db_path, daily_backup=False) as store:
        await sync(store, root)
    [(raw,)] = rows(db_path, "SELECT raw FROM transcript_blocks")
    damage(db_path, raw)
    with open(path, "ab") as f:
        f.write(line(3) + b"\n")
    async with yurudb.open(db_path, daily_backup=False) as store:
        report = await sync(store, root)  # not merged into the damaged run: a run of its own
        assert report.lines == 1 and not report.problems
        assert rows(db_path, "SELECT first_line, lines FROM transcript_blocks ORDER BY first_line") == [(1, 3), (4, 1)]
        assert [m.content for m in await store.get_messages(SID)] == [None, None, None, "line 3"]


async def test_a_file_claude_code_deleted_keeps_its_session_and_can_be_restored(tmp_path: Path, target) -> None:
    root, path = project(tmp_path)
    original = b"".join(line(i) + b"\n" for i in range(4))
    path.write_bytes(original)
    async with yurudb.open(target, daily_backup=False) as store:
        await sync(store, root)
        path.unlink()
        report = await sync(store, root)
        assert report.files_gone == 1
        session = await store.get_session(SID)
        assert session.meta and "source_gone" in session.meta
        assert len(await store.get_messages(SID)) == 4
        files = await transcript_files(store, SID)
    restored = restore_files(files, root)
    assert restored.written == [f"-repo/{SID}.jsonl"] and path.read_bytes() == original
    # never over a differing file
    path.write_bytes(b"changed by someone\n")
    again = restore_files(files, root)
    assert again.differing == [f"-repo/{SID}.jsonl"] and path.read_bytes() == b"changed by someone\n"


async def test_bad_input_is_reported_and_everything_else_archived(tmp_path: Path, target) -> None:
    root, path = project(tmp_path)
    path.write_bytes(b"".join(line(i) + b"\n" for i in range(3)))
    (root / "-repo" / "folder.jsonl").mkdir()  # a directory with a transcript's name
    loop = root / "-repo" / "loop.jsonl"
    loop.symlink_to(loop)  # a symlink loop
    (root / "-repo" / "dangling.jsonl").symlink_to(root / "nowhere.jsonl")
    big_sid = "5e550000-0000-4000-8000-0000000000b2"
    big = root / "-repo" / f"{big_sid}.jsonl"
    huge = json.dumps({"type": "user", "sessionId": big_sid, "uuid": "huge",
                       "message": {"role": "user", "content": "x" * (50 * 1024 * 1024)}}).encode()
    big.write_bytes(line(0, big_sid) + b"\n" + huge + b"\n" + line(2, big_sid) + b"\n")
    async with yurudb.open(target, daily_backup=False) as store:
        report = await sync(store, root)
        problems = "\n".join(report.problems)
        assert "folder.jsonl: not a file" in problems and "loop.jsonl" in problems and "dangling.jsonl" in problems
        assert report.oversized == 1  # kept byte-exact, without a message
        assert len(await store.get_messages(SID)) == 3
        assert [m.payload["uuid"] for m in await store.get_messages(big_sid)] == [f"{big_sid}-u0", f"{big_sid}-u2"]
        files = await archived(store)
    assert files[f"-repo/{big_sid}.jsonl"] == big.read_bytes()


@pytest.mark.sqlite_only
def test_an_unreadable_file_is_reported_and_the_rest_archived(tmp_path: Path, db_path: Path) -> None:
    from test_fallback import unprivileged

    root, path = project(tmp_path)
    path.write_bytes(b"".join(line(i) + b"\n" for i in range(3)))
    secret = root / "-repo" / "5e550000-0000-4000-8000-0000000000c3.jsonl"
    secret.write_bytes(line(0, "5e550000-0000-4000-8000-0000000000c3") + b"\n")
    secret.chmod(0o000)
    try:
        done = subprocess.run([*unprivileged(), sys.executable, "-m", "yurudb", "--db", str(db_path), "sync",
                               str(root)], capture_output=True, text=True, timeout=120)
    finally:
        secret.chmod(0o600)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "Permission denied" in done.stderr and secret.name in done.stderr
    assert archived_lines(db_path) == (3, 3)


SYNC_CHILD = """
import asyncio, sys
import pytest

import yurudb
from yurudb.claude import sync
async def main():
    async with yurudb.open(sys.argv[1], daily_backup=False) as store:
        print("syncing", flush=True)
        await sync(store, sys.argv[2])
asyncio.run(main())
"""


@pytest.mark.sqlite_only
def test_a_sync_killed_midway_finishes_at_the_next_one_with_every_line_once(tmp_path: Path, db_path: Path) -> None:
    root = tmp_path / "projects"
    files = {}
    for s in range(8):
        sid = f"5e550000-0000-4000-8000-00000000{s:04d}"
        (root / f"-p{s}").mkdir(parents=True)
        data = b"".join(line(i, sid, pad="p" * 2000) + b"\n" for i in range(3000))
        (root / f"-p{s}" / f"{sid}.jsonl").write_bytes(data)
        files[f"-p{s}/{sid}.jsonl"] = data
    rounds = int(os.environ.get("YURUDB_SYNC_KILL_ROUNDS", "4"))
    for k in range(rounds):
        child = subprocess.Popen([sys.executable, "-c", SYNC_CHILD, str(db_path), str(root)],
                                 stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[1])
        assert child.stdout is not None and child.stdout.readline().strip() == "syncing"
        time.sleep(0.2 + 0.3 * k)
        child.send_signal(signal.SIGKILL)
        child.wait()

    async def finish() -> dict[str, bytes]:
        async with yurudb.open(db_path, daily_backup=False) as store:
            await sync(store, root)
            return await archived(store)

    assert asyncio.run(finish()) == files
    assert archived_lines(db_path) == (8 * 3000, 8 * 3000)
    assert rows(db_path, "SELECT COUNT(*) FROM messages") == [(8 * 3000,)]


@pytest.mark.parametrize("workers", [False, True], ids=["inline", "workers"])
@pytest.mark.sqlite_only
async def test_a_sync_that_fills_the_disk_stops_and_the_next_one_archives_every_line_once(
    tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch, workers: bool
) -> None:
    # small commits (several per pass), so the disk fills while a commit is under way and the
    # next chunks are already being prepared (by worker processes too, as a big sync's are)
    sync_module = sys.modules[sync.__module__]
    monkeypatch.setattr(sync_module, "BATCH_BYTES", 256 * 1024)
    monkeypatch.setattr(sync_module, "CHUNK_BYTES", 64 * 1024)
    if workers:
        monkeypatch.setattr(sync_module, "POOL_MIN_BYTES", 0)
    stray: list[dict] = []  # what the loop was left to report (a task that failed unheard)
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: stray.append(context))
    root = tmp_path / "projects"
    files = {}
    for s in range(6):
        sid = f"5e550000-0000-4000-8000-0000000f{s:04d}"
        (root / f"-p{s}").mkdir(parents=True)
        data = b"".join(line(i, sid, pad=f"{s}-{i}-" * 200) + b"\n" for i in range(400))
        (root / f"-p{s}" / f"{sid}.jsonl").write_bytes(data)
        files[f"-p{s}/{sid}.jsonl"] = data
    async with yurudb.open(db_path, daily_backup=False) as store:
        await store.set_max_size(db_path.stat().st_size + 600 * 1024)  # room for a few commits only
        with pytest.raises(yurudb.StorageFullError):
            await sync(store, root)
        partial = await archived(store)
        # what was committed is whole, line by line, from each file's start
        assert partial and all(files[rel].startswith(data) and data.endswith(b"\n") for rel, data in partial.items())
        assert sum(map(len, partial.values())) < sum(map(len, files.values()))
        await store.set_max_size(None)  # space is back
        report = await sync(store, root)
        assert report.lines == 6 * 400 - sum(data.count(b"\n") for data in partial.values())
        assert await archived(store) == files
    assert archived_lines(db_path) == (6 * 400, 6 * 400)
    assert rows(db_path, "SELECT COUNT(*) FROM messages") == [(6 * 400,)]
    import gc

    gc.collect()
    await asyncio.sleep(0)
    assert stray == []


@pytest.mark.sqlite_only
async def test_a_repair_salvages_the_archive_too(tmp_path: Path, db_path: Path) -> None:
    from test_salvage import leaves, smash

    root, path = project(tmp_path)
    path.write_bytes(b"".join(line(i, pad="q" * 300) + b"\n" for i in range(400)))
    async with yurudb.open(db_path, daily_backup=False) as store:
        await sync(store, root)
    smash(db_path, sorted(leaves(db_path, "messages"))[1])  # no backup: salvage is all there is
    async with yurudb.open(db_path, daily_backup=False) as store:
        report = store.recovery
        # every run of lines came through (runs of about 64 KiB: 400 lines of ~450 bytes are 3)
        assert report.quarantined and report.salvage is not None and report.salvage.lost["transcript_blocks"] == 0
        # the raw lines came through whole: the transcript is rebuilt byte for byte
        assert await archived(store) == {f"-repo/{SID}.jsonl": path.read_bytes()}
        survivors = await store.get_messages(SID, limit=None)
        assert 0 < len(survivors) < 400 and all(m.payload["uuid"].startswith(SID) for m in survivors)


async def test_watch_archives_appended_lines_new_files_and_stops_with_everything_committed(
    tmp_path: Path, target
) -> None:
    async with watching(tmp_path, target, line(0) + b"\n") as w:
        assert await w.until(w.lines, 1) == 1  # the first full pass
        with open(w.path, "ab") as f:  # Claude Code appending a response
            f.write(line(1) + b"\n" + line(2) + b"\n")
        assert await w.until(w.lines, 3) == 3
        other = "5e550000-0000-4000-8000-0000000000d4"
        (w.root / "-repo" / f"{other}.jsonl").write_bytes(line(0, other) + b"\n")  # a new session
        assert await w.until(w.store.count_sessions, 2) == 2
        with open(w.path, "ab") as f:
            f.write(line(3) + b"\n")
        await asyncio.sleep(0.01)
        assert (await w.stopped()).passes >= 3
    async with yurudb.open(target, daily_backup=False) as store:
        files = await archived(store)
    assert files[f"-repo/{SID}.jsonl"] == w.path.read_bytes()


async def test_watch_follows_a_project_folder_renamed_or_copied_in_with_no_write_to_its_files(
    tmp_path: Path, target
) -> None:
    async def paths() -> set[str]:
        return {p for p, in rows(target, "SELECT path FROM transcript_files WHERE gone_at IS NULL")}

    async with watching(tmp_path, target, line(0) + b"\n" + line(1) + b"\n") as w:
        assert await w.until(paths, {f"-repo/{SID}.jsonl"}) == {f"-repo/{SID}.jsonl"}
        (w.root / "-repo").rename(w.root / "-renamed")  # the folder's event only: its files are not written
        assert await w.until(paths, {f"-renamed/{SID}.jsonl"}) == {f"-renamed/{SID}.jsonl"}
        other = "5e550000-0000-4000-8000-0000000000d5"
        elsewhere = tmp_path / "old-history" / "-copied"
        elsewhere.mkdir(parents=True)
        (elsewhere / f"{other}.jsonl").write_bytes(line(0, other) + b"\n")
        shutil.copytree(elsewhere, w.root / "-copied")  # a folder of transcripts copied in
        want = {f"-renamed/{SID}.jsonl", f"-copied/{other}.jsonl"}
        assert await w.until(paths, want) == want
        await w.stopped()
        assert len(await w.store.get_messages(SID, limit=None)) == 2  # moved, not archived twice


async def test_watch_waits_for_its_folder_to_come_back_and_marks_nothing_gone_meanwhile(
    tmp_path: Path, target
) -> None:
    async with watching(tmp_path, target, line(0) + b"\n") as w:
        assert await w.until(w.lines, 1) == 1
        away = tmp_path / "away"
        w.root.rename(away)  # the whole folder goes (a reset, an unmounted disk)

        async def noticed() -> bool:
            return any("is gone: waiting for it to come back" in error for error in w.errors)

        assert await w.until(noticed, True)
        with open(away / "-repo" / w.path.name, "ab") as f:
            f.write(line(1) + b"\n")  # written while it was away
        assert rows(target, "SELECT COUNT(*) FROM transcript_files WHERE gone_at IS NOT NULL") == [(0,)]
        away.rename(w.root)
        assert await w.until(w.lines, 2) == 2  # walked again when it came back
        with open(w.path, "ab") as f:
            f.write(line(2) + b"\n")
        assert await w.until(w.lines, 3) == 3  # and followed again
        assert (await w.stopped()).error is None
    assert rows(target, "SELECT COUNT(*) FROM transcript_files WHERE gone_at IS NOT NULL") == [(0,)]


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 0)], ids=["ctrl-c", "sigterm"])
@pytest.mark.sqlite_only
def test_the_watch_command_stops_with_everything_committed(tmp_path: Path, db_path: Path, sig: int, code: int) -> None:
    """Ctrl-C: one line and 130, as every command; SIGTERM (a service manager): 0. Lines are committed either way."""
    root, path = project(tmp_path)
    path.write_bytes(line(0) + b"\n")
    child = subprocess.Popen([sys.executable, "-m", "yurudb", "--db", str(db_path), "watch", str(root)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (db_path.exists() and _lines(db_path) >= 1):
            time.sleep(0.05)
        with open(path, "ab") as f:
            f.write(line(1) + b"\n" + line(2) + b"\n")
        while time.monotonic() < deadline and _lines(db_path) < 3:
            time.sleep(0.05)
        with open(path, "ab") as f:
            f.write(line(3) + b"\n")
        child.send_signal(sig)
        out, err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert child.returncode == code, err
    if sig == signal.SIGINT:
        assert "interrupted: " in err and "lines committed, the next sync goes on from there" in err
    else:
        assert "all committed" in out
    assert "Traceback" not in err
    assert _lines(db_path) == 4


@pytest.mark.sqlite_only
async def test_a_watch_outlives_a_failed_pass_and_archives_its_lines_once_the_database_is_free(
    tmp_path: Path, db_path: Path
) -> None:
    """Another process holds the database past the busy timeout while Claude Code writes, then the
    disk is full: each pass that fails is reported, the watch goes on, and the lines it could not
    commit are archived by a later pass without Claude Code writing anything more."""
    async with watching(tmp_path, db_path, line(0) + b"\n", busy_timeout_ms=200) as w:
        assert await w.until(w.lines, 1) == 1

        async def failures() -> int:
            return len(w.errors)

        holder = hold_write_lock(db_path)
        try:
            with open(w.path, "ab") as f:
                f.write(line(1) + b"\n" + line(2) + b"\n")
            assert await w.until(failures, 1) == 1 and "locked" in w.errors[0]
            assert await w.lines() == 1
        finally:
            release(holder)
        # no more writes by Claude Code: the retry alone brings the lines in
        assert await w.until(w.lines, 3) == 3
        # a full disk: the same
        await w.store.set_max_size(db_path.stat().st_size + 64 * 1024)
        with open(w.path, "ab") as f:
            f.write(b"".join(line(i, pad=os.urandom(3000).hex()) + b"\n" for i in range(3, 60)))  # no compressing it away
        assert await w.until(failures, 2) == 2 and "StorageFullError" in w.errors[-1]
        await w.store.set_max_size(None)
        assert await w.until(w.lines, 60) == 60
        status = await w.stopped()
        assert status.error is None and status.failures == len(w.errors)
    async with yurudb.open(db_path, daily_backup=False) as store:
        assert await archived(store) == {f"-repo/{SID}.jsonl": w.path.read_bytes()}


@pytest.mark.sqlite_only  # SQLite's write lock, held by another process
async def test_a_sync_gets_the_write_lock_between_another_processs_back_to_back_commits(
    tmp_path: Path, target
) -> None:
    """Another process commits back to back (50 ms holding the lock, 2 ms not): SQLite's busy handler
    looks again only every so often (25-100 ms apart) and misses the gaps, so each transaction of a
    sync with a 300 ms busy timeout failed more often than not; looking every millisecond, it gets in."""
    root, path = project(tmp_path)
    async with yurudb.open(target, daily_backup=False, busy_timeout_ms=300) as store:
        writer = commit_back_to_back(target, 30)
        try:
            for n in range(4):  # each sync takes the lock for several transactions
                with open(path, "ab") as f:
                    f.write(line(n) + b"\n")
                report = await sync(store, root)
                assert report.lines == 1
        finally:
            writer.kill()
            writer.wait()
        assert await archived(store) == {f"-repo/{SID}.jsonl": path.read_bytes()}


@pytest.mark.sqlite_only
def test_the_watch_command_says_loudly_when_its_last_pass_fails(tmp_path: Path, db_path: Path) -> None:
    """Ctrl-C while another process holds the database: the last pass cannot commit; the command says
    so (exit 1, no traceback) instead of "all committed"; the next sync works as before."""
    root, path = project(tmp_path)
    path.write_bytes(line(0) + b"\n")
    child = subprocess.Popen([sys.executable, "-m", "yurudb", "--db", str(db_path), "watch", str(root)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    holder = None
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (db_path.exists() and _lines(db_path) >= 1):
            time.sleep(0.05)
        holder = hold_write_lock(db_path)
        child.send_signal(signal.SIGINT)  # the last pass waits out the busy timeout (5 s), then fails
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
        if holder is not None:
            release(holder)
    assert child.returncode == 1, (out, err)
    assert "last pass failed" in err and "locked" in err and "Traceback" not in err and "all committed" not in out
    with open(path, "ab") as f:
        f.write(line(1) + b"\n")
    done = subprocess.run([sys.executable, "-m", "yurudb", "--db", str(db_path), "sync", str(root)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert _lines(db_path) == 2


def _lines(db: Path) -> int:
    try:
        return archived_lines(db)[0]
    except Exception:  # the schema is not there yet
        return 0


async def test_a_response_whose_lines_span_two_syncs_counts_once_with_its_final_usage(
    tmp_path: Path, target
) -> None:
    root, path = project(tmp_path)

    def streamed(n: int, output: int) -> bytes:
        return json.dumps({"type": "assistant", "sessionId": SID, "uuid": f"a{n}", "requestId": "req-1",
                           "message": {"id": "msg-1", "role": "assistant", "model": "claude-opus-4-6",
                                       "content": [{"type": "text", "text": f"part {n}"}],
                                       "usage": {"input_tokens": 10, "output_tokens": output}}}).encode()

    path.write_bytes(line(0) + b"\n" + streamed(1, 5) + b"\n")
    async with yurudb.open(target, daily_backup=False) as store:
        await sync(store, root)
        with open(path, "ab") as f:
            f.write(streamed(2, 480) + b"\n")
        await sync(store, root)
        [row] = await store.usage_summary(by="session")
    assert row["records"] == 1 and row["tokens_output"] == 480
    assert row["cost_usd"] == pytest.approx((10 * 5 + 480 * 25) / 1e6)  # claude-opus-4-6: $5 in, $25 out


async def test_a_rewrite_that_changes_lines_keeps_the_earlier_bytes_of_every_message(
    tmp_path: Path, target
) -> None:
    root, path = project(tmp_path)
    path.write_bytes(b"".join(line(i) + b"\n" for i in range(3)))
    async with yurudb.open(target, daily_backup=False) as store:
        await sync(store, root)
        before = {m.id: m.payload for m in await store.get_messages(SID)}
        # the same file rewritten with other lines at the same numbers (other uuids)
        other = "5e550000-0000-4000-8000-0000000000aa"
        path.write_bytes(b"".join(line(i, SID, uuid=f"{other}-{i}") + b"\n" for i in range(3)))
        assert (await sync(store, root)).files_rewritten == 1
        after = {m.id: m.payload for m in await store.get_messages(SID)}
        assert all(after[mid] == payload for mid, payload in before.items())  # not read from the new bytes
        assert len(after) == 6
        assert await archived(store) == {f"-repo/{SID}.jsonl": path.read_bytes()}


def test_a_worker_prepares_the_bytes_the_sync_read_or_says_it_cannot(tmp_path: Path) -> None:
    import zlib

    from yurudb.archive.prepare import prepare, prepare_range

    path = tmp_path / "t.jsonl"
    data = b"".join(line(i) + b"\n" for i in range(50))
    path.write_bytes(data + b'{"type": "user", "partial')
    start = len(line(0)) + 1
    chunk = data[start:]
    lines = chunk.split(b"\n")[:-1]
    args = ("x.jsonl", SID, None)
    same = prepare_range(str(path), start, len(chunk), zlib.crc32(chunk), 2, *args)
    assert same is not None and same == prepare(lines, 2, *args) and same.lines == 49
    # the file changed since the sync read it (same length, other bytes), or went: the sync's own copy is used
    path.write_bytes(data.replace(b"line 7", b"line X"))
    assert prepare_range(str(path), start, len(chunk), zlib.crc32(chunk), 2, *args) is None
    path.unlink()
    assert prepare_range(str(path), start, len(chunk), zlib.crc32(chunk), 2, *args) is None


@pytest.mark.sqlite_only  # FTS5's segments
async def test_a_commit_of_many_chunks_writes_its_text_to_the_index_once(
    tmp_path: Path, target, monkeypatch: pytest.MonkeyPatch
) -> None:
    # FTS5 writes the text it holds to a new segment whenever a statement opens a savepoint; a
    # commit of many chunks must give the index its text once, not a segment per chunk
    sync_module = sys.modules[sync.__module__]
    monkeypatch.setattr(sync_module, "CHUNK_BYTES", 8 * 1024)
    root, path = project(tmp_path)
    path.write_bytes(b"".join(line(i, message={"role": "user", "content": f"word{i} " * 40}) + b"\n"
                              for i in range(400)))
    async with yurudb.open(target, daily_backup=False) as store:
        report = await sync(store, root)
        assert report.lines == 400
        assert len(await store.search("word399")) == 1
    chunks = -(-path.stat().st_size // (8 * 1024))
    assert chunks >= 20
    assert rows(target, "SELECT COUNT(DISTINCT segid) FROM search_index_idx") == [(1,)]


async def test_a_file_that_grows_a_line_at_a_time_is_kept_in_few_runs_byte_for_byte(
    tmp_path: Path, target
) -> None:
    from yurudb.lines import codec
    from yurudb.lines import runs as archive_lines

    root, path = project(tmp_path)
    data = b""
    async with yurudb.open(target, daily_backup=False) as store:
        for n in range(120):  # ~20 KB in all: past SMALL_RUN once
            data += line(n, pad="w" * 100) + b"\n"
            path.write_bytes(data)
            await sync(store, root)
        assert await archived(store) == {f"-repo/{SID}.jsonl": data}
        messages = await store.get_messages(SID, limit=None)
        assert [m.payload["uuid"] for m in messages] == [f"{SID}-u{n}" for n in range(120)]
        small = rows(target, "SELECT first_line, lines, raw FROM transcript_blocks ORDER BY first_line")
        # then a burst of several runs' worth: its first run joins the small last one, the rest follow
        more = b"".join(line(n, pad="b" * 2000) + b"\n" for n in range(120, 520))
        path.write_bytes(data + more)
        await sync(store, root)
        assert await archived(store) == {f"-repo/{SID}.jsonl": data + more}
        messages = await store.get_messages(SID, limit=None)
        assert [m.payload["uuid"] for m in messages] == [f"{SID}-u{n}" for n in range(520)]
    after = rows(target, "SELECT first_line FROM transcript_blocks ORDER BY first_line")
    assert [r[0] for r in after[: len(small)]] == [r[0] for r in small] and len(after) > len(small) + 1
    runs = small
    # the last run takes each new line in until it holds SMALL_RUN bytes; then a new run begins
    assert [r[0] for r in runs] == [1] + [first + n for first, n, _ in runs[:-1]] and sum(r[1] for r in runs) == 120
    assert all(codec.size_of(raw) >= archive_lines.SMALL_RUN for _, _, raw in runs[:-1])
    assert len(runs) == len(data) // archive_lines.SMALL_RUN + 1


@pytest.mark.sqlite_only
def test_two_syncs_at_once_archive_every_line_once(tmp_path: Path, db_path: Path) -> None:
    """A `yurudb sync` while another pass (a watch, a second sync) runs: whichever commits a line
    first archives it; the other leaves it, with no error and no second copy of the file."""
    root = tmp_path / "projects"
    files = {}
    for k in range(12):
        sid = f"5e550000-0000-4000-8000-{k:012x}"
        (root / f"-p{k % 3}").mkdir(parents=True, exist_ok=True)
        files[root / f"-p{k % 3}" / f"{sid}.jsonl"] = sid
    total = 0
    for round_ in range(3):
        for path, sid in files.items():
            with open(path, "ab") as f:
                f.write(b"".join(line(round_ * 1000 + n, sid, pad="z" * 300) + b"\n" for n in range(400)))
        total += 400 * len(files)
        procs = [subprocess.Popen([sys.executable, "-m", "yurudb", "--db", str(db_path), "sync", str(root)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0 and "Traceback" not in err, err
        assert archived_lines(db_path) == (total, total)
    assert rows(db_path, "SELECT COUNT(*) FROM transcript_files WHERE path LIKE '%#replaced-%'") == [(0,)]
    assert rows(db_path, "SELECT COUNT(*) FROM messages") == [(total,)]

    async def restored() -> dict[str, bytes]:
        async with yurudb.open(db_path, daily_backup=False) as store:
            return await archived(store)

    assert asyncio.run(restored()) == {str(p.relative_to(root)): p.read_bytes() for p in files}


async def test_a_pass_whose_cursor_another_pass_moved_archives_only_the_lines_after_it(
    tmp_path: Path, target
) -> None:
    from yurudb.archive.apply import archive_all, load_state
    from yurudb.paths import machine_id
    from yurudb.archive.prepare import prepare
    from yurudb.archive.sync import SyncReport, _read, _walk

    root, path = project(tmp_path)
    data = b"".join(line(n, pad="p" * 200) + b"\n" for n in range(50))
    path.write_bytes(data)
    async with yurudb.open(target, daily_backup=False) as store:
        await sync(store, root)
        # pass B reads the cursor at 50 lines ...
        place = (machine_id(), str(root.resolve()))
        cursors, dictionary = await store.transaction(load_state, place)
        data += b"".join(line(n, pad="p" * 200) + b"\n" for n in range(50, 100))
        path.write_bytes(data)
        await sync(store, root)  # ... another pass archives lines 51-100 ...
        data += b"".join(line(n, pad="p" * 200) + b"\n" for n in range(100, 200))
        path.write_bytes(data)
        report = SyncReport()
        (f,) = _walk(root.resolve(), report)
        chunks = list(_read(f, cursors[f.rel], report))  # ... and B's chunk holds lines 51-200
        assert [(c.first, c.seen_lines) for c in chunks] == [(51, 50)]
        group = [(c, prepare(c.lines(), c.first, f.rel, f.session_hint, dictionary)) for c in chunks]
        (done,) = await store.transaction(archive_all, place, group)
        assert done.lines == 100 and done.messages_new == 100  # lines 101-200, once
        assert await archived(store) == {f"-repo/{SID}.jsonl": data}
        messages = await store.get_messages(SID, limit=None)
    assert [m.payload["uuid"] for m in messages] == [f"{SID}-u{n}" for n in range(200)]
    assert archived_lines(target) == (200, 200)


@pytest.mark.sqlite_only
async def test_lines_a_damaged_archive_lost_come_back_from_claude_codes_file_at_the_next_sync(
    tmp_path: Path, db_path: Path
) -> None:
    import random

    from test_salvage import leaves, smash

    root, path = project(tmp_path)
    noise = random.Random(3)
    path.write_bytes(b"".join(line(i, pad=noise.randbytes(300).hex()) + b"\n" for i in range(1500)))
    async with yurudb.open(db_path, daily_backup=False) as store:
        await sync(store, root)
    smash(db_path, sorted(leaves(db_path, "transcript_blocks"))[0])  # no backup: salvage is all there is
    async with yurudb.open(db_path, daily_backup=False) as store:
        salvaged = store.recovery.salvage
        assert salvaged is not None and salvaged.files_to_reread == 1
        report = await sync(store, root)  # the file is read again whole; the damaged copy is kept beside it
        assert report.files_rewritten == 1 and report.lines == 1500
        assert await archived(store) == {f"-repo/{SID}.jsonl": path.read_bytes()}
        messages = await store.get_messages(SID, limit=None)
        assert [m.payload["uuid"] for m in messages] == [f"{SID}-u{i}" for i in range(1500)]


async def test_two_machines_with_the_same_paths_keep_their_files_apart(
        tmp_path: Path, target, monkeypatch: pytest.MonkeyPatch) -> None:
    """One home and project path on two machines, one session resumed on both: each machine's file
    keeps its own row and cursor (no rewrite read, no earlier copy made), each line is one message,
    and an export gives both files byte-exact (the other machine's beside this one's)."""
    folder = tmp_path / "projects" / "-repo"
    folder.mkdir(parents=True)
    path = folder / f"{SID}.jsonl"
    laptop = b"".join(line(n) + b"\n" for n in range(10))
    desktop = laptop + b"".join(line(n) + b"\n" for n in range(10, 16))  # resumed there: six more lines
    async with yurudb.open(target) as store:
        for machine, data in (("laptop", laptop), ("desktop", desktop), ("laptop", laptop + line(90) + b"\n"),
                              ("desktop", desktop)):
            monkeypatch.setenv("YURUDB_MACHINE", machine)
            path.write_bytes(data)
            report = await sync(store, tmp_path / "projects")
            assert report.files_rewritten == 0 and not report.problems
        assert len(await store.get_messages(SID, limit=None)) == 17  # 16 lines, and the laptop's own one more
        assert rows(target, "SELECT machine, path FROM transcript_files ORDER BY machine") == [
            ("desktop", f"-repo/{SID}.jsonl"), ("laptop", f"-repo/{SID}.jsonl")]
        files = await transcript_files(store, SID)  # read on the desktop
        assert files[f"-repo/{SID}.jsonl"] == desktop
        assert files[f"-repo/{SID}.from-laptop.jsonl"] == laptop + line(90) + b"\n"


async def test_a_file_row_from_before_machines_is_taken_by_the_first_machine_to_sync_it(
        tmp_path: Path, target, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows of an archive upgraded to revision 0014 have no machine: the first sync of their folder
    reads on from their cursors, as the same machine did before."""
    folder = tmp_path / "projects" / "-repo"
    folder.mkdir(parents=True)
    path = folder / f"{SID}.jsonl"
    path.write_bytes(b"".join(line(n) + b"\n" for n in range(5)))
    async with yurudb.open(target) as store:
        await sync(store, tmp_path / "projects")
        await store.transaction(_forget_machines)
        with path.open("ab") as f:
            f.write(line(5) + b"\n")
        monkeypatch.setenv("YURUDB_MACHINE", "upgraded")
        report = await sync(store, tmp_path / "projects")
        assert (report.files_read, report.lines, report.files_rewritten) == (1, 1, 0)
        assert rows(target, "SELECT machine FROM transcript_files") == [("upgraded",)]
        assert (await transcript_files(store, SID))[f"-repo/{SID}.jsonl"] == path.read_bytes()


def _forget_machines(tx: Any) -> tuple[Any, None]:
    """The file rows as revision 0014 leaves an archive it upgrades: no machine."""
    from yurudb.writes.batch import BatchEffects

    tx.execute("UPDATE transcript_files SET machine = ''")
    return BatchEffects(), None

"""`push` / `pull` (yurudb/archive/transfer.py): one database copied into another and back, every
record once, the archive byte-exact, and a second copy changing nothing.

The target is the `target` fixture: a SQLite file, or with `--backend postgresql` a database on a
real server (the copy the issue asks for: SQLite at home, PostgreSQL at work).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import rows

import yurudb
from yurudb.archive.footprint import history_copies
from yurudb.claude import SessionStore, sync, transcript_files, transfer

SID = "7a000000-0000-4000-8000-0000000000a1"
RESUMED = "7a000000-0000-4000-8000-0000000000b2"
REWRITTEN = "7a000000-0000-4000-8000-0000000000c3"
GONE = "7a000000-0000-4000-8000-0000000000e5"
YURUDB = [sys.executable, "-m", "yurudb"]


def line(n: int, sid: str = SID, text: str | None = None, **extra: Any) -> bytes:
    kind = "user" if n % 2 == 0 else "assistant"
    body = text or f"line {n} about the flux capacitor"
    message: dict[str, Any] = {"role": kind, "content": body if kind == "user" else [{"type": "text", "text": body}]}
    if kind == "assistant":
        message |= {"id": f"msg_{sid[:6]}_{n}", "model": "claude-sonnet-4-5",
                    "usage": {"input_tokens": 100 + n, "output_tokens": 7}}
    return json.dumps({"type": kind, "uuid": f"{sid[:8]}-{n:04d}", "sessionId": sid, "cwd": "/home/me/repo",
                       "timestamp": f"2026-11-0{1 + n // 3600}T10:{n // 60 % 60:02d}:{n % 60:02d}.000Z",
                       "message": message, **extra}, separators=(",", ":")).encode()


def write(path: Path, lines: list[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(x + b"\n" for x in lines))


async def home_archive(db: Path, home: Path) -> Path:
    """A SQLite archive holding every kind of record: synced transcripts (a subagent, a resumed
    session's replayed lines, a rewritten file's earlier copy, a line that is not JSON), files kept
    beside them and history.jsonl, the Agent SDK's mirrored entries, and the app's own session."""
    root = home / ".claude" / "projects"
    main = root / "-home-me-repo" / f"{SID}.jsonl"
    write(main, [line(n) for n in range(40)] + [b'{"torn": '])
    write(main.parent / SID / "subagents" / "agent-a1.jsonl", [line(n, isSidechain=True) for n in range(100, 104)])
    write(main.parent / f"{RESUMED}.jsonl", [line(n) for n in range(10)] + [line(n, RESUMED) for n in range(10, 20)])
    write(main.parent / SID / "tool-results" / "toolu_01.txt", [b"saved tool output"] * 100)
    (root / "-home-me-repo" / "memory").mkdir()
    (root / "-home-me-repo" / "memory" / "notes.md").write_bytes(b"# remember the flux\n")
    write(home / ".claude" / "history.jsonl", [b'{"display":"first prompt","project":"/home/me/repo"}'])
    async with yurudb.open(db, daily_backup=False) as store:
        await sync(store, root)
        write(main.parent / SID / "tool-results" / "toolu_01.txt", [b"rewritten tool output"] * 3)
        rewritten = root / "-home-me-repo" / "rewritten.jsonl"
        write(rewritten, [line(n, REWRITTEN) for n in range(5)])
        await sync(store, root)
        write(rewritten, [line(n, REWRITTEN) for n in range(3)]
              + [line(9, REWRITTEN, "edited")])
        await sync(store, root)  # a rewrite: the earlier copy is kept beside it
        gone = root / "-home-me-repo" / f"{GONE}.jsonl"
        write(gone, [line(n, GONE) for n in range(4)])
        await sync(store, root)
        gone.unlink()
        await sync(store, root)  # Claude Code deleted it: its row and session are marked gone
        adapter = SessionStore(store)
        await adapter.append({"project_key": "p", "session_id": "7a000000-0000-4000-8000-0000000000d4"},
                             [json.loads(line(n, "7a000000-0000-4000-8000-0000000000d4")) for n in range(6)])
        app = await store.create_session("the app's own", working_directory="/home/me/app")
        for n in range(12):
            await store.append_message(app.id, {"type": "user" if n % 2 == 0 else "assistant",
                                                "content": f"app message {n} about gigawatts"})
        await store.record_usage(app.id, model="claude-sonnet-4-5", tokens_input=10, tokens_output=5, cost_usd=0.01)
        await store.record_usage(app.id, model="claude-sonnet-4-5", tokens_input=10, tokens_output=5, cost_usd=0.01)
        await store.record_usage(app.id, model="claude-opus-4-6", tokens_input=1, source_id="req-1", cost_usd=0.5)
        await store.rename_session(SID, "named by the user")
    return root


async def picture(db: Any, query: str = "flux capacitor") -> dict[str, Any]:
    """Everything a user sees of a database: sessions, each one's messages and usage, every exported
    file with its earlier copies, the SDK's load, and search."""
    async with yurudb.open(db, daily_backup=False, read_only=True) as store:
        out: dict[str, Any] = {}
        for s in await store.list_sessions(limit=None):
            messages = await store.get_messages(s.id, limit=None, thread=...)
            usage = sorted((u.model, u.tokens_input, u.tokens_output, u.cost_usd, u.source_id)
                           for u in await store.usage_records(s.id))
            try:
                files = await transcript_files(store, s.id, earlier=True)
            except yurudb.errors.NotFoundError:
                files = {}
            out[s.id] = (s.name, s.status, s.working_directory, s.claude_session_id, s.user_renamed, s.meta,
                         [(m.id, m.type, m.role, m.content, m.payload, m.thread) for m in messages], usage,
                         files)
        out["history"] = await history_copies(store)
        out["search"] = sorted(h.message_id for h in await store.search(query, limit=1000))
        out["sdk"] = await SessionStore(store).load({"project_key": "p",
                                                     "session_id": "7a000000-0000-4000-8000-0000000000d4"})
        return out


async def copy(source: Any, dest: Any, **options: Any) -> Any:
    async with yurudb.open(source, daily_backup=False, read_only=True) as src, \
            yurudb.open(dest, daily_backup=False) as dst:
        return await transfer(src, dst, **options)


async def test_a_copy_holds_everything_the_source_does_and_a_second_copy_changes_nothing(
        tmp_path: Path, target: Any) -> None:
    home = tmp_path / "home"
    await home_archive(tmp_path / "home.db", home)
    first = await copy(tmp_path / "home.db", target, machine="test-machine")
    assert first.changed and not first.problems
    assert first.files_new == first.files and first.lines > 0
    assert await picture(target) == await picture(tmp_path / "home.db")
    cursors = ("SELECT machine, root, path, lines, consumed, device, inode, size, mtime_ns, prefix_sha256, "
               "tail_sha256, synced_at, gone_at FROM transcript_files ORDER BY machine, root, path")
    assert rows(target, cursors) == rows(tmp_path / "home.db", cursors)  # the gone mark and the sync times too
    before = rows(target, "SELECT machine, root, path, lines, consumed, synced_at, gone_at FROM transcript_files "
                          "ORDER BY machine, root, path")
    second = await copy(tmp_path / "home.db", target, machine="test-machine")
    assert not second.changed, second.summary()
    assert second.files_unchanged == second.files
    assert rows(target, "SELECT machine, root, path, lines, consumed, synced_at, gone_at FROM transcript_files "
                        "ORDER BY machine, root, path") == before


async def test_pulled_back_the_copy_is_the_source_again_and_each_side_reads_on_from_it(
        tmp_path: Path, target: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Home's archive pushed to the target, work syncs into it, and it all comes back to a second
    home database; home syncs its own file on from the cursor the round trip kept."""
    home = tmp_path / "home"
    root = await home_archive(tmp_path / "home.db", home)
    await copy(tmp_path / "home.db", target, machine="test-machine")
    work = tmp_path / "work" / ".claude" / "projects"
    write(work / "-home-me-repo" / f"{SID}.jsonl", [line(n) for n in range(40)] + [line(n) for n in range(40, 50)])
    monkeypatch.setenv("YURUDB_MACHINE", "work")
    async with yurudb.open(target, daily_backup=False) as store:
        await sync(store, work)  # another machine: the same session resumed there
    monkeypatch.setenv("YURUDB_MACHINE", "test-machine")
    pulled = await copy(target, tmp_path / "again.db")
    assert not pulled.problems
    assert await picture(tmp_path / "again.db") == await picture(target)
    assert not (await copy(target, tmp_path / "again.db")).changed
    assert not (await copy(tmp_path / "again.db", target)).changed
    async with yurudb.open(tmp_path / "again.db", daily_backup=False) as store:
        with (root / "-home-me-repo" / f"{SID}.jsonl").open("ab") as f:
            f.write(line(500) + b"\n")
        report = await sync(store, root)
        assert (report.files_rewritten, report.lines) == (0, 1)  # read on from the pulled cursor
        files = await transcript_files(store, SID)
    assert files[f"-home-me-repo/{SID}.jsonl"] == (root / "-home-me-repo" / f"{SID}.jsonl").read_bytes()
    assert files[f"-home-me-repo/{SID}.from-work.jsonl"] == (work / "-home-me-repo" / f"{SID}.jsonl").read_bytes()


async def test_lines_synced_since_the_last_copy_are_read_on_and_differing_lines_are_kept_both(
        tmp_path: Path, target: Any) -> None:
    home = tmp_path / "home"
    root = await home_archive(tmp_path / "home.db", home)
    await copy(tmp_path / "home.db", target, machine="test-machine")
    main = root / "-home-me-repo" / f"{SID}.jsonl"
    with main.open("ab") as f:
        f.write(b"".join(line(n) + b"\n" for n in range(200, 260)))
    async with yurudb.open(tmp_path / "home.db", daily_backup=False) as store:
        await sync(store, root)
    grown = await copy(tmp_path / "home.db", target, machine="test-machine")
    assert (grown.files_grown, grown.lines, grown.files_differing) == (1, 60, 0)
    assert await picture(target) == await picture(tmp_path / "home.db")

    # the target's copy of a file holds other lines (read there before an edit in place): both stay
    other = tmp_path / "other.db"
    await copy(tmp_path / "home.db", other, machine="test-machine")
    edited = root / "-home-me-repo" / "rewritten.jsonl"
    data = edited.read_bytes()
    edited.write_bytes(data.replace(b"flux capacitor", b"flux condenser", 1))
    async with yurudb.open(tmp_path / "home.db", daily_backup=False) as store:
        await sync(store, root)
    async with yurudb.open(other, daily_backup=False) as store:
        before = await transcript_files(store, REWRITTEN, earlier=True)
    differing = await copy(other, target, machine="test-machine")
    assert differing.files_differing == 0  # the target has the same bytes as `other` here
    final = await copy(tmp_path / "home.db", other, machine="test-machine")
    assert final.files_differing >= 1
    async with yurudb.open(other, daily_backup=False) as store:
        after = await transcript_files(store, REWRITTEN, earlier=True)
    assert after["-home-me-repo/rewritten.jsonl"] == edited.read_bytes()
    assert set(before.values()) <= set(after.values())  # the copy it held before is still there


async def test_the_shared_real_transcripts_go_there_and_back_whole(tmp_path: Path, target: Any,
                                                                   shared_transcripts: Path) -> None:
    """Real Claude Code transcripts (read in place): synced at home, pushed, pulled into a third database."""
    async with yurudb.open(tmp_path / "home.db", daily_backup=False) as store:
        await sync(store, shared_transcripts)
    pushed = await copy(tmp_path / "home.db", target, machine="test-machine")
    assert not pushed.problems and pushed.files_new == pushed.files > 0
    home = await picture(tmp_path / "home.db", "file")
    assert home["search"] and await picture(target, "file") == home
    await copy(target, tmp_path / "back.db")
    assert await picture(tmp_path / "back.db", "file") == home
    assert not (await copy(tmp_path / "back.db", target)).changed


def test_the_commands_push_and_pull_and_say_what_they_did(tmp_path: Path, target: Any) -> None:
    import asyncio

    asyncio.run(home_archive(tmp_path / "home.db", tmp_path / "home"))
    env = {**os.environ, "YURUDB_PATH": str(tmp_path / "home.db")}
    env.pop("YURUDB_URL", None)
    pushed = subprocess.run([*YURUDB, "push", str(target)], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert pushed.returncode == 0, pushed.stderr
    assert "sessions new" in pushed.stdout and "Traceback" not in pushed.stderr
    again = subprocess.run([*YURUDB, "push", str(target)], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 0 and "nothing to copy" in again.stdout, again.stdout
    env["YURUDB_PATH"] = str(tmp_path / "pulled.db")
    pulled = subprocess.run([*YURUDB, "pull", str(target)], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert pulled.returncode == 0, pulled.stderr
    assert asyncio.run(picture(tmp_path / "pulled.db")) == asyncio.run(picture(tmp_path / "home.db"))


@pytest.mark.parametrize("args", [["push", "{home}"], ["push", "{missing}"], ["pull", "{missing}"], ["push"],
                                  ["pull", "{folder}"]])
def test_bad_arguments_are_refused_before_anything_is_written(tmp_path: Path, args: list[str]) -> None:
    import asyncio

    asyncio.run(home_archive(tmp_path / "home.db", tmp_path / "home"))
    env = {**os.environ, "YURUDB_PATH": str(tmp_path / "home.db")}
    env.pop("YURUDB_URL", None)
    (tmp_path / "folder").mkdir()
    names = {"home": str(tmp_path / "home.db"), "missing": str(tmp_path / "nowhere" / "x.db"),
             "folder": str(tmp_path / "folder")}
    before = sorted(p.name for p in tmp_path.rglob("*"))
    done = subprocess.run([*YURUDB, *[a.format(**names) for a in args]], env=env, capture_output=True, text=True, check=False,
                          timeout=120)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and "error:" in done.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_a_push_killed_midway_finishes_at_the_next_one_with_every_line_once(tmp_path: Path, target: Any) -> None:
    """A real fault: SIGKILL the pushing process while it commits; the next push completes the copy."""
    import asyncio

    root = tmp_path / "home" / ".claude" / "projects"
    count = int(os.environ.get("YURUDB_TEST_PUSH_SESSIONS", "40"))
    for s in range(count):
        sid = f"7a000000-0000-4000-8000-{s:012d}"
        write(root / "-repo" / f"{sid}.jsonl", [line(n, sid, f"line {n} of {s} " + "padding " * 40) for n in range(450)])

    async def build() -> None:
        async with yurudb.open(tmp_path / "home.db", daily_backup=False) as store:
            await sync(store, root)
    asyncio.run(build())
    env = {**os.environ, "YURUDB_PATH": str(tmp_path / "home.db")}
    env.pop("YURUDB_URL", None)
    proc = subprocess.Popen([*YURUDB, "push", str(target)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if rows(target, "SELECT COUNT(*) FROM transcript_files WHERE lines > 0")[0][0] >= 2:
                break
        except Exception:  # not created or migrated yet
            pass
        time.sleep(0.05)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = rows(target, "SELECT COUNT(*) FROM transcript_files WHERE lines > 0")[0][0]
    done = subprocess.run([*YURUDB, "push", str(target)], env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    assert asyncio.run(picture(target)) == asyncio.run(picture(tmp_path / "home.db"))
    assert rows(target, "SELECT COUNT(*) FROM messages")[0][0] == count * 450
    assert partial < count or proc.returncode == 0  # it was killed part way (or finished first: still a pass)


async def test_files_from_before_machines_are_pushed_as_this_machines(tmp_path: Path, target: Any) -> None:
    """An archive upgraded to revision 0014 has file rows with no machine: a push gives them this
    machine's id, as the machine's next sync would take them."""
    import sqlite3

    await home_archive(tmp_path / "home.db", tmp_path / "home")
    conn = sqlite3.connect(tmp_path / "home.db")
    with conn:
        conn.execute("UPDATE transcript_files SET machine = '' WHERE root != 'claude-agent-sdk'")
        conn.execute("UPDATE footprint_files SET machine = ''")
    conn.close()
    report = await copy(tmp_path / "home.db", target, machine="home-laptop")
    assert not report.problems
    assert {r[0] for r in rows(target, "SELECT machine FROM transcript_files WHERE root != 'claude-agent-sdk'")} \
        == {"home-laptop"}
    assert {r[0] for r in rows(target, "SELECT machine FROM footprint_files")} == {"home-laptop"}
    assert rows(target, "SELECT machine FROM transcript_files WHERE root = 'claude-agent-sdk'") == [("",)]
    assert not (await copy(tmp_path / "home.db", target, machine="home-laptop")).changed

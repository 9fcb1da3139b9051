"""The whole footprint: every file Claude Code keeps beside its transcripts, archived byte-exact,
deduplicated, with earlier copies, and restored so that the project folder is the same tree again."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from helpers import rows
from typer.testing import CliRunner

import yurudb
from yurudb.archive.footprint import session_key
from yurudb.claude import sync, transcript_files
from yurudb.cli import app

SID = "5e550000-0000-4000-8000-0000000000f1"
OTHER = "5e550000-0000-4000-8000-0000000000f2"
runner = CliRunner()


def tree(folder: Path) -> dict[str, bytes]:
    """Every file below a folder, with its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def project(root: Path) -> dict[str, bytes]:
    """A project as Claude Code leaves it: two sessions, their folders, and the project's own files."""
    files = {
        f"-repo/{SID}.jsonl": b"".join(json.dumps({"type": "user", "sessionId": SID, "uuid": f"a{i}", "cwd": "/repo",
                                                   "message": {"content": f"turn {i}"}}).encode() + b"\n"
                                       for i in range(3)),
        f"-repo/{OTHER}.jsonl": json.dumps({"type": "user", "sessionId": OTHER, "uuid": "b0", "cwd": "/repo",
                                            "message": {"content": "another"}}).encode() + b"\n",
        f"-repo/{SID}/tool-results/toolu_01.txt": b"big output line\n" * 5000,
        f"-repo/{SID}/tool-results/toolu_02.txt": b"big output line\n" * 5000,  # the same bytes again
        f"-repo/{SID}/subagents/agent-a1.meta.json": b'{"agentType":"Explore"}',
        f"-repo/{SID}/workflows/w.json": b'{"steps":[]}',
        f"-repo/{OTHER}/tool-results/toolu_09.bin": bytes(range(256)) * 64,  # binary
        "-repo/memory/MEMORY.md": b"# Memory\n- the tests run with pytest -q\n",
        "-repo/sessions-index.json": b'{"sessions":[]}',
        "-repo/.session-aliases": b"fix-the-parser " + SID.encode() + b"\n",
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return files


def blobs(db: Path) -> int:
    return rows(db, "SELECT COUNT(*) FROM footprint_blobs")[0][0]


def test_a_file_belongs_to_the_session_whose_folder_holds_it() -> None:
    assert session_key(f"-repo/{SID}/tool-results/x.txt") == SID
    assert session_key("-repo/memory/MEMORY.md") is None
    assert session_key("-repo/sessions-index.json") is None


async def test_every_file_beside_the_transcripts_is_archived_byte_exact_once_per_content(
        tmp_path: Path, target) -> None:
    root = tmp_path / "projects"
    files = project(root)
    async with yurudb.open(target, daily_backup=False) as store:
        report = await sync(store, root)
        assert report.footprint.new == 8 and not report.problems
        assert "8 other files" in report.summary()
        mine = await transcript_files(store, SID)
        other = await transcript_files(store, OTHER)
        again = await sync(store, root)  # unchanged: a stat each
    project_files = {rel for rel in files if rel.count("/") == 1 or rel.startswith("-repo/memory/")}
    assert mine == {rel: data for rel, data in files.items()
                    if rel in project_files - {f"-repo/{OTHER}.jsonl"} or rel.startswith(f"-repo/{SID}/")}
    assert other == {rel: data for rel, data in files.items()
                     if rel in project_files - {f"-repo/{SID}.jsonl"} or rel.startswith(f"-repo/{OTHER}/")}
    assert again.footprint.unchanged == 8 and again.footprint.new == 0
    assert blobs(target) == 7  # the two equal tool outputs share their bytes


async def test_a_rewritten_file_keeps_its_earlier_copy_and_a_grown_one_is_kept_whole_once(
        tmp_path: Path, target) -> None:
    home = tmp_path / ".claude"
    root = home / "projects"
    project(root)
    history = home / "history.jsonl"
    entry = {"display": "fix the parser", "pastedContents": {}, "timestamp": 1764700000000, "project": "/repo",
             "sessionId": SID}
    history.write_bytes(json.dumps(entry).encode() + b"\n")
    memory = root / "-repo/memory/MEMORY.md"
    async with yurudb.open(target, daily_backup=False) as store:
        await sync(store, root)
        first = blobs(target)
        memory.write_bytes(b"# Memory\n- rewritten by Claude\n")
        with open(history, "ab") as f:  # Claude Code appends each prompt
            f.write(json.dumps({**entry, "display": "and the tests", "timestamp": 1764700060000}).encode() + b"\n")
        report = await sync(store, root)
        assert (report.footprint.replaced, report.footprint.grown) == (1, 1)
        assert blobs(target) == first + 1  # the new memory; history's longer copy took the old one's place
        files = await transcript_files(store, SID, earlier=True)
        kept = await store.fetch("SELECT f.path, b.size FROM footprint_files AS f JOIN footprint_blobs AS b "
                                 "ON b.id = f.blob_id WHERE f.path = 'history.jsonl'")
    assert files["-repo/memory/MEMORY.md"] == b"# Memory\n- rewritten by Claude\n"
    earlier = [rel for rel in files if rel.startswith("-repo/memory/MEMORY.replaced-")]
    assert len(earlier) == 1 and earlier[0].endswith(".md")
    assert files[earlier[0]] == b"# Memory\n- the tests run with pytest -q\n"
    assert kept == [("history.jsonl", history.stat().st_size)]


async def test_a_new_tool_output_is_archived_by_the_watch(tmp_path: Path, target) -> None:
    import asyncio

    from yurudb.claude import watch

    root = tmp_path / "projects"
    project(root)
    new = root / f"-repo/{SID}/tool-results/toolu_03.txt"
    stop = asyncio.Event()
    async with yurudb.open(target, daily_backup=False) as store:
        task = asyncio.create_task(watch(store, root, stop=stop, debounce_ms=50))
        await asyncio.sleep(1.0)
        new.write_bytes(b"written while watched\n")
        for _ in range(100):
            await asyncio.sleep(0.05)
            if (await store.fetch_one("SELECT COUNT(*) FROM footprint_files WHERE path LIKE '%toolu_03.txt'")):
                break
        stop.set()
        await task
        files = await transcript_files(store, SID)
    assert files[f"-repo/{SID}/tool-results/toolu_03.txt"] == b"written while watched\n"


def test_a_project_folder_deleted_whole_comes_back_as_the_same_tree(tmp_path: Path, target) -> None:
    root = tmp_path / "projects"
    project(root)
    before = tree(root)
    assert runner.invoke(app, ["--db", str(target), "sync", str(root)]).exit_code == 0
    shutil.rmtree(root / "-repo")
    synced = runner.invoke(app, ["--db", str(target), "sync", str(root)])
    assert synced.exit_code == 0, synced.output
    restored = runner.invoke(app, ["--db", str(target), "restore-claude", "--gone", "--into", str(root)])
    assert restored.exit_code == 0, restored.output
    assert tree(root) == before
    if shutil.which("diff"):
        copy = tmp_path / "copy"
        copy.mkdir()
        for rel, data in before.items():
            (copy / rel).parent.mkdir(parents=True, exist_ok=True)
            (copy / rel).write_bytes(data)
        assert subprocess.run(["diff", "-r", str(copy), str(root)], capture_output=True).returncode == 0
    assert not [p for p in root.rglob("*") if p.name.endswith(".yurudb-restore")]
    assert os.listdir(root) == ["-repo"]


@pytest.mark.sqlite_only
def test_sync_reads_every_place_claude_code_keeps_projects_and_one_session_in_two_is_one(
        tmp_path: Path, db_path: Path, monkeypatch) -> None:
    from yurudb.claude import places, restore_target

    home = tmp_path / "home"
    gui, second = tmp_path / "gui-config", tmp_path / "second-config"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", f"{gui}, {second}")
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert places() == [gui / "projects", second / "projects", home / ".claude/projects",
                        home / ".config/claude/projects"]
    assert restore_target() == gui / "projects"
    project(gui / "projects")  # the GUI app's copy ...
    project(home / ".config/claude/projects")  # ... and the same sessions where ccusage also looks
    synced = runner.invoke(app, ["--db", str(db_path), "sync"])
    assert synced.exit_code == 0, synced.output
    for place in (gui / "projects", home / ".config/claude/projects"):
        assert f"reading {place}" in synced.output
    for place in (second / "projects", home / ".claude/projects"):
        assert f"not there: {place}" in synced.output
    rows = sqlite3.connect(db_path).execute("SELECT id FROM sessions ORDER BY id").fetchall()
    assert rows == [(SID,), (OTHER,)]
    messages = sqlite3.connect(db_path).execute("SELECT COUNT(*) FROM messages").fetchone()[0]
    assert messages == 4  # each line once, though two places hold it


@pytest.mark.sqlite_only
def test_recover_history_rebuilds_the_prompts_of_sessions_deleted_before_yurudb_saw_them(
        tmp_path: Path, db_path: Path) -> None:
    home = tmp_path / ".claude"
    root = home / "projects"
    project(root)  # SID and OTHER: archived below
    gone = "5e550000-0000-4000-8000-0000000000d1"  # deleted by the clean-up before yurudb was installed

    def entry(text: str, ms: int, session: str | None, project: str = "/repo", **extra) -> bytes:
        e = {"display": text, "pastedContents": extra.pop("pasted", {}), "timestamp": ms, "project": project}
        if session is not None:
            e["sessionId"] = session
        return json.dumps(e).encode() + b"\n"

    history = home / "history.jsonl"
    history.write_bytes(
        entry("fix the flaky test", 1_700_000_000_000, gone)
        + entry("and [Pasted text #1]", 1_700_000_060_000, gone,
                pasted={"1": {"id": 1, "type": "text", "content": "Traceback: boom"}})
        + entry("turn 0", 1_764_000_000_000, SID)  # typed in a session yurudb archived
        + entry("an old prompt, no session id", 1_600_000_000_000, None, project="/old")
        + entry("same hour, same session", 1_600_000_600_000, None, project="/old")
        + entry("next day, another one", 1_600_090_000_000, None, project="/old")
        + b"not json\n")
    cli = lambda *args: runner.invoke(app, ["--db", str(db_path), *args])  # noqa: E731
    assert cli("sync", str(root)).exit_code == 0
    first = cli("recover-history", str(root))
    assert first.exit_code == 0, first.output
    assert "6 prompts" in first.output and "3 sessions rebuilt, 5 prompts added" in first.output
    assert "1 lines are not prompts" in first.output
    again = cli("recover-history", str(root))
    assert "0 sessions rebuilt, 0 prompts added" in again.output  # nothing twice
    sessions = {s["id"]: s for s in json.loads(cli("sessions", "--json").output)}
    rebuilt = sessions[f"history-{gone}"]
    assert rebuilt["meta"]["rebuilt_from"] == "history.jsonl" and rebuilt["working_directory"] == "/repo"
    shown = json.loads(cli("export", f"history-{gone}").output)
    assert [m["content"] for m in shown["messages"]] == ["fix the flaky test", "and [Pasted text #1]\n\nTraceback: boom"]
    assert len([s for s in sessions if s.startswith("history-") and s != f"history-{gone}"]) == 2  # /old: two
    hits = json.loads(cli("search", "flaky", "--json").output)
    hits = hits["hits"] if isinstance(hits, dict) else hits
    assert [h["session_id"] for h in hits] == [f"history-{gone}"]
    refused = cli("restore-claude", f"history-{gone}", "--into", str(tmp_path / "elsewhere"))
    assert refused.exit_code == 2 and "rebuilt from history.jsonl" in refused.output
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.sqlite_only
def test_a_damaged_archived_file_is_found_by_check_and_never_restored_as_other_bytes(
        tmp_path: Path, db_path: Path) -> None:
    from helpers import damage

    root = tmp_path / "projects"
    files = project(root)
    assert runner.invoke(app, ["--db", str(db_path), "sync", str(root)]).exit_code == 0
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    blob = conn.execute("SELECT b.data FROM footprint_blobs AS b JOIN footprint_files AS f ON f.blob_id = b.id "
                        "WHERE f.path = '-repo/memory/MEMORY.md'").fetchone()[0]
    conn.close()
    damage(db_path, blob)
    checked = runner.invoke(app, ["--db", str(db_path), "check"])
    assert checked.exit_code == 1 and "MEMORY.md" in checked.output and "damaged" in checked.output
    shutil.rmtree(root)
    out = tmp_path / "out"
    exported = runner.invoke(app, ["--db", str(db_path), "restore-claude", SID, "--into", str(out)])
    assert exported.exit_code == 1 and "damaged" in exported.output
    assert not (out / "-repo/memory/MEMORY.md").exists()
    assert files  # the rest of the archive is untouched

"""The command at its edges: never a traceback, 2 for bad input and 1 for failures, read-only
commands that create nothing, files that are not ours left alone, whole values in tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import damage, dump, rows
from test_salvage import leaves, smash
from transcripts import write_project
from typer.testing import CliRunner

from yurudb.cli import app

runner = CliRunner()


def cli(db: Path, *args: str):
    return runner.invoke(app, ["--db", str(db), *args])


def listing(folder: Path) -> dict[str, bytes]:
    """Every file below a folder with its bytes: "nothing was created, moved or changed"."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def imported(tmp_path: Path, db_path: Path) -> Path:
    write_project(tmp_path / "projects")
    assert cli(db_path, "import", "claude", str(tmp_path / "projects")).exit_code == 0
    return db_path


def transcript(projects: Path, sid: str, lines: int, text=str, folder: str = "-repo") -> Path:  # noqa: ANN001
    """A Claude Code transcript of `lines` user lines (line i says text(i)) under projects/folder."""
    path = projects / folder / f"{sid}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(json.dumps({"type": "user", "sessionId": sid, "uuid": f"u{i}",
                                          "message": {"content": text(i)}}).encode() + b"\n" for i in range(lines)))
    return path


def no_traceback(result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


def test_read_only_commands_create_change_and_move_nothing(imported: Path, tmp_path: Path) -> None:
    folder = imported.parent
    session = json.loads(cli(imported, "sessions", "--json").output)[0]["id"]
    before = listing(folder)
    assert not (folder / "backups").exists()
    for args in (["sessions"], ["sessions", "--json"], ["show", session], ["usage"], ["usage", "--by", "day"],
                 ["export", session], ["export", "--all", "--format", "markdown"], ["check"], ["migrate", "current"],
                 ["search", "todo"], ["search", "todo", "--json"], ["show", session, "--around", "3"]):
        result = cli(imported, *args)
        assert result.exit_code == 0, (args, result.output)
        assert listing(folder) == before, args


def test_a_read_only_database_file_is_listed_without_leaving_files_behind(imported: Path) -> None:
    os.chmod(imported, 0o444)
    try:
        before = listing(imported.parent)
        result = cli(imported, "sessions")
        assert result.exit_code == 0, result.output
        assert listing(imported.parent) == before  # no -wal, no -shm
    finally:
        os.chmod(imported, 0o600)


def test_a_read_only_file_lists_for_a_process_that_cannot_write_it(imported: Path) -> None:
    from test_fallback import unprivileged

    os.chmod(imported, 0o444)
    try:
        before = listing(imported.parent)
        done = subprocess.run([*unprivileged(), sys.executable, "-m", "yurudb", "--db", str(imported), "sessions"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "sessions in" in done.stdout and "Traceback" not in done.stderr
        assert listing(imported.parent) == before  # no -wal, no -shm, nothing else
    finally:
        os.chmod(imported, 0o600)


def test_an_import_longer_than_the_window_keeps_every_line(tmp_path: Path, db_path: Path) -> None:
    project = tmp_path / "projects" / "-repo"
    project.mkdir(parents=True)
    sid = "5e55i0n0-0000-4000-8000-000000000000"
    lines = [json.dumps({"type": "user", "sessionId": sid, "uuid": f"u{i}", "cwd": "/repo",
                         "timestamp": f"2026-03-01T10:00:{i % 60:02d}.000Z",
                         "message": {"role": "user", "content": f"line {i}"}}) for i in range(10_500)]
    (project / f"{sid}.jsonl").write_text("\n".join(lines) + "\n")
    result = cli(db_path, "import", "claude", str(tmp_path / "projects"))
    assert result.exit_code == 0, result.output
    assert "10,500 new messages" in result.output
    assert rows(db_path, "SELECT SUM(lines), MIN(first_line), MAX(first_line + lines - 1) FROM transcript_blocks") == [
        (10_500, 1, 10_500)]
    assert rows(db_path, "SELECT COUNT(*) FROM messages") == [(10_500,)]
    again = cli(db_path, "import", "claude", str(tmp_path / "projects"))
    assert " 0 new messages" in again.output and rows(db_path, "SELECT COUNT(*) FROM messages") == [(10_500,)]


def test_commands_refuse_a_file_that_is_not_a_database_and_leave_it_alone(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    for args in (["check"], ["repair"], ["sessions"], ["usage"], ["backup"], ["import", "claude", str(tmp_path)],
                 ["migrate", "upgrade"], ["migrate", "downgrade", "base", "--yes"], ["migrate", "current"]):
        result = cli(notes, *args)
        assert result.exit_code == 2, (args, result.output)
        assert "not a yurudb database" in result.output
        no_traceback(result)
    assert listing(tmp_path) == {"notes.txt": b"my notes\n"}


def test_read_only_commands_on_a_damaged_file_create_nothing(imported: Path) -> None:
    import asyncio

    import yurudb

    async def long_session() -> str:  # pages of messages to smash
        async with yurudb.open(imported, daily_backup=False) as store:
            s = await store.create_session("long one")
            await store.append_messages(s.id, [{"type": "user", "content": f"word{k} " + "x" * 400}
                                               for k in range(300)])
            return s.id

    session = asyncio.run(long_session())
    pages = sorted(leaves(imported, "messages"))
    smash(imported, pages[len(pages) // 2])
    folder = imported.parent
    before = listing(folder)
    for args in (["show", session, "--limit", "300"], ["export", session], ["export", "--all"], ["search", "word150"],
                 ["sessions"], ["usage"], ["check"], ["secrets", "scan"]):
        result = cli(imported, *args)
        no_traceback(result)
        assert result.exit_code in (0, 1), (args, result.output)
        assert listing(folder) == before, f"yurudb {' '.join(args)} left files behind on a damaged database"
    assert cli(imported, "show", session, "--limit", "300").exit_code == 1  # the damage was met, and said


def test_check_reports_damage_and_changes_nothing_then_repair_repairs(imported: Path) -> None:
    import asyncio

    import yurudb

    async def app_messages() -> None:  # pages of messages to smash
        async with yurudb.open(imported, daily_backup=False) as store:
            s = await store.create_session("long one")
            await store.append_messages(s.id, [{"type": "user", "content": "x" * 400} for _ in range(300)])

    asyncio.run(app_messages())
    folder = imported.parent
    count = rows(imported, "SELECT COUNT(*) FROM messages")[0][0]
    pages = sorted(leaves(imported, "messages"))
    assert len(pages) > 2
    smash(imported, pages[len(pages) // 2])
    before = listing(folder)
    checked = cli(imported, "check")
    assert checked.exit_code == 1
    assert "yurudb repair" in checked.output and "corrupt" in checked.output
    assert listing(folder) == before  # reported, never quarantined or repaired

    repaired = cli(imported, "repair")
    assert repaired.exit_code == 0, repaired.output
    assert "kept as" in repaired.output and "could not be brought back" in repaired.output
    assert "messages: up to" in repaired.output
    assert list(folder.glob("*.corrupt-*"))
    kept = rows(imported, "SELECT COUNT(*) FROM messages")[0][0]
    assert 0 < kept < count
    assert cli(imported, "check").exit_code == 0
    again = cli(imported, "repair")
    assert again.exit_code == 0 and "nothing to repair" in again.output


def test_export_output_paths_that_cannot_work(imported: Path, tmp_path: Path) -> None:
    session = json.loads(cli(imported, "sessions", "--json").output)[0]["id"]
    cases = [
        (str(tmp_path / "no" / "such" / "dir" / "out.md"), 2, "does not exist"),
        (str(tmp_path), 2, "is a directory"),
        ("/proc/version", 1, ""),  # exists, cannot be written, even by root
        ("/dev/full", 1, "No space left"),  # a full disk
    ]
    for target, code, message in cases:
        result = cli(imported, "export", session, "--format", "markdown", "-o", target)
        assert result.exit_code == code, (target, result.output)
        assert message in result.output
        no_traceback(result)


BAD_INPUTS = [
    ["show"], ["show", "nope"], ["search"], ["search", "foo AND (", "--raw"],
    ["search", "x", "--since", "yesterday"], ["search", "x", "--limit", "0"], ["search", "x", "--session", "nope"],
    ["search", "x", "--type", ","], ["show", "x", "--around", "1", "--before", "2"], ["show", "x", "--limit", "many"], ["show", "x", "--before", "-"],
    ["sessions", "--limit", "x"], ["usage", "--by", "planet"], ["usage", "--since", "yesterday-ish"],
    ["export"], ["export", "nope"], ["export", "x", "--all"], ["export", "--all", "--format", "pdf"],
    ["import"], ["import", "claude", "/no/such/dir"], ["import", "snapshot", "/no/such.json"],
    ["import", "snapshot", "/dev/null"], ["restore", "/no/such.db"], ["restore", "/dev/null"],
    ["salvage", "/no/such.db"], ["migrate", "upgrade", "nosuchrev"], ["migrate", "downgrade", "nosuchrev"],
    ["migrate", "downgrade", "base"], ["migrate", "frobnicate"], ["backup", "--dest", "/no/such/dir/b.db"],
    ["frobnicate"], ["check", "extra-arg"],
]


@pytest.mark.parametrize("args", BAD_INPUTS, ids=lambda a: " ".join(a))
def test_every_command_meets_bad_input_with_one_line_and_exit_2_or_1(imported: Path, args: list[str]) -> None:
    before = dump(imported)
    result = cli(imported, *args)
    no_traceback(result)
    assert result.exit_code in (1, 2), result.output
    assert dump(imported) == before


def test_the_installed_command_prints_no_traceback(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("x")
    env = {**os.environ, "YURUDB_PATH": str(notes)}
    for args in (["sessions"], ["export", "x", "-o", str(tmp_path)], ["migrate", "downgrade", "nosuchrev"]):
        done = subprocess.run([sys.executable, "-m", "yurudb", *args], capture_output=True, text=True, env=env,
                              timeout=60)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stdout + done.stderr


def test_a_file_system_error_outside_the_database_work_is_one_line_too(tmp_path: Path) -> None:
    projects = tmp_path / "projects"
    sid = "5e55e0e0-0000-4000-8000-0000000000f5"
    transcript(projects, sid, 1)
    env = {**os.environ, "YURUDB_PATH": str(tmp_path / "y.db")}

    def yurudb(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "yurudb", *args], capture_output=True, text=True, env=env,
                              timeout=60)

    assert yurudb("sync", str(projects)).returncode == 0
    out = tmp_path / "out"
    out.mkdir()
    (out / "-repo").write_text("a file where the export wants a folder")
    done = yurudb("export", sid, "--format", "jsonl", "-o", str(out))  # the files are written after the reads
    assert done.returncode == 1 and f"File exists: {out / '-repo'}" in done.stderr, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    done = yurudb("restore-claude", sid, "--into", str(out / "-repo"))
    assert done.returncode == 2 and "is not a folder" in done.stderr, done.stderr


def test_tables_keep_whole_values_when_piped_and_label_times_utc(imported: Path) -> None:
    sessions = json.loads(cli(imported, "sessions", "--json").output)
    result = cli(imported, "sessions")
    for s in sessions:
        assert s["id"] in result.output and s["name"] in result.output
    assert "UTC" in result.output
    shown = cli(imported, "show", sessions[0]["id"])
    assert "UTC" in shown.output


def test_a_snapshot_with_one_bad_record_writes_nothing_and_names_it(db_path: Path, tmp_path: Path) -> None:
    good = {"id": "a", "name": "fine", "messages": [{"type": "user", "content": "hi"}], "createdAt": 1_700_000_000_000}
    bad = {"id": "b", "name": "bad time", "messages": [], "createdAt": "not a time"}
    worse = {"id": "c", "name": "bad usage", "analytics": [{"tokensInput": -1}]}
    path = tmp_path / "snap.json"
    path.write_text(json.dumps([good, bad, worse]))
    assert cli(db_path, "migrate", "upgrade").exit_code == 0
    result = cli(db_path, "import", "snapshot", str(path))
    assert result.exit_code == 2, result.output
    assert "session #1 (b)" in result.output and "session #2 (c), analytics #0" in result.output
    assert "nothing was imported" in result.output
    assert rows(db_path, "SELECT COUNT(*) FROM sessions") == [(0,)]


def test_export_and_restore_claude_put_back_every_copy_byte_for_byte_and_never_over_a_differing_file(
    tmp_path: Path, db_path: Path
) -> None:
    projects = tmp_path / "projects"
    sid = "5e55e0e0-0000-4000-8000-000000000000"
    path = transcript(projects, sid, 3)
    first = path.read_bytes()
    assert cli(db_path, "sync", str(projects)).exit_code == 0
    path.write_bytes(first[: first.index(b"\n") + 1] + b"not json, written over the rest\n")  # rewritten in place
    assert cli(db_path, "sync", str(projects)).exit_code == 0
    now = path.read_bytes()

    out = tmp_path / "out"
    result = cli(db_path, "export", sid, "--format", "jsonl", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert listing(out) == {f"-repo/{sid}.jsonl": now}
    result = cli(db_path, "export", sid, "--format", "jsonl", "-o", str(tmp_path / "all"), "--earlier")
    assert result.exit_code == 0, result.output
    earlier = listing(tmp_path / "all")
    assert earlier.pop(f"-repo/{sid}.jsonl") == now
    [(name, data)] = earlier.items()  # the copy from before the rewrite, named so any file system takes it
    assert data == first and name.startswith(f"-repo/{sid}.replaced-") and name.endswith(".jsonl")
    assert name.removeprefix(f"-repo/{sid}.replaced-").removesuffix(".jsonl").isdigit()
    result = cli(db_path, "export", sid, "--earlier")
    assert result.exit_code == 2 and "--earlier goes with --format jsonl" in result.output
    no_traceback(result)

    path.unlink()  # Claude Code's clean-up took it
    result = cli(db_path, "restore-claude", sid, "--into", str(projects))
    assert result.exit_code == 0, result.output
    assert path.read_bytes() == now and f"claude --resume {sid}" in result.output
    path.write_bytes(b"someone else's\n")
    before = listing(projects)
    result = cli(db_path, "restore-claude", sid, "--into", str(projects))
    assert result.exit_code == 1 and "left alone" in result.output
    no_traceback(result)
    assert listing(projects) == before


def test_restore_claude_gone_puts_back_every_session_claude_code_deleted(tmp_path: Path, db_path: Path) -> None:
    projects = tmp_path / "projects"
    files = {}
    for n in range(3):
        path = transcript(projects, f"5e55e0e0-0000-4000-8000-00000000000{n}", 1, folder=f"-p{n}")
        files[path] = path.read_bytes()
    assert cli(db_path, "sync", str(projects)).exit_code == 0
    kept, *deleted = sorted(files)
    for path in deleted:  # Claude Code's clean-up took two of them
        path.unlink()
    assert cli(db_path, "sync", str(projects)).exit_code == 0
    result = cli(db_path, "restore-claude", "--gone", "--into", str(projects))
    assert result.exit_code == 0, result.output
    assert "2 sessions whose files were gone are back" in result.output
    assert {p: p.read_bytes() for p in files} == files
    for args in (["restore-claude"], ["restore-claude", "x", "--gone"]):
        result = cli(db_path, *args)
        assert result.exit_code == 2 and "give a SESSION or --gone" in result.output
        no_traceback(result)


def test_archived_lines_damaged_on_disk_are_found_by_check_and_come_back_after_repair_and_sync(
    tmp_path: Path, db_path: Path
) -> None:
    import asyncio
    import random

    import yurudb
    from yurudb.claude import transcript_files
    from yurudb.errors import NotFoundError

    projects = tmp_path / "projects"
    sid = "5e55da3a-0000-4000-8000-000000000000"
    noise = random.Random(5)
    path = transcript(projects, sid, 1200, lambda i: f"{i} {noise.randbytes(300).hex()}")  # ~0.9 MB: several runs
    assert cli(db_path, "sync", str(projects)).exit_code == 0
    runs = rows(db_path, "SELECT first_line, lines, raw FROM transcript_blocks ORDER BY first_line")
    assert len(runs) >= 3
    first, count, raw = runs[1]
    damage(db_path, raw)  # one byte of the second run changed on disk, where SQLite checks nothing
    result = cli(db_path, "check")
    assert result.exit_code == 1 and f"lines {first}-{first + count - 1} damaged" in result.output, result.output
    no_traceback(result)

    async def read() -> tuple[list, Exception | None]:
        async with yurudb.open(db_path, daily_backup=False) as store:
            messages = await store.get_messages(sid, limit=None)  # the session still loads
            try:
                await transcript_files(store, sid)
            except NotFoundError as exc:
                return messages, exc
            return messages, None

    messages, refused = asyncio.run(read())
    assert len(messages) == 1200 and refused is not None and "missing or damaged" in str(refused)
    lost = [m for m in messages if m.payload is None]
    assert [m.seq for m in lost] == list(range(first, first + count))  # those lines, and only those
    assert all(m.payload["uuid"] == f"u{m.seq - 1}" for m in messages if m.payload is not None)

    result = cli(db_path, "repair")
    assert result.exit_code == 0 and "1 files will be read again" in result.output, result.output
    result = cli(db_path, "sync", str(projects))
    assert result.exit_code == 0 and "1 rewritten" in result.output, result.output
    result = cli(db_path, "check")  # the damaged copy is kept beside the new one, which is whole
    assert result.exit_code == 0 and "1 damaged runs in earlier copies" in result.output, result.output

    async def restored() -> dict[str, bytes]:
        async with yurudb.open(db_path, daily_backup=False) as store:
            messages = await store.get_messages(sid, limit=None)  # each once, its line whole again
            assert [m.payload["uuid"] for m in messages] == [f"u{i}" for i in range(1200)]
            return await transcript_files(store, sid)

    assert asyncio.run(restored()) == {f"-repo/{sid}.jsonl": path.read_bytes()}


def test_salvage_and_restore_of_a_file_that_is_no_database_are_bad_input_and_create_nothing(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes, not a database\n")
    db = tmp_path / "yurudb" / "yurucode.db"
    for args, said in ((["salvage", str(notes)], "nothing to salvage"), (["restore", str(notes)], "not a backup")):
        result = cli(db, *args)
        assert result.exit_code == 2 and said in result.output, result.output
        no_traceback(result)
    assert listing(tmp_path) == {"notes.txt": b"my notes, not a database\n"}  # no database made


@pytest.mark.parametrize("command", [["sync"], ["sessions"], ["import", "snapshot", "snap.json"], ["migrate", "upgrade"]])
def test_a_db_path_that_cannot_be_one_is_bad_input_and_creates_nothing(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "snap.json").write_text("[]")
    (tmp_path / "projects").mkdir()
    args = [a if a != "snap.json" else str(tmp_path / a) for a in command]
    if command == ["sync"]:
        args.append(str(tmp_path / "projects"))
    before = listing(tmp_path)
    folder = tmp_path / "a-folder"
    folder.mkdir()
    for db, said in ((folder, "is a folder"), (tmp_path / "missing" / "y.db", "does not exist")):
        result = cli(db, *args)
        assert result.exit_code == 2 and said in result.output, (args, result.output)
        assert len(result.output.strip().splitlines()) == 1
        no_traceback(result)
    assert listing(tmp_path) == before and not (tmp_path / "missing").exists()


def test_a_refused_import_into_a_new_path_leaves_nothing_behind(tmp_path: Path) -> None:
    here = tmp_path / "here"
    here.mkdir()
    bad = here / "bad.json"
    bad.write_text(json.dumps([{"id": "x", "messages": [{"type": 5}]}]))
    result = cli(here / "new.db", "import", "snapshot", str(bad))
    assert result.exit_code == 2 and "nothing was imported" in result.output
    assert sorted(p.name for p in here.iterdir()) == ["bad.json"]


def test_an_upgrade_with_nothing_to_do_writes_no_backup_and_daily_backups_say_daily(imported: Path) -> None:
    folder = imported.parent
    assert cli(imported, "migrate", "upgrade").exit_code == 0
    assert not list((folder / "backups").glob("*pre-upgrade*")) if (folder / "backups").exists() else True
    import asyncio

    import yurudb

    async def daily() -> None:
        async with yurudb.open(imported, daily_backup=True):
            pass

    asyncio.run(daily())
    names = [p.name for p in (folder / "backups").iterdir()]
    assert names and all("-daily" in n for n in names), names


def test_restore_keeps_the_newest_replaced_files_and_rotates_the_rest(imported: Path, tmp_path: Path) -> None:
    from yurudb.backends.sqlite.backup import KEEP

    backup = tmp_path / "b.db"
    assert cli(imported, "backup", "--dest", str(backup)).exit_code == 0
    for _ in range(KEEP + 2):
        assert cli(imported, "restore", str(backup)).exit_code == 0
    replaced = {p.name.rsplit(".replaced-", 1)[1] for p in imported.parent.glob(f"{imported.name}*.replaced-*")}
    assert len(replaced) == KEEP

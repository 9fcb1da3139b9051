"""The `yurudb` command through Typer's CliRunner, against temporary databases."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from helpers import dump
from transcripts import conversation, write_project
from typer.testing import CliRunner

from yurudb.cli import app

runner = CliRunner()


def cli(db: Path, *args: str):
    return runner.invoke(app, ["--db", str(db), *args])


@pytest.fixture
def imported(tmp_path: Path, db_path: Path) -> dict:
    project = write_project(tmp_path / "projects")
    result = cli(db_path, "import", "claude", str(tmp_path / "projects"))
    assert result.exit_code == 0, result.output
    return project


def snapshot_sessions() -> list[dict]:
    """A snapshot as the app holds its sessions (camelCase keys, free-form messages)."""
    return [
        {
            "id": "app-session-1", "name": "Refactor the parser", "status": "completed",
            "messages": [
                {"id": "m1", "type": "user", "role": "user", "content": "split parse() in two", "timestamp": 1700000000000},
                {"id": "m2", "type": "assistant", "role": "assistant", "streaming": False,
                 "content": [{"type": "text", "text": "Done."}], "usage": {"input_tokens": 4, "output_tokens": 9},
                 "tool_uses": [{"name": "Edit", "input": {"file_path": "parser.py"}}], "timestamp": 1700000001000},
                {"type": "system", "content": "no id on this one", "timestamp": 1700000002000},
            ],
            "workingDirectory": "/repo", "claudeSessionId": "c-1", "claudeTitle": "Parser refactor",
            "userRenamed": True, "createdAt": 1700000000000, "updatedAt": 1700000002000,
            "analytics": [{"id": 7, "model": "claude-sonnet-4-5", "tokensInput": 4, "tokensOutput": 9,
                           "tokensCache": 100, "costUsd": 0.25, "timestamp": 1700000001000},
                          {"id": "r-2", "model": "claude-opus-4-6", "tokensInput": 1, "tokensOutput": 2,
                           "tokensCache": 0, "costUsd": 0.5, "timestamp": 1700000001500}],
            "draft": "unsent text the app keeps", "metadata": {"pinned": True},
        },
        {
            "id": "app-session-2", "name": "Empty one", "status": "pending", "messages": [],
            "workingDirectory": None, "claudeSessionId": None, "claudeTitle": None, "userRenamed": False,
            "createdAt": 1700000100000, "updatedAt": 1700000100000, "analytics": [],
        },
    ]


def test_import_then_list_sessions_as_a_table_and_as_json(imported: dict, db_path: Path) -> None:
    table = cli(db_path, "sessions")
    assert table.exit_code == 0 and "Fix 500 on empty" in table.output
    listed = json.loads(cli(db_path, "sessions", "--json").output)
    assert {s["id"] for s in listed} == set(imported["sessions"])
    assert all(s["messages"] > 0 and s["cost_usd"] > 0 for s in listed)


def test_reimport_reports_nothing_new(imported: dict, tmp_path: Path, db_path: Path) -> None:
    before = dump(db_path)
    again = cli(db_path, "import", "claude", str(tmp_path / "projects"))
    assert again.exit_code == 0 and "0 sessions created" in again.output and "0 new messages" in again.output
    assert dump(db_path) == before


def test_show_pages_a_conversation_by_id_prefix(imported: dict, db_path: Path) -> None:
    sid = imported["sessions"][1]
    result = cli(db_path, "show", sid[:8], "--limit", "4")
    assert result.exit_code == 0, result.output
    assert "Fix 500" not in result.output and "older messages" in result.output
    full = cli(db_path, "show", sid, "--limit", "100")
    assert "the /todos endpoint returns 500" in full.output and "tool Read" in full.output


def test_usage_by_model_day_and_session(imported: dict, db_path: Path) -> None:
    by_model = json.loads(cli(db_path, "usage", "--json").output)
    assert sum(r["tokens_output"] for r in by_model) == 254 * 2 + 44
    by_day = json.loads(cli(db_path, "usage", "--by", "day", "--json").output)
    assert [r["day"] for r in by_day] == ["2026-03-01"]
    assert json.loads(cli(db_path, "usage", "--since", "2027-01-01", "--json").output) == []
    by_session = cli(db_path, "usage", "--by", "session")
    assert by_session.exit_code == 0 and "total" in by_session.output


def test_export_markdown_reads_as_a_conversation(imported: dict, db_path: Path) -> None:
    result = cli(db_path, "export", imported["sessions"][0], "--format", "markdown")
    assert result.exit_code == 0
    assert result.output.startswith("# Fix 500 on empty todo list")
    assert "## user" in result.output and "the /todos endpoint returns 500" in result.output


def test_snapshot_import_export_import_round_trip_is_identical(tmp_path: Path, db_path: Path) -> None:
    original = snapshot_sessions()
    source = tmp_path / "snapshot.json"
    source.write_text(json.dumps(original))
    assert cli(db_path, "import", "snapshot", str(source)).exit_code == 0
    exported = tmp_path / "export.json"
    result = cli(db_path, "export", "--all", "--output", str(exported))
    assert result.exit_code == 0, result.output
    back = {s["id"]: s for s in json.loads(exported.read_text())}
    assert back == {s["id"]: s for s in original}
    other = tmp_path / "other.db"
    assert cli(other, "import", "snapshot", str(exported)).exit_code == 0
    assert dump(other) == dump(db_path)
    # importing the same snapshot again changes nothing
    assert cli(db_path, "import", "snapshot", str(source)).exit_code == 0
    assert dump(other) == dump(db_path)


def test_check_backup_and_restore(imported: dict, tmp_path: Path, db_path: Path) -> None:
    assert cli(db_path, "check").output.strip().endswith("ok")
    made = cli(db_path, "backup", "--dest", str(tmp_path / "b.db"))
    assert made.exit_code == 0 and (tmp_path / "b.db").exists()
    assert cli(db_path, "import", "snapshot", str(_write(tmp_path, snapshot_sessions()))).exit_code == 0
    restored = cli(db_path, "restore", str(tmp_path / "b.db"))
    assert restored.exit_code == 0, restored.output
    assert {s["id"] for s in json.loads(cli(db_path, "sessions", "--json").output)} == set(imported["sessions"])


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "data.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["show", "no-such-session"], 2, "not found"),
        (["export", "no-such-session"], 2, "not found"),
        (["export"], 2, "give a SESSION or --all"),
        (["export", "x", "--format", "pdf"], 2, "--format must be"),
        (["sessions", "--limit", "0"], 2, "--limit must be at least 1"),
        (["import", "claude", "/no/such/dir"], 2, "no such directory"),
        (["import", "snapshot", "/no/such/file.json"], 2, "no such file"),
        (["usage", "--by", "planet"], 2, "by must be one of"),
        (["usage", "--since", "last tuesday"], 2, "--since must be a date"),
        (["restore", "/no/such/backup.db"], 2, "no such backup file"),
    ],
)
def test_bad_input_is_one_red_line_and_a_usage_exit_code(db_path: Path, args: list[str], code: int,
                                                         message: str) -> None:
    assert cli(db_path, "migrate", "upgrade").exit_code == 0
    result = cli(db_path, *args)
    assert result.exit_code == code, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1


def test_a_snapshot_that_is_not_json_or_not_sessions_is_rejected(tmp_path: Path, db_path: Path) -> None:
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    result = cli(db_path, "import", "snapshot", str(garbage))
    assert result.exit_code == 2 and "is not JSON" in result.output
    wrong = _write(tmp_path, {"hello": "world"})
    result = cli(db_path, "import", "snapshot", str(wrong))
    assert result.exit_code == 2 and "JSON array of session objects" in result.output


def test_restoring_a_garbage_file_fails_and_keeps_the_database(imported: dict, tmp_path: Path, db_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"x" * 5000)
    before = dump(db_path)
    result = cli(db_path, "restore", str(garbage))
    assert result.exit_code == 2 and "not a database, so not a backup" in result.output  # bad input
    assert dump(db_path) == before


def claude_home(monkeypatch: pytest.MonkeyPatch, home: Path) -> Path:
    """A home of the test's own, with no Claude Code config moved elsewhere: its ~/.claude/projects."""
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    return home / ".claude" / "projects"


def test_without_a_claude_code_folder_nothing_is_archived_and_the_demo_has_a_database_of_its_own(
        db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # no Claude Code folder at all, like a fresh machine's (what the command reads, whatever this machine holds)
    claude_home(monkeypatch, tmp_path / "home")
    result = cli(db_path, "sync")
    assert result.exit_code == 0 and "nothing to archive" in result.output and "yurudb demo" in result.output
    assert json.loads(cli(db_path, "sessions", "--json").output) == []  # the user's archive holds no example
    demo = tmp_path / "demo.db"
    shown = cli(db_path, "demo", str(demo))
    assert shown.exit_code == 0 and "your own archive is untouched" in shown.output
    assert [s["name"] for s in json.loads(cli(demo, "sessions", "--json").output)] == ["Fix 500 on empty todo list"]
    assert json.loads(cli(db_path, "sessions", "--json").output) == []


def test_an_example_an_older_yurudb_synced_is_pointed_out_and_delete_removes_it_after_a_backup(
        db_path: Path, tmp_path: Path) -> None:
    from yurudb.cli._edge import EXAMPLE_SESSION
    from yurudb.cli.archive import _example

    assert cli(db_path, "sync", str(_example())).exit_code == 0  # what an older yurudb's first run did
    listed = cli(db_path, "sessions")
    assert f"yurudb delete {EXAMPLE_SESSION} --yes" in listed.output
    refused = cli(db_path, "delete", EXAMPLE_SESSION)  # not a terminal: no question can be asked
    assert refused.exit_code == 2 and "--yes" in refused.output
    assert len(json.loads(cli(db_path, "sessions", "--json").output)) == 1
    deleted = cli(db_path, "delete", EXAMPLE_SESSION[:8], "--yes")
    assert deleted.exit_code == 0, deleted.output
    assert json.loads(cli(db_path, "sessions", "--json").output) == []
    assert "delete" not in cli(db_path, "sessions").output
    backups = list((db_path.parent / "backups").glob("*.db"))
    assert backups and sqlite3.connect(backups[0]).execute("SELECT COUNT(*) FROM sessions").fetchone() == (1,)
    assert cli(db_path, "delete", "nosuch", "--yes").exit_code == 2


def test_an_emptied_projects_folder_is_an_archive_whose_files_are_gone_not_a_first_run(
        db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    root = claude_home(monkeypatch, tmp_path / "home")
    write_project(root)  # one project: two sessions, one with a subagent
    third = "33333333-cccc-4ccc-8ccc-333333333333"
    conversation(third).write(root / "-home-dev-projects-other" / f"{third}.jsonl")  # and a second project
    files = {p: p.read_bytes() for p in root.rglob("*.jsonl")}
    assert cli(db_path, "sync").exit_code == 0
    names = {s["name"] for s in json.loads(cli(db_path, "sessions", "--json").output)}
    for project in list(root.iterdir()):  # the clean-up took every project folder
        shutil.rmtree(project)
    again = cli(db_path, "sync")
    assert again.exit_code == 0, again.output
    assert "bundled example" not in again.output and f"{len(files)} gone" in again.output
    assert {s["name"] for s in json.loads(cli(db_path, "sessions", "--json").output)} == names  # no example
    back = cli(db_path, "restore-claude", "--gone")
    assert back.exit_code == 0, back.output
    assert "3 sessions whose files were gone are back" in back.output
    assert {p: p.read_bytes() for p in root.rglob("*.jsonl")} == files
    # and the whole folder gone is said so: nothing marked gone, no example either
    shutil.rmtree(root)
    gone = cli(db_path, "sync")
    assert gone.exit_code == 1 and "is gone" in gone.output and "restore-claude --gone" in gone.output
    assert {s["name"] for s in json.loads(cli(db_path, "sessions", "--json").output)} == names


def paged_session(root: Path) -> str:
    """30 prompts, each followed by a progress line (hidden without --all), a long tool call, and a subagent."""
    sid = "5e550000-0000-4000-8000-0000000000aa"
    lines = []
    for i in range(1, 31):
        lines.append({"type": "user", "sessionId": sid, "uuid": f"u{i}", "message": {"role": "user", "content": f"prompt {i}"}})
        lines.append({"type": "progress", "sessionId": sid, "uuid": f"p{i}", "data": {"step": i}})
    lines.append({"type": "assistant", "sessionId": sid, "uuid": "a1", "message": {"role": "assistant", "content": [
        {"type": "tool_use", "id": "t", "name": "Bash", "input": {"command": "echo " + "x" * 200 + " end-of-command"}}]}})
    (root / "-repo").mkdir(parents=True)
    (root / "-repo" / f"{sid}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    sub = root / "-repo" / sid / "subagents" / "agent-s1.jsonl"
    sub.parent.mkdir(parents=True)
    sub.write_text(json.dumps({"type": "user", "sessionId": sid, "uuid": "s1", "isSidechain": True,
                               "message": {"role": "user", "content": "the subagent's task"}}) + "\n")
    return sid


def shown_prompts(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("prompt ")]


def test_show_pages_by_what_it_shows_says_when_there_is_more_and_prints_tool_arguments_whole(
        db_path: Path, tmp_path: Path) -> None:
    sid = paged_session(tmp_path / "projects")
    assert cli(db_path, "sync", str(tmp_path / "projects")).exit_code == 0
    newest = cli(db_path, "show", sid, "--limit", "3")
    assert newest.exit_code == 0, newest.output
    assert shown_prompts(newest.output) == ["prompt 29", "prompt 30"]  # and the tool call: three shown
    assert "end-of-command" in newest.output  # piped: the argument whole
    seq = int(newest.output.split("--before ")[1].split()[0])
    back = cli(db_path, "show", sid, "--limit", "3", "--before", str(seq))
    assert shown_prompts(back.output) == ["prompt 26", "prompt 27", "prompt 28"]
    first = cli(db_path, "show", sid, "--limit", "30", "--before", "5")
    assert shown_prompts(first.output) == ["prompt 1", "prompt 2"] and "older messages" not in first.output
    middle_seq = int(back.output.split("#")[2].split()[0])  # prompt 27's seq
    around = cli(db_path, "show", sid, "--around", str(middle_seq), "--limit", "5")
    assert shown_prompts(around.output) == ["prompt 25", "prompt 26", "prompt 27", "prompt 28", "prompt 29"]
    assert "older messages" in around.output and "newer messages" in around.output
    assert "end-of-command" in cli(db_path, "export", sid, "--format", "markdown").output
    thread = cli(db_path, "show", sid, "--thread", f"{sid}/subagents/agent-s1.jsonl")
    assert "the subagent's task" in thread.output and shown_prompts(thread.output) == []
    everything = cli(db_path, "show", sid, "--thread", "all", "--limit", "100")
    assert "the subagent's task" in everything.output and "prompt 1" in everything.output

"""`yurudb migrate` through Typer's CliRunner against temporary databases."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from helpers import dump, rows
from typer.testing import CliRunner

from yurudb.backends.sqlite.revision import HEAD
from yurudb.cli import app

runner = CliRunner()


def test_upgrade_on_a_new_path_creates_a_working_database(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    result = runner.invoke(app, ["--db", str(path), "migrate", "upgrade"])
    assert result.exit_code == 0, result.output
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO sessions(id, name, created_at, updated_at) VALUES ('s', 'n', 1, 1)")
    assert conn.execute("SELECT status, user_renamed FROM sessions").fetchone() == ("pending", 0)


def test_upgrade_uses_yurudb_path_by_default(db_path: Path) -> None:
    result = runner.invoke(app, ["migrate", "upgrade"])
    assert result.exit_code == 0, result.output
    assert db_path.exists()


def test_current_and_history_report_the_revision(db_path: Path) -> None:
    runner.invoke(app, ["migrate", "upgrade"])
    current = runner.invoke(app, ["migrate", "current"])
    assert current.exit_code == 0 and HEAD in current.output and "up to date" in current.output
    history = runner.invoke(app, ["migrate", "history"])
    assert "0001_initial" in history.output


def test_downgrade_to_base_refuses_without_yes_and_backs_up_with_it(db_path: Path) -> None:
    runner.invoke(app, ["migrate", "upgrade"])
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO sessions(id, name) VALUES ('s', 'keep me')")
    conn.commit()
    conn.close()
    refused = runner.invoke(app, ["migrate", "downgrade", "base"])
    assert refused.exit_code == 2 and "--yes" in refused.output
    assert rows(db_path, "SELECT name FROM sessions") == [("keep me",)]
    assert not (db_path.parent / "backups").exists()  # refused before anything, a backup included

    result = runner.invoke(app, ["migrate", "downgrade", "base", "--yes"])
    assert result.exit_code == 0, result.output
    names = {r[0] for r in rows(db_path, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert "sessions" not in names
    [made] = list((db_path.parent / "backups").glob("*pre-downgrade*"))
    assert str(made) in result.output.replace("\n", "")
    assert rows(made, "SELECT name FROM sessions") == [("keep me",)]


def test_every_downgrade_backs_up_first(db_path: Path) -> None:
    runner.invoke(app, ["migrate", "upgrade"])
    result = runner.invoke(app, ["migrate", "downgrade", "0001_initial"])
    assert result.exit_code == 0, result.output
    assert list((db_path.parent / "backups").glob("*pre-downgrade*"))


def test_uncreatable_folder_exits_non_zero_with_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = runner.invoke(app, ["--db", str(blocker / "sub" / "db.sqlite"), "migrate", "upgrade"])
    assert result.exit_code == 2  # a --db whose folder is not there is bad input: nothing is created
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "does not exist" in lines[0]


def test_an_unknown_revision_is_bad_input_and_changes_nothing(db_path: Path) -> None:
    runner.invoke(app, ["migrate", "upgrade"])
    before = dump(db_path)
    for action in ("upgrade", "downgrade"):
        result = runner.invoke(app, ["migrate", action, "nosuchrev"])
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output and "nosuchrev" in result.output
    assert dump(db_path) == before and not (db_path.parent / "backups").exists()


def populated(db_path: Path) -> dict[str, list]:
    """A database at head that holds a session, messages (one synced line too) and usage; its dump."""
    import asyncio

    import yurudb

    async def fill() -> None:
        async with yurudb.open(db_path, daily_backup=False) as store:
            s = await store.create_session("kept", meta={"k": 1})
            await store.append_messages(s.id, [{"type": "user", "content": f"words {i}"} for i in range(20)])
            await store.record_usage(s.id, model="claude-opus-4-6", tokens_input=5, tokens_output=7, cost_usd=0.25)

    asyncio.run(fill())
    return dump(db_path)


def test_downgrade_to_base_then_upgrade_gives_back_the_head_schema_and_the_backup_everything(db_path: Path) -> None:
    before = populated(db_path)
    down = runner.invoke(app, ["migrate", "downgrade", "base", "--yes"])
    assert down.exit_code == 0, down.output
    [made] = list((db_path.parent / "backups").glob("*pre-downgrade*"))
    up = runner.invoke(app, ["migrate", "upgrade"])
    assert up.exit_code == 0, up.output
    assert rows(db_path, "SELECT version_num FROM alembic_version") == [(HEAD,)]
    assert rows(db_path, "PRAGMA application_id") == [(0x79757275,)]
    assert rows(db_path, "SELECT COUNT(*) FROM sessions") == [(0,)]  # base holds nothing: that is what base is
    restored = runner.invoke(app, ["restore", str(made)])
    assert restored.exit_code == 0, restored.output
    assert dump(db_path) == before  # every row back, exactly
    # and down again, up again: the same door both ways
    assert runner.invoke(app, ["migrate", "downgrade", "base", "--yes"]).exit_code == 0
    assert runner.invoke(app, ["migrate", "upgrade"]).exit_code == 0
    assert rows(db_path, "SELECT version_num FROM alembic_version") == [(HEAD,)]


def test_a_file_an_older_yurudb_emptied_is_still_ours_and_another_programs_empty_one_is_not(tmp_path: Path) -> None:
    ours, theirs = tmp_path / "ours" / "y.db", tmp_path / "theirs" / "t.db"
    ours.parent.mkdir()
    theirs.parent.mkdir()
    for path in (ours, theirs):  # what `downgrade base` left before: Alembic's empty table, no mark
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
        conn.close()
    (ours.parent / "backups").mkdir()
    (ours.parent / "backups" / "y-20261201-000000-pre-downgrade.db").write_bytes(b"")
    assert runner.invoke(app, ["--db", str(ours), "migrate", "upgrade"]).exit_code == 0
    assert rows(ours, "SELECT version_num FROM alembic_version") == [(HEAD,)]
    before = theirs.read_bytes()
    refused = runner.invoke(app, ["--db", str(theirs), "migrate", "upgrade"])
    assert refused.exit_code == 2 and "not a yurudb database" in refused.output
    assert theirs.read_bytes() == before

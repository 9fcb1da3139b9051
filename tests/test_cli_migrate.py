"""`yurudb migrate` through Typer's CliRunner against temporary databases."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from yurudb.cli import app

runner = CliRunner()


def test_upgrade_on_a_new_path_creates_a_working_database(tmp_path: Path) -> None:
    path = tmp_path / "new" / "db.sqlite"
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
    assert current.exit_code == 0 and "0002_timestamps" in current.output and "up to date" in current.output
    history = runner.invoke(app, ["migrate", "history"])
    assert "0001_initial" in history.output


def test_downgrade_to_base_removes_the_tables(db_path: Path) -> None:
    runner.invoke(app, ["migrate", "upgrade"])
    result = runner.invoke(app, ["migrate", "downgrade", "base"])
    assert result.exit_code == 0, result.output
    names = {r[0] for r in sqlite3.connect(db_path).execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "sessions" not in names


def test_uncreatable_folder_exits_non_zero_with_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = runner.invoke(app, ["--db", str(blocker / "sub" / "db.sqlite"), "migrate", "upgrade"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot create database" in lines[0]


def test_bad_revision_exits_non_zero_without_traceback(db_path: Path) -> None:
    result = runner.invoke(app, ["migrate", "upgrade", "zzz"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output

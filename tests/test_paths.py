"""Database location per platform, the YURUDB_PATH override, and private file modes."""

from __future__ import annotations

import os
import stat
from pathlib import Path, PureWindowsPath

import pytest

from yurudb import paths
from yurudb.errors import DatabaseError


@pytest.fixture
def no_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.delenv("YURUDB_PATH", raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.mark.parametrize("platform", ["linux", "darwin"])
def test_posix_default_is_dot_yurucode_in_home(no_override: Path, platform: str) -> None:
    assert paths.default_db_path(platform) == no_override / ".yurucode" / "yurucode.db"


def test_windows_default_is_roaming_appdata(no_override: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # platformdirs' documented override stands in for the Windows shell folder lookup.
    monkeypatch.setenv("WIN_PD_OVERRIDE_APPDATA", r"C:\Users\me\AppData\Roaming")
    got = paths.default_db_path("win32")
    assert PureWindowsPath(str(got)) == PureWindowsPath(r"C:\Users\me\AppData\Roaming\yurucode\yurucode.db")


def test_env_var_overrides_every_platform(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("YURUDB_PATH", str(tmp_path / "x.db"))
    for platform in ("linux", "darwin", "win32"):
        assert paths.default_db_path(platform) == tmp_path / "x.db"


def test_path_argument_wins_over_env(db_path: Path, tmp_path: Path) -> None:
    assert paths.resolve(tmp_path / "arg.db") == tmp_path / "arg.db"
    assert paths.resolve(None) == db_path


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
def test_folder_is_created_0700_and_file_0600(tmp_path: Path) -> None:
    old = os.umask(0o000)  # the widest umask: modes must not depend on it
    try:
        path = paths.prepare(tmp_path / "a" / "b" / "yurucode.db")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_existing_file_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    path.write_bytes(b"")
    os.chmod(path, 0o640)
    paths.prepare(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_uncreatable_folder_raises_a_database_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DatabaseError, match="cannot create database"):
        paths.prepare(blocker / "sub" / "yurucode.db")

"""Every test gets a real SQLite file under tmp_path, and YURUDB_PATH points at it."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_TRANSCRIPTS = Path(__file__).resolve().parents[2] / "shared" / "data" / "claude-transcripts"


@pytest.fixture(autouse=True)
def db_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh database path in a folder of its own for this test, also exported as YURUDB_PATH
    (the command takes a --db whose folder is missing for bad input)."""
    path = tmp_path / "yurudb" / "yurucode.db"
    path.parent.mkdir()
    monkeypatch.setenv("YURUDB_PATH", str(path))
    return path


@pytest.fixture
def shared_transcripts() -> Path:
    """The real Claude Code transcripts beside the repository; skips when they are absent."""
    if not SHARED_TRANSCRIPTS.is_dir():
        pytest.skip("../shared/data/claude-transcripts is not present")
    return SHARED_TRANSCRIPTS


@pytest.fixture
async def store(db_path: Path):
    """An open store on this test's database."""
    import yurudb

    async with yurudb.open(db_path) as s:
        yield s


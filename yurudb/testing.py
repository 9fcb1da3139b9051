"""Pytest fixtures for apps that use yurudb (registered as a pytest plugin through an entry point)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio


@pytest.fixture
def yurudb_path(tmp_path: Path) -> Path:
    """A database path inside this test's temporary folder."""
    return tmp_path / "yurudb-test" / "yurucode.db"


@pytest_asyncio.fixture
async def yurudb_store(yurudb_path: Path) -> AsyncIterator[Any]:
    """An open store on a fresh temporary database, closed after the test."""
    from . import open as open_store

    async with open_store(yurudb_path) as store:
        yield store

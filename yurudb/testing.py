"""Pytest fixtures for apps that use yurudb (a pytest plugin, registered through the `pytest11` entry point).

    async def test_my_app_saves_messages(yurudb_store, yurudb_factory):
        session = await yurudb_factory.session(name="demo")
        await yurudb_factory.messages(session.id, 3)
        assert len(await yurudb_store.get_messages(session.id)) == 3
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from .models import Message, Session
from .store.store import Store


@pytest.fixture
def yurudb_path(tmp_path: Path) -> Path:
    """A database path inside this test's temporary folder (nothing is created yet)."""
    return tmp_path / "yurudb-test" / "yurucode.db"


@pytest_asyncio.fixture
async def yurudb_store(yurudb_path: Path) -> AsyncIterator[Store]:
    """An open store on a fresh temporary database, closed after the test."""
    from . import open as open_store

    async with open_store(yurudb_path, daily_backup=False) as store:
        yield store


class Factory:
    """Makes realistic sessions, messages and usage with little typing."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._n = itertools.count(1)

    async def session(self, **fields: Any) -> Session:
        """A session; any create_session field can be given."""
        fields.setdefault("name", f"session {next(self._n)}")
        fields.setdefault("working_directory", "/home/dev/project")
        return await self.store.create_session(**fields)

    async def messages(self, session_id: str, count: int = 1, **fields: Any) -> list[Message]:
        """`count` messages alternating user / assistant (fields override both)."""
        made = []
        for i in range(count):
            kind = "user" if i % 2 == 0 else "assistant"
            message: dict[str, Any] = {"type": kind, "role": kind, "content": f"{kind} message {i + 1}"}
            if kind == "assistant":
                message["usage"] = {"input_tokens": 10, "output_tokens": 20}
            made.append({**message, **fields})
        return await self.store.append_messages(session_id, made)

    async def conversation(self, turns: int = 2, **session_fields: Any) -> tuple[Session, list[Message]]:
        """A session with `turns` user/assistant exchanges and one usage record per answer."""
        session = await self.session(**session_fields)
        messages = await self.messages(session.id, turns * 2)
        for _ in range(turns):
            await self.store.record_usage(session.id, model="claude-sonnet-4-5", tokens_input=10,
                                          tokens_output=20, cost_usd=0.0003)
        return session, messages


@pytest.fixture
def yurudb_factory(yurudb_store: Store) -> Factory:
    """Helpers that make sessions and messages in `yurudb_store`."""
    return Factory(yurudb_store)

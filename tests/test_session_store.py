"""yurudb.claude.SessionStore against the Agent SDK's own conformance suite, and its bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

import yurudb
from yurudb.claude import SessionStore

sdk_testing = pytest.importorskip("claude_agent_sdk.testing", reason="the Agent SDK is a test dependency")


async def test_the_sdk_conformance_suite_passes_with_no_optional_method_skipped(tmp_path: Path) -> None:
    opened: list[SessionStore] = []

    async def make() -> SessionStore:
        adapter = await SessionStore.open(tmp_path / f"conformance-{len(opened)}.db", daily_backup=False)
        opened.append(adapter)
        return adapter

    try:
        await sdk_testing.run_session_store_conformance(make, skip_optional=frozenset())
    finally:
        for adapter in opened:
            await adapter.close()


@pytest.mark.parametrize("key, entries", [
    ({"project_key": "p", "session_id": ""}, [{"uuid": "a"}]),
    ({"project_key": "p", "session_id": "s", "subpath": "../escape"}, [{"uuid": "a"}]),
    ({"project_key": "p", "session_id": "s", "subpath": "/abs"}, [{"uuid": "a"}]),
    ({"project_key": "p", "session_id": "s"}, ["not an object"]),
    ({"project_key": "p", "session_id": "s"}, [{"nan": float("nan")}]),
])
async def test_bad_input_is_a_validation_error_and_writes_nothing(db_path: Path, key: dict, entries: list) -> None:
    from helpers import dump

    async with yurudb.open(db_path, daily_backup=False) as store:
        adapter = SessionStore(store)
        before = dump(db_path)
        with pytest.raises(yurudb.ValidationError):
            await adapter.append(key, entries)
        await store.flush()
        assert dump(db_path) == before


async def test_mirrored_entries_are_one_yurudb_session_with_threads(db_path: Path) -> None:
    async with yurudb.open(db_path, daily_backup=False) as store:
        adapter = SessionStore(store)
        key = {"project_key": "-repo", "session_id": "5e550000-0000-4000-8000-0000000000e1"}
        await adapter.append(key, [{"type": "user", "uuid": "u1", "sessionId": key["session_id"],
                                    "message": {"role": "user", "content": "hello"}}])
        await adapter.append({**key, "subpath": "subagents/agent-1"},
                             [{"type": "user", "uuid": "s1", "message": {"role": "user", "content": "sub"}}])
        await adapter.append(key, [{"type": "user", "uuid": "u1", "message": {"content": "again"}}])  # idempotent
        [session] = await store.list_sessions()
        assert session.claude_session_id == key["session_id"] and session.name == "hello"
        assert [m.content for m in await store.get_messages(session.id)] == ["hello"]
        [thread] = await store.threads(session.id)
        assert [m.content for m in await store.get_messages(session.id, thread=thread)] == ["sub"]

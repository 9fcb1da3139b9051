"""yurudb.claude.SessionStore against the Agent SDK's own conformance suite, and its bad input."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import yurudb
from yurudb.claude import SessionStore

sdk_testing = pytest.importorskip("claude_agent_sdk.testing", reason="the Agent SDK is a test dependency")


async def test_the_sdk_conformance_suite_passes_with_no_optional_method_skipped(tmp_path: Path, backend: str,
                                                                                request: pytest.FixtureRequest) -> None:
    """On SQLite, and with --backend postgresql on a fresh PostgreSQL database for each store the suite makes."""
    opened: list[SessionStore] = []
    databases: list[str] = []

    async def make() -> SessionStore:
        if backend == "postgresql":
            from conftest import fresh_database

            databases.append(fresh_database(request.getfixturevalue("pg_server")))
            where: str | Path = databases[-1]
        else:
            where = tmp_path / f"conformance-{len(opened)}.db"
        adapter = await SessionStore.open(where, daily_backup=False)
        opened.append(adapter)
        return adapter

    try:
        await sdk_testing.run_session_store_conformance(make, skip_optional=frozenset())
    finally:
        for adapter in opened:
            await adapter.close()
        if databases:
            from conftest import drop_database

            for url in databases:
                drop_database(request.getfixturevalue("pg_server"), url)


@pytest.mark.parametrize("key, entries", [
    ({"project_key": "p", "session_id": ""}, [{"uuid": "a"}]),
    ({"project_key": "p", "session_id": "s", "subpath": "../escape"}, [{"uuid": "a"}]),
    ({"project_key": "p", "session_id": "s", "subpath": "/abs"}, [{"uuid": "a"}]),
    ({"project_key": "p", "session_id": "s"}, ["not an object"]),
    ({"project_key": "p", "session_id": "s"}, [{"nan": float("nan")}]),
])
async def test_bad_input_is_a_validation_error_and_writes_nothing(target, key: dict, entries: list) -> None:
    from helpers import dump

    async with yurudb.open(target, daily_backup=False) as store:
        adapter = SessionStore(store)
        before = dump(target)
        with pytest.raises(yurudb.ValidationError):
            await adapter.append(key, entries)
        await store.flush()
        assert dump(target) == before


async def test_mirrored_entries_are_one_yurudb_session_with_threads(target) -> None:
    async with yurudb.open(target, daily_backup=False) as store:
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


@pytest.mark.sqlite_only
async def test_synced_first_then_mirrored_is_one_session_with_each_line_once(tmp_path: Path, db_path: Path) -> None:
    import json

    from yurudb.claude import sync, transcript_files

    sid = "5e550000-0000-4000-8000-0000000000f2"
    lines = [{"type": "user", "uuid": "u1", "sessionId": sid, "message": {"role": "user", "content": "hi"}},
             {"type": "queue-operation", "operation": "enqueue", "sessionId": sid},  # no uuid
             {"type": "assistant", "uuid": "a1", "sessionId": sid, "message": {"role": "assistant", "content": "yo"}}]
    project = tmp_path / "projects" / "-repo"
    project.mkdir(parents=True)
    raw = b"".join(json.dumps(x, indent=None).encode() + b"\n" for x in lines)  # not the mirror's byte form
    (project / f"{sid}.jsonl").write_bytes(raw)
    async with yurudb.open(db_path, daily_backup=False) as store:
        await sync(store, tmp_path / "projects")
        adapter = SessionStore(store)
        key = {"project_key": "-repo", "session_id": sid}
        await adapter.append(key, lines[:2])
        await adapter.append(key, lines[2:])
        await adapter.append(key, lines[:1])  # a retried batch: the uuid entry is not written again
        assert [s.id for s in await store.list_sessions()] == [sid]
        messages = await store.get_messages(sid)
        assert [m.payload for m in messages] == lines  # each line once
        assert await adapter.load(key) == lines
        assert await transcript_files(store, sid) == {f"-repo/{sid}.jsonl": raw}  # the file's own bytes


MIRROR_CHILD = """
import asyncio, sys
from yurudb.claude import SessionStore
async def main():
    adapter = await SessionStore.open(sys.argv[1], daily_backup=False)
    key = {"project_key": "-repo", "session_id": sys.argv[2]}
    for b in range(int(sys.argv[3])):
        await adapter.append(key, [{"type": "user", "uuid": f"{sys.argv[2]}-{b}-{i}", "n": i,
                                    "message": {"role": "user", "content": "x" * 300}} for i in range(5)])
    await adapter.close()
    print("done", flush=True)
asyncio.run(main())
"""


@pytest.mark.sqlite_only
def test_two_processes_mirroring_into_one_database_meet_no_lock_error(db_path: Path) -> None:
    import asyncio
    import os
    import subprocess
    import sys

    async def create() -> None:
        async with yurudb.open(db_path, daily_backup=False):
            pass

    asyncio.run(create())
    batches = int(os.environ.get("YURUDB_MIRROR_BATCHES", "150"))
    children = [subprocess.Popen([sys.executable, "-c", MIRROR_CHILD, str(db_path), sid, str(batches)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 cwd=Path(__file__).parents[1]) for sid in ("one", "two")]
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0 and out.strip() == "done", err
        assert "locked" not in err.lower()

    async def count() -> dict[str, int]:
        async with yurudb.open(db_path, daily_backup=False) as store:
            adapter = SessionStore(store)
            return {sid: len(await adapter.load({"project_key": "-repo", "session_id": sid}) or [])
                    for sid in ("one", "two")}

    assert asyncio.run(count()) == {"one": batches * 5, "two": batches * 5}


async def test_concurrent_appends_share_commits_and_each_returns_once_committed(target) -> None:
    async with yurudb.open(target, daily_backup=False) as store:
        adapter = SessionStore(store)
        before = store.commits
        keys = [{"project_key": "-repo", "session_id": f"s{i}"} for i in range(60)]
        await asyncio.gather(*(adapter.append(k, [{"uuid": f"{k['session_id']}-u", "type": "user"}]) for k in keys))
        assert store.commits - before < len(keys)  # group commit: fewer transactions than appends
        for k in keys:
            assert await adapter.load(k) == [{"uuid": f"{k['session_id']}-u", "type": "user"}]
    from helpers import archived_lines

    assert archived_lines(target) == (60, 60)  # committed, on disk


@pytest.mark.sqlite_only
async def test_deleting_a_mirror_keeps_what_the_synced_file_shares(tmp_path: Path, db_path: Path) -> None:
    import json

    from yurudb.claude import sync

    sid = "5e550000-0000-4000-8000-0000000000f3"
    lines = [{"type": "user", "uuid": f"u{i}", "sessionId": sid, "message": {"role": "user", "content": f"m{i}"}}
             for i in range(3)]
    project = tmp_path / "projects" / "-repo"
    project.mkdir(parents=True)
    async with yurudb.open(db_path, daily_backup=False) as store:
        adapter = SessionStore(store)
        key = {"project_key": "-repo", "session_id": sid}
        await adapter.append(key, lines)  # mirrored first
        (project / f"{sid}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
        await sync(store, tmp_path / "projects")  # then synced: the same three messages
        await adapter.delete(key)
        assert await adapter.load(key) is None
        assert [m.payload for m in await store.get_messages(sid)] == lines  # the file still has them


def test_a_path_given_for_a_store_is_a_clear_error_that_names_the_way_to_open_one(db_path: Path) -> None:
    for wrong in (str(db_path), db_path, None):
        with pytest.raises(yurudb.ValidationError, match=r"SessionStore\.open\(path\)"):
            SessionStore(wrong)  # type: ignore[arg-type]
    assert not db_path.exists()  # nothing was opened or created


def test_the_sdk_conformance_suite_passes_under_trio_too(tmp_path: Path) -> None:
    """The SDK runs on anyio: an app on trio gets a store that runs on an asyncio loop of its own."""
    trio = pytest.importorskip("trio", reason="trio is a test dependency (pip install -e '.[test]')")
    opened: list[SessionStore] = []

    async def make() -> SessionStore:
        adapter = await SessionStore.open(tmp_path / f"trio-{len(opened)}.db", daily_backup=False)
        opened.append(adapter)
        return adapter

    async def main() -> None:
        try:
            await sdk_testing.run_session_store_conformance(make, skip_optional=frozenset())
            key = {"project_key": "p", "session_id": "s"}
            await opened[0].append(key, [{"uuid": "a", "type": "user"}])
            assert await opened[0].load(key) == [{"uuid": "a", "type": "user"}]
        finally:
            for adapter in opened:
                await adapter.close()

    trio.run(main)
    assert opened and all(a._portal is not None and not a._portal.thread.is_alive() for a in opened)

"""The public store API end to end, against a real database file."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from helpers import dump, hold_write_lock, release, rows

import yurudb
from yurudb import ConflictError, NotFoundError, ValidationError
from yurudb.events import MessagesDeleted
from yurudb.tables.entities import Message, MessageRow, Session, SessionRow, Usage, UsageRow


async def test_session_lifecycle_end_to_end(store, target) -> None:
    s = await store.create_session("fix tests", working_directory="/repo", status="active", meta={"k": [1]})
    assert s.name == "fix tests" and s.working_directory == "/repo" and s.meta == {"k": [1]}
    assert await store.get_session(s.id) == s
    m = await store.append_message(s.id, type="user", role="user", content="hi")
    renamed = await store.rename_session(s.id, "better name")
    assert renamed.user_renamed and renamed.name == "better name"
    updated = await store.update_session(s.id, status="completed", claude_title="Fixing tests")
    assert updated.status == "completed" and updated.claude_title == "Fixing tests" and updated.user_renamed
    assert [x.id for x in await store.get_messages(s.id)] == [m.id]
    await store.record_usage(s.id, model="m", tokens_input=1)
    await store.delete_session(s.id)
    with pytest.raises(NotFoundError):
        await store.get_session(s.id)
    assert dump(target) == {"sessions": [], "messages": [], "analytics": []}


async def test_opened_with_await_and_closed_explicitly(target) -> None:
    store = await yurudb.open(target)
    assert store.state == "ready" and store.recovery.state == "ready"
    await store.create_session("x")
    await store.close()
    assert store.state == "closed"
    with pytest.raises(yurudb.StoreClosedError):
        await store.create_session("y")


@pytest.mark.sqlite_only
def test_a_store_never_closed_warns(db_path: Path) -> None:
    script = (
        "import asyncio, gc, sys, yurudb\n"
        "async def main():\n"
        "    store = await yurudb.open(sys.argv[1])\n"
        "    await store.create_session('left open')\n"
        "asyncio.run(main())\n"
        "gc.collect()\n"
    )
    out = subprocess.run([sys.executable, "-W", "always::ResourceWarning", "-c", script, str(db_path)],
                         capture_output=True, text=True, timeout=60)
    assert "ResourceWarning" in out.stderr and "never closed" in out.stderr, out.stderr


async def test_data_survives_reopening(target) -> None:
    async with yurudb.open(target) as store:
        s = await store.create_session("keep me")
        m = await store.append_message(s.id, {"id": "m1", "type": "assistant", "content": [{"type": "text", "text": "x"}]})
    async with yurudb.open(target) as store:
        assert (await store.get_session(s.id)).name == "keep me"
        assert await store.get_messages(s.id) == [m]


async def test_list_sessions_most_recently_updated_first_with_paging(store) -> None:
    a = await store.create_session("a", created_at=1000)
    b = await store.create_session("b", created_at=2000)
    c = await store.create_session("c", created_at=3000)
    assert [s.id for s in await store.list_sessions()] == [c.id, b.id, a.id]
    await store.append_message(a.id, type="user", content="bump")  # a message moves updated_at
    assert [s.id for s in await store.list_sessions()] == [a.id, c.id, b.id]
    assert [s.id for s in await store.list_sessions(limit=1, offset=1)] == [c.id]
    assert [s.id for s in await store.list_sessions(status="pending")] == [a.id, c.id, b.id]


async def test_the_cache_never_serves_stale_sessions(store) -> None:
    s = await store.create_session("a", created_at=1)
    assert (await store.get_session(s.id)).name == "a"
    await store.rename_session(s.id, "b")
    assert (await store.get_session(s.id)).name == "b"
    await store.append_message(s.id, type="user", content="x")
    assert (await store.get_session(s.id)).updated_at > s.created_at
    await store.list_sessions()
    await store.delete_session(s.id)
    with pytest.raises(NotFoundError):
        await store.get_session(s.id)


async def test_message_read_back_equals_what_was_written(store) -> None:
    s = await store.create_session("s")
    payload = {
        "id": "msg-1", "type": "assistant", "role": "assistant", "streaming": True,
        "content": [{"type": "text", "text": "héllo"}, {"type": "tool_use", "id": "t", "name": "Bash", "input": {"c": 1}}],
        "tool_uses": [{"name": "Bash", "input": {"command": "ls"}}], "usage": {"input_tokens": 3, "output_tokens": 9},
        "timestamp": 1700000000000, "nested": {"a": [None, 1.5, "x"]},
    }
    written = await store.append_message(s.id, payload)
    [read] = await store.get_messages(s.id)
    assert read == written
    assert read.payload == payload and read.id == "msg-1" and read.content == "héllo"
    assert read.tool_uses == payload["tool_uses"] and read.usage == payload["usage"]
    assert read.timestamp == datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)
    assert read.timestamp.tzinfo is timezone.utc


async def test_get_messages_newest_first_page_then_backwards(store) -> None:
    s = await store.create_session("s")
    await store.append_messages(s.id, [{"type": "user", "content": str(i)} for i in range(25)])
    newest = await store.get_messages(s.id, limit=10)
    assert [m.content for m in newest] == [str(i) for i in range(15, 25)]
    older = await store.get_messages(s.id, limit=10, before=newest[0].seq)
    assert [m.content for m in older] == [str(i) for i in range(5, 15)]
    oldest = await store.get_messages(s.id, limit=10, before=older[0].seq)
    assert [m.content for m in oldest] == [str(i) for i in range(5)]
    assert len(await store.get_messages(s.id, limit=None)) == 25
    assert await store.get_messages((await store.create_session("empty")).id) == []


async def test_concurrent_appends_keep_order_and_lose_nothing(store) -> None:
    sessions = [await store.create_session(f"s{i}") for i in range(20)]

    async def writer(session_id: str) -> list[Message]:
        return [await store.append_message(session_id, type="user", content=f"{n}") for n in range(50)]

    results = await asyncio.gather(*(writer(s.id) for s in sessions))
    for s, acked in zip(sessions, results, strict=True):
        stored = await store.get_messages(s.id, limit=None)
        assert [m.seq for m in stored] == list(range(1, 51))
        assert [m.content for m in stored] == [str(n) for n in range(50)]
        assert [m.id for m in stored] == [m.id for m in acked]


async def test_many_concurrent_appends_share_few_commits(store) -> None:
    s = await store.create_session("s")
    before = store.commits
    await asyncio.gather(*(store.append_message(s.id, type="user", content=str(i)) for i in range(500)))
    commits = store.commits - before
    assert commits <= 25, f"500 appends took {commits} commits"
    stored = await store.get_messages(s.id, limit=None)
    assert sorted(int(m.content) for m in stored) == list(range(500))
    assert [m.seq for m in stored] == list(range(1, 501))


async def test_updates_to_one_message_in_a_batch_coalesce_to_the_last(store) -> None:
    s = await store.create_session("s")
    m = await store.append_message(s.id, type="assistant", content="")
    before = store.commits
    results = await asyncio.gather(*(store.update_message(m.id, content="x" * n) for n in range(1, 201)))
    assert store.commits - before < 50
    [stored] = await store.get_messages(s.id)
    assert stored.content == "x" * 200 and stored.payload["content"] == "x" * 200
    # every caller got a committed state at least as new as its own update
    assert all(len(r.content) >= n for n, r in enumerate(results, start=1))


async def test_coalesced_updates_keep_every_field(store) -> None:
    s = await store.create_session("s")
    m = await store.append_message(s.id, type="assistant", content="a")
    await asyncio.gather(store.update_message(m.id, content="b"), store.update_message(m.id, usage={"output_tokens": 5}))
    [stored] = await store.get_messages(s.id)
    assert stored.content == "b" and stored.usage == {"output_tokens": 5}
    assert stored.payload == {"type": "assistant", "content": "b", "usage": {"output_tokens": 5}}


async def test_update_message_replaces_payload_and_reprojects(store) -> None:
    s = await store.create_session("s")
    m = await store.append_message(s.id, type="assistant", content="a")
    new = {"type": "assistant", "role": "assistant", "content": "final", "usage": {"output_tokens": 1}}
    updated = await store.update_message(m.id, payload=new)
    assert updated.payload == new and updated.content == "final" and updated.role == "assistant"


async def test_appending_the_same_id_again_replaces_it(store) -> None:
    s = await store.create_session("s")
    first = await store.append_message(s.id, id="m1", type="user", content="v1")
    await store.append_message(s.id, id="m2", type="user", content="other")
    again = await store.append_message(s.id, id="m1", type="user", content="v2")
    assert again.seq == first.seq
    stored = await store.get_messages(s.id)
    assert [(m.id, m.content) for m in stored] == [("m1", "v2"), ("m2", "other")]


async def test_the_same_id_in_another_session_is_a_conflict(store, target) -> None:
    a, b = await store.create_session("a"), await store.create_session("b")
    await store.append_message(a.id, id="m1", type="user", content="mine")
    before = dump(target)
    with pytest.raises(ConflictError):
        await store.append_message(b.id, id="m1", type="user", content="stolen")
    assert dump(target) == before
    with pytest.raises(ConflictError):
        await store.create_session("dup", id=a.id)


async def test_a_bad_write_in_a_batch_fails_alone(store) -> None:
    a, b = await store.create_session("a"), await store.create_session("b")
    await store.append_message(a.id, id="taken", type="user", content="x")
    results = await asyncio.gather(
        store.append_message(b.id, type="user", content="ok1"),
        store.append_message(b.id, id="taken", type="user", content="bad"),
        store.append_message("no-such-session", type="user", content="bad"),
        store.append_message(b.id, type="user", content="ok2"),
        return_exceptions=True,
    )
    assert isinstance(results[1], ConflictError) and isinstance(results[2], NotFoundError)
    assert [m.content for m in await store.get_messages(b.id)] == ["ok1", "ok2"]


@pytest.mark.sqlite_only
async def test_the_window_is_what_a_load_returns_and_nothing_is_deleted(db_path: Path) -> None:
    async with yurudb.open(db_path, max_messages_per_session=10, daily_backup=False) as store:
        s = await store.create_session("s")
        await store.append_messages(s.id, [{"type": "user", "content": str(i)} for i in range(25)])
        assert [m.content for m in await store.get_messages(s.id)] == [str(i) for i in range(15, 25)]
        assert [m.seq for m in await store.get_messages(s.id, before=16)] == list(range(6, 16))
        assert len(await store.get_messages(s.id, limit=None)) == 25
        assert await store.count_messages(s.id) == 25
    assert rows(db_path, "SELECT COUNT(*) FROM messages") == [(25,)]


async def test_a_session_under_the_window_loads_whole_by_default(store) -> None:
    s = await store.create_session("s")
    await store.append_messages(s.id, [{"type": "user", "content": str(i)} for i in range(150)])
    assert len(await store.get_messages(s.id)) == 150  # not a page of 100


async def test_opt_in_retention_deletes_the_oldest_and_says_how_many(target) -> None:
    events: list[object] = []
    async with yurudb.open(target, max_messages_per_session=10, retention="delete", on_event=events.append) as store:
        s = await store.create_session("s")
        for i in range(25):
            await store.append_message(s.id, type="assistant", content=str(i))
            await store.record_usage(s.id, model="m", tokens_output=1)
        await store.append_messages(s.id, [{"type": "user", "content": f"b{i}"} for i in range(7)])
        stored = await store.get_messages(s.id, limit=None)
        assert [m.content for m in stored] == [str(i) for i in range(22, 25)] + [f"b{i}" for i in range(7)]
        assert (await store.usage_summary())[0]["tokens_output"] == 25
    deleted = [e for e in events if isinstance(e, MessagesDeleted)]
    assert sum(e.count for e in deleted) == 22 and {e.session_id for e in deleted} == {s.id}


async def test_an_unknown_retention_is_refused(target) -> None:
    with pytest.raises(ValidationError):
        await yurudb.open(target, retention="sometimes")


async def test_usage_summary_matches_hand_computed_totals(store) -> None:
    a, b = await store.create_session("a"), await store.create_session("b")
    day1, day2 = 1_700_000_000_000, 1_700_000_000_000 + 86_400_000
    rows = [
        (a.id, "opus", 10, 20, 5, 0.5, day1),
        (a.id, "sonnet", 1, 2, 3, 0.25, day1),
        (b.id, "opus", 100, 200, 50, 1.5, day2),
        (b.id, "opus", 7, 8, 9, 0.125, day2),
    ]
    for sid, model, ti, to, tc, cost, ts in rows:
        await store.record_usage(sid, model=model, tokens_input=ti, tokens_output=to, tokens_cache=tc,
                                 cost_usd=cost, timestamp=ts)
    by_model = {r["model"]: r for r in await store.usage_summary(by="model")}
    assert by_model["opus"]["tokens_input"] == 117 and by_model["opus"]["tokens_output"] == 228
    assert by_model["opus"]["tokens_cache"] == 64 and by_model["opus"]["cost_usd"] == pytest.approx(2.125)
    assert by_model["sonnet"]["records"] == 1
    by_day = {r["day"]: r for r in await store.usage_summary(by="day")}
    assert by_day["2023-11-14"]["cost_usd"] == pytest.approx(0.75)
    assert by_day["2023-11-15"]["tokens_input"] == 107
    by_session = {r["session"]: r for r in await store.usage_summary(by="session")}
    assert by_session[a.id]["tokens_output"] == 22 and by_session[b.id]["tokens_output"] == 208
    since = await store.usage_summary(by="model", since=day2)
    assert [(r["model"], r["tokens_input"]) for r in since] == [("opus", 107)]
    until = await store.usage_summary(by="model", until=day2)
    assert sum(r["tokens_input"] for r in until) == 11


async def test_record_usage_with_a_source_id_counts_once(store) -> None:
    s = await store.create_session("s")
    await store.record_usage(s.id, model="m", tokens_output=5, source_id="req-1")
    await store.record_usage(s.id, model="m", tokens_output=9, source_id="req-1")  # final usage wins
    await store.record_usage(s.id, model="m", tokens_output=1)
    [row] = await store.usage_summary()
    assert row["tokens_output"] == 10 and row["records"] == 2


def _circular() -> dict:
    message: dict = {"type": "user", "content": "x"}
    message["self"] = message
    return message


@pytest.mark.parametrize(
    "call",
    [
        lambda st, sid: st.create_session(""),
        lambda st, sid: st.create_session("   "),
        lambda st, sid: st.create_session(42),
        lambda st, sid: st.create_session("x", status="sleeping"),
        lambda st, sid: st.create_session("x", meta={"f": object()}),
        lambda st, sid: st.create_session("x", meta=[1]),
        lambda st, sid: st.append_message(sid, type="gossip", content="x"),
        lambda st, sid: st.append_message(sid, type=None, content="x"),
        lambda st, sid: st.append_message(sid, type="user", content={1, 2}),
        lambda st, sid: st.append_message(sid, type="user", usage=float("nan")),
        lambda st, sid: st.append_message(sid, type="user", role=7),
        lambda st, sid: st.append_message(sid, _circular()),
        lambda st, sid: st.append_message(sid, type="user", timestamp="yesterday"),
        lambda st, sid: st.append_message(sid, "not a dict"),
        lambda st, sid: st.append_message(123, type="user"),
        lambda st, sid: st.append_messages(sid, [{"type": "user"}, {"type": "nope"}]),
        lambda st, sid: st.update_session(sid, name=""),
        lambda st, sid: st.update_session(sid, colour="red"),
        lambda st, sid: st.update_session(sid),
        lambda st, sid: st.update_message("m", content=object()),
        lambda st, sid: st.update_message("m"),
        lambda st, sid: st.record_usage(sid, tokens_input=-1),
        lambda st, sid: st.record_usage(sid, tokens_input="10"),
        lambda st, sid: st.record_usage(sid, cost_usd=float("inf")),
        lambda st, sid: st.get_messages(sid, limit=-5),
        lambda st, sid: st.usage_summary(by="planet"),
    ],
)
async def test_bad_input_is_a_validation_error_and_changes_nothing(store, target, call) -> None:
    s = await store.create_session("s")
    await store.append_message(s.id, id="m", type="user", content="x")
    before = dump(target)
    with pytest.raises(ValidationError):
        await call(store, s.id)
    await store.flush()
    assert dump(target) == before


@pytest.mark.parametrize(
    "call",
    [
        lambda st: st.get_session("ghost"),
        lambda st: st.update_session("ghost", name="x"),
        lambda st: st.rename_session("ghost", "x"),
        lambda st: st.delete_session("ghost"),
        lambda st: st.append_message("ghost", type="user", content="x"),
        lambda st: st.append_messages("ghost", [{"type": "user"}]),
        lambda st: st.update_message("ghost-message", content="x"),
        lambda st: st.record_usage("ghost", tokens_input=1),
        lambda st: st.get_messages("ghost"),
    ],
)
async def test_unknown_session_or_message_is_not_found_and_changes_nothing(store, target, call) -> None:
    s = await store.create_session("s")
    await store.append_message(s.id, type="user", content="x")
    before = dump(target)
    with pytest.raises(NotFoundError):
        await call(store)
    assert dump(target) == before


@pytest.mark.sqlite_only
async def test_a_cancelled_caller_does_not_corrupt_the_batch(store, db_path: Path) -> None:
    s = await store.create_session("s")
    tasks = [asyncio.create_task(store.append_message(s.id, type="user", content=str(i))) for i in range(200)]
    await asyncio.sleep(0)
    for t in tasks[::3]:
        t.cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    acked = {m.id for m in done if isinstance(m, Message)}
    stored = await store.get_messages(s.id, limit=None)
    assert acked <= {m.id for m in stored}
    assert [m.seq for m in stored] == list(range(1, len(stored) + 1))
    assert sqlite3.connect(db_path).execute("PRAGMA integrity_check").fetchone() == ("ok",)
    await store.append_message(s.id, type="user", content="after")  # the writer still works


@pytest.mark.sqlite_only
async def test_reads_do_not_wait_behind_a_held_write_lock(store, db_path: Path) -> None:
    s = await store.create_session("s")
    await store.append_message(s.id, type="user", content="x")
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another connection owns the write lock
    try:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        assert len(await store.get_messages(s.id)) == 1
        assert (await store.get_session(s.id)).id == s.id
        assert len(await store.list_sessions()) == 1
        assert loop.time() - t0 < 1.0  # busy_timeout is 5 s: we did not wait for the lock
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@pytest.mark.sqlite_only
async def test_a_write_waits_out_a_short_lock_and_commits(store, db_path: Path) -> None:
    s = await store.create_session("s")
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    pending = asyncio.create_task(store.append_message(s.id, type="user", content="x"))
    await asyncio.sleep(0.3)
    assert not pending.done()
    holder.execute("ROLLBACK")
    holder.close()
    assert (await pending).content == "x"


SESSIONS = int(os.environ.get("YURUDB_TEST_SESSIONS", "1000"))


async def test_many_sessions_round_trip(target) -> None:
    async with yurudb.open(target) as store:
        created = await asyncio.gather(*(store.create_session(f"s{i}", created_at=i + 1) for i in range(SESSIONS)))
        await asyncio.gather(*(store.append_message(s.id, type="user", content=s.name) for s in created))
    async with yurudb.open(target) as store:
        assert store.recovery.sessions_restored == SESSIONS
        listed = await store.list_sessions()
        assert {s.id for s in listed} == {s.id for s in created}
        for s in created[:: max(1, SESSIONS // 50)]:
            [m] = await store.get_messages(s.id)
            assert m.content == s.name


def test_read_models_and_table_entities_have_the_same_fields() -> None:
    internal = {"search_doc"}  # the message's document in the full-text index: the index's, not the message's
    for model, row in ((Session, SessionRow), (Message, MessageRow), (Usage, UsageRow)):
        assert list(model.model_fields) == [f for f in row.model_fields if f not in internal], model.__name__


@pytest.mark.sqlite_only
async def test_checkpoints_run_off_the_write_path_once_writes_pause(db_path: Path, tmp_path: Path) -> None:
    async with yurudb.open(db_path, daily_backup=False) as store:
        s = await store.create_session("s")
        await store.append_messages(s.id, [{"type": "user", "content": "x" * 1000} for _ in range(200)])
        wal = Path(str(db_path) + "-wal")
        assert wal.stat().st_size > 100 * 1000  # the writer never checkpoints inside a commit
        for _ in range(100):
            if store.checkpoints:
                break
            await asyncio.sleep(0.02)
        assert store.checkpoints >= 1
        # the main file alone (no WAL) now holds the messages
        alone = tmp_path / "alone.db"
        alone.write_bytes(db_path.read_bytes())
        count = sqlite3.connect(alone).execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        assert count == 200


@pytest.mark.sqlite_only
async def test_a_full_queue_makes_callers_wait_not_fail(db_path: Path) -> None:
    async with yurudb.open(db_path, queue_size=2, batch_size=3, daily_backup=False) as store:
        s = await store.create_session("s")
        done = await asyncio.gather(*(store.append_message(s.id, type="user", content=str(i)) for i in range(100)))
        assert len(done) == 100
        assert [m.content for m in await store.get_messages(s.id, limit=None)] == [str(i) for i in range(100)]


async def test_lone_surrogates_from_javascript_round_trip_and_spoil_nothing(store) -> None:
    s = await store.create_session("s")
    odd = {"type": "user", "content": "half an emoji: \ud83d", "meta": {"k": "\udc00"}}
    results = await asyncio.gather(
        store.append_message(s.id, type="user", content="before"),
        store.append_message(s.id, odd),
        store.append_message(s.id, type="user", content="after"),
    )
    stored = await store.get_messages(s.id)
    assert [m.payload for m in stored] == [results[0].payload, odd, results[2].payload]
    assert stored[1].content == "half an emoji: \ufffd"
    with pytest.raises(ValidationError, match="surrogate"):
        await store.create_session("bad \ud800 name")


@pytest.mark.sqlite_only
async def test_closing_does_not_wait_for_another_process_that_holds_the_write_lock(db_path: Path) -> None:
    """Closing ends with a TRUNCATE checkpoint, which waits for the write lock: with another process
    writing (a `yurudb watch` committing), the app's close must not hang for the busy timeout."""
    store = await yurudb.open(db_path, daily_backup=False)
    s = await store.create_session("s")
    await store.append_message(s.id, type="user", content="kept")
    for _ in range(200):  # the checkpointer's connection is open (its first checkpoint ran)
        if store.checkpoints:
            break
        await asyncio.sleep(0.02)
    assert store.checkpoints
    holder = hold_write_lock(db_path)
    try:
        # the checkpointer's busy timeout is SQLite's 5 s: closing within 3 s did not wait it out
        await asyncio.wait_for(store.close(), 3)
    finally:
        release(holder)
    async with yurudb.open(db_path, daily_backup=False) as store:
        assert [m.content for m in await store.get_messages(s.id)] == ["kept"]

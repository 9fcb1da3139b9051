"""One set of rules: every kind of write, run normally and while degraded (in the in-memory twin),
reads back the same; and after the database returns, the file holds the same too."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import yurudb
from yurudb import ConflictError, NotFoundError

BASE = [{"id": f"b{i}", "type": "user", "content": f"base {i}", "timestamp": 1_700_000_000_000 + i}
        for i in range(5)]


async def base(store: Any) -> None:
    """What the file holds before the fault: sessions, messages and usage the script then changes."""
    await store.create_session("kept", id="s-kept", created_at=1_700_000_000_000, claude_session_id="c-kept")
    await store.create_session("doomed", id="s-doomed", created_at=1_700_000_000_001)
    await store.create_session("filler", id="s-filler", created_at=1_700_000_000_002)
    await store.append_messages("s-kept", BASE)
    await store.append_messages("s-doomed", [{"id": "d0", "type": "user", "content": "bye"}])
    await store.record_usage("s-kept", model="opus", tokens_input=1, tokens_output=2, cost_usd=0.5,
                             timestamp=1_700_000_000_000, source_id="resp-1")
    await store.record_usage("s-doomed", model="opus", tokens_output=9, timestamp=1_700_000_000_000)


async def script(store: Any) -> list[str]:
    """Every kind of write, with the errors some must raise; returns what each call gave, as text."""
    out: list[str] = []

    async def step(coro: Any) -> None:
        try:
            result = await coro
            out.append(type(result).__name__)
        except (ConflictError, NotFoundError) as exc:
            out.append(type(exc).__name__)

    await step(store.create_session("new", id="s-new", created_at=1_700_000_100_000, meta={"k": [1]}))
    await step(store.create_session("dup", id="s-kept"))                                  # conflict
    await step(store.append_message("s-kept", {"id": "k1", "type": "assistant", "content": "one",
                                               "timestamp": 1_700_000_100_001}))
    await step(store.append_messages("s-new", [{"id": f"n{i}", "type": "user", "content": f"n{i}",
                                                "timestamp": 1_700_000_100_010 + i} for i in range(4)]))
    await step(store.append_message("s-new", {"id": "b1", "type": "user", "content": "x"}))  # b1 is s-kept's
    await step(store.append_message("s-nope", type="user", content="x"))                   # no such session
    await step(store.append_message("s-kept", {"id": "b2", "type": "user", "content": "re-append keeps seq",
                                               "timestamp": 1_700_000_000_002}))
    await step(store.update_message("b3", content="edited on the file's row"))
    for k in range(3):  # streaming updates
        await step(store.update_message("k1", content="one" + "!" * k, usage={"output_tokens": k}))
    await step(store.update_message("n1", payload={"type": "user", "content": "replaced", "extra": True}))
    await step(store.update_message("zz", content="x"))                                     # not found
    await step(store.rename_session("s-kept", "kept, renamed"))
    await step(store.update_session("s-new", status="active", meta={"k": [2]}))
    await step(store.record_usage("s-kept", model="opus", tokens_input=10, tokens_output=20, cost_usd=1.0,
                                  timestamp=1_700_000_100_000, source_id="resp-1"))        # replaces
    await step(store.record_usage("s-new", model="sonnet", tokens_output=3, cost_usd=0.25,
                                  timestamp=1_700_086_400_000, source_id="resp-2"))
    await step(store.delete_session("s-doomed"))
    await step(store.delete_session("s-doomed"))                                           # not found
    await step(store.append_message("s-doomed", type="user", content="x"))                 # gone
    await step(store.create_session("reborn", id="s-doomed", created_at=1_700_000_200_000))
    await step(store.append_message("s-doomed", {"id": "r0", "type": "user", "content": "again",
                                                 "timestamp": 1_700_000_200_001}))
    return out


async def reads(store: Any) -> dict[str, Any]:
    """What every read returns; times the writes stamp with "now" are left out."""
    def session(s: Any) -> dict[str, Any]:
        return s.model_dump(exclude={"updated_at"})

    def usage(u: Any) -> tuple:
        source = None if (u.source_id or "").startswith("yurudb-journal:") else u.source_id
        return (u.session_id, u.model, u.tokens_input, u.tokens_output, u.tokens_cache, u.cost_usd, u.timestamp, source)

    listed = await store.list_sessions()
    got: dict[str, Any] = {
        "sessions": sorted((session(s) for s in listed), key=lambda s: s["id"]),
        "count": await store.count_sessions(),
        "found": session(await store.find_session(claude_session_id="c-kept")),
        "summary": [await store.usage_summary(by=by) for by in ("model", "day", "session")],
        "totals": await store.session_totals(),
    }
    for s in listed:
        got[f"get {s.id}"] = session(await store.get_session(s.id))
        got[f"messages {s.id}"] = [m.model_dump() for m in await store.get_messages(s.id, limit=None)]
        got[f"newest {s.id}"] = [m.id for m in await store.get_messages(s.id, limit=2)]
        got[f"count {s.id}"] = await store.count_messages(s.id)
        got[f"usage {s.id}"] = sorted(usage(u) for u in await store.usage_records(s.id))
    return got


async def test_every_write_reads_back_the_same_normally_and_degraded(tmp_path: Path) -> None:
    async with yurudb.open(tmp_path / "degraded.db", daily_backup=False) as degraded:
        await base(degraded)
        await degraded.set_max_size((tmp_path / "degraded.db").stat().st_size)
        fillers = 0
        while degraded.state != "degraded":
            fillers += 1
            await degraded.append_message("s-filler", {"id": f"f{fillers}", "type": "user", "content": "f" * 3000,
                                                       "timestamp": 1_700_000_000_000})
            assert fillers < 500, "the capped database never filled up"
        async with yurudb.open(tmp_path / "normal.db", daily_backup=False) as normal:
            await base(normal)
            for i in range(1, fillers + 1):
                await normal.append_message("s-filler", {"id": f"f{i}", "type": "user", "content": "f" * 3000,
                                                         "timestamp": 1_700_000_000_000})
            assert await script(degraded) == await script(normal)
            assert degraded.state == "degraded"
            expected = await reads(normal)
            assert await reads(degraded) == expected

            await degraded.set_max_size(None)  # the disk has room again: everything is replayed
            for _ in range(200):
                if degraded.state == "ready":
                    break
                await asyncio.sleep(0.05)
            assert degraded.state == "ready"
            assert await reads(degraded) == expected
    # and the file holds it: reopened, both read the same (start-up marks active sessions interrupted in both)
    async with yurudb.open(tmp_path / "degraded.db", daily_backup=False) as reopened:
        async with yurudb.open(tmp_path / "normal.db", daily_backup=False) as normal:
            assert await reads(reopened) == await reads(normal)


async def test_reads_while_degraded_show_memory_over_a_file_that_no_longer_reads(tmp_path: Path) -> None:
    from test_salvage import leaves, smash

    db = tmp_path / "damaged.db"
    async with yurudb.open(db, daily_backup=False) as store:
        await store.create_session("on disk", id="s-disk")
        await store.append_messages("s-disk", [{"id": f"m{i}", "type": "user", "content": "x" * 400}
                                               for i in range(300)])
    smash(db, sorted(leaves(db, "messages"))[1])  # a failing disk: the table cannot be read through
    async with yurudb.open(db, daily_backup=False, repair=False) as store:
        # the open met the damage (quick_check) and works from memory; saves go on and read back
        assert store.state == "degraded"
        await store.create_session("in memory", id="s-mem")
        await store.append_message("s-mem", {"id": "n0", "type": "user", "content": "kept"})
        assert [m.id for m in await store.get_messages("s-mem")] == ["n0"]
        assert "s-mem" in {s.id for s in await store.list_sessions()}
        # search: memory's writes are found; a search whose hits in the file cannot be read falls
        # back to memory and says the file was not searched
        hits = await store.search("kept")
        assert [h.message_id for h in hits] == ["n0"]
        lost = await store.search("x" * 400, limit=500)
        assert not lost.complete and lost.note and "memory" in lost.note
        again = await store.search("kept")
        assert [h.message_id for h in again] == ["n0"] and not again.complete


@pytest.mark.sqlite_only
async def test_the_archives_way_in_is_the_stores_writer_and_its_effects_keep_the_cache_exact(db_path: Path) -> None:
    from yurudb.writes.batch import BatchEffects

    async with yurudb.open(db_path, daily_backup=False) as store:
        s = await store.create_session("before", id="s1")
        assert (await store.get_session("s1")).name == "before"  # cached now
        commits = store.commits

        def rename(tx: Any, sid: str, name: str) -> tuple[BatchEffects, int]:
            effects = BatchEffects()
            effects.sessions[sid] = None  # the cache learns it from the database
            tx.execute("UPDATE sessions SET name = ? WHERE id = ?", (name, sid))
            return effects, tx.execute("SELECT COUNT(*) FROM sessions")[0][0]

        assert await store.transaction(rename, s.id, "after") == 1
        assert store.commits == commits + 1
        assert (await store.get_session("s1")).name == "after"  # not the cached "before"
        assert await store.fetch("SELECT name FROM sessions WHERE id = ?", ("s1",)) == [("after",)]
        assert await store.fetch_one("SELECT COUNT(*) FROM sessions") == 1

        def fails(tx: Any) -> tuple[BatchEffects, None]:
            tx.execute("UPDATE sessions SET name = 'half' WHERE id = 's1'")
            raise ValueError("boom")

        try:
            await store.transaction(fails)
        except ValueError:
            pass
        assert (await store.get_session("s1")).name == "after"  # rolled back whole

        # while degraded the archive's bulk writes wait: nothing is taken that cannot be kept
        await store.set_max_size(db_path.stat().st_size)
        await store.append_message("s1", type="user", content="x" * 50_000)
        assert store.state == "degraded"
        try:
            await store.transaction(rename, "s1", "never")
            raise AssertionError("a transaction ran while degraded")
        except yurudb.UnavailableError:
            pass
    try:
        await store.transaction(rename, "s1", "closed")
        raise AssertionError("a transaction ran on a closed store")
    except yurudb.StoreClosedError:
        pass

"""yurudb on PostgreSQL: W1, W2, W3, W7 and W9 beside raw asyncpg doing the same work in the same run, and the
Agent SDK SessionStore beside the SDK's Postgres reference adapter.

    python benchmarks/postgres.py [--quick] [--url postgresql://...] [--reference PATH] [--json PATH] [--only W1,SDK]

With no --url a throwaway server is started (tests/pgserver.py: Debian's postgresql) and removed after.
--reference is the SDK repository's `examples/session_stores/postgres_session_store.py` (not shipped
in the wheel, never copied here: a checkout of anthropics/claude-agent-sdk-python beside the project),
also taken from $YURUDB_SDK_REFERENCE; without it, that row is left out and the table says so.
Each workload runs on a fresh database of the server. Ratios are yurudb / raw asyncpg.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

import corpus
import fulltext
import workload
from run import Results, Row, pct

import yurudb
from yurudb.claude import SessionStore, sync, transfer

SERVER = ""  # the server's maintenance URL (its `postgres` database)


def fresh() -> str:
    """A new empty database on the server; its URL."""
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return SERVER.rsplit("/", 1)[0] + "/" + name


async def schema(url: str) -> None:
    """The schema, made by yurudb (raw runs on the same tables and indexes)."""
    async with yurudb.open(url, daily_backup=False):
        pass


def when(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


# ---- W1: closed loop -------------------------------------------------------------------------
async def w1_yurudb(url: str, n_sessions: int, per: int, msgs: list[dict]) -> tuple[float, list[float], list[str]]:
    async with yurudb.open(url, max_messages_per_session=1_000_000, daily_backup=False) as store:
        sessions = [await store.create_session(f"s{i}") for i in range(n_sessions)]
        lat: list[float] = []

        async def one(k: int, sid: str) -> None:
            for j in range(per):
                t0 = time.perf_counter()
                await store.append_message(sid, msgs[k * per + j])
                lat.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*(one(k, s.id) for k, s in enumerate(sessions)))
        return time.perf_counter() - t0, lat, [s.id for s in sessions]


async def w1_raw(url: str, ids: list[str], order: list[tuple[str, int, dict]]) -> float:
    """asyncpg inserting W1's messages (the same projections and JSON), 500 per transaction; messages/s."""
    import asyncpg

    await schema(url)
    conn = await asyncpg.connect(url)
    try:
        await conn.executemany("INSERT INTO sessions (id, name) VALUES ($1, $2)", [(i, i) for i in ids])
        now = int(time.time() * 1000)
        t0 = time.perf_counter()
        rows = [workload.raw_row(sid, seq, m, now) for sid, seq, m in order]
        rows = [(*r[:8], when(r[8]), r[9]) for r in rows]
        for start in range(0, len(rows), 500):
            async with conn.transaction():
                await conn.executemany(
                    "INSERT INTO messages (id, session_id, seq, type, role, content, tool_uses, usage, timestamp, "
                    "payload) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)", rows[start:start + 500])
        return len(rows) / (time.perf_counter() - t0)
    finally:
        await conn.close()


def w1(res: Results, quick: bool) -> None:
    n_sessions, per = 100, (20 if quick else 100)
    msgs = workload.messages(n_sessions * per)
    ours, theirs, lat = [], [], []
    for _ in range(1 if quick else 3):
        elapsed, round_lat, ids = asyncio.run(w1_yurudb(fresh(), n_sessions, per, msgs))
        ours.append(len(msgs) / elapsed)
        lat = lat or round_lat
        order = [(ids[k], j + 1, msgs[k * per + j]) for j in range(per) for k in range(n_sessions)]
        theirs.append(asyncio.run(w1_raw(fresh(), ids, order)))
    spread = ", ".join(f"{y / x:.2f}x" for y, x in zip(ours, theirs, strict=True))
    label = "W1 durable appends, closed loop (PostgreSQL)"
    res.rows.append(Row(label, f"messages/s ({n_sessions}x{per})", statistics.median(ours), statistics.median(theirs),
                        "msg/s", True, ">= 0.6x raw asyncpg batched",
                        f"median of {len(ours)} rounds ({spread}); raw: asyncpg executemany, 500 a transaction"))
    res.rows.append(Row(label, "p99 save latency", pct(lat, 99) * 1000, 0.0, "ms", False, "", "first round"))


# ---- W2 and W3: reads --------------------------------------------------------------------------
async def w2_run(url: str, n: int) -> tuple[float, float]:
    import asyncpg

    msgs = workload.messages(n)
    async with yurudb.open(url, max_messages_per_session=1_000_000, daily_backup=False, batch_size=500) as store:
        sid = (await store.create_session("long")).id
        await asyncio.gather(*(store.append_message(sid, m) for m in msgs))
        await store.get_messages(sid, limit=None)
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            assert len(await store.get_messages(sid, limit=None)) == n
            times.append(time.perf_counter() - t0)
    conn = await asyncpg.connect(url)
    raw = []
    try:
        for _ in range(5):
            t0 = time.perf_counter()
            rows = await conn.fetch("SELECT id, session_id, seq, type, role, content, tool_uses, usage, timestamp, "
                                    "payload FROM messages WHERE session_id = $1 ORDER BY seq", sid)
            decoded = [(r[0], r[2], json.loads(r[9]) if r[9] else None) for r in rows]
            raw.append(time.perf_counter() - t0)
            assert len(decoded) == n
    finally:
        await conn.close()
    return statistics.median(times), statistics.median(raw)


async def w3_run(url: str, n: int) -> tuple[float, float]:
    import asyncpg

    async with yurudb.open(url, daily_backup=False, batch_size=500) as store:
        await asyncio.gather(*(store.create_session(f"session {i}", working_directory=f"/p/{i % 20}")
                               for i in range(n)))
    times, raw = [], []
    for _ in range(5):
        t0 = time.perf_counter()
        async with yurudb.open(url, daily_backup=False) as store:
            assert len(await store.list_sessions()) == n
        times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        conn = await asyncpg.connect(url)
        rows = await conn.fetch("SELECT id, name, status, working_directory, claude_session_id, claude_title, "
                                "user_renamed, created_at, updated_at, metadata FROM sessions "
                                "ORDER BY updated_at DESC, id")
        await conn.close()
        raw.append(time.perf_counter() - t0)
        assert len(rows) == n
    return statistics.median(times), statistics.median(raw)


def w2_w3(res: Results, quick: bool) -> None:
    n = 2_000 if quick else 10_000
    ours, theirs = asyncio.run(w2_run(fresh(), n))
    res.rows.append(Row(f"W2 load {n:,}-message session (PostgreSQL)", "get_messages(all)", ours * 1000,
                        theirs * 1000, "ms", False, "<= 1.5x raw", "median of 5; raw: asyncpg fetch + json.loads"))
    ours, theirs = asyncio.run(w3_run(fresh(), n))
    res.rows.append(Row(f"W3 {n:,} sessions (PostgreSQL)", "open + list_sessions(all)", ours * 1000, theirs * 1000,
                        "ms", False, "", "median of 5; raw: asyncpg connect + the same SELECT"))


# ---- W7: archive sync ----------------------------------------------------------------------------
async def w7_raw(url: str, root: Path) -> float:
    """asyncpg: json.loads each line and insert it (bytes as text), 5,000 a transaction; seconds."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE raw_lines (file text, line int, type text, body text)")
        t0 = time.perf_counter()
        batch: list[tuple[Any, ...]] = []
        for path in sorted(root.rglob("*.jsonl")):
            for i, raw in enumerate(path.read_bytes().splitlines()):
                line = json.loads(raw)
                batch.append((str(path), i, line.get("type"), raw.decode()))
                if len(batch) >= 5000:
                    async with conn.transaction():
                        await conn.executemany("INSERT INTO raw_lines VALUES ($1, $2, $3, $4)", batch)
                    batch = []
        if batch:
            async with conn.transaction():
                await conn.executemany("INSERT INTO raw_lines VALUES ($1, $2, $3, $4)", batch)
        return time.perf_counter() - t0
    finally:
        await conn.close()


async def w7_ours(url: str, root: Path) -> float:
    async with yurudb.open(url, daily_backup=False) as store:
        t0 = time.perf_counter()
        await sync(store, root)
        return time.perf_counter() - t0


def w7(res: Results, quick: bool, tmp: Path) -> None:
    mb = 10 if quick else 50
    root = tmp / "w7" / "projects"
    jsonl = corpus.write(root, mb * 1_000_000, files=50)
    ours = asyncio.run(w7_ours(fresh(), root))
    theirs = asyncio.run(w7_raw(fresh(), root))
    res.rows.append(Row(f"W7 archive sync ({jsonl / 1e6:.0f} MB, 50 files, generated; PostgreSQL)",
                        "first sync (MB/s of JSONL)", jsonl / 1e6 / ours, jsonl / 1e6 / theirs, "MB/s", True, "",
                        "in process; raw: json.loads + asyncpg insert of each line, 5,000 a transaction"))
    first, again = asyncio.run(push_run(fresh(), root, tmp / "w7" / "home.db"))
    label = f"push: W7's archive from SQLite into PostgreSQL ({jsonl / 1e6:.0f} MB of JSONL)"
    res.rows.append(Row(label, "first push (MB/s of JSONL)", jsonl / 1e6 / first, jsonl / 1e6 / theirs, "MB/s", True,
                        "", "yurudb.claude.transfer of a synced SQLite archive; raw: W7's line insert"))
    res.rows.append(Row(label, "second push (nothing to copy)", again * 1000, 0.0, "ms", False, ""))


async def push_run(url: str, root: Path, home: Path) -> tuple[float, float]:
    """W7's files synced into a SQLite file, then copied into PostgreSQL twice: (seconds, seconds)."""
    async with yurudb.open(home, daily_backup=False) as store:
        await sync(store, root)
    async with yurudb.open(home, daily_backup=False, read_only=True) as source, \
            yurudb.open(url, daily_backup=False) as target:
        t0 = time.perf_counter()
        await transfer(source, target, machine="bench")
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = await transfer(source, target, machine="bench")
        assert not report.changed
        return first, time.perf_counter() - t0


# ---- W9: search ----------------------------------------------------------------------------------
async def w9_run(url: str, n: int, n_queries: int) -> tuple[list[float], list[float]]:
    import asyncpg

    words, texts = fulltext.real_text()
    rng = random.Random(5)
    async with yurudb.open(url, daily_backup=False, batch_size=500) as store:
        sessions = [(await store.create_session(f"session {i}")).id for i in range(100)]
        await asyncio.gather(*(store.append_message(sessions[k % 100], {"type": "user",
                                                                         "content": fulltext.variant(rng, texts, words)})
                               for k in range(n)))
        # measured at rest, as SQLite's W9 is: the secrets scanner through its queue, the server's
        # autovacuum done (VACUUM ANALYZE: statistics, and the GIN index's pending list merged)
        while await store.fetch_one("SELECT COUNT(*) FROM secret_scans"):
            await asyncio.sleep(0.2)
    conn = await asyncpg.connect(url)
    await conn.execute("VACUUM ANALYZE")
    await conn.close()
    async with yurudb.open(url, daily_backup=False) as store:
        qs = fulltext.queries(words, n_queries)
        await store.search(qs[0])
        ours = []
        for q in qs:
            t0 = time.perf_counter()
            await store.search(q)
            ours.append(time.perf_counter() - t0)
    conn = await asyncpg.connect(url)
    raw = []
    try:
        for q in qs[: max(10, n_queries // 10)]:
            t0 = time.perf_counter()
            await conn.fetch("SELECT id FROM messages WHERE " + " AND ".join(
                f"content ILIKE ${i + 1}" for i in range(len(q.split()))) + " LIMIT 20",
                *[f"%{w}%" for w in q.split()])
            raw.append(time.perf_counter() - t0)
    finally:
        await conn.close()
    return ours, raw


def w9(res: Results, quick: bool) -> None:
    n = 10_000 if quick else 50_000
    ours, raw = asyncio.run(w9_run(fresh(), n, 100 if quick else 300))
    label = f"W9 search ({n:,} messages; PostgreSQL)"
    res.rows.append(Row(label, "p50 store.search (20 hits, snippets)", pct(ours, 50) * 1000, pct(raw, 50) * 1000,
                        "ms", False, "", "raw: asyncpg ILIKE scan of content, LIMIT 20 (no ranking, no snippets)"))
    res.rows.append(Row(label, "p99 store.search", pct(ours, 99) * 1000, pct(raw, 50) * 1000, "ms", False, "< 100 ms"))


# ---- the SDK SessionStore ---------------------------------------------------------------------
def _entries(i: int, n: int) -> list[dict]:
    return [{"type": "user" if k % 2 else "assistant", "uuid": f"u-{i}-{k}", "sessionId": "s",
             "timestamp": "2026-12-04T10:00:00.000Z", "message": {"role": "user", "content": f"entry {k} " * 20}}
            for k in range(n)]


async def sdk_appends(store: Any, appends: int, per: int) -> tuple[float, list[float], float]:
    lat = []
    keys = [{"project_key": "-bench", "session_id": str(uuid.UUID(int=i + 1))} for i in range(10)]
    t0 = time.perf_counter()
    for i in range(appends):
        key = keys[i % len(keys)]
        entries = _entries(i, per)
        for e in entries:
            e["sessionId"] = key["session_id"]
        s = time.perf_counter()
        await store.append(key, entries)
        lat.append(time.perf_counter() - s)
    elapsed = time.perf_counter() - t0
    s = time.perf_counter()
    for key in keys:
        assert await store.load(key)
    return appends * per / elapsed, lat, (time.perf_counter() - s) / len(keys)


async def sdk_ours(url: str, appends: int, per: int) -> tuple[float, list[float], float]:
    adapter = await SessionStore.open(url, daily_backup=False)
    try:
        return await sdk_appends(adapter, appends, per)
    finally:
        await adapter.close()


async def sdk_reference(url: str, path: Path, appends: int, per: int) -> tuple[float, list[float], float]:
    import asyncpg

    spec = importlib.util.spec_from_file_location("postgres_session_store", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    pool = await asyncpg.create_pool(url)
    try:
        store = module.PostgresSessionStore(pool=pool)
        await store.create_schema()
        return await sdk_appends(store, appends, per)
    finally:
        await pool.close()


def sdk(res: Results, quick: bool, reference: Path | None) -> None:
    appends, per = (200, 5) if quick else (1000, 5)
    rate, lat, load = asyncio.run(sdk_ours(fresh(), appends, per))
    label = f"SessionStore on PostgreSQL ({appends} appends of {per} entries)"
    if reference is None or not reference.is_file():
        res.rows.append(Row(label, "entries/s (no reference adapter given: --reference)", rate, 0.0, "entries/s",
                            True, ""))
        res.rows.append(Row(label, "append p99", pct(lat, 99) * 1000, 0.0, "ms", False, "< 10 ms"))
        return
    ref_rate, ref_lat, ref_load = asyncio.run(sdk_reference(fresh(), reference, appends, per))
    res.rows.append(Row(label, "entries/s vs the SDK's Postgres reference adapter", rate, ref_rate, "entries/s", True,
                        "ahead of the reference", "raw column: examples/session_stores/postgres_session_store.py"))
    res.rows.append(Row(label, "append p99", pct(lat, 99) * 1000, pct(ref_lat, 99) * 1000, "ms", False, "< 10 ms"))
    res.rows.append(Row(label, "load one session", load * 1000, ref_load * 1000, "ms", False, ""))


def main() -> int:
    global SERVER
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--url", help="a server's maintenance database (default: a throwaway server)")
    parser.add_argument("--reference", type=Path, default=os.environ.get("YURUDB_SDK_REFERENCE"))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--only", help="comma-separated: W1,W2,W7,W9,SDK (W2 runs W3 too); default all")
    args = parser.parse_args()
    only = {w.strip().upper() for w in args.only.split(",")} if args.only else {"W1", "W2", "W7", "W9", "SDK"}
    server = None
    if args.url:
        SERVER = args.url
    else:
        from pgserver import Server

        server = Server().init().start()
        SERVER = server.url
    res = Results(machine=f"{os.cpu_count()} cpus", quick=args.quick)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            if "W1" in only:
                w1(res, args.quick)
            if "W2" in only or "W3" in only:
                w2_w3(res, args.quick)
            if "W7" in only:
                w7(res, args.quick, Path(tmp))
            if "W9" in only:
                w9(res, args.quick)
            if "SDK" in only:
                sdk(res, args.quick, args.reference)
    finally:
        if server is not None:
            server.remove()
    print("| workload | metric | yurudb | raw asyncpg | ratio | target |")
    print("|---|---|---:|---:|---:|---|")
    for r in res.rows:
        raw = f"{r.raw:,.2f}" if r.raw else "-"
        ratio = f"{r.ratio:.2f}x" if r.raw else "-"
        print(f"| {r.workload} | {r.metric} | {r.yurudb:,.2f} {r.unit} | {raw} | {ratio} | {r.target} |")
    if args.json:
        from dataclasses import asdict

        args.json.write_text(json.dumps([asdict(r) for r in res.rows], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

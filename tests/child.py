"""Programs the fault tests run in a separate process (a real process to kill, or to hold a lock).

    python tests/child.py append-loop DB [MAX_SIZE]   # append forever, print each acknowledged id
    python tests/child.py hold-lock DB                 # BEGIN IMMEDIATE, print "locked", wait for a line on stdin
    python tests/child.py append-n DB NAME N           # append N messages to a new session NAME
    python tests/child.py power-loop DB DURABILITY PROJECTS SEED  # appends, updates, usage and syncs, acked
    python tests/child.py probe DB                     # open, write, read; print a JSON report
    python tests/child.py degraded-ack DB [wait]       # degrade on a full "disk", save once more, print "acked"
                                                       # (with "wait": print "degraded" and save on a line from stdin)
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yurudb  # noqa: E402


async def append_loop(db: str, max_size: str | None) -> None:
    """Append (and sometimes update / record usage) until killed; every acknowledged id goes to stdout."""
    kwargs = {"max_size_bytes": int(max_size)} if max_size else {}
    store = await yurudb.open(db, daily_backup=False, **kwargs)
    session = await store.create_session("crash", status="active")
    print(f"session {session.id}", flush=True)
    n = 0
    while True:
        n += 1
        batch = [store.append_message(session.id, type="assistant", content=f"{n}-{k}" * 20) for k in range(4)]
        for message in await asyncio.gather(*batch):
            print(f"msg {message.id}", flush=True)
        if n % 5 == 0:
            updated = await store.update_message(message.id, content=f"updated {n}")
            print(f"upd {updated.id} {updated.content}", flush=True)
            usage = await store.record_usage(session.id, model="m", tokens_output=n, source_id=f"u{n}")
            print(f"use {usage.source_id}", flush=True)


def hold_lock(db: str) -> None:
    """Hold the write lock until told to let go."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    print("locked", flush=True)
    sys.stdin.readline()
    conn.execute("ROLLBACK")
    conn.close()
    print("released", flush=True)


async def append_n(db: str, name: str, count: int) -> None:
    """Append `count` messages one by one (another process does the same on the same file)."""
    async with yurudb.open(db, daily_backup=False) as store:
        session = await store.create_session(name)
        for i in range(count):
            await store.append_message(session.id, type="user", content=f"{name}-{i}")
        print(json.dumps({"session": session.id, "state": store.state}), flush=True)


async def degraded_ack(db: str, wait: bool) -> None:
    """Fill the "disk", then save once more: that save is journaled; print "acked" once it returns."""
    async with yurudb.open(db, daily_backup=False) as store:
        session = await store.create_session("s")
        await store.set_max_size(Path(db).stat().st_size)
        while store.state != "degraded":
            await store.append_message(session.id, type="user", content="x" * 4000)
        if wait:
            print("degraded", flush=True)
            await asyncio.to_thread(sys.stdin.readline)
        await store.append_message(session.id, type="user", content="the save under test")
        sys.stdout.write("acked\n")
        sys.stdout.flush()


async def power_loop(db: str, durability: str, projects: str, seed: int) -> None:
    """Write until the power goes: every acknowledged write is printed once its call returns.

    Appends in small batches, now and then an update, a usage record and a sync of a transcript that
    grows between syncs, with short pauses in which the background checkpoint runs.
    """
    import random

    from yurudb.claude import sync

    rng = random.Random(seed)
    transcript = Path(projects) / "-power" / "5e550000-0000-4000-8000-000000000001.jsonl"
    transcript.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    store = await yurudb.open(db, daily_backup=False, durability=durability)
    session = await store.create_session("power", status="completed")
    print(f"session {session.id}", flush=True)
    n = checkpoints = 0
    while True:
        n += 1
        batch = [store.append_message(session.id, type="user", content=f"{n}-{k} " + "w" * rng.choice([10, 500, 3000]))
                 for k in range(rng.randint(1, 4))]
        for message in await asyncio.gather(*batch):
            print(f"msg {message.id}", flush=True)
        roll = rng.random()
        if roll < 0.15:
            updated = await store.update_message(message.id, content=f"updated {n}")
            print(f"upd {updated.id} {n}", flush=True)
        elif roll < 0.25:
            usage = await store.record_usage(session.id, model="m", tokens_output=n, source_id=f"u{n}")
            print(f"use {usage.source_id}", flush=True)
        elif roll < 0.32:
            with open(transcript, "ab") as f:
                for _ in range(rng.randint(5, 40)):
                    written += 1
                    f.write(json.dumps({"type": "user", "sessionId": transcript.stem, "uuid": f"line-{written}",
                                        "message": {"content": f"line {written}"}}).encode() + b"\n")
            await sync(store, Path(projects))
            print(f"sync {written}", flush=True)
        if rng.random() < 0.3:
            await asyncio.sleep(rng.choice([0.005, 0.03, 0.12]))  # idle: the checkpointer's moment
        if store.checkpoints != checkpoints:
            checkpoints = store.checkpoints
            print(f"ckpt {checkpoints}", flush=True)


async def probe(db: str) -> None:
    """Open whatever is at `db`, write and read through the store, and report what happened."""
    events: list[str] = []
    report: dict = {}
    async with yurudb.open(db, daily_backup=False, on_event=lambda e: events.append(type(e).__name__)) as store:
        report["state_at_open"] = store.state
        report["recovery_error"] = store.recovery.error
        session = await store.create_session("probe")
        written = [await store.append_message(session.id, type="user", content=f"p{i}") for i in range(5)]
        report["read_back"] = [m.content for m in await store.get_messages(session.id)] == [m.content for m in written]
        report["sessions_listed"] = len(await store.list_sessions())
        report["state"] = store.state
    report["events"] = events
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    if cmd == "append-loop":
        asyncio.run(append_loop(args[0], args[1] if len(args) > 1 else None))
    elif cmd == "hold-lock":
        hold_lock(args[0])
    elif cmd == "append-n":
        asyncio.run(append_n(args[0], args[1], int(args[2])))
    elif cmd == "degraded-ack":
        asyncio.run(degraded_ack(args[0], args[1:] == ["wait"]))
    elif cmd == "power-loop":
        asyncio.run(power_loop(args[0], args[1], args[2], int(args[3])))
    elif cmd == "probe":
        asyncio.run(probe(args[0]))
    else:
        raise SystemExit(f"unknown command {cmd}")

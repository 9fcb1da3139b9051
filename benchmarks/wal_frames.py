"""WAL frames (pages written) per 100 messages: W1's closed loop through yurudb vs raw batches of 100 and 500.

    python benchmarks/wal_frames.py

A durable commit's cost is mostly the pages it writes to the WAL, so this explains W1's ratio:
counted from the WAL file's growth, with checkpoints off on both sides so frames only append.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import raw  # noqa: E402
import workload  # noqa: E402
from run import raw_sessions, schema_only  # noqa: E402

from yurudb.recovery.coordinator import Opening, Options  # noqa: E402

N_SESSIONS, PER = 100, 200


def frames(wal: Path, size_before: int, page_size: int, messages: int) -> float:
    """WAL frames appended per 100 messages (a frame is a 24-byte header and one page)."""
    return (os.path.getsize(wal) - size_before) / (page_size + 24) / messages * 100


def page_size(path: Path) -> int:
    """The database's page size."""
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])
    finally:
        conn.close()


async def through_yurudb(path: Path, msgs: list[dict]) -> tuple[float, list[str]]:
    """W1's closed loop, checkpointer parked; frames per 100 messages and the session ids."""
    options = Options(max_messages_per_session=1_000_000, checkpoint_interval=3600)
    async with Opening(path, options, None) as store:
        sessions = [await store.create_session(f"s{i}") for i in range(N_SESSIONS)]
        wal = Path(f"{path}-wal")
        before = os.path.getsize(wal)

        async def one(k: int, sid: str) -> None:
            for j in range(PER):
                await store.append_message(sid, msgs[k * PER + j])

        await asyncio.gather(*(one(k, s.id) for k, s in enumerate(sessions)))
        return frames(wal, before, page_size(path), len(msgs)), [s.id for s in sessions]


def through_raw(path: Path, msgs: list[dict], ids: list[str], batch: int) -> float:
    """The same rows in arrival order, `batch` per transaction, autocheckpoint off."""
    schema_only(path)
    conn = raw.connect(path)
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    raw_sessions(conn, ids)
    wal = Path(f"{path}-wal")
    before = os.path.getsize(wal)
    rows = [workload.raw_row(ids[k], j + 1, msgs[k * PER + j], 1) for j in range(PER) for k in range(N_SESSIONS)]
    raw.insert_batched(conn, rows, batch)
    # counted before closing: closing the last connection checkpoints and deletes the WAL
    result = frames(wal, before, page_size(path), len(rows))
    conn.close()
    return result


def main() -> None:
    """Print one line per way of writing."""
    msgs = workload.messages(N_SESSIONS * PER)
    with tempfile.TemporaryDirectory() as tmp:
        ours, ids = asyncio.run(through_yurudb(Path(tmp, "y.db"), msgs))
        print(f"yurudb closed loop ({N_SESSIONS}x{PER}): {ours:6.1f} WAL frames per 100 messages")
        for batch in (100, 500):
            count = through_raw(Path(tmp, f"raw{batch}.db"), msgs, ids, batch)
            print(f"raw sqlite3, {batch} per transaction:     {count:6.1f} WAL frames per 100 messages")
    print(f"(SQLite {sqlite3.sqlite_version})")


if __name__ == "__main__":
    main()

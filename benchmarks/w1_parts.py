"""Where W1's search-index cost goes: W1 (100 clients x 200 appends) with parts of the index's upkeep off.

    python benchmarks/w1_parts.py [--rounds N]

Rows: the index off (`yurudb.open(index_search=False)`); only FTS5's own work (the caller's share looked up
from a table made beforehand); only the caller's share (the text worked out, a one-word document
indexed); both (yurudb as it ships). Messages/s, each round of each variant in turn, same run.

Then the ceiling: the ratio to "index off" that a build would reach if the index cost it nothing but
FTS5's own work on the same texts (raw sqlite3, same table and settings, W1's 100 messages a
transaction, synchronous off so only the index's CPU counts), and nothing but that and working out
the texts (the caller's share, timed alone): what no upkeep code can beat in W1's closed loop, where
each batch's clients wait for its commit and the index's work cannot overlap theirs.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as bench  # noqa: E402
import workload  # noqa: E402

from yurudb import validation  # noqa: E402
from yurudb.backends.sqlite.schema import MERGE_SETTING, SEARCH_DDL  # noqa: E402
from yurudb.search import index as search  # noqa: E402

SESSIONS, PER = 100, 200


@contextmanager
def variant(name: str, precomputed: dict[str, str]) -> Iterator[None]:
    """Switch parts of the upkeep off for one W1 round (benchmark-only, restored after)."""
    saved = search.indexed, search.text_of, search.body_of
    try:
        if name == "FTS5 only":
            search.text_of = lambda content, tool_uses, payload=None: content or ""
            search.indexed = precomputed.__getitem__
        elif name == "caller only":
            search.body_of = lambda write: "x"
        yield
    finally:
        search.indexed, search.text_of, search.body_of = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    msgs = workload.messages(SESSIONS * PER)
    real_text: Callable = search.text_of
    precomputed = {}
    for m in msgs:
        content = m["content"] if isinstance(m["content"], str) else "\n".join(b["text"] for b in m["content"])
        content = validation.content_text(content) or ""
        precomputed[content] = search.indexed(real_text(content, m.get("tool_uses"), m))
    names = ("index off", "FTS5 only", "caller only", "both (as shipped)")
    rates: dict[str, list[float]] = {n: [] for n in names}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            for n in names:
                with variant(n, precomputed):
                    path = bench.fresh(Path(tmp), f"{n.split()[0]}-{r}")
                    elapsed = asyncio.run(bench.w1_yurudb(path, SESSIONS, PER, msgs, n != "index off"))[0]
                rates[n].append(SESSIONS * PER / elapsed)
        fts = statistics.median(fts5_alone(Path(tmp), list(precomputed.values()), r) for r in range(rounds))
    texts = statistics.median(caller_alone(msgs) for _ in range(rounds))
    off = statistics.median(rates["index off"])
    print("| W1 variant | messages/s (median) | rounds | vs index off |")
    print("|---|---:|---|---:|")
    for n in names:
        med = statistics.median(rates[n])
        print(f"| {n} | {med:,.0f} | {', '.join(f'{x:,.0f}' for x in rates[n])} | {med / off:.2f}x |")
    per_off = 1e6 / off  # us a message with the index off
    print(f"| ceiling: index off + FTS5's own work ({fts:.1f} us/msg, raw) | {1e6 / (per_off + fts):,.0f} | - | "
          f"{per_off / (per_off + fts):.2f}x |")
    print(f"| ceiling: + working out the texts ({texts:.1f} us/msg) | {1e6 / (per_off + fts + texts):,.0f} | - | "
          f"{per_off / (per_off + fts + texts):.2f}x |")


def fts5_alone(tmp: Path, bodies: list[str], r: int) -> float:
    """Microseconds a message that FTS5 itself takes to index W1's texts, 100 a transaction (raw sqlite3)."""
    conn = sqlite3.connect(tmp / f"fts5-{r}.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute(SEARCH_DDL)
    conn.execute(MERGE_SETTING)
    bodies = [b for b in bodies if b.strip()][: SESSIONS * PER]
    t0 = time.perf_counter()
    for start in range(0, len(bodies), SESSIONS):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO search_index (rowid, body) VALUES (?, ?)",
                         [(start + i + 1, b) for i, b in enumerate(bodies[start:start + SESSIONS])])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed / len(bodies) * 1e6


def caller_alone(msgs: list[dict]) -> float:
    """Microseconds a message that working out its indexed text takes (what append_message does)."""
    contents = [m["content"] if isinstance(m["content"], str) else "\n".join(b["text"] for b in m["content"])
                for m in msgs]
    contents = [validation.content_text(c) or "" for c in contents]
    t0 = time.perf_counter()
    for m, c in zip(msgs, contents, strict=True):
        search.indexed(search.text_of(c, m.get("tool_uses"), m))
    return (time.perf_counter() - t0) / len(msgs) * 1e6


if __name__ == "__main__":
    main()

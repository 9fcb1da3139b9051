"""The ceiling of W7's first sync on this machine: what the work a sync must do costs with no orchestration.

    python benchmarks/sync_ceiling.py [--mb 200]

W7 asks the first sync for >= 0.5x a raw baseline (stdlib json + sqlite3 inserting each line's bytes,
5,000 per transaction). A sync must also compress the lines (the size target), work out each
message's searchable text and index it in the same transaction (issue 11), and write the message
rows. This times each of those parts alone on the same generated corpus, in the same run as the raw
baseline: the parts that need no database as CPU seconds (any number of processes could share
them), and the writer's part (the compressed runs, the message rows on yurudb's schema and the FTS5
inserts, in 25 transactions) on raw sqlite3, which one connection must do alone. With no overhead
at all and every core busy, a sync could take no less than max(writer, everything / cores) plus
starting Python and opening the store.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import archive  # noqa: E402
import corpus  # noqa: E402
import raw  # noqa: E402
import run as bench  # noqa: E402

from yurudb.archive import prepare as archive_prepare
from yurudb.lines import codec
from yurudb.lines import transcript as meaning  # noqa: E402
from yurudb.search import text as search_text  # noqa: E402

GROUPS = 25  # the writer's transactions (a sync commits about 8 MB of lines at a time)
OPEN_STORE = """
import asyncio, sys
import yurudb
async def main():
    async with yurudb.open(sys.argv[1], daily_backup=False):
        pass
asyncio.run(main())
"""


def cpu(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(CPU seconds, result) of fn()."""
    t0 = time.process_time()
    result = fn()
    return time.process_time() - t0, result


def searchable(lines: list[dict[str, Any]]) -> list[str]:
    """Each line's indexed text, as a sync works it out."""
    out = []
    for line in lines:
        cols = meaning.project(line)
        out.append(search_text.indexed(search_text.text_of(cols["content"], cols["tool_uses"], line)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=int, default=200)
    mb = parser.parse_args().mb
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        root = base / "projects"
        total = corpus.write(root, mb * 1_000_000)
        files = sorted(root.rglob("*.jsonl"))
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", archive.RAW_SYNC.format(bench=str(Path(__file__).parent)), str(root),
                        str(base / "raw.db")], check=True)
        raw_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", OPEN_STORE, str(base / "empty.db")], check=True,
                       cwd=Path(__file__).resolve().parents[1])
        start_s = time.perf_counter() - t0

        dictionary = codec.train(archive_prepare.split_lines(files[0].read_bytes())[:4000])
        assert dictionary is not None
        codec.register(*dictionary)
        parts = {"read and split": 0.0, "json.loads": 0.0, "compress (level 3, dictionary)": 0.0,
                 "searchable text": 0.0}
        runs: list[tuple[int, bytes]] = []
        bodies: list[str] = []
        messages: list[tuple[Any, ...]] = []
        for path in files:  # a file at a time, as a sync reads them: only its rows are kept
            dt, lines = cpu(lambda: archive_prepare.split_lines(path.read_bytes()))  # noqa: B023
            parts["read and split"] += dt
            dt, parsed = cpu(lambda: [json.loads(line) for line in lines])  # noqa: B023
            parts["json.loads"] += dt
            dt, packed = cpu(lambda: codec.pack(lines, dictionary[0]))  # noqa: B023
            parts["compress (level 3, dictionary)"] += dt
            dt, texts = cpu(lambda: searchable(parsed))  # noqa: B023
            parts["searchable text"] += dt
            runs += packed
            bodies += texts
            for line in parsed:
                n = len(messages)
                messages.append((line.get("uuid") or f"line-{n}", "s", n, line.get("type"), None, line.get("timestamp"),
                                 None, 1, n, n + 1))

        db = base / "writer.db"
        bench.schema_only(db)
        conn = raw.connect(db)
        conn.execute("INSERT INTO sessions (id, name) VALUES ('s', 's')")
        conn.execute("INSERT INTO transcript_files (root, path) VALUES ('r', 'p')")
        per, per_run = len(messages) // GROUPS + 1, len(runs) // GROUPS + 1
        t0 = time.perf_counter()
        for g in range(GROUPS):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT INTO transcript_blocks (file_id, first_line, lines, raw) VALUES (1, ?, ?, ?)",
                             [(g * per_run + k, count, frame)
                              for k, (count, frame) in enumerate(runs[g * per_run:(g + 1) * per_run])])
            conn.executemany("INSERT OR IGNORE INTO messages (id, session_id, seq, type, role, timestamp, thread, "
                             "file_id, line, search_doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             messages[g * per:(g + 1) * per])
            conn.executemany("INSERT INTO search_index (rowid, body) VALUES (?, ?)",
                             [(g * per + j + 1, b) for j, b in enumerate(bodies[g * per:(g + 1) * per]) if b.strip()])
            conn.execute("COMMIT")
        writer_s = time.perf_counter() - t0
        conn.close()

    free = sum(parts.values())
    ceiling = max(writer_s, (free + writer_s) / cores) + start_s
    print(f"| W7 ceiling ({total / 1e6:.0f} MB generated, {cores} cores) | seconds | note |")
    print("|---|---:|---|")
    print(f"| raw baseline | {raw_s:.2f} | {total / 1e6 / raw_s:.0f} MB/s; 0.5x raw is {2 * raw_s:.2f} s |")
    for name, seconds in parts.items():
        print(f"| {name} | {seconds:.2f} | CPU, no database: any process |")
    print(f"| writer: runs + message rows + FTS5 | {writer_s:.2f} | raw sqlite3, one connection, {GROUPS} transactions |")
    print(f"| start Python, import yurudb, open | {start_s:.2f} | |")
    print(f"| ceiling: max(writer, all / cores) + start | {ceiling:.2f} | {raw_s / ceiling:.2f}x raw |")


if __name__ == "__main__":
    main()

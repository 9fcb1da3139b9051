"""W7 and W8: the Claude Code archive. First sync, an unchanged re-sync, the database's size, peak
memory, and how soon a line Claude Code appends is durable under `watch`; each beside raw work."""

from __future__ import annotations

import asyncio
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import corpus
import raw

import yurudb
from yurudb.claude import sync, watch

SHARED = corpus.SHARED
REPO = Path(__file__).resolve().parents[1]

RAW_SYNC = """
import json, sqlite3, sys, os
from pathlib import Path
sys.path.insert(0, {bench!r})
import raw
root, db = Path(sys.argv[1]), Path(sys.argv[2])
conn = raw.connect(db)
conn.execute("CREATE TABLE IF NOT EXISTS lines (file TEXT, line INTEGER, session TEXT, type TEXT, raw BLOB)")
batch = []
def flush():
    conn.execute("BEGIN IMMEDIATE"); conn.executemany("INSERT INTO lines VALUES (?, ?, ?, ?, ?)", batch)
    conn.execute("COMMIT"); batch.clear()
for path in sorted(root.rglob("*.jsonl")):
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            d = json.loads(line)
            batch.append((str(path), n, d.get("sessionId"), d.get("type"), line))
            if len(batch) >= 5000:
                flush()
if batch:
    flush()
"""

YURUDB_SYNC = """
import asyncio, sys
sys.path.insert(0, {repo!r})
import yurudb
from yurudb.claude import sync
async def main():
    async with yurudb.open(sys.argv[2], daily_backup=False) as store:
        await sync(store, sys.argv[1])
asyncio.run(main())
"""


TIME = Path("/usr/bin/time")
YURUDB_CLI = "import sys; sys.argv[0] = 'yurudb'; from yurudb.cli import main; main()"
RAW_EXPORT = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
with open(sys.argv[2], "wb") as out:
    for (raw,) in conn.execute("SELECT raw FROM lines"):
        out.write(raw)
"""


def child(code: str, *args: str) -> tuple[float, float]:
    """Run code in a fresh interpreter; (seconds, peak RSS in MB) of that process alone.

    The peak comes from GNU time's %M (`/usr/bin/time -v`'s maximum resident set size); without it,
    from getrusage, which reports the largest of all children so far.
    """
    prefix = [str(TIME), "-f", "maxrss-kb %M"] if TIME.exists() else []
    t0 = time.perf_counter()
    done = subprocess.run([*prefix, sys.executable, "-c", code, *args], check=True, cwd=REPO,
                          stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - t0
    marks = [line for line in done.stderr.splitlines() if line.startswith("maxrss-kb ")]
    if marks:
        return seconds, int(marks[-1].split()[1]) / 1024
    return seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _size_ratio(db: Path, jsonl_bytes: int) -> float:
    """The database's bytes (WAL folded in) over the JSONL bytes it holds."""
    conn = raw.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return db.stat().st_size / jsonl_bytes


def _first_syncs(res: Any, Row: Any, label: str, root: Path, raw_db: Path, db: Path, jsonl: int,  # noqa: N803
                 rounds: int, note: str) -> None:
    """The first-sync row: raw's and yurudb's first sync of root in rounds side by side, medians (the
    machine is shared; the last round's databases are kept)."""
    raw_times: list[float] = []
    our_times: list[float] = []
    for _ in range(rounds):
        for path in (raw_db, db):
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        # each after the disk has written back what the one before left (os.sync): else the second
        # pays the first one's writeback in its own fsyncs
        os.sync()
        raw_times.append(child(RAW_SYNC.format(bench=str(Path(__file__).parent)), str(root), str(raw_db))[0])
        os.sync()
        our_times.append(child(YURUDB_SYNC.format(repo=str(REPO)), str(root), str(db))[0])
    raw_s, ours_s = statistics.median(raw_times), statistics.median(our_times)
    res.rows.append(Row(label, "first sync (MB/s of JSONL)", jsonl / 1e6 / ours_s, jsonl / 1e6 / raw_s, "MB/s", True,
                        ">= 40 MB/s and >= 0.5x raw",
                        f"{note}; median of {rounds} ({', '.join(f'{jsonl / 1e6 / t:.1f}' for t in our_times)} MB/s)"))


def w7(tmp: Path, res: Any, quick: bool, Row: Any) -> None:  # noqa: N803 - the table's row type
    mb = 50 if quick else 200
    root = tmp / "w7" / "projects"
    jsonl = corpus.write(root, mb * 1_000_000, files=200)
    label = f"W7 archive sync ({jsonl / 1e6:.0f} MB, 200 files, generated)"
    db = tmp / "w7" / "yurudb.db"
    raw_db = tmp / "w7" / "raw.db"
    raw_code = RAW_SYNC.format(bench=str(Path(__file__).parent))
    _first_syncs(res, Row, label, root, raw_db, db, jsonl, 1 if quick else 3,
                 "whole process (start-up included); raw: json.loads + sqlite3 insert of each line, 5,000 per "
                 "transaction")

    async def resync() -> float:
        async with yurudb.open(db, daily_backup=False) as store:
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                report = await sync(store, root)
                times.append(time.perf_counter() - t0)
                assert report.lines == 0 and report.files_unchanged == 200
            return statistics.median(times)

    unchanged = asyncio.run(resync())
    t0 = time.perf_counter()
    for _ in range(5):
        for path in root.rglob("*.jsonl"):
            path.stat()
    raw_stat = (time.perf_counter() - t0) / 5
    res.rows.append(Row(label, "unchanged re-sync", unchanged * 1000, raw_stat * 1000, "ms", False, "< 300 ms",
                        "median of 5; raw: walk and stat the 200 files"))
    res.rows.append(Row(label, "database size / JSONL size", _size_ratio(db, jsonl), _size_ratio(raw_db, jsonl),
                        "x", False, "<= 0.6x", "raw: each line's bytes uncompressed in one table"))
    if SHARED.is_dir():
        shared_db = tmp / "w7" / "shared.db"

        async def shared() -> int:
            async with yurudb.open(shared_db, daily_backup=False) as store:
                return (await sync(store, SHARED)).bytes

        shared_bytes = asyncio.run(shared())
        res.rows.append(Row("W7 archive sync (../shared transcripts)", "database size / JSONL size",
                            _size_ratio(shared_db, shared_bytes), 0.0, "x", False, "<= 0.6x",
                            f"{shared_bytes / 1e6:.1f} MB of real Claude Code transcripts"))
        _w7_real(tmp, res, quick, Row)
    # Peak memory: a 1 GB history in full mode, the same corpus in quick mode.
    big_root, big_mb = (root, jsonl / 1e6) if quick else (tmp / "w7big" / "projects", 1000.0)
    if not quick:
        corpus.write(big_root, 1_000_000_000, files=200, seed=11)
    raw_big = tmp / "w7" / "raw-big.db"
    _, raw_peak = child(raw_code, str(big_root), str(raw_big))
    _, ours_peak = child(YURUDB_SYNC.format(repo=str(REPO)), str(big_root), str(tmp / "w7" / "big.db"))
    res.rows.append(Row(f"W7 archive sync ({big_mb:.0f} MB)", "peak memory (max RSS)", ours_peak, raw_peak, "MB", False,
                        "< 250 MB" if not quick else "", "GNU time's maximum resident set size, each process alone"))
    # and every export of that history, streamed (a session at a time), beside raw writing each line out
    _, raw_out = child(RAW_EXPORT, str(raw_big), str(tmp / "w7" / "raw-export.jsonl"))
    for fmt, args in (("json", ["--all"]), ("markdown", ["--all", "--format", "markdown"]),
                      ("jsonl", ["--all", "--format", "jsonl"])):
        out = tmp / "w7" / f"export-{fmt}"
        seconds, peak = child(YURUDB_CLI, "--db", str(tmp / "w7" / "big.db"), "export", *args, "-o", str(out))
        res.rows.append(Row(f"W7 export --all ({big_mb:.0f} MB history)", f"peak memory, {fmt}", peak, raw_out, "MB",
                            False, "< 250 MB" if not quick else "",
                            f"{seconds:.0f} s; max RSS; raw: python reading every archived line and writing it out"))


def _w7_real(tmp: Path, res: Any, quick: bool, Row: Any) -> None:  # noqa: N803
    """The first sync again over copies of the shared real transcripts (fresh ids in each copy).

    The generated corpus draws its words one by one, so its tool results are all text: searchable
    text is about a third of its bytes, against under a tenth in real transcripts (whose lines are
    mostly hook progress, long tool results cut to their ends, and bookkeeping). The index and the
    text work are most of a sync's cost, so both corpora are measured.
    """
    root = tmp / "w7real" / "projects"
    jsonl = corpus.from_shared(root, (50 if quick else 200) * 1_000_000)
    files = sum(1 for _ in root.rglob("*.jsonl"))
    label = f"W7 archive sync ({jsonl / 1e6:.0f} MB, {files} files, ../shared transcripts copied)"
    db, raw_db = tmp / "w7real" / "yurudb.db", tmp / "w7real" / "raw.db"
    _first_syncs(res, Row, label, root, raw_db, db, jsonl, 1 if quick else 3,
                 f"as above; the real transcripts copied {jsonl / 1e6 / 6.7:.0f} times, each copy with UUIDs of its own")
    res.rows.append(Row(label, "database size / JSONL size", _size_ratio(db, jsonl), _size_ratio(raw_db, jsonl),
                        "x", False, "<= 0.6x", "raw: each line's bytes uncompressed in one table"))


def w8(tmp: Path, res: Any, quick: bool, Row: Any) -> None:  # noqa: N803
    seconds = 5.0 if quick else 15.0
    root = tmp / "w8" / "projects"
    sessions = [f"5e550000-0000-4000-8000-{i:012d}" for i in range(5)]
    paths = []
    for sid in sessions:
        (root / "-repo").mkdir(parents=True, exist_ok=True)
        path = root / "-repo" / f"{sid}.jsonl"
        path.write_bytes(b"")
        paths.append(path)
    written: dict[tuple[str, int], float] = {}
    durable: dict[tuple[str, int], float] = {}

    async def run() -> None:
        stop = asyncio.Event()
        async with yurudb.open(tmp / "w8" / "yurudb.db", daily_backup=False) as store:
            watcher = asyncio.get_running_loop().create_task(watch(store, root, stop=stop))
            rng = random.Random(5)
            counts = {p.name: 0 for p in paths}

            async def appender(path: Path) -> None:
                # Claude Code's pace: a response's lines in a burst, a pause of a few tenths of a second
                end = asyncio.get_running_loop().time() + seconds
                while asyncio.get_running_loop().time() < end:
                    burst = rng.randint(1, 5)
                    with open(path, "ab") as f:
                        for _ in range(burst):
                            counts[path.name] += 1
                            f.write(json.dumps({"type": "assistant", "sessionId": path.stem, "uuid": os.urandom(8).hex(),
                                                "message": {"role": "assistant", "content": "x" * 800}}).encode() + b"\n")
                            f.flush()
                            written[(path.name, counts[path.name])] = time.perf_counter()
                    await asyncio.sleep(rng.uniform(0.2, 0.8))

            async def monitor() -> None:
                while not stop.is_set():
                    now = time.perf_counter()
                    for name, lines in await store.fetch("SELECT path, lines FROM transcript_files"):
                        base = name.rsplit("/", 1)[-1]
                        for n in range(1, lines + 1):
                            durable.setdefault((base, n), now)
                    await asyncio.sleep(0.01)

            mon = asyncio.get_running_loop().create_task(monitor())
            await asyncio.sleep(0.5)  # the first pass
            await asyncio.gather(*(appender(p) for p in paths))
            await asyncio.sleep(1.5)
            stop.set()
            await watcher
            await mon

    asyncio.run(run())
    latencies = [durable[k] - t for k, t in written.items() if k in durable]
    missing = len(written) - len(latencies)
    latencies.sort()
    label = f"W8 watch ({len(paths)} sessions appending at Claude Code's pace, {seconds:.0f} s)"
    pct = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    res.rows.append(Row(label, "line appended -> durable, p50", pct[49] * 1000, 0.0, "ms", False, "",
                        f"{len(latencies)} lines; polled every 10 ms"))
    res.rows.append(Row(label, "line appended -> durable, p99", pct[98] * 1000, 0.0, "ms", False, "< 1000 ms",
                        f"{missing} lines never seen durable" if missing else "every line durable"))


def _footprint_tree(root: Path, total: int, seed: int = 11) -> tuple[int, int]:
    """Projects whose sessions saved large tool outputs beside their transcripts (and memory files, sidecars):
    logs and file listings of about 20-400 KB, one in four saved twice. Returns (files, bytes)."""
    rng = random.Random(seed)
    words = corpus.vocabulary()
    files = size = 0
    n = 0
    while size < total:
        n += 1
        project = root / f"-home-dev-project{n % 7}"
        sid = f"5e550000-0000-4000-8000-{n:012x}"
        (project / sid / "tool-results").mkdir(parents=True, exist_ok=True)
        (project / f"{sid}.jsonl").write_text(json.dumps({"type": "user", "sessionId": sid, "uuid": f"u{n}",
                                                          "message": {"content": "run the tests"}}) + "\n")
        previous = b""
        for k in range(4):
            if previous and rng.random() < 0.25:
                data = previous  # the same output saved again (a command re-run)
            else:
                lines = rng.randint(300, 6000)
                data = "".join(f"{i:05d} {' '.join(rng.choices(words, k=rng.randint(3, 12)))}\n"
                               for i in range(lines)).encode()
            (project / sid / "tool-results" / f"toolu_{n:04d}_{k}.txt").write_bytes(data)
            previous = data
            files += 1
            size += len(data)
        meta = project / sid / "subagents" / "agent-a1.meta.json"
        meta.parent.mkdir(exist_ok=True)
        meta.write_text(json.dumps({"agentType": "Explore", "description": f"look at module {n}"}))
        files += 1
        size += meta.stat().st_size
    for memory in root.glob("*/"):
        (memory / "memory").mkdir(exist_ok=True)
        (memory / "memory" / "MEMORY.md").write_text("# Memory\n- run the tests with pytest -q\n")
        files += 1
    return files, size


RAW_FOOTPRINT = """
import os, sqlite3, sys, hashlib
from pathlib import Path
sys.path.insert(0, {bench!r})
import raw
root, db = Path(sys.argv[1]), Path(sys.argv[2])
conn = raw.connect(db)
conn.execute("CREATE TABLE IF NOT EXISTS files (path TEXT, sha256 TEXT, data BLOB)")
batch, size = [], 0
def flush():
    conn.execute("BEGIN IMMEDIATE"); conn.executemany("INSERT INTO files VALUES (?, ?, ?)", batch)
    conn.execute("COMMIT"); batch.clear()
for folder, dirs, names in os.walk(root):
    for name in names:
        if name.endswith(".jsonl"):
            continue
        data = open(os.path.join(folder, name), "rb").read()
        batch.append((os.path.join(folder, name), hashlib.sha256(data).hexdigest(), data))
        size += len(data)
        if size >= 8 * 1024 * 1024:
            flush(); size = 0
if batch:
    flush()
"""

YURUDB_FOOTPRINT = """
import asyncio, sys
from pathlib import Path
sys.path.insert(0, {repo!r})
import yurudb
from yurudb.archive import footprint
async def main():
    async with yurudb.open(sys.argv[2], daily_backup=False) as store:
        await footprint.archive(store, Path(sys.argv[1]).resolve())
asyncio.run(main())
"""


def w10(tmp: Path, res: Any, quick: bool, Row: Any) -> None:  # noqa: N803 - the table's row type
    """The footprint beside the transcripts: first pass, unchanged pass, size; the shared transcripts' count."""
    label = "W10 footprint (tool outputs beside transcripts, generated)"
    root = tmp / "w10" / "projects"
    files, size = _footprint_tree(root, (20 if quick else 100) * 1_000_000)
    raw_db, db = tmp / "w10" / "raw.db", tmp / "w10" / "yurudb.db"
    raw_times, our_times = [], []
    for _ in range(1 if quick else 3):
        for path in (raw_db, db):
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        os.sync()
        raw_times.append(child(RAW_FOOTPRINT.format(bench=str(Path(__file__).parent)), str(root), str(raw_db))[0])
        os.sync()
        our_times.append(child(YURUDB_FOOTPRINT.format(repo=str(REPO)), str(root), str(db))[0])
    raw_s, ours_s = statistics.median(raw_times), statistics.median(our_times)
    res.rows.append(Row(label, "first pass (MB/s of files)", size / 1e6 / ours_s, size / 1e6 / raw_s, "MB/s", True, "",
                        f"{files:,} files, {size / 1e6:.0f} MB; whole processes; raw: read, sha256 and insert each "
                        f"file's bytes, 8 MB per transaction; median of {len(our_times)}"))
    res.rows.append(Row(label, "database size / file bytes", _size_ratio(db, size), _size_ratio(raw_db, size), "x",
                        False, "", "zstd per content, a copy saved twice stored once; raw: the bytes as they are"))

    async def again() -> float:
        async with yurudb.open(db, daily_backup=False) as store:
            from yurudb.archive import footprint

            t0 = time.perf_counter()
            await footprint.archive(store, root.resolve())
            return time.perf_counter() - t0

    ours = statistics.median(asyncio.run(again()) for _ in range(5))
    t0 = time.perf_counter()
    for _ in range(5):
        for folder, _dirs, names in os.walk(root):
            for name in names:
                os.stat(os.path.join(folder, name))
    walk = (time.perf_counter() - t0) / 5
    res.rows.append(Row(label, "unchanged pass", ours * 1000, walk * 1000, "ms", False, "< 300 ms",
                        "median of 5; raw: walk and stat the files"))
    shared = [p for p in corpus.SHARED.rglob("*") if p.is_file() and not p.name.endswith(".jsonl")
              and p.name not in ("README.md", "LICENSE.spotter")] if corpus.SHARED.is_dir() else []
    jsonls = len(list(corpus.SHARED.rglob("*.jsonl"))) if corpus.SHARED.is_dir() else 0
    res.rows.append(Row("W10 footprint (../shared transcripts)", "files beside the transcripts", len(shared), 0.0,
                        "files", False, "", f"{jsonls} transcripts; the shared set holds JSONL only (its tool-result "
                        "pointers dangle: their files were not shared)"))

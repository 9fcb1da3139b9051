"""W13: the secrets scan. Every message is scanned as the transaction that indexes it runs, so its cost
is part of every save and every sync: here the scanner alone over message text, beside the least a
scan can be (one compiled pattern for one kind of key), and the first sync of W7's generated corpus
with the scan beside the same sync without it (the findings hook off, in the same run)."""

from __future__ import annotations

import os
import re
import statistics
import time
from pathlib import Path
from typing import Any

import archive
import corpus

from yurudb.search.text import file_texts
from yurudb.secrets import rules

# the baseline: the same sync with the rules finding nothing, in this process and in its prepare workers
# (plain subprocesses: their command gets the same one-line stub)
_STUB = "import yurudb.secrets.rules as r; r.find = lambda text: []; "
NO_SCAN_SYNC = archive.YURUDB_SYNC.replace("import yurudb\n", f"""import yurudb
{_STUB}
import asyncio as _aio, yurudb.archive.worker as _w
_spawn = _aio.create_subprocess_exec
async def _stubbed(*args, **kw):
    args = [a.replace("from yurudb.archive.prepare", {_STUB!r} + "from yurudb.archive.prepare")
            if isinstance(a, str) else a for a in args]
    return await _spawn(*args, **kw)
_w.asyncio.create_subprocess_exec = _stubbed
""")


def _texts(root: Path) -> list[str]:
    return [text for path in sorted(root.rglob("*.jsonl")) for text in file_texts(path)]


def w13(tmp: Path, res: Any, quick: bool, Row: Any) -> None:  # noqa: N803 - the table's row type
    mb = 20 if quick else 100
    root = tmp / "w13" / "projects"
    jsonl = corpus.write(root, mb * 1_000_000, files=100)
    texts = _texts(root) + (_texts(corpus.SHARED) if corpus.SHARED.is_dir() else [])
    size = sum(len(t) for t in texts)
    one = re.compile(r"AKIA[0-9A-Z]{16}")
    scan, least = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        found = sum(len(rules.find(t)) for t in texts)
        scan.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for t in texts:
            one.search(t)
        least.append(time.perf_counter() - t0)
    label = f"W13 secrets scan ({size / 1e6:.0f} MB of message text, {len(texts):,} messages)"
    res.rows.append(Row(label, "scan (MB/s of text)", size / 1e6 / statistics.median(scan),
                        size / 1e6 / statistics.median(least), "MB/s", True, "",
                        f"17 rules, entropy-checked keywords; {found} found (the generated corpus plants none); "
                        "raw: one pattern for one kind of key; detect-secrets' scan_line measured 0.3 MB/s on the "
                        "shared transcripts"))
    ours, without = [], []
    db = tmp / "w13" / "yurudb.db"
    for _ in range(1 if quick else 3):
        for code, times in ((archive.YURUDB_SYNC, ours), (NO_SCAN_SYNC, without)):
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
            os.sync()
            times.append(archive.child(code.format(repo=str(archive.REPO)), str(root), str(db))[0])
    res.rows.append(Row(f"W13 secrets scan during sync ({jsonl / 1e6:.0f} MB of JSONL, generated)",
                        "first sync with the scan (MB/s of JSONL)", jsonl / 1e6 / statistics.median(ours),
                        jsonl / 1e6 / statistics.median(without), "MB/s", True, "",
                        "whole processes, medians; raw: the same sync with the rules stubbed out (in its workers too)"))

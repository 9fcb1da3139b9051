"""Where W1's search-index cost goes: W1 (100 clients x 200 appends) with parts of the index's upkeep off.

    python benchmarks/w1_parts.py [--rounds N]

Rows: the index off (`search._upkeep = False`); only FTS5's own work (the caller's share looked up
from a table made beforehand); only the caller's share (the text worked out, a one-word document
indexed); both (yurudb as it ships). Messages/s, each round of each variant in turn, same run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as bench  # noqa: E402
import workload  # noqa: E402
from yurudb import search, validation  # noqa: E402

SESSIONS, PER = 100, 200


@contextmanager
def variant(name: str, precomputed: dict[str, str]) -> Iterator[None]:
    """Switch parts of the upkeep off for one W1 round (benchmark-only, restored after)."""
    saved = search._upkeep, search.indexed, search.text_of, search.body_of
    try:
        if name == "index off":
            search._upkeep = False
        elif name == "FTS5 only":
            search.text_of = lambda content, tool_uses, payload=None: content or ""
            search.indexed = precomputed.__getitem__
        elif name == "caller only":
            search.body_of = lambda write: "x"
        yield
    finally:
        search._upkeep, search.indexed, search.text_of, search.body_of = saved


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
                    elapsed = asyncio.run(bench.w1_yurudb(path, SESSIONS, PER, msgs))[0]
                rates[n].append(SESSIONS * PER / elapsed)
    off = statistics.median(rates["index off"])
    print("| W1 variant | messages/s (median) | rounds | vs index off |")
    print("|---|---:|---|---:|")
    for n in names:
        med = statistics.median(rates[n])
        print(f"| {n} | {med:,.0f} | {', '.join(f'{x:,.0f}' for x in rates[n])} | {med / off:.2f}x |")


if __name__ == "__main__":
    main()

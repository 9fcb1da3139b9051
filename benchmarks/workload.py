"""Synthetic but realistic messages for benchmarks: 200 B - 4 KB, tool_uses and usage JSON like Claude Code's."""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

WORDS = ("the test fails because fixture path import async await session commit rollback index query "
         "file line error value return function module class method retry lock").split()
TOOLS = ("Bash", "Read", "Edit", "Grep", "Write", "Glob")


def message(rng: random.Random, n: int) -> dict[str, Any]:
    """One app message; its JSON is between about 200 bytes and 4 KB (log-uniform)."""
    target = int(200 * (20 ** rng.random()))
    text = " ".join(rng.choice(WORDS) for _ in range(max(5, target // 7)))[: max(40, target - 180)]
    if n % 2 == 0:
        return {"id": uuid.uuid4().hex, "type": "user", "role": "user", "content": text}
    tool = rng.choice(TOOLS)
    return {
        "id": uuid.uuid4().hex,
        "type": "assistant",
        "role": "assistant",
        "content": [{"type": "text", "text": text}],
        "tool_uses": [{"id": f"toolu_{uuid.uuid4().hex[:20]}", "name": tool,
                       "input": {"command": "pytest -q tests/", "file_path": "/repo/src/app.py"}}],
        "usage": {"input_tokens": rng.randint(1, 50), "output_tokens": rng.randint(10, 2000),
                  "cache_creation_input_tokens": rng.randint(0, 20000),
                  "cache_read_input_tokens": rng.randint(0, 200000)},
    }


def messages(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """`count` messages, reproducible."""
    rng = random.Random(seed)
    return [message(rng, n) for n in range(count)]


def raw_row(session_id: str, seq: int, m: dict[str, Any], ts: int) -> tuple[Any, ...]:
    """What raw sqlite3 inserts for a message: the same projections and JSON encoding yurudb does."""
    dumps = lambda v: None if v is None else json.dumps(v, ensure_ascii=False, separators=(",", ":"))  # noqa: E731
    content = m.get("content")
    if isinstance(content, list):
        content = "\n".join(b["text"] for b in content if "text" in b)
    return (m["id"], session_id, seq, m["type"], m.get("role"), content, dumps(m.get("tool_uses")),
            dumps(m.get("usage")), ts, dumps(m))

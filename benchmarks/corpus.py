"""A generated Claude Code history for the archive benchmarks: `~/.claude/projects`-shaped, realistic
line shapes (prompts, streamed responses with tool calls and usage, tool results with file contents,
progress and bookkeeping lines), text drawn from the shared transcripts' vocabulary when present."""

from __future__ import annotations

import json
import random
import re
import uuid
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "claude-transcripts"
FALLBACK_WORDS = ("the test fails because parse returns None when the list is empty so we guard it and add a "
                  "regression test then run pytest again def class import return self async await yield "
                  "src/app/models.py tests/test_models.py TypeError KeyError config json sqlite index").split()


def vocabulary() -> list[str]:
    """Words from the shared transcripts (real text), else a small built-in list."""
    if SHARED.is_dir():
        words: list[str] = []
        for path in sorted(SHARED.rglob("*.jsonl"))[:4]:
            words += re.findall(r"[A-Za-z_./-]{2,24}", path.read_text(errors="replace"))[:40_000]
        if words:
            return words
    return FALLBACK_WORDS


def write(root: Path, total_bytes: int, *, files: int = 200, seed: int = 7) -> int:
    """Write about `total_bytes` of transcripts in `files` files under root; returns the bytes written."""
    rng = random.Random(seed)
    words = vocabulary()
    per_file = max(1, total_bytes // files)
    written = 0

    def text(n: int) -> str:
        return " ".join(rng.choice(words) for _ in range(n))

    for f in range(files):
        sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        folder = root / f"-home-dev-project-{f % 12}"
        folder.mkdir(parents=True, exist_ok=True)
        lines: list[str] = []
        size, turn, parent = 0, 0, None
        while size < per_file:
            turn += 1
            base = {"parentUuid": parent, "isSidechain": False, "userType": "external", "cwd": f"/home/dev/p{f % 12}",
                    "sessionId": sid, "version": "2.1.330", "gitBranch": "main",
                    "timestamp": f"2026-03-{1 + turn // 1000 % 28:02d}T10:{turn // 60 % 60:02d}:{turn % 60:02d}.000Z"}
            batch = []
            u = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            batch.append({**base, "type": "user", "uuid": u, "message": {"role": "user", "content": text(rng.randint(5, 60))}})
            mid, req = f"msg_{rng.getrandbits(96):024x}", f"req_{rng.getrandbits(96):024x}"
            tool = f"toolu_{rng.getrandbits(96):024x}"
            usage = {"input_tokens": rng.randint(1, 50), "cache_creation_input_tokens": rng.randint(0, 5000),
                     "cache_read_input_tokens": rng.randint(0, 90000), "output_tokens": rng.randint(10, 900),
                     "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                     "service_tier": "standard"}
            for block in ({"type": "text", "text": text(rng.randint(10, 120))},
                          {"type": "tool_use", "id": tool, "name": rng.choice(["Read", "Bash", "Edit", "Grep"]),
                           "input": {"file_path": f"src/{rng.choice(words)}.py", "command": text(6)}}):
                batch.append({**base, "type": "assistant", "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                              "requestId": req, "message": {"id": mid, "type": "message", "role": "assistant",
                                                            "model": "claude-opus-4-6", "content": [block],
                                                            "usage": usage}})
            batch.append({**base, "type": "user", "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                          "message": {"role": "user", "content": [{"tool_use_id": tool, "type": "tool_result",
                                                                   "content": text(rng.randint(50, 900))}]},
                          "toolUseResult": {"stdout": text(rng.randint(20, 200)), "stderr": ""}})
            if turn % 3 == 0:
                batch.append({**base, "type": "progress", "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                              "data": {"type": "hook_progress", "hookEvent": "PostToolUse"}})
                batch.append({"type": "attachment", "sessionId": sid, "attachment": {"type": "todo", "content": text(8)}})
            parent = batch[-1].get("uuid", parent)
            for line in batch:
                s = json.dumps(line, separators=(",", ":"))
                lines.append(s)
                size += len(s) + 1
        data = "\n".join(lines) + "\n"
        (folder / f"{sid}.jsonl").write_text(data)
        written += len(data.encode())
    return written


_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def from_shared(root: Path, total_bytes: int) -> int:
    """Copies of the shared real transcripts under root (one project folder a copy) until about
    `total_bytes`, each copy with every UUID in it (sessions, lines, file names) swapped for one of
    its own, so the copies are different sessions, as a longer real history would be; returns the
    bytes written (0 without ../shared). The copies live in a temporary folder, never in the repo."""
    files = sorted(SHARED.rglob("*.jsonl")) if SHARED.is_dir() else []
    written = copy = 0
    while files and written < total_bytes:
        space = uuid.UUID(int=copy)

        def fresh(match: re.Match[bytes]) -> bytes:
            return str(uuid.uuid5(space, match.group().decode())).encode()  # noqa: B023 - called at once

        for path in files:
            dest = root / f"-home-dev-copy-{copy:03d}" / _UUID.sub(fresh, str(path.relative_to(SHARED)).encode()).decode()
            dest.parent.mkdir(parents=True, exist_ok=True)
            data = _UUID.sub(fresh, path.read_bytes())
            dest.write_bytes(data)
            written += len(data)
        copy += 1
    return written

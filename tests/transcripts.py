"""Claude Code transcripts written for yurudb's tests (same format as ~/.claude/projects, our own content)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

CWD = "/home/dev/projects/todo-api"


class Writer:
    """Builds one session's lines with consistent uuids, parents and timestamps."""

    def __init__(self, session_id: str, *, sidechain: bool = False, start_second: int = 0, cwd: str = CWD) -> None:
        self.session_id = session_id
        self.cwd = cwd
        self.sidechain = sidechain
        self.lines: list[dict[str, Any]] = []
        self.parent: str | None = None
        self.second = start_second

    def _base(self, kind: str) -> dict[str, Any]:
        self.second += 1
        line_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.session_id}/{self.sidechain}/{len(self.lines)}"))
        base = {"parentUuid": self.parent, "isSidechain": self.sidechain, "userType": "external", "cwd": self.cwd,
                "sessionId": self.session_id, "version": "2.1.39", "gitBranch": "main", "type": kind,
                "uuid": line_uuid, "timestamp": f"2026-03-0{1 + self.second // 86400}T10:{(self.second // 60) % 60:02d}:"
                                                f"{self.second % 60:02d}.000Z"}
        self.parent = line_uuid
        return base

    def add(self, line: dict[str, Any]) -> dict[str, Any]:
        self.lines.append(line)
        return line

    def snapshot(self) -> None:
        mid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.session_id}/snap/{len(self.lines)}"))
        self.add({"type": "file-history-snapshot", "messageId": mid,
                  "snapshot": {"messageId": mid, "trackedFileBackups": {}, "timestamp": "2026-03-01T10:00:00.000Z"},
                  "isSnapshotUpdate": False})

    def progress(self) -> None:
        self.add({**self._base("progress"), "data": {"type": "hook_progress", "hookEvent": "SessionStart",
                                                      "hookName": "SessionStart:startup", "command": "echo hi"}})

    def user(self, text: str) -> None:
        self.add({**self._base("user"), "message": {"role": "user", "content": text}})

    def tool_result(self, tool_id: str, output: str) -> None:
        self.add({**self._base("user"), "message": {"role": "user", "content": [
            {"tool_use_id": tool_id, "type": "tool_result", "content": output, "is_error": False}]}})

    def response(self, blocks: list[dict[str, Any]], outputs: list[int], *, model: str = "claude-opus-4-6",
                 input_tokens: int = 3, cache_write: int = 1000, cache_read: int = 20000,
                 cost: float | None = None) -> str:
        """One assistant response streamed as one line per block, output_tokens growing to its final count."""
        seed = f"{self.session_id}/{self.sidechain}/{len(self.lines)}"
        msg_id = f"msg_{uuid.uuid5(uuid.NAMESPACE_URL, seed).hex[:24]}"
        request = f"req_{uuid.uuid5(uuid.NAMESPACE_URL, 'r/' + seed).hex[:24]}"
        for block, out in zip(blocks, outputs, strict=True):
            line = {**self._base("assistant"), "requestId": request, "message": {
                "model": model, "id": msg_id, "type": "message", "role": "assistant", "content": [block],
                "stop_reason": None, "stop_sequence": None,
                "usage": {"input_tokens": input_tokens, "cache_creation_input_tokens": cache_write,
                          "cache_read_input_tokens": cache_read, "output_tokens": out, "service_tier": "standard"}}}
            if cost is not None:
                line["costUSD"] = cost
            self.add(line)
        return msg_id

    def system(self, text: str) -> None:
        self.add({**self._base("system"), "subtype": "local_command", "content": text, "level": "info"})

    def queue(self, text: str) -> None:
        self.add({"type": "queue-operation", "operation": "enqueue", "timestamp": "2026-03-01T10:59:00.000Z",
                  "sessionId": self.session_id, "content": text})

    def summary(self, text: str) -> None:
        self.add({"type": "summary", "summary": text, "leafUuid": self.parent})

    def write(self, path: Path, extra_raw: list[str] = ()) -> Path:  # type: ignore[assignment]
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            for line in self.lines:
                f.write(json.dumps(line, separators=(",", ":")) + "\n")
            for raw in extra_raw:
                f.write(raw + "\n")
        return path


def conversation(session_id: str, *, sidechain: bool = False, start_second: int = 0) -> Writer:
    """A small but complete session: prompt, streamed responses with tools, results, system, summary."""
    w = Writer(session_id, sidechain=sidechain, start_second=start_second)
    w.snapshot()
    w.progress()
    w.user("the /todos endpoint returns 500 when the list is empty")
    w.response([{"type": "text", "text": "Let me look at the handler."},
                {"type": "tool_use", "id": "toolu_01", "name": "Read", "input": {"file_path": f"{CWD}/app.py"}}],
               [12, 48])
    w.tool_result("toolu_01", "def list_todos():\n    return todos[0]")
    w.response([{"type": "text", "text": "It indexes the first item; an empty list raises IndexError."},
                {"type": "tool_use", "id": "toolu_02", "name": "Edit",
                 "input": {"file_path": f"{CWD}/app.py", "old_string": "todos[0]", "new_string": "todos"}},
                {"type": "text", "text": "Fixed."}], [20, 160, 171])
    w.tool_result("toolu_02", "The file has been updated.")
    w.response([{"type": "text", "text": "The endpoint now returns [] for an empty list."}], [35],
               model="claude-sonnet-4-5-20250929", cost=0.0123)
    w.system("<command-name>/cost</command-name>")
    w.queue("/cost")
    w.summary("Fix 500 on empty todo list")
    return w


def write_project(root: Path) -> dict[str, Any]:
    """A ~/.claude/projects-like folder: two sessions, one with a subagent file; returns their ids."""
    a, b = "11111111-aaaa-4aaa-8aaa-111111111111", "22222222-bbbb-4bbb-8bbb-222222222222"
    project = root / "-home-dev-projects-todo-api"
    conversation(a).write(project / f"{a}.jsonl")
    sub = Writer(a, sidechain=True, start_second=500)
    sub.user("Find every caller of list_todos")
    sub.response([{"type": "tool_use", "id": "toolu_s1", "name": "Grep", "input": {"pattern": "list_todos"}}], [30])
    sub.tool_result("toolu_s1", "app.py:3")
    sub.response([{"type": "text", "text": "Only app.py"}, {"type": "text", "text": " calls it."}], [9, 14])
    sub.write(project / a / "subagents" / "agent-a1b2c3.jsonl")
    second = conversation(b, start_second=3000)
    second.lines = [line for line in second.lines if line["type"] != "summary"]  # no summary: named by prompt
    second.write(project / f"{b}.jsonl")
    return {"sessions": [a, b], "project": project}

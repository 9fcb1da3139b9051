"""Write operations: what a caller asked for, validated and JSON-encoded, ready for the writer or the journal."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from ..models import Message, Session, Usage
from ..tables.rows import trusted
from ..times import from_column as _when

Kind = Literal[
    "create_session", "update_session", "delete_session", "append_message", "update_message", "record_usage"
]


@dataclass(slots=True, eq=False)
class Write:
    """One queued write: `target` is the session or message id, `values` the columns to write."""

    kind: Kind
    target: str
    values: dict[str, Any]
    # Python values that were JSON-encoded into `values`, kept so results need not decode them again.
    objects: dict[str, Any] = field(default_factory=dict)
    waiters: list[asyncio.Future[Any]] = field(default_factory=list)
    # Replayed from the spill journal: an already-applied create is not a conflict.
    replay: bool = False

    def to_record(self) -> dict[str, Any]:
        """The journal form (JSON-serialisable)."""
        return {"kind": self.kind, "target": self.target, "values": self.values}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Write:
        """Rebuild a write from its journal form."""
        return cls(kind=record["kind"], target=record["target"], values=dict(record["values"]), replay=True)

    def decoded(self, key: str) -> Any:
        """The Python value of a JSON column: the caller's object, or decoded from the journal's text."""
        if key in self.objects:
            return self.objects[key]
        text = self.values.get(f"{key}_json")
        return None if text is None else json.loads(text)

    def created_session(self) -> Session:
        """The session a create_session write makes."""
        v = self.values
        return trusted(Session, {
            "id": self.target, "name": v["name"], "status": v["status"],
            "working_directory": v["working_directory"], "claude_session_id": v["claude_session_id"],
            "claude_title": v["claude_title"], "user_renamed": v["user_renamed"],
            "created_at": _when(v["created_at"]), "updated_at": _when(v["updated_at"]), "meta": self.decoded("meta"),
        })

    def appended_message(self, seq: int) -> Message:
        """The message an append_message write makes, at position `seq`."""
        v = self.values
        return trusted(Message, {
            "id": self.target, "session_id": v["session_id"], "seq": seq, "type": v["type"], "role": v["role"],
            "content": v["content"], "tool_uses": self.decoded("tool_uses"), "usage": self.decoded("usage"),
            "timestamp": _when(v["timestamp"]), "payload": self.decoded("payload"),
            "thread": None, "file_id": None, "line": None,
        })

    def recorded_usage(self, row_id: int | None) -> Usage:
        """The usage record a record_usage write makes."""
        v = self.values
        return trusted(Usage, {
            "id": row_id, "session_id": v["session_id"], "tokens_input": v["tokens_input"],
            "tokens_output": v["tokens_output"], "tokens_cache": v["tokens_cache"], "cost_usd": v["cost_usd"],
            "model": v["model"], "timestamp": _when(v["timestamp"]), "source_id": v["source_id"],
            "tokens_cache_write": v.get("tokens_cache_write"), "tokens_cache_read": v.get("tokens_cache_read"),
        })

    @property
    def live(self) -> bool:
        """Whether any caller still waits for this write (a fully cancelled write can be skipped)."""
        return not self.waiters or any(not w.cancelled() for w in self.waiters)

    def resolve(self, result: Any) -> None:
        """Hand the result to every caller still waiting."""
        for w in self.waiters:
            if not w.done():
                w.set_result(result)

    def fail(self, exc: BaseException) -> None:
        """Hand the error to every caller still waiting."""
        for w in self.waiters:
            if not w.done():
                w.set_exception(exc)


def coalesce(writes: list[Write]) -> list[Write]:
    """Merge updates to the same message (streaming sends many) into the first, in arrival order."""
    out: list[Write] = []
    pending: dict[str, Write] = {}  # message id -> the update later updates merge into
    for w in writes:
        if w.kind == "update_message":
            first = pending.get(w.target)
            if first is not None:
                merge_update(first, w)
                continue
            pending[w.target] = w
        elif w.kind == "append_message":
            # A later update must not jump ahead of a re-append of its message.
            pending.pop(w.target, None)
        elif w.kind == "delete_session":
            pending.clear()
        out.append(w)
    return out


def merge_update(into: Write, later: Write) -> None:
    """Fold a later update_message into an earlier one: later fields win; a new payload resets fields."""
    if "payload" in later.values:
        into.values = dict(later.values)
        into.objects = dict(later.objects)
    else:
        into.values.update(later.values)
        into.objects.update(later.objects)
    into.waiters.extend(later.waiters)

"""Write operations: what a caller asked for, validated and JSON-encoded, ready for the writer or the journal."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal[
    "create_session", "update_session", "delete_session", "append_message", "update_message", "record_usage"
]
# Writes that make a session's updated_at move.
TOUCHES_SESSION: frozenset[str] = frozenset({"append_message", "update_message"})


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

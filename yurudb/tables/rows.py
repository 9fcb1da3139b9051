"""Column lists and row → model conversion shared by the writer, the readers and the exporters."""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ..lines import transcript
from ..lines.runs import RUN_OF_MESSAGE
from ..models import Message, Session, Usage
from ..times import from_column as _when

T = TypeVar("T")

SESSION_COLUMNS = (
    "id, name, status, working_directory, claude_session_id, claude_title, user_renamed, "
    "created_at, updated_at, metadata"
)
MESSAGE_COLUMNS = "id, session_id, seq, type, role, content, tool_uses, usage, timestamp, payload, thread, file_id, line"
# What reads select: the columns, and for a synced message the run of lines holding its line, whose
# bytes are its payload (archive_lines.with_lines puts the line itself in that column).
MESSAGE_READ = MESSAGE_COLUMNS + ", " + RUN_OF_MESSAGE
# Where a MESSAGE_READ row's run of lines sits (after the message's own columns); columns a query
# selects after MESSAGE_READ follow it: READ_WIDTH, READ_WIDTH + 1, ...
LINE_AT = len(MESSAGE_COLUMNS.split(", "))
READ_WIDTH = LINE_AT + 1
USAGE_COLUMNS = ("id, session_id, tokens_input, tokens_output, tokens_cache, cost_usd, model, timestamp, source_id, "
                 "tokens_cache_write, tokens_cache_read")

# The C scanner behind json.loads, called directly: our columns hold compact JSON we wrote
# ourselves, so the whitespace handling json.loads wraps around it is pure overhead on a
# 10,000-message load. Anything it does not accept goes through json.loads as usual.
_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _json(value: str | float | None) -> Any:
    if not isinstance(value, str):  # None, or a bare JSON number an older yurudb let SQLite store as one
        return value
    try:
        obj, end = _scan(value, 0)
        if end == len(value):
            return obj
    except (StopIteration, ValueError):
        pass
    return json.loads(value)


# Rows come from columns yurudb wrote after validating them, so reads skip pydantic's
# validation and fill the model the way BaseModel.model_construct does, minus its per-field
# Python loop: 10,000 sessions load in about half the time (most of it garbage collection of
# validation temporaries). tests/test_rows.py checks these equal validated models. The writer builds its results the same
# way: the store validated every value before queueing it.
_new = object.__new__
_set = object.__setattr__
_ALL_FIELDS: dict[type, set[str]] = {cls: set(cls.model_fields) for cls in (Session, Message, Usage)}


def trusted(cls: type[T], values: dict[str, Any]) -> T:
    """A model filled from values that were validated already (skips pydantic's validation)."""
    obj = _new(cls)
    _set(obj, "__dict__", values)
    # every field is set; model_copy copies this set before changing it, so one can be shared
    _set(obj, "__pydantic_fields_set__", _ALL_FIELDS[cls])
    _set(obj, "__pydantic_extra__", None)
    _set(obj, "__pydantic_private__", None)
    return obj


def session_from_row(r: Sequence[Any]) -> Session:
    """A Session from a SESSION_COLUMNS row."""
    return trusted(Session, {
        "id": r[0], "name": r[1], "status": r[2] or "pending", "working_directory": r[3],
        "claude_session_id": r[4], "claude_title": r[5], "user_renamed": bool(r[6]), "created_at": _when(r[7]),
        "updated_at": _when(r[8]), "meta": _json(r[9]),
    })


def row_of_session(s: Session) -> tuple[Any, ...]:
    """A SESSION_COLUMNS row of a Session (session_from_row's inverse)."""
    import json

    from ..times import text_from_datetime

    return (s.id, s.name, s.status, s.working_directory, s.claude_session_id, s.claude_title, int(s.user_renamed),
            text_from_datetime(s.created_at), text_from_datetime(s.updated_at),
            None if s.meta is None else json.dumps(s.meta))


def message_from_row(r: Sequence[Any]) -> Message:
    """A Message from a MESSAGE_COLUMNS row (or a MESSAGE_READ row after archive_lines.with_lines: a
    synced line's exact bytes at the end)."""
    if r[9] is None and len(r) > LINE_AT and r[LINE_AT] is not None:
        return _synced(r)
    return trusted(Message, {
        "id": r[0], "session_id": r[1], "seq": r[2], "type": r[3], "role": r[4], "content": r[5],
        "tool_uses": _json(r[6]), "usage": _json(r[7]), "timestamp": _when(r[8]), "payload": _json(r[9]),
        "thread": r[10], "file_id": r[11], "line": r[12],
    })


def _synced(r: Sequence[Any]) -> Message:
    """A synced transcript line: payload, content, tool uses and usage all come from its exact bytes."""
    payload = transcript.decode(r[LINE_AT])  # as sync read it: it took the line for a message
    cols = transcript.project(payload)
    return trusted(Message, {
        "id": r[0], "session_id": r[1], "seq": r[2], "type": r[3], "role": r[4], "content": cols["content"],
        "tool_uses": cols["tool_uses"], "usage": cols["usage"], "timestamp": _when(r[8]), "payload": payload,
        "thread": r[10], "file_id": r[11], "line": r[12],
    })


def usage_from_row(r: Sequence[Any]) -> Usage:
    """A Usage from a USAGE_COLUMNS row."""
    return trusted(Usage, {
        "id": r[0], "session_id": r[1], "tokens_input": r[2], "tokens_output": r[3], "tokens_cache": r[4],
        "cost_usd": float(r[5]), "model": r[6], "timestamp": _when(r[7]), "source_id": r[8],
        "tokens_cache_write": r[9], "tokens_cache_read": r[10],
    })


def build_all(convert: Callable[[Sequence[Any]], T], rows: list[Any]) -> list[T]:
    """Convert many rows with the cyclic garbage collector paused.

    Building 10,000 models allocates ~20,000 containers, which sets off full collections of the
    whole heap partway through: measured 33 ms to convert 10,000 sessions without them and 70-85
    ms with. The new objects hold no cycles, so pausing the collector for the loop loses nothing.
    """
    if len(rows) < 1000 or not gc.isenabled():
        return [convert(r) for r in rows]
    gc.disable()
    try:
        return [convert(r) for r in rows]
    finally:
        gc.enable()

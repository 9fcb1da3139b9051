"""Turning public-API arguments into validated, JSON-encoded values (or a ValidationError, before anything is queued)."""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from json import encoder as json_encoder
from typing import Any, Final

from . import times
from .errors import ValidationError

SESSION_STATUSES: Final = frozenset({"pending", "active", "paused", "completed", "error", "interrupted"})
MESSAGE_TYPES: Final = frozenset(
    {
        # the app's own message types
        "user", "assistant", "system", "result", "error", "thinking", "tool_use", "tool_result",
        # line types Claude Code writes to its transcripts
        "progress", "summary", "file-history-snapshot", "queue-operation",
    }
)

MAX_NAME_LENGTH = 1_000


def _unserialisable(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _encoder(ensure_ascii: bool) -> Callable[[Any], str]:
    """Compact, NaN-refusing JSON encoding through one prebuilt C encoder.

    JSONEncoder.encode builds a new C encoder (and its closures) on every call; building it once
    saves ~1.5 us per call, two or three calls per appended message. Without the circular-reference
    markers, a cycle ends in RecursionError, which encode_json reports like any unserialisable value.
    """
    make = getattr(json_encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator (other Pythons): the stdlib path
        return json.JSONEncoder(ensure_ascii=ensure_ascii, separators=(",", ":"), allow_nan=False).encode
    basestring = json_encoder.encode_basestring_ascii if ensure_ascii else json_encoder.encode_basestring
    encode = make(None, _unserialisable, basestring, None, ":", ",", False, False, False)
    join = "".join
    return lambda value: join(encode(value, 0))


_encode = _encoder(ensure_ascii=False)
# For text with lone surrogates (JavaScript strings can hold them): \ud800 escapes are valid JSON
# and decode back to the same Python string, where raw surrogates cannot be stored as UTF-8.
_encode_ascii = _encoder(ensure_ascii=True)


_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(value: str) -> str:
    """The string with each lone surrogate replaced by U+FFFD (what a text column can hold)."""
    return value if utf8_safe(value) else _SURROGATE.sub("\ufffd", value)


def utf8_safe(value: str) -> bool:
    """Whether SQLite can store the string (no lone surrogates)."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


SESSION_FIELDS = ("name", "status", "working_directory", "claude_session_id", "claude_title", "meta")


def now_ms() -> int:
    """The current time in integer milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


def new_id() -> str:
    """A fresh random id."""
    return uuid.uuid4().hex


def encode_json(value: Any, what: str) -> str | None:
    """JSON text for a value, or ValidationError if it is not JSON-serialisable."""
    if value is None:
        return None
    try:
        encoded = _encode(value)
        return encoded if utf8_safe(encoded) else _encode_ascii(value)
    except RecursionError:
        raise ValidationError(f"{what} is not JSON-serialisable: it is circular or nested too deeply") from None
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what} is not JSON-serialisable: {exc}") from None


def text(value: Any, what: str, *, required: bool = False, max_length: int | None = None) -> str | None:
    """A string argument, checked."""
    if value is None:
        if required:
            raise ValidationError(f"{what} is required")
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string, not {type(value).__name__}")
    if required and not value.strip():
        raise ValidationError(f"{what} must not be empty")
    if not utf8_safe(value):
        raise ValidationError(f"{what} is not valid Unicode (it holds a lone surrogate)")
    if max_length is not None and len(value) > max_length:
        raise ValidationError(f"{what} is longer than {max_length} characters")
    return value


def ident(value: Any, what: str) -> str:
    """An id argument: a non-empty string without NUL (SQLite's JSON and C strings end text there)."""
    value = text(value, what, required=True, max_length=512)
    if "\x00" in value:  # type: ignore[operator]
        raise ValidationError(f"{what} must not contain a NUL character")
    return value  # type: ignore[return-value]


def status(value: Any) -> str:
    """A session status from the app's set."""
    if not isinstance(value, str) or value not in SESSION_STATUSES:
        raise ValidationError(f"status must be one of {sorted(SESSION_STATUSES)}, not {value!r}")
    return value


def message_type(value: Any) -> str:
    """A message type from the known set."""
    if not isinstance(value, str) or value not in MESSAGE_TYPES:
        raise ValidationError(f"unknown message type {value!r} (known: {sorted(MESSAGE_TYPES)})")
    return value


def timestamp(value: Any, what: str = "timestamp") -> str | None:
    """The column text (UTC) of epoch milliseconds, a datetime (naive: UTC) or ISO-8601 text."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValidationError(f"{what} must be milliseconds, a datetime or ISO-8601 text")
    try:
        if isinstance(value, int):
            return times.text_from_ms(value)
        if isinstance(value, float) and math.isfinite(value):
            return times.text_from_ms(int(value))
        if isinstance(value, datetime):
            return times.text_from_datetime(value)
        if isinstance(value, str):
            return times.text_from_datetime(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except (ValueError, OverflowError):
        pass
    raise ValidationError(f"{what} must be milliseconds, a datetime or ISO-8601 text, not {value!r}")


def time_range(column: str, since: Any, until: Any) -> tuple[list[str], list[Any]]:
    """SQL conditions (and their parameters) for `since <= column < until`; either may be None."""
    where: list[str] = []
    params: list[Any] = []
    for value, op, what in ((since, ">=", "since"), (until, "<", "until")):
        if value is not None:
            where.append(f"{column} {op} ?")
            params.append(timestamp(value, what))
    return where, params


def structured(value: Any, what: str) -> Any:
    """tool_uses (a list or an object) or usage (an object), or None.

    A bare number is refused: the JSON columns have numeric affinity, so SQLite would keep "0.5"
    as a REAL and a large integer rounded, and the value would not read back as written.
    """
    kinds: tuple[type, ...] = (dict,) if what == "usage" else (list, dict)
    if value is not None and not isinstance(value, kinds):
        raise ValidationError(f"{what} must be {'an object' if what == 'usage' else 'a list or an object'}, "
                              f"not {type(value).__name__}")
    return value


def flag(value: Any, what: str) -> bool:
    """A yes/no argument: True or False, nothing that merely looks true."""
    if not isinstance(value, bool):
        raise ValidationError(f"{what} must be true or false, not {type(value).__name__}")
    return value


def integer(value: Any, what: str) -> int:
    """A non-negative integer count (one SQLite can hold)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise ValidationError(f"{what} must be a non-negative integer, not {value!r}")
    return value


def number(value: Any, what: str) -> float:
    """A finite non-negative number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValidationError(f"{what} must be a finite non-negative number, not {value!r}")
    return float(value)


def content_text(content: Any) -> str | None:
    """The text projection of message content: a string as is; text (and tool result text) of blocks joined.

    Lone surrogates become U+FFFD here: this column is for reading and search; the payload keeps
    the exact text.
    """
    if isinstance(content, str):
        return storable(content)
    if content is None:
        return None
    if isinstance(content, list):
        parts = block_texts(content)
        return content_text("\n".join(parts)) if parts else None
    return encode_json(content, "content")


def block_texts(blocks: list[Any], result: Callable[[str], str] | None = None) -> list[str]:
    """The text of content blocks in order: text blocks, and each tool result's text (through `result`)."""
    parts: list[str] = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        if isinstance(block.get("text"), str):
            parts.append(block["text"])
        elif block.get("type") == "tool_result":
            inner = block.get("content")
            text = inner if isinstance(inner, str) else content_text(inner) if isinstance(inner, list) else None
            if text:
                parts.append(result(text) if result is not None else text)
    return parts


def session_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Validate the editable columns of a session."""
    unknown = set(fields) - set(SESSION_FIELDS) - {"user_renamed", "updated_at"}
    if unknown:
        raise ValidationError(f"unknown session fields: {sorted(unknown)}")
    out: dict[str, Any] = {}
    if "name" in fields:
        out["name"] = text(fields["name"], "name", required=True, max_length=MAX_NAME_LENGTH)
    if "status" in fields:
        out["status"] = status(fields["status"])
    for key in ("working_directory", "claude_session_id", "claude_title"):
        if key in fields:
            out[key] = text(fields[key], key)
    if "user_renamed" in fields:
        if not isinstance(fields["user_renamed"], bool):
            raise ValidationError("user_renamed must be a bool")
        out["user_renamed"] = fields["user_renamed"]
    if "updated_at" in fields:
        # imports and migrations carry the conversation's own last activity
        out["updated_at"] = timestamp(fields["updated_at"], "updated_at")
    if "meta" in fields:
        if fields["meta"] is not None and not isinstance(fields["meta"], dict):
            raise ValidationError("meta must be a dict")
        out["meta"] = fields["meta"]
    return out

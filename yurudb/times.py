"""Timestamps: stored as the spec's UTC `TIMESTAMP` text, handed out as timezone-aware datetimes.

The columns hold `YYYY-MM-DD HH:MM:SS.mmm` in UTC: SQLite's date functions read it, it sorts in
time order as text, it reads well in a `sqlite3` shell, and `CURRENT_TIMESTAMP` (what a row
written by another program gets) is the same form without the milliseconds.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

UTC = timezone.utc
_EPOCH = datetime(1970, 1, 1)
_EPOCH_UTC = _EPOCH.replace(tzinfo=UTC)
_fromiso = datetime.fromisoformat


def text_from_ms(ms: int) -> str:
    """The column text of an epoch-milliseconds instant."""
    return (_EPOCH + timedelta(milliseconds=ms)).isoformat(" ", "milliseconds")


def text_from_datetime(value: datetime) -> str:
    """The column text of a datetime (a naive one is taken as UTC, as SQLite does)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(" ", "milliseconds")


# One-entry memos: a burst of saves stamps and reads back the same millisecond many times over
# (W1 appends 100 messages a batch; formatting and parsing cost ~1 us each per message).
_last_now: tuple[int, str] = (-1, "")
_last_parsed: tuple[str, datetime | None] = ("", None)


def now_text() -> str:
    """The current instant as column text."""
    global _last_now
    ms = time.time_ns() // 1_000_000
    last = _last_now  # one read of the shared memo: the writer thread and the loop both call this
    if last[0] != ms:
        last = _last_now = (ms, text_from_ms(ms))
    return last[1]


def from_column(value: Any) -> datetime | None:
    """A column value as an aware UTC datetime (text as yurudb or CURRENT_TIMESTAMP writes it, or epoch ms)."""
    global _last_parsed
    if value is None:
        return None
    if type(value) is str:
        last = _last_parsed  # one read of the shared memo (threads)
        if last[0] == value:
            return last[1]
        parsed = _fromiso(value)
        parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
        _last_parsed = (value, parsed)
        return parsed
    if isinstance(value, (int, float)):
        # another program may have written epoch milliseconds, as yurudb's 0001 schema did
        return _EPOCH_UTC + timedelta(milliseconds=value)
    raise ValueError(f"not a timestamp: {value!r}")


def to_ms(value: datetime | None) -> int | None:
    """Epoch milliseconds of a datetime (what the app's JavaScript holds)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH_UTC) // timedelta(milliseconds=1)

r"""psycopg connections with yurudb's settings: durable commits, UTC, and values read back as SQLite gives them.

The rest of yurudb reads rows as the SQLite backend returns them: JSON columns as their text,
timestamps as `YYYY-MM-DD HH:MM:SS.mmm` UTC text (yurudb/times.py). The loaders below make
PostgreSQL's `json`, `jsonb` and `timestamptz` read back the same way, so one read path serves both.

Text PostgreSQL cannot hold is kept, not refused: a text column takes no U+0000, and `jsonb` no
`\u0000` escape nor a lone surrogate's (`\udc00`), all of which SQLite keeps. Every string sent is
mapped (`escape`, by the dialect's Statement.params) so that these become sequences of U+FDD0, a Unicode noncharacter (U+FDD0
itself doubled), and every string read back is mapped back (`unescape`): the app reads what it wrote.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from ...errors import ValidationError

# What every connection runs first: commits durable on return (the server's fsync before COMMIT
# answers), UTC for the naive UTC text yurudb writes, and waits bounded like SQLite's busy_timeout.
DEFAULT_TIMEOUT_MS = 5_000
# The key of the advisory lock each write transaction takes: one writer at a time per database,
# as SQLite's BEGIN IMMEDIATE gives (two machines' syncs queue; neither sees a conflict).
WRITE_LOCK = int.from_bytes(hashlib.sha256(b"yurudb write lock").digest()[:8], "big", signed=True)
APPLICATION = "yurudb"


def settings(busy_timeout_ms: int) -> list[str]:
    """The SET statements of every yurudb connection."""
    return ["SET synchronous_commit = on", "SET TIME ZONE 'UTC'", f"SET lock_timeout = {int(busy_timeout_ms)}",
            "SET standard_conforming_strings = on"]


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise ValidationError("a postgresql:// database needs the postgres extra: pip install 'yurudb[postgres]'") from None
    return psycopg


MARK = "\ufdd0"  # a noncharacter: what stands for what PostgreSQL cannot hold
# what a string must not hold on the server: an escaped backslash and a surrogate pair are passed
# over whole (so that `\\udc00` stays a backslash and text), a JSON escape of U+0000 or of a lone
# surrogate, U+0000, and the mark itself
_HELD = re.compile(r"\\\\|\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}"  # a pair: kept
                   r"|\\u(0000|[dD][89a-fA-F][0-9a-fA-F]{2})|\x00|\ufdd0")
_MARKED = re.compile("\ufdd0(\ufdd0|0|u[0-9a-fA-F]{4})")


def _mark(m: re.Match[str]) -> str:
    found = m.group(0)
    if found == "\\\\" or len(found) == 12:  # an escaped backslash, a surrogate pair: as they are
        return found
    if found == "\x00":
        return MARK + "0"
    if found == MARK:
        return MARK + MARK
    return MARK + found[1:]  # `\udc00` -> MARK + `udc00`


def escape(value: str) -> str:
    """A string as the server holds it (see the module's docstring); most strings are themselves."""
    if "\x00" not in value and "\\u" not in value and MARK not in value:
        return value
    return _HELD.sub(_mark, value)


def _unmark(m: re.Match[str]) -> str:
    found = m.group(1)
    return MARK if found == MARK else "\x00" if found == "0" else "\\" + found


def unescape(value: str) -> str:
    """`escape` undone: the string as it was written."""
    return _MARKED.sub(_unmark, value) if MARK in value else value


def unescape_rows(rows: list[Any]) -> list[Any]:
    """Rows read with the server's text, each string as it was written (`unescape`), in place.

    The hot paths (the writer's reads, the readers) read text with psycopg's own C loader and look
    for the mark here: a Python loader for every text value doubled the time 20,000 rows took."""
    for i, row in enumerate(rows):
        for value in row:
            if value.__class__ is str and MARK in value:
                rows[i] = tuple(unescape(v) if v.__class__ is str else v for v in row)
                break
    return rows


def _adapt(conn: Any, *, decode_text: bool = False) -> None:
    """Load json, jsonb and timestamptz as the text SQLite holds, and every string as it was written
    (see the module's docstring): `decode_text`, for a connection whose rows `unescape_rows` does not see."""
    from psycopg.adapt import Loader
    from psycopg.types.string import TextLoader

    class Text(Loader):
        def load(self, data: Any) -> str:
            return bytes(data).decode()

    class Unescaped(TextLoader):
        def load(self, data: Any) -> str:
            return unescape(super().load(data))

    if decode_text:
        for name in ("text", "varchar", "bpchar"):
            conn.adapters.register_loader(name, Unescaped)

    class Timestamp(Loader):
        def load(self, data: Any) -> str:
            return column_text(bytes(data).decode())

    for name in ("json", "jsonb"):
        conn.adapters.register_loader(name, Text)
    conn.adapters.register_loader("timestamptz", Timestamp)
    conn.adapters.register_loader("timestamp", Timestamp)


def column_text(value: str) -> str:
    """PostgreSQL's text of a UTC timestamp as yurudb's column text (`2026-12-04 01:05:04.120`)."""
    value = value.removesuffix("+00")
    head, _, frac = value.partition(".")
    if len(frac) <= 3:
        return f"{head}.{frac:0<3}"
    return f"{head}.{frac}"


def connect_sync(url: str, *, busy_timeout_ms: int = DEFAULT_TIMEOUT_MS, decode_text: bool = False,
                 read_only: bool = False) -> Any:
    """A psycopg connection in autocommit (the unit of work says BEGIN and COMMIT itself)."""
    psycopg = _psycopg()
    # raw cursors: the dialect's statements use PostgreSQL's $n placeholders, sent as they are
    conn = psycopg.connect(url, autocommit=True, application_name=APPLICATION, cursor_factory=psycopg.RawCursor,
                           connect_timeout=max(1, busy_timeout_ms // 1000))
    try:
        _adapt(conn, decode_text=decode_text)
        for stmt in settings(busy_timeout_ms) + (["SET default_transaction_read_only = on"] if read_only else []):
            conn.execute(stmt)
    except BaseException:
        conn.close()
        raise
    return conn

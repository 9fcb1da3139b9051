"""The rows every write path shares (the store's batches, the archive's sync, the SDK store): one copy of each."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ..backends.sqlite.transaction import Tx

INSERT_SESSION = (
    "INSERT INTO sessions (id, name, status, working_directory, claude_session_id, claude_title, "
    "user_renamed, created_at, updated_at, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# An app's message. A re-append of an id keeps its seq (safe retries); the ownership check has already run.
UPSERT_MESSAGE = (
    "INSERT INTO messages (id, session_id, seq, type, role, content, tool_uses, usage, timestamp, payload, "
    "search_doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET type = excluded.type, "
    "role = excluded.role, content = excluded.content, tool_uses = excluded.tool_uses, "
    "usage = excluded.usage, timestamp = excluded.timestamp, payload = excluded.payload, "
    # no document given: the message keeps its own (this batch also updates it: search.replace)
    "search_doc = COALESCE(excluded.search_doc, messages.search_doc)"
)
# A transcript line's message: content, tool uses, usage and payload are read from the line's bytes
# (kept once, in the archive's runs), so the row holds only what orders and finds it.
UPSERT_LINE_MESSAGE = (
    "INSERT INTO messages (id, session_id, seq, type, role, timestamp, thread, file_id, line, search_doc) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET type = excluded.type, "
    "role = excluded.role, content = NULL, tool_uses = NULL, usage = NULL, timestamp = excluded.timestamp, "
    "payload = NULL, search_doc = excluded.search_doc, thread = excluded.thread, file_id = excluded.file_id, "
    "line = excluded.line"
)
# One usage record per (session, source_id): a repeated source replaces its figures, never adds to them.
# Parameters: session_id, tokens_input, tokens_output, tokens_cache, cost_usd, model, timestamp,
# source_id, tokens_cache_write, tokens_cache_read.
UPSERT_USAGE = (
    "INSERT INTO analytics (session_id, tokens_input, tokens_output, tokens_cache, cost_usd, model, "
    "timestamp, source_id, tokens_cache_write, tokens_cache_read) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(session_id, source_id) DO UPDATE SET tokens_input = excluded.tokens_input, "
    "tokens_output = excluded.tokens_output, tokens_cache = excluded.tokens_cache, "
    "cost_usd = excluded.cost_usd, model = excluded.model, timestamp = excluded.timestamp, "
    "tokens_cache_write = excluded.tokens_cache_write, tokens_cache_read = excluded.tokens_cache_read"
)


def next_seqs(tx: Tx, session_ids: Iterable[str]) -> dict[str, int]:
    """The seq the next message of each of these sessions takes (sessions with no message are absent)."""
    ids = sorted(set(session_ids))
    if not ids:
        return {}
    # One MAX per session, each answered from the end of idx_messages_session in O(log n). The
    # obvious `WHERE session_id IN (...) GROUP BY session_id` scans every message of every session
    # (measured: 1.5 ms of each 100-message batch, growing with session length).
    rows = tx.execute("SELECT value, (SELECT MAX(seq) FROM messages WHERE session_id = value) FROM json_each(?)",
                      (json.dumps(ids),))
    return {r[0]: r[1] + 1 for r in rows if r[1] is not None}


def next_seq(tx: Tx, session_id: str) -> int:
    """The seq the next message of one session takes."""
    return next_seqs(tx, [session_id]).get(session_id, 1)


def insert_session(tx: Tx, session_id: str, name: str, *, status: str = "pending", created_at: str,
                   updated_at: str | None = None, working_directory: str | None = None,
                   claude_session_id: str | None = None, claude_title: str | None = None,
                   user_renamed: bool = False, metadata: str | None = None) -> None:
    """Insert one session row."""
    tx.execute(INSERT_SESSION, session_row(session_id, name, status, working_directory, claude_session_id,
                                           claude_title, user_renamed, created_at, updated_at or created_at,
                                           metadata))


def session_row(*values: Any) -> tuple[Any, ...]:
    """INSERT_SESSION's parameters, in its column order (user_renamed a bool: 0/1 on SQLite)."""
    sid, name, status, cwd, claude_id, title, renamed, created, updated, meta = values
    return (sid, name, status, cwd, claude_id, title, bool(renamed), created, updated, meta)

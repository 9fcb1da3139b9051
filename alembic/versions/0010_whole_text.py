"""full-text search: every word of every message, whole (0009 and before indexed a long message by its ends)

Revision ID: 0010_whole_text
Revises: 0009_lookup_indexes
Create Date: 2026-12-03

Before, a message longer than 4,000 characters was indexed by its first 3,000 and last 1,000, and
each tool result by its first 1,000 and last 500: a word in the middle of a pasted log, a spec or a
long answer was never found. The upgrade moves every message whose text the cut shortened to its
whole text (the others read the same under both rules and are not touched), with progress
(`migrations.run(progress=...)`: the command's bar, the app's RecoveryProgress events). The
downgrade moves them back to 0009's rule (frozen below), so that what 0009's yurudb takes out of
the index is exactly what is in it.
"""

from __future__ import annotations

import re
from typing import Any, Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0010_whole_text"
down_revision: Union[str, None] = "0009_lookup_indexes"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL's schema is laid whole by 0013_postgresql
    from yurudb.search import index as search
    from yurudb.search.text import text_of

    search.retext(_Bind(op.get_bind()), _text_0009, text_of, op.get_context().config.attributes.get("progress"))


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # below 0013 a PostgreSQL database is empty
    from yurudb.search import index as search
    from yurudb.search.text import text_of

    search.retext(_Bind(op.get_bind()), text_of, _text_0009, op.get_context().config.attributes.get("progress"))


class _Bind:
    """The revision's connection with the calls the index's rebuild makes (same transaction)."""

    def __init__(self, bind: sa.Connection) -> None:
        self.bind = bind

    def execute(self, sql: str, params: Sequence = ()) -> list:
        result = self.bind.exec_driver_sql(sql, tuple(params))
        return list(result.fetchall()) if result.returns_rows else []

    def executemany(self, sql: str, rows: Sequence[Sequence]) -> None:
        if rows:
            self.bind.exec_driver_sql(sql, [tuple(r) for r in rows])

    def select_in(self, sql: str, keys: Sequence) -> list:
        keys = list(keys)
        out: list = []
        for start in range(0, len(keys), 900):  # under SQLite's parameter limit
            chunk = keys[start : start + 900]
            out += self.execute(sql.format(",".join("?" * len(chunk))), chunk)
        return out


# ---- 0009's rule, frozen: a long message by its ends --------------------------------------
def _text_0009(content: str | None, tool_uses: Any, payload: Any = None) -> str:
    from yurudb.validation import block_texts, content_text

    parts: list[str] = []
    blocks = _result_blocks(payload, block_texts)
    if blocks is not None:
        parts += blocks
    elif content:
        parts.append(content)
    if tool_uses:
        _strings(tool_uses, parts)
    text = content_text("\n".join(parts)) or ""
    if len(text) >= 512 and _maybe_blob(text):
        text = _BLOB.sub(" ", text)
    return _ends(text, 3_000, 1_000)


def _result_blocks(payload: Any, block_texts: Any) -> list[str] | None:
    if not isinstance(payload, dict):
        return None
    message = payload.get("message")
    blocks = message.get("content") if isinstance(message, dict) else payload.get("content")
    if not isinstance(blocks, list) or not any(isinstance(b, dict) and b.get("type") == "tool_result" for b in blocks):
        return None
    return block_texts(blocks, lambda text: _ends(text, 1_000, 500))


def _ends(text: str, head: int, tail: int) -> str:
    if len(text) <= head + tail:
        return text
    first = text[:head].rsplit(None, 1)[0] if " " in text[:head] else text[:head]
    last = text[-tail:].split(None, 1)[-1]
    return first + "\n…\n" + last


_BLOB = re.compile(r"[A-Za-z0-9+/=_-]{512,}")


def _maybe_blob(text: str) -> bool:
    for at in range(0, len(text) - 255, 256):
        window = text[at:at + 256]
        if " " not in window and "\n" not in window:
            return True
    return False


def _strings(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for key, inner in value.items():
            if key not in ("id", "tool_use_id", "type"):
                _strings(inner, out)
    elif isinstance(value, list):
        for inner in value:
            _strings(inner, out)

"""The SQL of the listings a command prints (`yurudb sessions`, `yurudb usage`), and their rows.

Kept apart from the store's models so that a read-only command can run them on a plain read-only
connection (`yurudb.cli._edge.quick_read`) without loading the whole store: the same statements
the store's own `listing` and `usage_summary` run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .. import validation as check
from ..errors import ValidationError
from ..times import from_column

LISTING_SQL = (
    "SELECT s.id, s.name, COALESCE(s.status, 'pending'), s.updated_at, "
    "(SELECT COUNT(*) FROM messages AS m WHERE m.session_id = s.id), "
    "(SELECT TOTAL(cost_usd) FROM analytics AS a WHERE a.session_id = s.id) "
    "FROM sessions AS s ORDER BY s.updated_at DESC, s.id LIMIT ?")

# a session list's row: what SessionSummary holds, sizes counted per row shown (50, not 10,000)
BROWSE_SQL = (
    "SELECT s.id, s.name, s.claude_title, s.user_renamed, COALESCE(s.status, 'pending'), s.working_directory, "
    "s.claude_session_id, s.created_at, s.updated_at, "
    "(SELECT COUNT(*) FROM messages AS m WHERE m.session_id = s.id), "
    "(SELECT TOTAL(cost_usd) FROM analytics AS a WHERE a.session_id = s.id), "
    "(SELECT TOTAL(tokens_input + tokens_output + tokens_cache) FROM analytics AS a WHERE a.session_id = s.id), "
    "json_extract(s.metadata, '$.source_gone'), "
    "(SELECT COUNT(*) FROM secret_findings AS f JOIN messages AS m ON m.id = f.message_id WHERE m.session_id = s.id) + "
    "(SELECT COUNT(*) FROM secret_findings AS f JOIN footprint_files AS ff ON ff.blob_id = f.blob_id "
    "WHERE ff.session_key = COALESCE(s.claude_session_id, s.id)) "
    "FROM sessions AS s{where} ORDER BY s.updated_at DESC, s.id LIMIT ? OFFSET ?")

KEYS = {"model": "COALESCE(model, 'unknown')", "day": "strftime('%Y-%m-%d', timestamp)", "session": "session_id",
        "project": "(SELECT s.working_directory FROM sessions AS s WHERE s.id = analytics.session_id)"}


def minute(value: Any) -> str:
    """A timestamp column to the minute; yurudb's own text form is cut, not parsed (10,000 rows: 20 ms less)."""
    if type(value) is str and len(value) >= 16 and value[4] == "-" and value[10] == " " and value[13] == ":":
        return value[:16]
    parsed = from_column(value)
    return parsed.isoformat(" ", "minutes")[:16] if parsed is not None else "-"


def listing_rows(rows: list[Any]) -> list[tuple[str, str, str, str, int, float]]:
    """(id, name, status, updated to the minute, messages, cost) from LISTING_SQL's rows."""
    return [(r[0], r[1], r[2], minute(r[3]), r[4], r[5]) for r in rows]


def summary_query(by: Any, since: int | datetime | str | None, until: int | datetime | str | None,
                  session_id: str | None, *, project: str | None = None,
                  split: Any = None) -> tuple[str, list[Any]]:
    """The usage summary's statement and parameters (bad arguments: ValidationError).

    `split` groups each key's totals once more (a day's cost by model, say); `project` keeps the
    records of sessions in that working directory."""
    for value, what in ((by, "by"), (split, "split")):
        if (value is not None or what == "by") and (not isinstance(value, str) or value not in KEYS):
            raise ValidationError(f"{what} must be one of {sorted(KEYS)}, not {value!r}")
    if split == by:
        raise ValidationError(f"split must differ from by ({by!r})")
    where, params = check.time_range("timestamp", since, until)
    if session_id is not None:
        where.append("session_id = ?")
        params.append(check.ident(session_id, "session_id"))
    if project is not None:
        where.append("session_id IN (SELECT id FROM sessions WHERE working_directory = ?)")
        params.append(check.text(project, "project"))
    keys = f"{KEYS[by]} AS k, {KEYS[split] if split else 'NULL'} AS k2"
    sql = (
        f"SELECT {keys}, COUNT(*), SUM(tokens_input), SUM(tokens_output), SUM(tokens_cache), "
        f"SUM(cost_usd), SUM(tokens_cache_write), SUM(tokens_cache_read) FROM analytics "
        f"{'WHERE ' + ' AND '.join(where) if where else ''} GROUP BY k, k2"
    )
    return sql, params


def summary_rows(by: str, rows: list[Any], split: str | None = None) -> list[dict[str, Any]]:
    """The summary's totals, one dict per key (and split key), in key order (None last)."""
    def order(r: Any) -> tuple[bool, Any, bool, Any]:
        return (r[0] is None, r[0] or "", r[1] is None, r[1] or "")

    out = []
    for r in sorted(rows, key=order):
        keys = {by: r[0], split: r[1]} if split else {by: r[0]}
        out.append({**keys, "records": r[2], "tokens_input": r[3] or 0, "tokens_output": r[4] or 0,
                    "tokens_cache": r[5] or 0, "cost_usd": float(r[6] or 0.0),
                    # of which writes / reads, over the rows that know their split
                    "tokens_cache_write": r[7] or 0, "tokens_cache_read": r[8] or 0})
    return out


def browse_filters(project: str | None, text: str | None, since: Any, until: Any) -> tuple[str, list[Any]]:
    """The WHERE of a filtered session list: a project (working directory), words in its names or id, and
    its last activity in [since, until)."""
    where, params = check.time_range("s.updated_at", since, until)
    if project is not None:
        where.append("s.working_directory = ?")
        params.append(check.text(project, "project"))
    if check.text(text, "text"):
        # plain substring, case folded: a person's words, never LIKE or FTS syntax
        where.append("(instr(lower(s.name), ?) > 0 OR instr(lower(COALESCE(s.claude_title, '')), ?) > 0 "
                     "OR instr(lower(s.id), ?) > 0 OR instr(lower(COALESCE(s.working_directory, '')), ?) > 0)")
        params += [text.strip().lower()] * 4  # type: ignore[union-attr]
    return (" WHERE " + " AND ".join(where)) if where else "", params


def summaries(rows: list[Any]) -> list[Any]:
    """SessionSummary models from BROWSE_SQL's rows."""
    from ..models import SessionSummary

    return [SessionSummary(id=r[0], name=r[1], claude_title=r[2], user_renamed=bool(r[3]), status=r[4],
                           working_directory=r[5], claude_session_id=r[6], created_at=from_column(r[7]),
                           updated_at=from_column(r[8]), messages=r[9], cost_usd=float(r[10] or 0.0),
                           tokens=int(r[11] or 0), source_gone=bool(r[12]), secrets=r[13]) for r in rows]

"""Token and cost records: recording them, and totals by model, day or session."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Literal

from .. import validation as check
from ..errors import ValidationError
from ..models import Usage
from ..tables.rows import USAGE_COLUMNS, usage_from_row
from ..times import from_column, now_text
from ..writes.ops import Write
from .reads import Reads

log = logging.getLogger(__name__)
from .writer import Writer

GroupBy = Literal["model", "day", "session"]
_KEYS = {"model": "COALESCE(model, 'unknown')", "day": "strftime('%Y-%m-%d', timestamp)", "session": "session_id"}


class UsageBook:
    """The usage records of a store: writes through its writer, reads through its one read path."""

    def __init__(self, reads: Reads, writer: Writer) -> None:
        self._reads = reads
        self._writer = writer

    async def record(
        self,
        session_id: str,
        *,
        model: str | None = None,
        tokens_input: int = 0,
        tokens_output: int = 0,
        tokens_cache: int = 0,
        cost_usd: float | None = None,
        timestamp: int | datetime | str | None = None,
        source_id: str | None = None,
        tokens_cache_write: int | None = None,
        tokens_cache_read: int | None = None,
    ) -> Usage:
        """Record tokens and cost; a repeated `source_id` in the same session replaces, never double-counts.

        `tokens_cache_write` / `tokens_cache_read` split `tokens_cache` by price; given alone, they
        make `tokens_cache` their sum. Without `cost_usd` the response is priced from the price
        database (genai-prices) by its model and tokens; cache tokens given unsplit count as reads.
        """
        split = [check.integer(n, what) for n, what in ((tokens_cache_write, "tokens_cache_write"),
                                                        (tokens_cache_read, "tokens_cache_read")) if n is not None]
        if split and not tokens_cache:
            tokens_cache = sum(split)
        elif split and len(split) == 2 and sum(split) != tokens_cache:
            raise ValidationError(f"tokens_cache ({tokens_cache}) is not tokens_cache_write + tokens_cache_read "
                                  f"({sum(split)})")
        if cost_usd is None:
            cost_usd = _priced(model, tokens_input, tokens_output, tokens_cache, tokens_cache_write, tokens_cache_read)
        values = {
            "session_id": check.ident(session_id, "session_id"),
            "model": check.text(model, "model"),
            "tokens_input": check.integer(tokens_input, "tokens_input"),
            "tokens_output": check.integer(tokens_output, "tokens_output"),
            "tokens_cache": check.integer(tokens_cache, "tokens_cache"),
            "cost_usd": check.number(cost_usd, "cost_usd"),
            "timestamp": check.timestamp(timestamp) or now_text(),
            "source_id": check.text(source_id, "source_id"),
            "tokens_cache_write": tokens_cache_write,
            "tokens_cache_read": tokens_cache_read,
        }
        return await self._writer.submit(Write("record_usage", session_id, values))

    async def records(self, session_id: str) -> list[Usage]:
        """A session's usage records, oldest first."""
        check.ident(session_id, "session_id")
        rows = await self._reads.fetch(f"SELECT {USAGE_COLUMNS} FROM analytics WHERE session_id = ? ORDER BY id",
                                       (session_id,))
        return [usage_from_row(r) for r in rows]

    async def session_totals(self) -> dict[str, dict[str, Any]]:
        """Per session: message count, tokens and cost (for listings)."""
        totals: dict[str, dict[str, Any]] = {}
        for sid, count in await self._reads.fetch("SELECT session_id, COUNT(*) FROM messages GROUP BY session_id"):
            totals.setdefault(sid, {"messages": 0, "tokens": 0, "cost_usd": 0.0})["messages"] = count
        for sid, tokens, cost in await self._reads.fetch(
            "SELECT session_id, SUM(tokens_input + tokens_output + tokens_cache), SUM(cost_usd) "
            "FROM analytics GROUP BY session_id"
        ):
            row = totals.setdefault(sid, {"messages": 0, "tokens": 0, "cost_usd": 0.0})
            row["tokens"], row["cost_usd"] = tokens or 0, float(cost or 0.0)
        return totals

    async def listing(self, limit: int | None = None) -> list[tuple[str, str, str, datetime, int, float]]:
        """Per session, most recently updated first: (id, name, status, updated_at, messages, cost).

        One query with no models built: what `yurudb sessions` prints for 10,000 sessions in a blink.
        """
        rows = await self._reads.fetch(
            "SELECT s.id, s.name, COALESCE(s.status, 'pending'), s.updated_at, "
            "(SELECT COUNT(*) FROM messages AS m WHERE m.session_id = s.id), "
            "(SELECT TOTAL(cost_usd) FROM analytics AS a WHERE a.session_id = s.id) "
            "FROM sessions AS s ORDER BY s.updated_at DESC, s.id LIMIT ?", (-1 if limit is None else limit,))
        return [(r[0], r[1], r[2], from_column(r[3]), r[4], r[5]) for r in rows]  # type: ignore[misc]

    async def summary(
        self,
        *,
        by: GroupBy = "model",
        since: int | datetime | str | None = None,
        until: int | datetime | str | None = None,
        session_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Totals of tokens and cost grouped by model, day (UTC) or session, over an optional time range."""
        if not isinstance(by, str) or by not in _KEYS:
            raise ValidationError(f"by must be one of {sorted(_KEYS)}, not {by!r}")
        where, params = check.time_range("timestamp", since, until)
        if session_id is not None:
            where.append("session_id = ?")
            params.append(check.ident(session_id, "session_id"))
        sql = (
            f"SELECT {_KEYS[by]} AS k, COUNT(*), SUM(tokens_input), SUM(tokens_output), SUM(tokens_cache), "
            f"SUM(cost_usd), SUM(tokens_cache_write), SUM(tokens_cache_read) FROM analytics {'WHERE ' + ' AND '.join(where) if where else ''} "
            f"GROUP BY k ORDER BY k"
        )
        totals = {
            r[0]: {by: r[0], "records": r[1], "tokens_input": r[2] or 0, "tokens_output": r[3] or 0,
                   "tokens_cache": r[4] or 0, "cost_usd": float(r[5] or 0.0),
                   # of which writes / reads, over the rows that know their split
                   "tokens_cache_write": r[6] or 0, "tokens_cache_read": r[7] or 0}
            for r in await self._reads.fetch(sql, params)
        }
        return [totals[k] for k in sorted(totals, key=lambda k: (k is None, k))]


def _priced(model: Any, tokens_input: Any, tokens_output: Any, tokens_cache: Any, write: Any, read: Any) -> float:
    """What genai-prices says the response cost; 0.0 (said in the log) for a model it does not know."""
    from ..pricing import Tokens, response_cost

    numbers = [check.integer(n, what) for n, what in ((tokens_input, "tokens_input"), (tokens_output, "tokens_output"),
                                                        (tokens_cache, "tokens_cache"))]
    if not isinstance(model, str) or not model:
        return 0.0
    written = write if isinstance(write, int) else 0
    reads = read if isinstance(read, int) else max(0, numbers[2] - written)
    cost = response_cost(model, Tokens(input=numbers[0], output=numbers[1], cache_write_5m=written, cache_read=reads))
    if cost is None:
        log.warning("yurudb: no price for model %r: its usage is recorded at $0 (pass cost_usd)", model)
        return 0.0
    return cost

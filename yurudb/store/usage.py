"""Token and cost records: recording them, and totals by model, day or session."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Literal

from .. import validation as check
from ..errors import ValidationError
from ..models import Usage
from ..tables.rows import USAGE_COLUMNS, usage_from_row
from ..times import now_text
from ..writes.ops import Write
from . import listing
from .reads import Reads

log = logging.getLogger(__name__)
from .writer import Writer

GroupBy = Literal["model", "day", "session", "project"]


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

    async def listing(self, limit: int | None = None) -> list[tuple[str, str, str, str, int, float]]:
        """Per session, most recently updated first: (id, name, status, updated_at to the minute as
        "YYYY-MM-DD HH:MM" UTC, messages, cost).

        One query with no models built: what `yurudb sessions` prints for 10,000 sessions in a blink.
        """
        rows = await self._reads.fetch(listing.LISTING_SQL, (-1 if limit is None else limit,))
        return listing.listing_rows(rows)

    async def summary(
        self,
        *,
        by: GroupBy = "model",
        since: int | datetime | str | None = None,
        until: int | datetime | str | None = None,
        session_id: str | None = None,
        project: str | None = None,
        split: GroupBy | None = None,
    ) -> list[dict[str, Any]]:
        """Totals of tokens and cost grouped by model, day (UTC), session or project (and then by `split`)."""
        sql, params = listing.summary_query(by, since, until, session_id, project=project, split=split)
        return listing.summary_rows(by, await self._reads.fetch(sql, params), split)


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

"""The findings table: what `rules.find` sees in each message's indexed text, kept exact by the
transaction that indexes the message (search.index calls these), so that nothing is scanned twice."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import rules

INSERT = "INSERT INTO secret_findings (message_id, kind, preview) VALUES (?, ?, ?)"


def _kept(tx: Any) -> bool:
    # a store's transactions (Tx) keep findings; an older revision's bare connection, indexing
    # before 0012 made the table, does not (0012 scans what it indexed)
    return bool(getattr(tx, "keeps_findings", False))


def pairs(body: str) -> tuple[tuple[str, str], ...]:
    """(kind, preview) of each secret in an indexed text: what a sync's worker process finds ahead."""
    return tuple((f.kind, f.preview(body)) for f in rules.find(body))


def record(tx: Any, bodies: Iterable[tuple[str, str]], known: dict[str, tuple[tuple[str, str], ...]] | None = None) -> None:
    """Replace the findings of each (message id, indexed text): a message's text changed, or is new.

    `known`: findings already worked out for some of them (a sync's workers scan in parallel)."""
    bodies = list(bodies)
    if not bodies or not _kept(tx):
        return
    forget(tx, [mid for mid, _ in bodies])
    known = known or {}
    rows = [(mid, kind, preview) for mid, body in bodies
            for kind, preview in (known[mid] if mid in known else pairs(body))]
    tx.executemany(INSERT, rows)


def forget(tx: Any, message_ids: Iterable[str]) -> None:
    """Drop the findings of messages leaving the index (deleted, or about to be indexed again)."""
    ids = list(message_ids)
    if ids and _kept(tx):
        tx.select_in("DELETE FROM secret_findings WHERE message_id IN ({})", ids)


def rows_of(bodies: Iterable[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """The findings rows of (message id, indexed text) pairs."""
    return [(mid, f.kind, f.preview(body)) for mid, body in bodies for f in rules.find(body)]

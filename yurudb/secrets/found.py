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


def record(tx: Any, bodies: Iterable[tuple[str, str]]) -> None:
    """Replace the findings of each (message id, indexed text): a message's text changed, or is new."""
    bodies = list(bodies)
    if not bodies or not _kept(tx):
        return
    forget(tx, [mid for mid, _ in bodies])
    tx.executemany(INSERT, rows_of(bodies))


def forget(tx: Any, message_ids: Iterable[str]) -> None:
    """Drop the findings of messages leaving the index (deleted, or about to be indexed again)."""
    ids = list(message_ids)
    if ids and _kept(tx):
        tx.select_in("DELETE FROM secret_findings WHERE message_id IN ({})", ids)


def rows_of(bodies: Iterable[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """The findings rows of (message id, indexed text) pairs."""
    return [(mid, f.kind, f.preview(body)) for mid, body in bodies for f in rules.find(body)]

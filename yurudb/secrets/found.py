"""The findings table: what `rules.find` sees in each message's indexed text.

The transaction that indexes a message calls these (search.index): a synced line's findings, which
its worker found, go in at once; any other message is queued (`secret_scans`) for the store's
background scanner, so that a save never waits for the rules. Reads that list findings scan what is
still queued on the spot (`pending`), so a listing is never short."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import rules

INSERT = "INSERT INTO secret_findings (message_id, kind, preview) VALUES (?, ?, ?)"
QUEUE = "INSERT OR IGNORE INTO secret_scans (message_id) VALUES (?)"


def _kept(tx: Any) -> bool:
    # a store's transactions (Tx) keep findings; an older revision's bare connection, indexing
    # before 0012 made the table, does not (0012 scans what it indexed)
    return bool(getattr(tx, "keeps_findings", False))


def pairs(body: str) -> tuple[tuple[str, str], ...]:
    """(kind, preview) of each secret in an indexed text: what a sync's worker process finds ahead."""
    return tuple((f.kind, f.preview(body)) for f in rules.find(body))


def record(tx: Any, bodies: Iterable[tuple[str, str]], known: dict[str, tuple[tuple[str, str], ...]] | None = None,
           *, fresh: bool = False) -> None:
    """Replace the findings of each (message id, indexed text): a message's text changed, or is new.

    `known`: findings already worked out for some of them (a sync's workers scan in parallel);
    `fresh`: none of them has findings yet (new documents: what left the index forgot its own)."""
    bodies = list(bodies)
    if not bodies or not _kept(tx):
        return
    if not fresh:
        forget(tx, [mid for mid, _ in bodies])
    known = known or {}
    tx.executemany(INSERT, [(mid, kind, preview) for mid, _ in bodies if mid in known for kind, preview in known[mid]])
    # the rest wait for the store's scanner: the scan costs a save about a quarter of its throughput
    tx.executemany(QUEUE, [(mid,) for mid, _ in bodies if mid not in known])


def forget(tx: Any, message_ids: Iterable[str]) -> None:
    """Drop the findings of messages leaving the index (deleted, or about to be indexed again)."""
    ids = list(message_ids)
    if ids and _kept(tx):
        tx.select_in("DELETE FROM secret_findings WHERE message_id IN ({})", ids)


def rows_of(bodies: Iterable[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """The findings rows of (message id, indexed text) pairs."""
    return [(mid, kind, preview) for mid, body in bodies for kind, preview in pairs(body)]


# Whether any message or kept content waits for the scanner.
ANY_QUEUED = "SELECT 1 FROM secret_scans UNION ALL SELECT 1 FROM secret_blob_scans LIMIT 1"


def kept_text(data: bytes) -> str | None:
    """A kept file's bytes as text for the rules; None when they are binary (a NUL in the first 8 KB)."""
    return None if b"\0" in data[:8192] else data.decode("utf-8", "replace")


def blob_secrets(packed: bytes) -> tuple[tuple[str, str], ...]:
    """(kind, preview) of each secret in a kept content, from its compressed bytes (damaged: none here;
    `yurudb check` reports it)."""
    import zstandard

    try:
        text = kept_text(zstandard.ZstdDecompressor().decompress(packed))
    except zstandard.ZstdError:
        return ()
    return pairs(text) if text is not None else ()


def scan_blobs(tx: Any, limit: int | None = None) -> int:
    """Find the secrets of queued kept contents (the store's scanner; all of them with no limit: revision
    0012 queues every blob first); returns how many were scanned."""
    ids = [r[0] for r in tx.execute("SELECT blob_id FROM secret_blob_scans LIMIT ?", (-1 if limit is None else limit,))]
    for blob_id in ids:
        found = blob_secrets(tx.execute("SELECT data FROM footprint_blobs WHERE id = ?", (blob_id,))[0][0])
        tx.execute("DELETE FROM secret_findings WHERE blob_id = ?", (blob_id,))
        tx.executemany("INSERT INTO secret_findings (blob_id, kind, preview) VALUES (?, ?, ?)",
                       [(blob_id, kind, preview) for kind, preview in found])
        tx.execute("DELETE FROM secret_blob_scans WHERE blob_id = ?", (blob_id,))
    return len(ids)

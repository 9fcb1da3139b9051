"""Full-text search: what a message says, kept in an FTS5 index in the same transaction as each write.

The index (`search_index`) is a contentless FTS5 table with the unicode61 tokenizer: the text is
stored once, where it already lives (the message's columns, or a synced line's compressed bytes),
so the index costs a fraction of the text it covers. Each indexed message points at its document
(`messages.search_doc`); a hit counts only while a message points at it, so a row deleted by any
path (a cascade, another tool) can never surface, and a document id is never handed out twice.

This module keeps the index exact; `search_text` says what a message's text is, `search_query`
reads the index. Their public names are re-exported here: callers use `yurudb.search`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..backends.sqlite.transaction import Tx
from ..lines import runs as archive_lines
from ..secrets import found
from . import fulltext
from ..tables.rows import LINE_AT, MESSAGE_COLUMNS, MESSAGE_READ, READ_WIDTH, message_from_row
from .text import indexed, text_of  # noqa: F401 - re-exported

# ---- keeping the index exact (inside a write's transaction) --------------------------------
# A transaction whose `tx.index_search` is False (a store opened with index_search=False: benchmarks,
# bulk loads) skips the index's upkeep and leaves the index behind the messages until `rebuild`.


def _bodies(tx: Tx, where: str, keys: Iterable[Any] | None = None,
            params: Sequence[Any] = ()) -> list[tuple[str, int | None, str]]:
    """(message id, its document, its indexed text) for the messages `where` selects (`{}`: the keys)."""
    sql = f"SELECT {MESSAGE_READ}, search_doc, rowid FROM messages WHERE {where}"
    rows = tx.select_in(sql, keys) if keys is not None else tx.execute(sql, params)
    # in the order they were written (rowid): documents are numbered by it
    rows.sort(key=lambda r: r[READ_WIDTH + 1])
    return [_body(r) for r in archive_lines.attach(tx, rows, LINE_AT)]


def _body(r: Sequence[Any]) -> tuple[str, int | None, str]:
    m = message_from_row(r[:READ_WIDTH])
    return m.id, r[READ_WIDTH], indexed(text_of(m.content, m.tool_uses, m.payload))


def bodies_of(tx: Tx, message_ids: Iterable[str]) -> list[tuple[str, str]]:
    """(message id, indexed text) of these messages, as the index takes them (a scrub reads them this way)."""
    return [(mid, body) for mid, _, body in _bodies(tx, "id IN ({})", message_ids)]


def unindex(tx: Tx, message_ids: Iterable[str]) -> None:
    """Take messages out of the index (before they change or go), from the text they hold now."""
    if not tx.index_search:
        return
    _drop(tx, _bodies(tx, "search_doc > 0 AND id IN ({})", message_ids))


def unindex_sessions(tx: Tx, session_ids: Iterable[str]) -> None:
    """Take every message of these sessions out of the index (before the sessions are deleted)."""
    if not tx.index_search:
        return
    _drop(tx, _bodies(tx, "search_doc > 0 AND session_id IN ({})", session_ids))


def unindex_where(tx: Tx, where: str, params: Sequence[Any]) -> None:
    """Take the messages `where` selects out of the index (before a delete removes them)."""
    if not tx.index_search:
        return
    _drop(tx, _bodies(tx, f"search_doc > 0 AND {where}", params=params))


def _drop(tx: Tx, bodies: list[tuple[str, int | None, str]]) -> None:
    # contentless FTS5 forgets a document by being told its text again, exactly as indexed
    fulltext.engine(tx).delete(tx, [(doc, body) for _, doc, body in bodies])
    tx.executemany("UPDATE messages SET search_doc = NULL WHERE id = ?", [(mid,) for mid, _, _ in bodies])
    found.forget(tx, [mid for mid, _, _ in bodies])


def index(tx: Tx, message_ids: Iterable[str]) -> None:
    """Index messages from what they hold now (each taken out first with `unindex` if it was in)."""
    if not tx.index_search:
        return
    put(tx, [(mid, body) for mid, _, body in _bodies(tx, "id IN ({})", message_ids)])


def put(tx: Any, bodies: Sequence[tuple[str, str]]) -> None:
    """Index (message id, indexed text) pairs of messages that are not in the index."""
    if not getattr(tx, "index_search", True):  # a revision's or salvage's bare connection indexes
        return
    # nothing to search: no document (not even text.FILE_INDEXED, a row memory copied from the file)
    tx.executemany("UPDATE messages SET search_doc = NULL WHERE id = ? AND search_doc IS NOT NULL",
                   [(mid,) for mid, body in bodies if not body.strip()])
    found.forget(tx, [mid for mid, body in bodies if not body.strip()])
    bodies = [(mid, body) for mid, body in bodies if body.strip()]
    if not bodies:
        return
    # ids only grow: a document left behind by a row deleted elsewhere is never handed out again
    fts = fulltext.engine(tx)
    top = fts.top(tx)
    fts.insert(tx, [(top + i, body) for i, (_, body) in enumerate(bodies, start=1)])
    tx.executemany("UPDATE messages SET search_doc = ? WHERE id = ?",
                   [(top + i, mid) for i, (mid, _) in enumerate(bodies, start=1)])
    found.record(tx, bodies)  # the secrets in the same texts, in the same transaction


def health(conn: sqlite3.Connection) -> tuple[int, int]:
    """(messages whose document the index lacks, documents no message points at): (0, 0) when sound.

    The first hides those messages from search (`rebuild` brings them back); the second is space a
    row deleted behind yurudb's back left in the index, never a hit.
    """
    dangling = conn.execute("SELECT COUNT(*) FROM messages WHERE search_doc > 0 AND search_doc NOT IN "
                            "(SELECT id FROM search_index_docsize)").fetchone()[0]
    orphans = conn.execute("SELECT COUNT(*) FROM search_index_docsize WHERE id NOT IN "
                           "(SELECT search_doc FROM messages WHERE search_doc > 0)").fetchone()[0]
    return int(dangling), int(orphans)


def rebuild(tx: Any, progress: Callable[[int, int], None] | None = None) -> int:
    """Empty the index and index every message again (after a salvage merged rows into a database)."""
    fulltext.engine(tx).clear(tx)
    tx.execute("UPDATE messages SET search_doc = NULL WHERE search_doc IS NOT NULL")
    tx.execute("DELETE FROM secret_findings")
    return backfill(tx, progress)


def scan_secrets(tx: Any, progress: Callable[[int, int], None] | None = None, chunk: int = 5000) -> int:
    """Find the secrets of every indexed message afresh (revision 0012); returns how many were found."""
    tx.execute("DELETE FROM secret_findings")
    total = tx.execute("SELECT COUNT(*) FROM messages WHERE search_doc > 0")[0][0]
    seen = 0
    for bodies in each_body(tx, chunk):
        tx.executemany(found.INSERT, found.rows_of(bodies))
        seen += len(bodies)
        if progress is not None:
            progress(seen, total)
    return int(tx.execute("SELECT COUNT(*) FROM secret_findings")[0][0])


def scan_queued(tx: Any, limit: int = 500, session_id: str | None = None) -> int:
    """Find the secrets of up to `limit` queued messages (the store's scanner; a scrub, for its session);
    returns how many were scanned."""
    where = "" if session_id is None else " WHERE message_id IN (SELECT id FROM messages WHERE session_id = ?)"
    ids = [r[0] for r in tx.execute(f"SELECT message_id FROM secret_scans{where} LIMIT ?",
                                    (*([session_id] if session_id else []), limit))]
    if not ids:
        return 0
    archive_lines.load_dictionaries(tx)
    bodies = bodies_of(tx, ids)
    found.forget(tx, ids)
    tx.executemany(found.INSERT, found.rows_of(bodies))
    tx.select_in("DELETE FROM secret_scans WHERE message_id IN ({})", ids)
    return len(ids)


def each_body(tx: Any, chunk: int = 5000) -> Any:
    """Every indexed message's (id, indexed text), in rowid order, `chunk` at a time."""
    archive_lines.load_dictionaries(tx)
    last = 0
    while True:
        top = tx.execute("SELECT MAX(rowid) FROM (SELECT rowid FROM messages WHERE rowid > ? AND search_doc > 0 "
                         "ORDER BY rowid LIMIT ?)", (last, chunk))[0][0]
        if top is None:
            return
        yield [(mid, body) for mid, _, body in _bodies(tx, "rowid > ? AND rowid <= ? AND search_doc > 0",
                                                       params=(last, top))]
        last = top


Rule = Callable[[str | None, Any, Any], str]  # what a message's searchable text is: text_of, or an older rule


def retext(tx: Any, old: Rule, new: Rule, progress: Callable[[int, int], None] | None = None,
           chunk: int = 5000) -> int:
    """Move each indexed message whose text differs between two rules from its `old` text to its `new`
    one, keeping its document; returns how many moved (a revision that changes what is indexed).

    A message whose text reads the same under both (most: the short ones) is not touched, and
    neither is one whose line cannot be read (its document stays as it was).
    """
    archive_lines.load_dictionaries(tx)
    total = tx.execute("SELECT COUNT(*) FROM messages WHERE search_doc > 0")[0][0]
    seen = moved = last = 0
    while True:
        rows = tx.execute(f"SELECT rowid, {MESSAGE_COLUMNS}, {archive_lines.RUN_OF_MESSAGE}, search_doc FROM "
                          "messages WHERE rowid > ? AND search_doc > 0 ORDER BY rowid LIMIT ?", (last, chunk))
        if not rows:
            break
        last = rows[-1][0]
        drop: list[tuple[int, str]] = []
        put_in: list[tuple[int, str]] = []
        for r in archive_lines.attach(tx, rows, 1 + LINE_AT):  # after the rowid
            m = message_from_row(r[1 : 1 + READ_WIDTH])
            before, after = old(m.content, m.tool_uses, m.payload), new(m.content, m.tool_uses, m.payload)
            if before != after and after.strip():
                drop.append((r[-1], indexed(before)))
                put_in.append((r[-1], indexed(after)))
        # contentless FTS5 forgets a document by being told its text exactly as it was indexed
        fulltext.engine(tx).delete(tx, drop)
        fulltext.engine(tx).insert(tx, put_in)
        moved += len(put_in)
        seen += len(rows)
        if progress is not None:
            progress(seen, total)
    return moved


class Docs:
    """The documents one batch's appends get: numbered as they come, indexed together after the plan."""

    def __init__(self, tx: Any, *, fast: bool = True) -> None:
        self.tx = tx
        self.fast = fast and tx.index_search
        self.top: int | None = None
        self.bodies: dict[str, tuple[int, str]] = {}  # message id -> (document, text)
        self.secrets: dict[str, tuple[tuple[str, str], ...]] = {}  # message id -> its findings, when known ahead
        self.vectors: dict[int, str] = {}  # document -> its tsvector, when a worker built it (PostgreSQL)
        self.placed: set[str] = set()  # messages whose row names their document already

    def take(self, write: Any) -> int | None:
        """The document for an append_message write (None: no text, or the general path indexes it)."""
        if not self.fast:
            return None
        return self.add(write.target, body_of(write))

    def allocate(self) -> int:
        """A new document number (never one the index has held)."""
        if self.top is None:
            # ids only grow: a document left by a row deleted elsewhere is never handed out again
            self.top = fulltext.engine(self.tx).top(self.tx)
        self.top += 1
        return self.top

    def add(self, message_id: str, body: str, secrets: tuple[tuple[str, str], ...] | None = None,
            vector: str | None = None) -> int | None:
        """The document for a message about to be written with this indexed text (None: no text);
        `secrets`: its findings, when a worker found them already; `vector`: its tsvector, likewise."""
        self.placed.add(message_id)
        if secrets is not None:
            self.secrets[message_id] = secrets
        else:
            self.secrets.pop(message_id, None)
        if not body.strip():
            self.bodies.pop(message_id, None)  # written twice in the batch: the last text counts
            return None
        # written twice in the batch: one document, the last text
        doc = self.bodies[message_id][0] if message_id in self.bodies else self.allocate()
        self.bodies[message_id] = (doc, body)
        if vector is not None:
            self.vectors[doc] = vector
        else:
            self.vectors.pop(doc, None)
        return doc

    def insert(self) -> None:
        """Index the bodies taken (after the plan wrote the rows that name them)."""
        fulltext.engine(self.tx).insert(self.tx, list(self.bodies.values()), self.vectors)
        # new documents only: a message appended again left the index (and its findings) first
        found.record(self.tx, [(mid, body) for mid, (_, body) in self.bodies.items()], self.secrets, fresh=True)
        self.bodies, self.secrets, self.vectors = {}, {}, {}


def body_of(write: Any) -> str:
    """The indexed text of an append_message write (worked out by the store, or again after a replay)."""
    body = write.objects.get("search_body")
    if body is None:  # a write replayed from the journal
        body = indexed(text_of(write.values["content"], write.decoded("tool_uses"), write.decoded("payload")))
    return str(body)


def current(tx: Tx, message_ids: Iterable[str]) -> dict[str, tuple[int, str]]:
    """Each indexed message's document and the text it was indexed with (before a change)."""
    return {mid: (doc, body) for mid, doc, body in _bodies(tx, "search_doc > 0 AND id IN ({})", message_ids)
            if doc is not None}


def replace(tx: Tx, docs: Docs, before: dict[str, tuple[int, str]], after: dict[str, str]) -> None:
    """Move each message's document from the text it had (`before`) to its new text (`after`).

    Same text: nothing. Indexed before: the same document takes the new text (the row is not
    written again). Not indexed before: a new document, named in the row. No text now: no document.
    """
    drop: list[tuple[int, str]] = []
    put_in: list[tuple[int, str]] = []
    name: list[tuple[int | None, str]] = []
    for mid, body in after.items():
        had = before.get(mid)
        text = body.strip()
        if had is not None and had[1] == body:
            continue
        if had is not None:
            drop.append(had)
            if text:
                put_in.append((had[0], body))
            else:
                name.append((None, mid))
        elif text:
            doc = docs.allocate()
            put_in.append((doc, body))
            name.append((doc, mid))
        else:
            name.append((None, mid))
    fts = fulltext.engine(tx)
    fts.delete(tx, drop)
    fts.insert(tx, put_in)
    tx.executemany("UPDATE messages SET search_doc = ? WHERE id = ? AND search_doc IS NOT ?",
                   [(doc, mid, doc) for doc, mid in name])
    changed = [(mid, body) for mid, body in after.items() if before.get(mid, (None, None))[1] != body]
    found.record(tx, changed)  # a streamed update's secrets are those of its last text


def backfill(tx: Any, report: Callable[[int, int], None] | None = None, chunk: int = 5000,
             lines: tuple[str, Callable[[Any, list[Any], int], list[Any]]] | None = None) -> int:
    """Index every message that is not indexed yet, in rowid order; returns how many were indexed.

    `tx` is a Tx (or anything with its execute/executemany/select_in) inside the caller's transaction.
    `lines`: how a synced message's line is read (the column's SQL, and what makes the column the
    line's bytes), for a revision older than the archive's layout today.
    """
    archive_lines.load_dictionaries(tx)
    column, attach = lines or (archive_lines.RUN_OF_MESSAGE, archive_lines.attach)
    total = tx.execute("SELECT COUNT(*) FROM messages WHERE search_doc IS NULL")[0][0]
    done = last = 0
    while True:
        rows = tx.execute(f"SELECT rowid, {MESSAGE_COLUMNS}, {column} FROM messages WHERE rowid > ? "
                          "AND search_doc IS NULL ORDER BY rowid LIMIT ?", (last, chunk))
        if not rows:
            break
        last = rows[-1][0]
        bodies = []
        for r in attach(tx, rows, 1 + LINE_AT):  # after the rowid
            m = message_from_row(r[1:])
            bodies.append((m.id, indexed(text_of(m.content, m.tool_uses, m.payload))))
        put(tx, bodies)
        done += len(rows)
        if report is not None:
            report(done, total)
    return done

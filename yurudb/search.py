"""Full-text search: what a message says, kept in an FTS5 index in the same transaction as each write.

The index (`search_index`) is a contentless FTS5 table with the unicode61 tokenizer: the text is
stored once, where it already lives (the message's columns, or a synced line's compressed bytes),
so the index costs a fraction of the text it covers. Each indexed message points at its document
(`messages.search_doc`); a hit counts only while a message points at it, so a row deleted by any
path (a cascade, another tool) can never surface, and a document id is never handed out twice.

What unicode61 alone would miss is written into the indexed text: the words inside a camelCase
identifier (`getUserName` also indexes `get user name`), and CJK text as overlapping bigrams
(`日本語` indexes `日本 本語`), since CJK has no spaces to split words on. snake_case, paths and
punctuation split already (`tests/test_salvage.py` is `tests test salvage py`). The query side
applies the same rules, so what a person types is what they find.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import codec, validation as check
from .errors import ValidationError
from .rows import MESSAGE_COLUMNS, MESSAGE_READ, message_from_row
from .unit_of_work import Tx
from .validation import block_texts, content_text

# What a long message contributes: its first 3,000 characters and its last 1,000. A tool result can
# hold a whole file or a long log; a person remembers the command and what it said first, and the
# error or summary it ended with. On real transcripts this halves the indexed text (1% of messages
# run past 11,000 characters and hold half of it) and so the index. The message itself is kept whole.
HEAD_CHARS = 3_000
TAIL_CHARS = 1_000
RESULT_HEAD = 1_000  # each tool result's share (text_of)
RESULT_TAIL = 500
# A long string without a space in a tool input or result is data (base64, a minified blob), not words.
_BLOB = re.compile(r"[A-Za-z0-9+/=_-]{512,}")
_WORD = re.compile(r"[^\W_]+")
_CAMEL = re.compile(r"[a-z0-9][A-Z]|[A-Z][A-Z][a-z]")
# a camelCase step: a capital after a lower-case letter or digit, or before a capital and a lower-case letter
_STEP = re.compile(r"[A-Z](?:(?<=[a-z0-9][A-Z])|(?=[A-Z][a-z]))")
_WORD_RUN = re.compile(r"[^\W_]*")
_CAMEL_PARTS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]{2,}")

# Contentless (content=''): the text is not stored again; a document is removed by giving its text.
DDL = ("CREATE VIRTUAL TABLE search_index USING fts5(body, content='', "
       "tokenize='unicode61 remove_diacritics 2')")


# ---- what a message says -------------------------------------------------------------------
def text_of(content: str | None, tool_uses: Any, payload: Any = None) -> str:
    """The searchable text of a message: its text (prompts, replies, tool results) and its tool inputs.

    A message whose payload holds tool results (Claude Code's, or an app's in the same shape) gives
    each result's first 1,000 and last 500 characters: a file read or a long log is most of a
    transcript's text, and what a person remembers of one is the start and how it ended.
    """
    parts: list[str] = []
    blocks = _result_blocks(payload)
    if blocks is not None:
        parts += blocks
    elif content:
        parts.append(content)
    if tool_uses:
        _strings(tool_uses, parts)
    # lone surrogates (which SQLite cannot take) become U+FFFD, as in the content column
    text = content_text("\n".join(parts)) or ""
    if len(text) >= 512 and _maybe_blob(text):
        text = _BLOB.sub(" ", text)
    return _ends(text, HEAD_CHARS, TAIL_CHARS)


def _maybe_blob(text: str) -> bool:
    """Whether `text` may hold 512 characters without a space: a run that long fills one of its
    aligned 256-character windows. Testing windows costs a fraction of running the pattern."""
    for at in range(0, len(text) - 255, 256):
        window = text[at:at + 256]
        if " " not in window and "\n" not in window:
            return True
    return False


def _result_blocks(payload: Any) -> list[str] | None:
    """The text of a payload's content blocks with each tool result cut to its ends; None when it has none."""
    if not isinstance(payload, dict):
        return None
    message = payload.get("message")
    blocks = message.get("content") if isinstance(message, dict) else payload.get("content")
    if not isinstance(blocks, list) or not any(isinstance(b, dict) and b.get("type") == "tool_result" for b in blocks):
        return None
    return block_texts(blocks, lambda text: _ends(text, RESULT_HEAD, RESULT_TAIL))


def _ends(text: str, head: int, tail: int) -> str:
    """`text`, or its first `head` and last `tail` characters, cut at spaces (no word indexed in part)."""
    if len(text) <= head + tail:
        return text
    first = text[:head].rsplit(None, 1)[0] if " " in text[:head] else text[:head]
    last = text[-tail:].split(None, 1)[-1]
    return first + "\n…\n" + last


def _strings(value: Any, out: list[str]) -> None:
    """Every string inside a tool use (its name, command, paths, patterns), not its ids."""
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for key, inner in value.items():
            if key not in ("id", "tool_use_id", "type"):
                _strings(inner, out)
    elif isinstance(value, list):
        for inner in value:
            _strings(inner, out)


def indexed(text: str) -> str:
    """The text as the index sees it: CJK runs as bigrams, and camelCase words also in parts."""
    extra = [" ".join(_CAMEL_PARTS.findall(w)) for w in _camel_words(text)]
    if not text.isascii() and _CJK.search(text):
        text = _CJK.sub(lambda m: " ".join(_bigrams(m.group())), text)
    return text + ("\n" + "\n".join(extra) if extra else "")


def _camel_words(text: str) -> list[str]:
    """The words with a camelCase step in them: each step found by one scan of the text, then its word
    (a word-by-word test was most of the cost of indexing a message)."""
    words: list[str] = []
    if text.islower():
        return words  # no capital letter at all: no step (and no scan)
    end = -1
    n = len(text)
    backwards: str | None = None
    # a pattern that starts with one class (a capital) is what re scans fastest
    for m in _STEP.finditer(text):
        i = m.start()
        if i < end:
            continue  # another step of the word just taken
        # the word around it, by two matches of the word pattern (one on the text reversed)
        if backwards is None:
            backwards = text[::-1]
        start = i - (_run_end(backwards, n - i) - (n - i))
        end = _run_end(text, i)
        words.append(text[start:end])
    return words


def _run_end(text: str, at: int) -> int:
    """Where the run of word characters that starts at `at` ends."""
    m = _WORD_RUN.match(text, at)
    return m.end() if m else at


def _bigrams(run: str) -> list[str]:
    # and the last character alone, so a one-character query finds every character (the others
    # each start a bigram, which a prefix query finds)
    return [run[i:i + 2] for i in range(len(run) - 1)] + [run[-1]]


# ---- keeping the index exact (inside a write's transaction) --------------------------------
# Benchmarks only (W1 "index off"): False skips the index's upkeep, which leaves the index behind
# the messages. Never set by yurudb; a database written this way needs `search.rebuild`.
_upkeep = True


def _bodies(tx: Tx, where: str, keys: Iterable[Any] | None = None,
            params: Sequence[Any] = ()) -> list[tuple[str, int | None, str]]:
    """(message id, its document, its indexed text) for the messages `where` selects (`{}`: the keys)."""
    sql = f"SELECT {MESSAGE_READ}, search_doc, rowid FROM messages WHERE {where}"
    rows = tx.select_in(sql, keys) if keys is not None else tx.execute(sql, params)
    rows.sort(key=lambda r: r[15])  # in the order they were written: documents are numbered by it
    try:
        return [_body(r) for r in rows]
    except codec.UnknownDictionary:
        _load_dictionaries(tx)  # a synced line compressed with a dictionary this process has not seen
        return [_body(r) for r in rows]


def _body(r: Sequence[Any]) -> tuple[str, int | None, str]:
    m = message_from_row(r[:14])
    return m.id, r[14], indexed(text_of(m.content, m.tool_uses, m.payload))


def _load_dictionaries(tx: Any) -> None:
    for dict_id, data in tx.execute("SELECT id, data FROM archive_dicts"):
        codec.register(dict_id, data)


def unindex(tx: Tx, message_ids: Iterable[str]) -> None:
    """Take messages out of the index (before they change or go), from the text they hold now."""
    if not _upkeep:
        return
    _drop(tx, _bodies(tx, "search_doc > 0 AND id IN ({})", message_ids))


def unindex_sessions(tx: Tx, session_ids: Iterable[str]) -> None:
    """Take every message of these sessions out of the index (before the sessions are deleted)."""
    if not _upkeep:
        return
    _drop(tx, _bodies(tx, "search_doc > 0 AND session_id IN ({})", session_ids))


def unindex_where(tx: Tx, where: str, params: Sequence[Any]) -> None:
    """Take the messages `where` selects out of the index (before a delete removes them)."""
    if not _upkeep:
        return
    _drop(tx, _bodies(tx, f"search_doc > 0 AND {where}", params=params))


def _drop(tx: Tx, bodies: list[tuple[str, int | None, str]]) -> None:
    # contentless FTS5 forgets a document by being told its text again, exactly as indexed
    tx.executemany("INSERT INTO search_index (search_index, rowid, body) VALUES ('delete', ?, ?)",
                   [(doc, body) for _, doc, body in bodies])
    tx.executemany("UPDATE messages SET search_doc = NULL WHERE id = ?", [(mid,) for mid, _, _ in bodies])


def index(tx: Tx, message_ids: Iterable[str]) -> None:
    """Index messages from what they hold now (each taken out first with `unindex` if it was in)."""
    if not _upkeep:
        return
    put(tx, [(mid, body) for mid, _, body in _bodies(tx, "id IN ({})", message_ids)])


def put(tx: Any, bodies: Sequence[tuple[str, str]]) -> None:
    """Index (message id, indexed text) pairs of messages that are not in the index."""
    if not _upkeep:
        return
    # nothing to search: no document (degraded mode's memory marks a row copied from the file -1)
    tx.executemany("UPDATE messages SET search_doc = NULL WHERE id = ? AND search_doc IS NOT NULL",
                   [(mid,) for mid, body in bodies if not body.strip()])
    bodies = [(mid, body) for mid, body in bodies if body.strip()]
    if not bodies:
        return
    # ids only grow: a document left behind by a row deleted elsewhere is never handed out again
    top = tx.execute("SELECT MAX(id) FROM search_index_docsize")[0][0] or 0
    tx.executemany("INSERT INTO search_index (rowid, body) VALUES (?, ?)",
                   [(top + i, body) for i, (_, body) in enumerate(bodies, start=1)])
    tx.executemany("UPDATE messages SET search_doc = ? WHERE id = ?",
                   [(top + i, mid) for i, (mid, _) in enumerate(bodies, start=1)])


# Set by the command while it migrates: called with (done, total) as the revision indexes messages.
progress: Callable[[int, int], None] | None = None


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


def rebuild_all(tx: Any) -> tuple[Any, int]:
    """`rebuild` as a writer job (no batch effects: sessions and messages are unchanged)."""
    from .batch import BatchEffects

    return BatchEffects(), rebuild(tx)


def rebuild(tx: Any) -> int:
    """Empty the index and index every message again (after a salvage merged rows into a database)."""
    tx.execute("INSERT INTO search_index (search_index) VALUES ('delete-all')")
    tx.execute("UPDATE messages SET search_doc = NULL WHERE search_doc IS NOT NULL")
    return backfill(tx, progress)


class Docs:
    """The documents one batch's appends get: numbered as they come, indexed together after the plan."""

    def __init__(self, tx: Any, *, fast: bool = True) -> None:
        self.tx = tx
        self.fast = fast and _upkeep
        self.top: int | None = None
        self.bodies: dict[str, tuple[int, str]] = {}  # message id -> (document, text)
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
            self.top = self.tx.execute("SELECT MAX(id) FROM search_index_docsize")[0][0] or 0
        self.top += 1
        return self.top

    def add(self, message_id: str, body: str) -> int | None:
        """The document for a message about to be written with this indexed text (None: no text)."""
        self.placed.add(message_id)
        if not body.strip():
            self.bodies.pop(message_id, None)  # written twice in the batch: the last text counts
            return None
        # written twice in the batch: one document, the last text
        doc = self.bodies[message_id][0] if message_id in self.bodies else self.allocate()
        self.bodies[message_id] = (doc, body)
        return doc

    def insert(self) -> None:
        """Index the bodies taken (after the plan wrote the rows that name them)."""
        self.tx.executemany("INSERT INTO search_index (rowid, body) VALUES (?, ?)", list(self.bodies.values()))
        self.bodies = {}


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
    tx.executemany("INSERT INTO search_index (search_index, rowid, body) VALUES ('delete', ?, ?)", drop)
    tx.executemany("INSERT INTO search_index (rowid, body) VALUES (?, ?)", put_in)
    tx.executemany("UPDATE messages SET search_doc = ? WHERE id = ? AND search_doc IS NOT ?",
                   [(doc, mid, doc) for doc, mid in name])


def backfill(tx: Any, report: Callable[[int, int], None] | None = None, chunk: int = 5000) -> int:
    """Index every message that is not indexed yet, in rowid order; returns how many were indexed.

    `tx` is a Tx (or anything with its execute/executemany) inside the caller's transaction.
    """
    _load_dictionaries(tx)
    total = tx.execute("SELECT COUNT(*) FROM messages WHERE search_doc IS NULL")[0][0]
    done = last = 0
    while True:
        rows = tx.execute(f"SELECT rowid, {MESSAGE_READ} FROM messages WHERE rowid > ? AND search_doc IS NULL "
                          "ORDER BY rowid LIMIT ?", (last, chunk))
        if not rows:
            break
        last = rows[-1][0]
        bodies = []
        for r in rows:
            m = message_from_row(r[1:])
            bodies.append((m.id, indexed(text_of(m.content, m.tool_uses, m.payload))))
        put(tx, bodies)
        done += len(rows)
        if report is not None:
            report(done, total)
    return done


# ---- queries -------------------------------------------------------------------------------
_QUERY_PART = re.compile(r'"([^"]*)"?|(\S+)')


def terms(query: str) -> list[list[str]]:
    """A person's query as terms, each a sequence of tokens that must appear together (a phrase).

    Plain words each become a term (all must match); a quoted phrase is one term; a word that
    ends in `*` matches as a prefix. FTS5's own operators mean nothing here: `AND (` is two words.
    """
    out: list[list[str]] = []
    for phrase, word in _QUERY_PART.findall(query):
        text = phrase if phrase else word
        tokens = _WORD.findall(text)
        if not tokens:
            continue
        if word and word.endswith("*"):
            tokens[-1] += "*"
        out.append(tokens)
    return out


def match_expression(query: str) -> str:
    """The FTS5 MATCH expression for a person's query ("" when it names nothing to look for)."""
    parts = []
    for tokens in terms(query):
        parts.append(_term(tokens))
    return " AND ".join(parts)


def _term(tokens: list[str]) -> str:
    prefix = tokens[-1].endswith("*")
    if prefix:
        tokens = tokens[:-1] + [tokens[-1][:-1]]
    words: list[str] = []
    for t in tokens:
        words += _bigrams(t)[:-1] if _CJK.fullmatch(t) else [t]
    if len(words) == 1 and len(tokens) == 1 and len(tokens[0]) == 1 and _CJK.match(tokens[0] * 2):
        prefix = True  # one CJK character: the bigrams that start with it
    quoted = " ".join(f'"{w}"' for w in words) + ("*" if prefix else "")
    phrase = quoted if len(words) == 1 else f"({_phrase(words, prefix)})"
    camel = [w for w in tokens if _CAMEL.search(w)]
    if len(tokens) == 1 and camel:
        # `UserName` finds getUserName too: its parts were indexed beside the whole word
        parts = _CAMEL_PARTS.findall(tokens[0])
        return f"({phrase} OR {_phrase(parts, prefix)})"
    return phrase


def _phrase(words: list[str], prefix: bool) -> str:
    return '"' + " ".join(w.replace('"', '""') for w in words) + '"' + ("*" if prefix else "")


# ---- hits ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SearchHit:
    """One message that matched: where it is, a snippet with the matched terms marked, and its rank."""

    message_id: str
    session_id: str
    session_name: str
    seq: int
    type: str
    timestamp: datetime | None
    snippet: str
    marks: list[tuple[int, int]] = field(default_factory=list)  # (start, end) of each matched term in snippet
    rank: float = 0.0  # FTS5's bm25: lower is better
    thread: str | None = None

    def marked(self, start: str = "[", end: str = "]") -> str:
        """The snippet with each matched term between `start` and `end`."""
        out, at = [], 0
        for a, b in self.marks:
            out += [self.snippet[at:a], start, self.snippet[a:b], end]
            at = b
        return "".join(out) + self.snippet[at:]


class SearchHits(list[SearchHit]):
    """Hits, best first; `complete` is False when part of the store could not be searched (`note` says which).

    `ranked_newest` is True when more messages matched than RANK_WINDOW: the hits are the best of
    the newest RANK_WINDOW matches (a narrower query, or a filter, reaches the older ones).
    """

    complete: bool = True
    note: str | None = None
    ranked_newest: bool = False


def snippet(text: str, query_terms: list[list[str]], width: int = 160) -> tuple[str, list[tuple[int, int]]]:
    """The part of `text` around its matches (about `width` characters) and where each match is."""
    flat = " ".join(text.split())
    folded = _fold(flat)  # the same length as flat: positions carry over
    spans: list[tuple[int, int]] = []
    for tokens in query_terms:
        for token in tokens:
            prefix = token.endswith("*")
            token = token.rstrip("*")
            if not token:
                continue
            whole = not _CJK.match(token[0] * 2)  # CJK has no word boundaries to respect
            for m in re.finditer(re.escape(_fold(token)), folded):
                a, b = m.start(), m.end()
                if whole and not (_edge(flat, a) and (prefix or _edge(flat, b))):
                    continue  # `test` is not marked inside `tests`: the index did not match it there
                spans.append((a, b))
    spans.sort()
    if not spans:
        return (flat[:width] + ("…" if len(flat) > width else "")), []
    # the window that holds the most matches
    best, best_count = 0, 0
    for i, (start, _) in enumerate(spans):
        count = sum(1 for s, e in spans[i:] if e <= start + width)
        if count > best_count:
            best, best_count = i, count
    start = max(0, spans[best][0] - width // 4)
    end = min(len(flat), start + width)
    start = max(0, min(start, end - width))
    marks, last = [], -1
    lead = "…" if start > 0 else ""
    for s, e in spans:
        if s >= start and e <= end and s >= last:
            marks.append((s - start + len(lead), e - start + len(lead)))
            last = e
    return lead + flat[start:end] + ("…" if end < len(flat) else ""), marks


def _fold(text: str) -> str:
    """Lower case without accents, one character for one (as the tokenizer folds, for marking)."""
    out = []
    for c in text:
        if c.isascii():
            out.append(c.lower())
        else:
            base = unicodedata.normalize("NFD", c)[0].lower()
            out.append(base[0] if base else c)
    return "".join(out)


def _edge(text: str, at: int) -> bool:
    """A word starts or ends at `at`: punctuation or an end there, or a camelCase step."""
    if at == 0 or at == len(text):
        return True
    before, after = text[at - 1], text[at]
    return not (before.isalnum() and after.isalnum()) or (before.islower() and after.isupper())


def is_syntax_error(exc: BaseException) -> bool:
    """Whether SQLite refused an FTS5 query for its syntax (bad input, not a failure)."""
    text = str(exc)
    return "fts5" in text or "no such column" in text or "unknown special query" in text or "syntax error" in text


def raw_check(expression: str) -> None:
    """ValidationError unless `expression` is FTS5 syntax (checked against an empty table)."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute(DDL)
        conn.execute("SELECT rowid FROM search_index(?)", (expression,)).fetchall()
    except sqlite3.Error as exc:
        raise ValidationError(f"not a valid FTS5 query: {expression!r} ({exc})") from None
    finally:
        conn.close()


def dumps_hit(hit: SearchHit) -> dict[str, Any]:
    """A hit as JSON-ready values."""
    return {
        "message_id": hit.message_id, "session_id": hit.session_id, "session_name": hit.session_name,
        "seq": hit.seq, "type": hit.type, "thread": hit.thread,
        "timestamp": hit.timestamp.isoformat() if hit.timestamp else None,
        "snippet": hit.snippet, "marks": [list(m) for m in hit.marks], "rank": hit.rank,
    }



# ---- the query -------------------------------------------------------------------------------
# MESSAGE_READ with each column named by its table (the query joins sessions, which has ids too)
_READ = ", ".join(f"messages.{c}" for c in MESSAGE_COLUMNS.split(", ")) + MESSAGE_READ[len(MESSAGE_COLUMNS):]


# How many matches are ranked. bm25 costs about a microsecond per matching document (it reads each
# one's length), so a word in half of a million messages would take half a second to rank; past
# this many matches the newest ones are ranked (documents are numbered in the order they were
# written), which keeps a search in milliseconds at any size. The hits say when this happened.
RANK_WINDOW = 2_000



def filters(session_id: str | None, working_directory: str | None, types: Any, since: Any,
            until: Any) -> tuple[str, list[Any]]:
    """The search's WHERE (over `messages` and its session `s`) and its parameters; bad values raise."""
    where: list[str] = []
    params: list[Any] = []
    if session_id is not None:
        where.append("messages.session_id = ?")
        params.append(check.ident(session_id, "session_id"))
    if working_directory is not None:
        folder = str(check.text(working_directory, "working_directory", required=True)).rstrip("/") or "/"
        where.append("(s.working_directory = ? OR substr(s.working_directory, 1, ?) = ?)")
        params += [folder, len(folder) + 1, folder.rstrip("/") + "/"]
    if types is not None:
        kinds = [types] if isinstance(types, str) else list(types)
        if not kinds or not all(isinstance(k, str) and k for k in kinds):
            raise ValidationError("types must be message types (user, assistant, ...)")
        where.append(f"messages.type IN ({','.join('?' * len(kinds))})")
        params += kinds
    when, at = check.time_range("messages.timestamp", since, until)
    return " AND ".join(where + when) or "1", params + at


def window_sql(filters: str) -> str:
    """The document below the newest RANK_WINDOW matches that pass the filters (no row: rank them all).

    Without filters the index answers alone, walking its newest documents; with them each match
    is joined to its message, so a filter never hides the older matches it selects.
    """
    if filters == "1":
        return "SELECT rowid FROM main.search_index(?) ORDER BY rowid DESC LIMIT 1 OFFSET ?"
    return ("SELECT h.doc FROM (SELECT rowid AS doc FROM main.search_index(?)) AS h "
            "JOIN main.messages AS messages ON messages.search_doc = h.doc "
            f"JOIN sessions AS s ON s.id = messages.session_id WHERE {filters} ORDER BY h.doc DESC LIMIT 1 OFFSET ?")


def _select(index: str, messages: str, filters: str) -> str:
    return (f"SELECT {_READ}, s.name, h.rank FROM (SELECT rowid AS doc, rank FROM {index}(?) WHERE rowid > ?) AS h "
            f"JOIN {messages} AS messages ON messages.search_doc = h.doc "
            f"JOIN sessions AS s ON s.id = messages.session_id WHERE {filters}")


def query_sql(filters: str, *, degraded: bool) -> str:
    """The search SELECT over the file (or, degraded, memory's index then the file's, by the one rule);
    its parameters: (MATCH, lowest document, filters...) for each part, then LIMIT and OFFSET."""
    if not degraded:
        return _select("main.search_index", "main.messages", filters) + " ORDER BY h.rank, messages.id LIMIT ? OFFSET ?"
    # memory's hits; then the file's for messages memory neither wrote nor deleted (a row memory
    # copied from the file and left alone has search_doc -1: the file's index has it)
    file_only = ("messages.id NOT IN (SELECT id FROM mem.messages WHERE search_doc IS NOT -1) "
                 "AND messages.session_id NOT IN (SELECT id FROM mem.deleted_sessions)")
    union = (_select("mem.search_index", "mem.messages", filters) + " UNION ALL " +
             _select("main.search_index", "main.messages", f"{filters} AND {file_only}"))
    return f"SELECT * FROM ({union}) ORDER BY 16, 1 LIMIT ? OFFSET ?"


def hit_from_row(r: Sequence[Any], query_terms: list[list[str]]) -> SearchHit:
    """A hit from a query_sql row: the message's text around its matches."""
    m = message_from_row(r[:14])
    text, marks = snippet(text_of(m.content, m.tool_uses, m.payload), query_terms)
    return SearchHit(message_id=m.id, session_id=m.session_id, session_name=r[14], seq=m.seq, type=m.type,
                     timestamp=m.timestamp, snippet=text, marks=marks, rank=float(r[15]), thread=m.thread)


__all__ = ["SearchHit", "SearchHits", "RANK_WINDOW", "text_of", "indexed", "terms", "match_expression", "snippet"]

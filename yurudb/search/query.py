"""Searching: a person's query as FTS5 syntax, the filters, the SQL, and hits with marked snippets."""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .. import validation as check
from ..backends.sqlite.schema import SEARCH_DDL
from ..errors import ValidationError
from ..tables.rows import MESSAGE_COLUMNS, MESSAGE_READ, READ_WIDTH, message_from_row
from . import fulltext
from .text import _CAMEL, _CAMEL_PARTS, _CJK, _WORD, FILE_INDEXED, _bigrams, text_of

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


def alternatives(tokens: list[str]) -> list[tuple[list[str], bool]]:
    """What one term may match, each a phrase of indexed words and whether its last is a prefix."""
    prefix = tokens[-1].endswith("*")
    if prefix:
        tokens = tokens[:-1] + [tokens[-1][:-1]]
    words: list[str] = []
    for t in tokens:
        words += _bigrams(t)[:-1] if _CJK.fullmatch(t) else [t]
    if len(words) == 1 and len(tokens) == 1 and len(tokens[0]) == 1 and _CJK.match(tokens[0] * 2):
        prefix = True  # one CJK character: the bigrams that start with it
    found = [(words, prefix)]
    if len(tokens) == 1 and _CAMEL.search(tokens[0]):
        # `UserName` finds getUserName too: its parts were indexed beside the whole word
        found.append((_CAMEL_PARTS.findall(tokens[0]), prefix))
    return found


def _term(tokens: list[str]) -> str:
    (words, prefix), *camel = alternatives(tokens)
    quoted = " ".join(f'"{w}"' for w in words) + ("*" if prefix else "")
    phrase = quoted if len(words) == 1 else f"({_phrase(words, prefix)})"
    if camel:
        return f"({phrase} OR {_phrase(camel[0][0], prefix)})"
    return phrase


def pg_expression(query: str) -> str:
    """The PostgreSQL tsquery for a person's query: the same terms as the FTS5 expression ("" for none)."""
    return fulltext.tsquery(terms(query), alternatives)


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


class _Folding(dict[int, str]):
    """str.translate's table for `_fold`: each character's folding, worked out the first time it is met."""

    def __missing__(self, code: int) -> str:
        c = chr(code)
        if c.isascii():
            folded = c.lower()
        else:
            base = unicodedata.normalize("NFD", c)[0].lower()
            folded = base[0] if base else c
        self[code] = folded
        return folded


_FOLDING = _Folding()


def _fold(text: str) -> str:
    """Lower case without accents, one character for one (as the tokenizer folds, for marking)."""
    if text.isascii():  # str.lower keeps ASCII one for one, at C speed (a hit's whole text is folded)
        return text.lower()
    return text.translate(_FOLDING)  # at C speed too, once each character is in the table


def _edge(text: str, at: int) -> bool:
    """A word starts or ends at `at`: punctuation or an end there, or a camelCase step."""
    if at == 0 or at == len(text):
        return True
    before, after = text[at - 1], text[at]
    if not (before.isalnum() and after.isalnum()):
        return True
    # the index's camelCase steps (text._CAMEL): a capital after a lower-case letter or a digit, and
    # the last capital of an acronym before a word (`HTTP|Server`)
    return after.isupper() and (before.islower() or before.isdigit() or (
        before.isupper() and at + 1 < len(text) and text[at + 1].islower()))


def is_syntax_error(exc: BaseException) -> bool:
    """Whether SQLite refused an FTS5 query for its syntax (bad input, not a failure)."""
    text = str(exc)
    return "fts5" in text or "no such column" in text or "unknown special query" in text or "syntax error" in text


def raw_check(expression: str) -> None:
    """ValidationError unless `expression` is FTS5 syntax (checked against an empty table)."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute(SEARCH_DDL)
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
QUALIFIED_READ = _READ  # for other queries that join messages to sessions


# How many matches are ranked. bm25 costs about a microsecond per matching document (it reads each
# one's length), so a word in half of a million messages would take half a second to rank; past
# this many matches the newest ones are ranked (documents are numbered in the order they were
# written), which keeps a search in milliseconds at any size. The hits say when this happened.
RANK_WINDOW = 2_000



# the sessions in which a secret was found (yurudb.secrets)
WITH_SECRETS = ("SELECT m.session_id FROM secret_findings AS f JOIN messages AS m ON m.id = f.message_id UNION "
                "SELECT s.id FROM secret_findings AS f JOIN footprint_files AS ff ON ff.blob_id = f.blob_id "
                "JOIN sessions AS s ON COALESCE(s.claude_session_id, s.id) = ff.session_key")


def filters(session_id: str | None, working_directory: str | None, types: Any, since: Any,
            until: Any, secrets: bool | None = None) -> tuple[str, list[Any]]:
    """The search's WHERE (over `messages` and its session `s`) and its parameters; bad values raise."""
    where: list[str] = []
    params: list[Any] = []
    if secrets is not None:
        where.append(f"messages.session_id {'IN' if check.flag(secrets, 'secrets') else 'NOT IN'} ({WITH_SECRETS})")
    if session_id is not None:
        where.append("messages.session_id = ?")
        params.append(check.ident(session_id, "session_id"))
    if working_directory is not None:
        folder = str(check.text(working_directory, "working_directory", required=True)).rstrip("/") or "/"
        where.append("(s.working_directory = ? OR substr(s.working_directory, 1, ?) = ?)")
        params += [folder, len(folder) + 1, folder.rstrip("/") + "/"]
    if types is not None:
        if not isinstance(types, (str, list, tuple, set, frozenset)):
            raise ValidationError("types must be a message type or a list of them")
        kinds = [types] if isinstance(types, str) else list(types)
        if not kinds or not all(isinstance(k, str) and k for k in kinds):
            raise ValidationError("types must be message types (user, assistant, ...)")
        where.append(f"messages.type IN ({','.join('?' * len(kinds))})")
        params += kinds
    when, at = check.time_range("messages.timestamp", since, until)
    return " AND ".join(where + when) or "1", params + at


def window_sql(filters: str, dialect: str = "sqlite") -> str:
    """The document below the newest RANK_WINDOW matches that pass the filters (no row: rank them all).

    Without filters the index answers alone, walking its newest documents; with them each match
    is joined to its message, so a filter never hides the older matches it selects.
    """
    matches = ("SELECT doc FROM search_index WHERE body @@ CAST(? AS tsquery)" if dialect == "postgresql"
               else "SELECT rowid AS doc FROM main.search_index(?)")
    if filters == "1":
        if dialect != "postgresql":  # FTS5 walks its rowids backwards itself: the table-valued form as it was
            return "SELECT rowid FROM main.search_index(?) ORDER BY rowid DESC LIMIT 1 OFFSET ?"
        # the matches first, from the GIN index (MATERIALIZED: else the LIMIT has the planner walk the
        # newest documents testing each one's vector, 3-15x slower for a common word)
        return f"WITH h AS MATERIALIZED ({matches}) SELECT doc FROM h ORDER BY doc DESC LIMIT 1 OFFSET ?"
    return (f"SELECT h.doc FROM ({matches}) AS h "
            "JOIN main.messages AS messages ON messages.search_doc = h.doc "
            f"JOIN sessions AS s ON s.id = messages.session_id WHERE {filters} ORDER BY h.doc DESC LIMIT 1 OFFSET ?")


_NAME, _RANK = READ_WIDTH, READ_WIDTH + 1  # a hit row: the message's columns, its session's name, its rank


def _select(index: str, messages: str, filters: str) -> str:
    matches = (f"SELECT rowid AS doc, rank FROM {index}(?) WHERE rowid > ?" if index != "tsvector" else
               # ts_rank turned round: lower is better, as bm25's rank is
               "SELECT doc, -ts_rank(body, q) AS rank FROM search_index, CAST(? AS tsquery) AS q "
               "WHERE body @@ q AND doc > ?")
    return (f"SELECT {_READ}, s.name, h.rank FROM ({matches}) AS h "
            f"JOIN {messages} AS messages ON messages.search_doc = h.doc "
            f"JOIN sessions AS s ON s.id = messages.session_id WHERE {filters}")


def query_sql(filters: str, *, degraded: bool, dialect: str = "sqlite") -> str:
    """The search SELECT over the file (or, degraded, memory's index then the file's, by the one rule);
    its parameters: (MATCH, lowest document, filters...) for each part, then LIMIT and OFFSET."""
    if dialect == "postgresql":
        return _select("tsvector", "messages", filters) + " ORDER BY h.rank, messages.id LIMIT ? OFFSET ?"
    if not degraded:
        return _select("main.search_index", "main.messages", filters) + " ORDER BY h.rank, messages.id LIMIT ? OFFSET ?"
    # memory's hits; then the file's for messages memory neither wrote nor deleted (a row memory
    # copied from the file and left alone is FILE_INDEXED: the file's index has it)
    file_only = (f"messages.id NOT IN (SELECT id FROM mem.messages WHERE search_doc IS NOT {FILE_INDEXED}) "
                 "AND messages.session_id NOT IN (SELECT id FROM mem.deleted_sessions)")
    union = (_select("mem.search_index", "mem.messages", filters) + " UNION ALL " +
             _select("main.search_index", "main.messages", f"{filters} AND {file_only}"))
    return f"SELECT * FROM ({union}) ORDER BY {_RANK + 1}, 1 LIMIT ? OFFSET ?"  # the rank, then the message id


def hit_from_row(r: Sequence[Any], query_terms: list[list[str]], redact: bool = False) -> SearchHit:
    """A hit from a query_sql row: the message's text around its matches (its secrets redacted first, if asked)."""
    m = message_from_row(r[:READ_WIDTH])
    whole, name = text_of(m.content, m.tool_uses, m.payload), r[_NAME]
    if redact:  # the name too: a session is often named by its first prompt
        from ..secrets import redact as redacted

        whole, name = redacted(whole), redacted(name)
    text, marks = snippet(whole, query_terms)
    return SearchHit(message_id=m.id, session_id=m.session_id, session_name=name, seq=m.seq, type=m.type,
                     timestamp=m.timestamp, snippet=text, marks=marks, rank=float(r[_RANK]), thread=m.thread)



"""SQLite's dialect, as yurudb writes it, said again in PostgreSQL's: one rewrite per statement text, cached.

The store, the archive and the search write their SQL once, in SQLite's dialect. What PostgreSQL
spells differently is rewritten here, each rule a construct yurudb uses (nothing general):

- `?` placeholders become PostgreSQL's own `$1`, `$2`, ... (psycopg's raw cursors send them as they
  are: no client-side parse of the query, which cost more than the server's work for a large insert);
- `INSERT OR IGNORE INTO ...` becomes `INSERT INTO ... ON CONFLICT DO NOTHING`;
- `x IS NOT ?` / `x IS ?` become `IS DISTINCT FROM` / `IS NOT DISTINCT FROM`;
- scalar `MIN(a, b)` / `MAX(a, b)` become `LEAST` / `GREATEST`;
- `? IS NULL` tests a parameter PostgreSQL cannot type: `CAST(? AS text) IS NULL`;
- `json_each(?)` (a JSON array of keys) becomes `json_array_elements_text(?::json)` (its column is
  `value` in both);
- `main.` and `1` as a WHERE of its own (a filter that selects everything) are SQLite's;
- `LIMIT -1` (SQLite's "no limit") is `LIMIT NULL`: `Statement.params` turns a -1 bound to a LIMIT
  into None.

SQLite's functions that PostgreSQL lacks (`instr`, `json_extract`, `strftime` as yurudb calls
them) are SQL functions that revision 0013 creates on PostgreSQL, so no rewrite is needed for them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

from .engine import MARK, escape

# quoted text is never rewritten: a '?' inside a string literal is the literal's own
_LITERAL = re.compile(r"'(?:[^']|'')*'")
_OR_IGNORE = re.compile(r"\bINSERT OR IGNORE INTO\b", re.IGNORECASE)
_IS_NOT_PARAM = re.compile(r"\bIS NOT \?")
_IS_PARAM = re.compile(r"\bIS \?")
# MIN/MAX with two arguments at the top level of their parentheses (the aggregate has one)
_MINMAX = re.compile(r"\b(MIN|MAX)\(", re.IGNORECASE)
_JSON_EACH = re.compile(r"\bjson_each\(\?\)")
_PARAM_NULL_TEST = re.compile(r"\?( IS (?:NOT )?NULL)")
_MAIN = re.compile(r"\bmain\.")
_WHERE_ONE = re.compile(r"\bWHERE 1\b(?!\s*[=<>!])")


_LIMIT_PARAM = re.compile(r"\bLIMIT \?")
_RETURNS = re.compile(r"\s*(SELECT|WITH|VALUES|SHOW|EXPLAIN)\b", re.IGNORECASE)
_MARK = "\x00"  # a placeholder while the text is rewritten, numbered at the end


class Statement:
    """A statement in PostgreSQL's text, which of its parameters are LIMITs, and whether it returns rows."""

    __slots__ = ("limits", "rows", "sql")

    def __init__(self, sql: str, limits: tuple[int, ...]) -> None:
        self.sql, self.limits = sql, limits
        # a write without RETURNING answers nothing: inside a transaction it is sent without waiting
        # (the writer's pipeline), its errors raised at the next read or at COMMIT
        self.rows = bool(_RETURNS.match(sql)) or " RETURNING " in sql.upper()

    def params(self, params: Sequence[Any]) -> Sequence[Any]:
        """The parameters as PostgreSQL takes them: a string it cannot hold mapped (engine.escape), a
        LIMIT of -1 as no limit (NULL). Here, not in a psycopg dumper: a Python dumper for every string
        cost a batch of 100 messages 3 ms; this loop is already Python's, and most strings pass as they are."""
        out: list[Any] | None = None
        for i, value in enumerate(params):
            if value.__class__ is str and ("\x00" in value or "\\u" in value or MARK in value):
                if out is None:
                    out = list(params)
                out[i] = escape(value)
        if not self.limits:
            return params if out is None else out
        out = list(params) if out is None else out
        for i in self.limits:
            if i < len(out) and out[i] == -1:
                out[i] = None
        return out


@functools.lru_cache(maxsize=4096)
def statement(sql: str) -> Statement:
    """A statement yurudb wrote in SQLite's dialect, made PostgreSQL's (cached: the texts are few)."""
    limits = []
    if "LIMIT ?" in sql:
        marks = [m.start() for m in re.finditer(r"\?", _LITERAL.sub(lambda m: " " * len(m.group(0)), sql))]
        limits = [marks.index(m.end() - 1) for m in _LIMIT_PARAM.finditer(sql) if m.end() - 1 in marks]
    return Statement(translate(sql), tuple(limits))


def translate(sql: str) -> str:
    """The PostgreSQL text of a statement yurudb wrote in SQLite's dialect."""
    out: list[str] = []
    at = 0
    for m in _LITERAL.finditer(sql):
        out.append(_code(sql[at:m.start()]))
        out.append(m.group(0))
        at = m.end()
    out.append(_code(sql[at:]))
    text = "".join(out)
    if _OR_IGNORE.search(text):
        text = _OR_IGNORE.sub("INSERT INTO", text) + " ON CONFLICT DO NOTHING"
    return _numbered(_scalar_minmax(text))


def _numbered(text: str, first: int = 1) -> str:
    """Each placeholder mark as $1, $2, ... in order."""
    parts = text.split(_MARK)
    return "".join(p + (f"${first + i}" if i < len(parts) - 1 else "") for i, p in enumerate(parts))


def _code(part: str) -> str:
    part = _JSON_EACH.sub("json_array_elements_text(?::json)", part)
    part = _PARAM_NULL_TEST.sub(r"CAST(? AS text)\1", part)  # a bare parameter has no type to test
    part = _IS_NOT_PARAM.sub("IS DISTINCT FROM ?", part)
    part = _IS_PARAM.sub("IS NOT DISTINCT FROM ?", part)
    part = _MAIN.sub("", part)
    part = _WHERE_ONE.sub("WHERE TRUE", part)
    return part.replace("?", _MARK)


def _scalar_minmax(text: str) -> str:
    """MIN(a, b) -> LEAST(a, b), MAX(a, b) -> GREATEST(a, b); the one-argument aggregates stay."""
    pieces: list[str] = []
    at = 0
    for m in _MINMAX.finditer(text):
        depth, i, comma = 1, m.end(), False
        while i < len(text) and depth:
            c = text[i]
            if c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
            elif c == "," and depth == 1:
                comma = True
            i += 1
        if comma:
            pieces.append(text[at:m.start()])
            pieces.append("LEAST(" if m.group(1).upper() == "MIN" else "GREATEST(")
            at = m.end()
    pieces.append(text[at:])
    return "".join(pieces)


class MultiRow:
    """An `INSERT ... VALUES (...)` said for many rows at once: one statement, one round trip."""

    __slots__ = ("_texts", "group", "head", "keys", "tail")

    def __init__(self, head: str, group: str, tail: str, keys: tuple[int, ...] | None) -> None:
        # keys: the conflict target's parameter positions when it updates (None: nothing to update)
        self.head, self.group, self.tail, self.keys = head, group, tail, keys
        self._texts: dict[int, str] = {}  # by row count: a batch's sizes recur

    def sql(self, rows: int) -> str:
        """The statement for this many rows (each row's placeholders numbered on from the last's)."""
        text = self._texts.get(rows)
        if text is None:
            width = self.group.count(_MARK)
            text = self.head + ",".join(_numbered(self.group, 1 + r * width) for r in range(rows)) + self.tail
            if len(self._texts) < 256:
                self._texts[rows] = text
        return text

    def clashes(self, rows: Sequence[Sequence[Any]]) -> bool:
        """Whether two rows meet on the conflict target (DO UPDATE cannot touch one row twice in a statement)."""
        if self.keys is None:
            return False
        seen = {tuple(r[i] for i in self.keys) for r in rows}
        return len(seen) < len(rows)


_INSERT = re.compile(r"^INSERT INTO \w+ \(([^)]*)\) VALUES \(")
_TARGET = re.compile(r"ON CONFLICT ?\(([^)]*)\) DO UPDATE")
_PLACEHOLDER = re.compile(r"\$\d+")


@functools.lru_cache(maxsize=1024)
def multirow(sql: str) -> MultiRow | None:
    """The many-rows form of a translated single-row INSERT (None: not one, or a conflict target not read)."""
    m = _INSERT.match(sql)
    if m is None:
        return None
    depth, i = 1, m.end()
    while i < len(sql) and depth:
        depth += {"(": 1, ")": -1}.get(sql[i], 0)
        i += 1
    head, group, tail = sql[:m.end() - 1], sql[m.end() - 1:i], sql[i:]
    if _PLACEHOLDER.search(head) or _PLACEHOLDER.search(tail):
        return None  # parameters outside the row (a WHERE): not one row's statement
    group = _PLACEHOLDER.sub(_MARK, group)
    if "DO UPDATE" not in tail:
        return MultiRow(head, group, tail, None)
    target = _TARGET.search(tail)
    columns = [c.strip() for c in m.group(1).split(",")]
    if target is None or group.count(_MARK) != len(columns):
        return None
    wanted = [c.strip() for c in target.group(1).split(",")]
    if not all(c in columns for c in wanted):
        return None
    return MultiRow(head, group, tail, tuple(columns.index(c) for c in wanted))

"""SQLite's dialect, as yurudb writes it, said again in PostgreSQL's: one rewrite per statement text, cached.

The store, the archive and the search write their SQL once, in SQLite's dialect. What PostgreSQL
spells differently is rewritten here, each rule a construct yurudb uses (nothing general):

- `?` placeholders become `%s` (psycopg), and a literal `%` becomes `%%`;
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

# quoted text is never rewritten: a '?' or '%' inside a string literal is the literal's own
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


class Statement:
    """A statement in PostgreSQL's text, and which of its parameters are LIMITs."""

    __slots__ = ("sql", "limits")

    def __init__(self, sql: str, limits: tuple[int, ...]) -> None:
        self.sql, self.limits = sql, limits

    def params(self, params: Sequence[Any]) -> Sequence[Any]:
        """The parameters as PostgreSQL takes them (a LIMIT of -1 is no limit: NULL)."""
        if not self.limits:
            return params
        out = list(params)
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
        out.append(m.group(0).replace("%", "%%"))
        at = m.end()
    out.append(_code(sql[at:]))
    text = "".join(out)
    if _OR_IGNORE.search(text):
        text = _OR_IGNORE.sub("INSERT INTO", text) + " ON CONFLICT DO NOTHING"
    return _scalar_minmax(text)


def _code(part: str) -> str:
    part = part.replace("%", "%%")
    part = _JSON_EACH.sub("json_array_elements_text(?::json)", part)
    part = _PARAM_NULL_TEST.sub(r"CAST(? AS text)\1", part)  # a bare parameter has no type to test
    part = _IS_NOT_PARAM.sub("IS DISTINCT FROM ?", part)
    part = _IS_PARAM.sub("IS NOT DISTINCT FROM ?", part)
    part = _MAIN.sub("", part)
    part = _WHERE_ONE.sub("WHERE TRUE", part)
    return part.replace("?", "%s")


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

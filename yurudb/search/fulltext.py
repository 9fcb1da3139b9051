"""The full-text index's statements, per engine: FTS5 on SQLite, a `tsvector` table on PostgreSQL.

`search/index.py` keeps the index exact and `search/query.py` reads it through the object
`engine(tx_or_dialect)` returns; only here do the two engines differ.

On PostgreSQL the index is `search_index (doc, body tsvector)` with a GIN index. Its vectors are
built here, not by `to_tsvector`: the words are the query side's words (`text._WORD`, folded as
FTS5's unicode61 folds case and accents, `query._fold`), at their positions, so the same query
finds the same messages on both engines, phrases and `prefix*` included. Where PostgreSQL's limits
make it differ (256 positions a word, 16,383 the highest position, 2 KiB a word, 1 MB a vector),
docs/postgres.md says so; a vector cut to fit is logged, never dropped.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence
from typing import Any

from .text import _WORD

log = logging.getLogger(__name__)


class FTS5:
    """SQLite's contentless FTS5 table: a document is forgotten by being told its text again."""

    name = "sqlite"
    TOP = "(SELECT MAX(id) FROM search_index_docsize)"  # `top` as a scalar subquery, to ask beside others

    @classmethod
    def top(cls, tx: Any) -> int:
        """The highest document number the index has held (ids only grow)."""
        return int(tx.execute(f"SELECT {cls.TOP}")[0][0] or 0)

    @staticmethod
    def insert(tx: Any, docs: Sequence[tuple[int, str]], vectors: dict[int, str] | None = None) -> None:
        """Index (document, indexed text) pairs."""
        tx.executemany("INSERT INTO search_index (rowid, body) VALUES (?, ?)", docs)

    @staticmethod
    def delete(tx: Any, docs: Sequence[tuple[int, str]]) -> None:
        """Forget documents, given the text each was indexed with."""
        tx.executemany("INSERT INTO search_index (search_index, rowid, body) VALUES ('delete', ?, ?)", docs)

    @staticmethod
    def clear(tx: Any) -> None:
        """Empty the index."""
        tx.execute("INSERT INTO search_index (search_index) VALUES ('delete-all')")

    DOCS = "SELECT id FROM search_index_docsize"  # every document the index holds


class TsVector:
    """PostgreSQL's `search_index (doc bigint, body tsvector)` with a GIN index."""

    name = "postgresql"
    TOP = "(SELECT MAX(doc) FROM search_index)"

    @classmethod
    def top(cls, tx: Any) -> int:
        """The highest document number the index holds."""
        return int(tx.execute(f"SELECT {cls.TOP}")[0][0] or 0)

    @staticmethod
    def insert(tx: Any, docs: Sequence[tuple[int, str]], vectors: dict[int, str] | None = None) -> None:
        """Index (document, indexed text) pairs as vectors of their words (`vectors`: those built already)."""
        ready = vectors or {}
        tx.executemany("INSERT INTO search_index (doc, body) VALUES (?, CAST(? AS tsvector))",
                       [(doc, ready.get(doc) or vector(body, doc)) for doc, body in docs])

    @staticmethod
    def delete(tx: Any, docs: Sequence[tuple[int, str]]) -> None:
        """Forget documents (by number: the vector is stored)."""
        tx.executemany("DELETE FROM search_index WHERE doc = ?", [(doc,) for doc, _ in docs])

    @staticmethod
    def clear(tx: Any) -> None:
        """Empty the index."""
        tx.execute("DELETE FROM search_index")

    DOCS = "SELECT doc FROM search_index"


def engine(where: Any) -> type[FTS5 | TsVector]:
    """The index statements of a Tx (or of a dialect's name)."""
    dialect = where if isinstance(where, str) else getattr(where, "dialect", "sqlite")
    return TsVector if dialect == "postgresql" else FTS5


# ---- PostgreSQL's vectors and queries --------------------------------------------------------
_MAX_POS = 16_383  # PostgreSQL's highest position; later words are kept at it
_MAX_POSITIONS = 256  # positions PostgreSQL keeps of one word
_MAX_WORD = 2_046  # bytes of one word (PostgreSQL's limit is 2 KiB)
_MAX_VECTOR = 1_000_000  # bytes of one vector (PostgreSQL's limit is 1 MiB)


def fold(word: str) -> str:
    """Lower case without accents, as FTS5's unicode61 (remove_diacritics 2) folds a word."""
    if word.isascii():
        return word.lower()
    return "".join(c for c in unicodedata.normalize("NFD", word.lower()) if not unicodedata.combining(c))


def _quote(word: str) -> str:
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


def vector(body: str, doc: int | None = None) -> str:
    """A tsvector literal of the text's words at their positions (counted from 1, as FTS5 counts).

    The text is folded once, then split: a word is letters and digits only, so no quoting is needed.
    """
    words = _WORD.findall(fold(body))
    positions: dict[str, list[int]] = {}
    for at, word in enumerate(words, start=1):
        seen = positions.get(word)
        if seen is None:
            positions[word] = [at]
        elif len(seen) < _MAX_POSITIONS:
            seen.append(at)
    if len(words) > _MAX_POS:  # later words all sit at the highest position
        positions = {w: sorted({min(a, _MAX_POS) for a in p}) for w, p in positions.items()}
    if positions and len(max(positions, key=len)) > _MAX_WORD // 3:  # rare: checked word by word only then
        for w in [w for w in positions if len(w.encode()) > _MAX_WORD]:
            # a word PostgreSQL cannot take whole is kept by its first 2 KiB
            cut = w.encode()[:_MAX_WORD].decode(errors="ignore")
            positions[cut] = sorted(set(positions.get(cut, [])) | set(positions.pop(w)))[:_MAX_POSITIONS]
    # what the vector takes, at most (a word's bytes, its header, two bytes a position): exact only when near
    if 4 * len(body) + 10 * len(words) > _MAX_VECTOR and \
            sum(len(w.encode()) + 8 + 2 * len(p) for w, p in positions.items()) > _MAX_VECTOR:
        # every word stays findable; phrases beyond each word's first place are what is given up
        log.warning("search: document %s has %d distinct words; PostgreSQL keeps only the first place of each",
                    doc, len(positions))
        positions = {w: p[:1] for w, p in positions.items()}
    return " ".join([f"'{w}':{p[0]}" if len(p) == 1 else f"'{w}':{','.join(map(str, p))}"
                     for w, p in positions.items()])


def tsquery(query_terms: list[list[str]], term: Any) -> str:
    """The tsquery of a query's terms (`term(tokens)` gives each term's alternatives, as FTS5's is built)."""
    parts = []
    for tokens in query_terms:
        alternatives = term(tokens)
        parts.append("(" + " | ".join(_phrase(words, prefix) for words, prefix in alternatives) + ")")
    return " & ".join(parts)


def _cut(word: str) -> str:
    """A word as the vectors keep it: at most 2 KiB (its first bytes)."""
    if len(word) <= _MAX_WORD // 3 or len(word.encode()) <= _MAX_WORD:
        return word
    return word.encode()[:_MAX_WORD].decode(errors="ignore")


def _phrase(words: list[str], prefix: bool) -> str:
    lexemes = [_quote(_cut(fold(w))) for w in words]
    if prefix:
        lexemes[-1] += ":*"
    return lexemes[0] if len(lexemes) == 1 else "(" + " <-> ".join(lexemes) + ")"

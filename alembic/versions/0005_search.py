"""full-text search: an FTS5 index over what each message says, and each message's document in it

Revision ID: 0005_search
Revises: 0004_archive
Create Date: 2026-11-24

`search_index` is a contentless FTS5 table (the text stays where it is: the message's columns, or a
synced line's compressed bytes); `messages.search_doc` is the message's document in it (NULL: not
indexed, nothing to search). The upgrade indexes every message already held (yurudb.search.backfill,
with progress reported to the `progress` callable that `migrations.run` was given); the downgrade drops
the index and the column, which hold nothing that is not derived from the messages.
"""
from typing import Sequence, Union

import sqlalchemy as sa

from alembic import op

revision: str = "0005_search"
down_revision: Union[str, None] = "0004_archive"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL's schema is laid whole by 0013_postgresql
    from yurudb.search import index as search

    with op.batch_alter_table("messages", recreate="never") as batch:
        batch.add_column(sa.Column("search_doc", sa.Integer(), nullable=True))
    op.create_index("idx_messages_search_doc", "messages", ["search_doc"])
    from yurudb.backends.sqlite.schema import SEARCH_DDL

    op.execute(SEARCH_DDL)
    # this revision's archive kept each line on a row of its own, compressed alone (0007 changed it)
    line = ("(SELECT raw FROM transcript_lines AS t WHERE messages.payload IS NULL "
            "AND t.file_id = messages.file_id AND t.line = messages.line)")
    progress = op.get_context().config.attributes.get("progress")  # migrations.run(progress=...)
    search.backfill(_Bind(op.get_bind()), progress, lines=(line, _decoded))


def _decoded(_tx: object, rows: list, at: int) -> list:
    """Rows with column `at` (a line's compressed bytes) decoded."""
    from yurudb.lines import codec

    return [(*r[:at], codec.decode(r[at]), *r[at + 1:]) if r[at] is not None else r for r in rows]


class _Bind:
    """The revision's connection with the two calls the backfill makes (same transaction)."""

    def __init__(self, bind: sa.Connection) -> None:
        self.bind = bind

    def execute(self, sql: str, params: Sequence = ()) -> list:
        result = self.bind.exec_driver_sql(sql, tuple(params))
        return list(result.fetchall()) if result.returns_rows else []

    def executemany(self, sql: str, rows: Sequence[Sequence]) -> None:
        if rows:
            self.bind.exec_driver_sql(sql, [tuple(r) for r in rows])


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # below 0013 a PostgreSQL database is empty
    op.execute("DROP TABLE IF EXISTS search_index")
    op.drop_index("idx_messages_search_doc", "messages")
    with op.batch_alter_table("messages", recreate="never") as batch:
        batch.drop_column("search_doc")

"""the archive's file cursors also check the bytes just before where reading resumes (`tail_sha256`)

Revision ID: 0008_cursor_tail
Revises: 0007_line_runs
Create Date: 2026-11-24

A cursor checked a file's first 4 KiB to find a rewrite. A file edited in place further on (lines
replaced from past its first 4 KiB, then more written) was read on from the old byte offset: the
lines the edit wrote before that offset were never archived, and an offset that fell inside a line
made the line's tail an archived line of its own (found by tests/test_sync_histories.py). The
cursor now also keeps the hash of the last 4 KiB before its offset; a file whose bytes there
changed is read again from its start, which keeps the earlier copy's lines.

The upgrade works each existing cursor's tail out from the lines the archive holds (they are the
bytes the cursor consumed), so the check holds from the first sync after it; a file whose last
lines the archive does not hold whole (a damaged page took some) is left without one.
"""
import hashlib
from typing import Sequence, Union

import sqlalchemy as sa

from alembic import op

revision: str = "0008_cursor_tail"
down_revision: Union[str, None] = "0007_line_runs"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TAIL_BYTES = 4096  # yurudb.claude.sync.PREFIX_BYTES when this revision was written


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL's schema is laid whole by 0013_postgresql
    from yurudb.lines import codec

    op.add_column("transcript_files", sa.Column("tail_sha256", sa.Text(), nullable=True))
    conn = op.get_bind()
    for dict_id, data in conn.exec_driver_sql("SELECT id, data FROM archive_dicts").fetchall():
        codec.register(dict_id, data)
    files = conn.exec_driver_sql("SELECT id, lines, consumed FROM transcript_files WHERE consumed > 0").fetchall()
    for file_id, count, consumed in files:
        tail = b""
        expected = count  # the line the next run back must end at
        runs = conn.exec_driver_sql("SELECT first_line, lines, raw FROM transcript_blocks WHERE file_id = ? "
                                    "ORDER BY first_line DESC", (file_id,))
        for first, n, raw in runs:
            if first + n - 1 != expected:
                break  # a gap: not the bytes the cursor consumed
            try:
                tail = b"".join(line + b"\n" for line in codec.unpack(raw)) + tail
            except (codec.Damaged, codec.UnknownDictionary):
                break  # nor are damaged bytes
            expected = first - 1
            if len(tail) >= TAIL_BYTES:
                break
        whole = expected == 0 and len(tail) == consumed
        if len(tail) >= TAIL_BYTES or whole:
            conn.exec_driver_sql("UPDATE transcript_files SET tail_sha256 = ? WHERE id = ?",
                                 (hashlib.sha256(tail[-min(consumed, TAIL_BYTES):]).hexdigest(), file_id))


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # below 0013 a PostgreSQL database is empty
    with op.batch_alter_table("transcript_files", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("tail_sha256")

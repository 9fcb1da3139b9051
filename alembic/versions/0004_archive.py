"""the Claude Code archive: transcript files with their sync cursors, every line byte-exact, and
each message's file, line and thread

Revision ID: 0004_archive
Revises: 0003_cache_split
Create Date: 2026-11-24

`transcript_lines.raw` holds each line's exact bytes, zstd-compressed (with a dictionary from
`archive_dicts` once one is trained), so a transcript can be rebuilt byte for byte after Claude
Code deleted it. A synced line's message keeps `payload` NULL: the payload is read from its raw
line, so the JSON is stored once. Existing rows are untouched: their new columns are NULL.
"""
from typing import Sequence, Union

import sqlalchemy as sa

from alembic import op

revision: str = "0004_archive"
down_revision: Union[str, None] = "0003_cache_split"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL's schema is laid whole by 0013_postgresql
    op.create_table(
        "transcript_files",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("root", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("session_id", sa.Text(), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=True),
        sa.Column("thread", sa.Text(), nullable=True),
        sa.Column("device", sa.Integer(), nullable=True),
        sa.Column("inode", sa.Integer(), nullable=True),
        sa.Column("size", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("mtime_ns", sa.Integer(), nullable=True),
        sa.Column("consumed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("lines", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("prefix_sha256", sa.Text(), nullable=True),
        sa.Column("synced_at", sa.TIMESTAMP(), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=True),
        sa.Column("gone_at", sa.TIMESTAMP(), nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index("idx_transcript_files_path", "transcript_files", ["root", "path"], unique=True)
    op.create_index("idx_transcript_files_session", "transcript_files", ["session_id"])
    op.create_table(
        "transcript_lines",
        sa.Column("id", sa.Integer(), primary_key=True),  # the rowid itself: costs nothing
        sa.Column("file_id", sa.Integer(), sa.ForeignKey("transcript_files.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=True),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
    )
    # a rowid table with a unique index, not WITHOUT ROWID: salvage reads damaged tables by rowid
    op.create_index("idx_transcript_lines", "transcript_lines", ["file_id", "line"], unique=True)
    op.create_table(
        "archive_dicts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("thread", sa.Text(), nullable=True))
        batch.add_column(sa.Column("file_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("line", sa.Integer(), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # below 0013 a PostgreSQL database is empty
    # A synced message's payload lives in its raw line: write it back before the lines go.
    bind = op.get_bind()
    if bind.exec_driver_sql("SELECT 1 FROM messages WHERE payload IS NULL AND file_id IS NOT NULL LIMIT 1").first():
        raise RuntimeError("this database holds synced transcript lines; downgrading past 0004 would lose them "
                           "(export them first: yurudb export SESSION --format jsonl)")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("line")
        batch.drop_column("file_id")
        batch.drop_column("thread")
    op.drop_table("archive_dicts")
    op.drop_index("idx_transcript_lines", table_name="transcript_lines")
    op.drop_table("transcript_lines")
    op.drop_index("idx_transcript_files_session", table_name="transcript_files")
    op.drop_index("idx_transcript_files_path", table_name="transcript_files")
    op.drop_table("transcript_files")

"""the whole footprint: every file Claude Code keeps beside its transcripts, byte-exact and deduplicated

Revision ID: 0011_footprint
Revises: 0010_whole_text
Create Date: 2026-12-03

Claude Code keeps more about a session than its JSONL: large tool outputs in
`<session>/tool-results/`, subagent sidecars, workflows, a project's `memory/MEMORY.md`, its
`sessions-index.json`, and `history.jsonl` beside the projects folder. `footprint_files` is one row
per copy of such a file (its path under its root, its stat, the session folder it lies in); the
bytes live once per content in `footprint_blobs` (zstd), however many copies share them. Nothing
existing changes; the downgrade refuses while the tables hold files (they would be lost).
"""
from typing import Sequence, Union

import sqlalchemy as sa

from alembic import op

revision: str = "0011_footprint"
down_revision: Union[str, None] = "0010_whole_text"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL's schema is laid whole by 0013_postgresql
    op.create_table(
        "footprint_blobs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_index("idx_footprint_blobs_sha", "footprint_blobs", ["sha256"], unique=True)
    op.create_table(
        "footprint_files",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("root", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("session_key", sa.Text(), nullable=True),
        sa.Column("blob_id", sa.Integer(), sa.ForeignKey("footprint_blobs.id"), nullable=False),
        sa.Column("size", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("mtime_ns", sa.Integer(), nullable=True),
        sa.Column("device", sa.Integer(), nullable=True),
        sa.Column("inode", sa.Integer(), nullable=True),
        sa.Column("synced_at", sa.TIMESTAMP(), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=True),
        sa.Column("gone_at", sa.TIMESTAMP(), nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index("idx_footprint_files_path", "footprint_files", ["root", "path"], unique=True)
    op.create_index("idx_footprint_files_session", "footprint_files", ["session_key"])
    op.create_index("idx_footprint_files_blob", "footprint_files", ["blob_id"])


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # below 0013 a PostgreSQL database is empty
    bind = op.get_bind()
    if bind.exec_driver_sql("SELECT 1 FROM footprint_files LIMIT 1").first():
        raise RuntimeError("this database holds archived Claude Code files beside the transcripts (tool outputs, "
                           "memory, history); downgrading past 0011 would lose them "
                           "(export them first: yurudb export SESSION --format jsonl)")
    op.drop_index("idx_footprint_files_blob", table_name="footprint_files")
    op.drop_index("idx_footprint_files_session", table_name="footprint_files")
    op.drop_index("idx_footprint_files_path", table_name="footprint_files")
    op.drop_table("footprint_files")
    op.drop_index("idx_footprint_blobs_sha", table_name="footprint_blobs")
    op.drop_table("footprint_blobs")

"""indexes for the lookups a sync makes per file: a session by its Claude id, a file by its path

Revision ID: 0009_lookup_indexes
Revises: 0008_cursor_tail
Create Date: 2026-11-24

A first sync of a history of many small files (5,000 transcripts of 30 lines, 60 MB) took 5.5 s: for
each new file it found its session by `claude_session_id` and the file's copies under other roots
by `path`, and neither had an index, so each was a scan of every session or every file so far
(py-spy: 0.8 s and 1.6 s of the writer's time). `idx_sessions_claude` (partial: an app's sessions
have no Claude id) and `idx_transcript_files_name` make them lookups.
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0009_lookup_indexes"
down_revision: Union[str, None] = "0008_cursor_tail"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL's schema is laid whole by 0013_postgresql
    op.execute("CREATE INDEX idx_sessions_claude ON sessions (claude_session_id) WHERE claude_session_id IS NOT NULL")
    op.execute("CREATE INDEX idx_transcript_files_name ON transcript_files (path)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # below 0013 a PostgreSQL database is empty
    op.execute("DROP INDEX idx_transcript_files_name")
    op.execute("DROP INDEX idx_sessions_claude")

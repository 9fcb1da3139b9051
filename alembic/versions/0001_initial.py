"""initial schema: sessions, messages, analytics

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-24
"""
from typing import Sequence, Union

import sqlalchemy as sa

from alembic import op

revision: str = "0001_initial"
down_revision: Union[str, None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL's schema is laid whole by 0013_postgresql
    op.create_table(
        "sessions",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=True),
        sa.Column("working_directory", sa.Text(), nullable=True),
        sa.Column("claude_session_id", sa.Text(), nullable=True),
        sa.Column("claude_title", sa.Text(), nullable=True),
        sa.Column("user_renamed", sa.Boolean(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.Integer(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=True),
    )
    op.create_index("idx_sessions_updated", "sessions", ["updated_at"])

    op.create_table(
        "messages",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("session_id", sa.Text(), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=True),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("tool_uses", sa.JSON(), nullable=True),
        sa.Column("usage", sa.JSON(), nullable=True),
        sa.Column("timestamp", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
    )
    op.create_index("idx_messages_session", "messages", ["session_id", "seq"], unique=True)

    op.create_table(
        "analytics",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.Text(), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=True),
        sa.Column("tokens_input", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("tokens_output", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("tokens_cache", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("cost_usd", sa.REAL(), server_default=sa.text("0"), nullable=False),
        sa.Column("model", sa.Text(), nullable=True),
        sa.Column("timestamp", sa.Integer(), nullable=True),
        sa.Column("source_id", sa.Text(), nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index("idx_analytics_session", "analytics", ["session_id", "source_id"], unique=True)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # below 0013 a PostgreSQL database is empty
    op.drop_index("idx_analytics_session", table_name="analytics")
    op.drop_table("analytics")
    op.drop_index("idx_messages_session", table_name="messages")
    op.drop_table("messages")
    op.drop_index("idx_sessions_updated", table_name="sessions")
    op.drop_table("sessions")
    # The file yurudb emptied stays marked as yurudb's (its application_id, 0002's), so that
    # `yurudb migrate upgrade` can bring it back to head: with no mark and no tables but Alembic's,
    # it would look like another program's database, which yurudb never touches.
    op.execute(f"PRAGMA application_id = {0x79757275}")

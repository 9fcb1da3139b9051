"""secrets: the secrets each message's text holds (kind and a redacted preview, never the value)

Revision ID: 0012_secrets
Revises: 0011_footprint
Create Date: 2026-12-03

Transcripts hold secrets (an `env` output, a pasted token, a key a tool read). `secret_findings` is
one row per secret the rules of `yurudb.secrets` see in a message's indexed text or in a file kept
beside the transcripts (a saved tool output: by its content, `blob_id`), so that `yurudb
secrets scan` lists them and search can leave such sessions out. A sync's workers find a line's
secrets as they prepare it; a message the app saves is queued in `secret_scans` by the transaction
that indexes it and scanned by the store in the background (a save never waits for the scan). The upgrade scans every message already indexed, with progress; the downgrade drops
the table (it holds nothing that is not derived from the messages).
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa

from alembic import op

revision: str = "0012_secrets"
down_revision: Union[str, None] = "0011_footprint"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL's schema is laid whole by 0013_postgresql
    op.create_table(
        "secret_findings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("message_id", sa.Text(), sa.ForeignKey("messages.id", ondelete="CASCADE"), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("preview", sa.Text(), nullable=False),
        sa.Column("blob_id", sa.Integer(), sa.ForeignKey("footprint_blobs.id", ondelete="CASCADE"), nullable=True),
    )
    op.create_index("idx_secret_findings_message", "secret_findings", ["message_id"])
    op.create_index("idx_secret_findings_blob", "secret_findings", ["blob_id"], sqlite_where=sa.text("blob_id IS NOT NULL"))
    op.create_table(
        "secret_scans",
        sa.Column("message_id", sa.Text(), sa.ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_table(
        "secret_blob_scans",
        sa.Column("blob_id", sa.Integer(), sa.ForeignKey("footprint_blobs.id", ondelete="CASCADE"), primary_key=True,
                  autoincrement=False),
    )
    from yurudb.backends.sqlite.transaction import DriverTx
    from yurudb.search import index as search

    # the revision's own sqlite3 connection, inside its transaction (what every write's Tx wraps)
    tx = DriverTx(op.get_bind().connection.dbapi_connection)
    search.scan_secrets(tx, op.get_context().config.attributes.get("progress"))
    from yurudb.secrets import found

    tx.execute("INSERT INTO secret_blob_scans (blob_id) SELECT id FROM footprint_blobs")
    found.scan_blobs(tx)  # and every file kept beside the transcripts (each content once)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # below 0013 a PostgreSQL database is empty
    op.drop_table("secret_blob_scans")
    op.drop_table("secret_scans")
    op.drop_index("idx_secret_findings_blob", table_name="secret_findings")
    op.drop_index("idx_secret_findings_message", table_name="secret_findings")
    op.drop_table("secret_findings")

"""analytics.tokens_cache_write and tokens_cache_read beside the spec's tokens_cache

Revision ID: 0003_cache_split
Revises: 0002_timestamps
Create Date: 2026-11-24

Cache writes and reads cost very differently (a write 1.25x or 2x the input price by its TTL, a
read 0.1x), so a usage row keeps them apart. Rows written before this revision hold only their
sum: their split is unknown and stays NULL, never a guessed 0.
"""
from typing import Sequence, Union

import sqlalchemy as sa

from alembic import op

revision: str = "0003_cache_split"
down_revision: Union[str, None] = "0002_timestamps"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL's schema is laid whole by 0013_postgresql
    # ADD COLUMN (no table rebuild): a nullable column with no default is one schema change.
    op.add_column("analytics", sa.Column("tokens_cache_write", sa.Integer(), nullable=True))
    op.add_column("analytics", sa.Column("tokens_cache_read", sa.Integer(), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # below 0013 a PostgreSQL database is empty
    with op.batch_alter_table("analytics", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("tokens_cache_read")
        batch.drop_column("tokens_cache_write")

"""machines: the machine each archived file was read on (both engines)

Revision ID: 0014_machines
Revises: 0013_postgresql
Create Date: 2026-12-04

A database several machines sync into (PostgreSQL, or a SQLite archive pushed and pulled) kept
files apart by their absolute projects folder only, so two machines with the same home and
project paths would have shared one file row and one cursor. `transcript_files.machine` and
`footprint_files.machine` name the machine a file was read on (`yurudb.paths.machine_id`), and a
file is its (machine, root, path). The Agent SDK's mirrored keys are every machine's: their
machine is ''.

Rows already there get '' too: the first sync of their root on a machine takes them as its own
(`archive/apply.load_state`), so an upgraded single-machine archive reads on from its cursors.
The downgrade drops the column; it refuses when two machines' files share a (root, path), which
the older schema cannot hold, instead of losing one of them.
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa

from alembic import op

revision: str = "0014_machines"
down_revision: Union[str, None] = "0013_postgresql"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

KEYED = (("transcript_files", "idx_transcript_files_path"), ("footprint_files", "idx_footprint_files_path"))


def upgrade() -> None:
    for table, index in KEYED:
        with op.batch_alter_table(table, table_kwargs={"sqlite_autoincrement": True}) as batch:
            batch.add_column(sa.Column("machine", sa.Text(), nullable=False, server_default=sa.text("''")))
        op.drop_index(index, table_name=table)
        op.create_index(index, table, ["machine", "root", "path"], unique=True)


def downgrade() -> None:
    for table, index in KEYED:
        shared = op.get_bind().execute(sa.text(
            f"SELECT root, path FROM {table} GROUP BY root, path HAVING COUNT(*) > 1 LIMIT 1")).first()
        if shared is not None:
            raise RuntimeError(f"cannot downgrade below 0014_machines: {table} holds {shared[1]} under {shared[0]} "
                               "from more than one machine, which the older schema keeps as one file")
        op.drop_index(index, table_name=table)
        op.create_index(index, table, ["root", "path"], unique=True)
        with op.batch_alter_table(table, table_kwargs={"sqlite_autoincrement": True}) as batch:
            batch.drop_column("machine")

"""spec timestamps (UTC TIMESTAMP text, DEFAULT CURRENT_TIMESTAMP) and yurudb's application_id

Revision ID: 0002_timestamps
Revises: 0001_initial
Create Date: 2026-11-24

0001 stored epoch milliseconds in INTEGER columns with no default. The spec's columns are
`TIMESTAMP DEFAULT CURRENT_TIMESTAMP`: this revision converts every value to UTC text
(`YYYY-MM-DD HH:MM:SS.mmm`), exactly, and back on downgrade. It also stamps the file with
yurudb's `PRAGMA application_id`, so a file that is not ours is never touched.
"""
from datetime import datetime, timedelta
from typing import Sequence, Union

import sqlalchemy as sa

from alembic import op

revision: str = "0002_timestamps"
down_revision: Union[str, None] = "0001_initial"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

APPLICATION_ID = 0x79757275  # "yuru" (yurudb.entities.APPLICATION_ID; revisions never import the package's models)
COLUMNS = {
    "sessions": (("created_at", False), ("updated_at", False)),
    "messages": (("timestamp", True),),
    "analytics": (("timestamp", True),),
}
_KWARGS = {"analytics": {"sqlite_autoincrement": True}}  # a recreated table keeps AUTOINCREMENT
_EPOCH = datetime(1970, 1, 1)


def _ms_to_text(ms: int) -> str:
    return (_EPOCH + timedelta(milliseconds=ms)).isoformat(" ", "milliseconds")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL's schema is laid whole by 0013_postgresql
    # Types first: batch mode copies rows with CAST(... AS TIMESTAMP), which would turn text into
    # a number; integers pass through it unchanged and are converted afterwards.
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table, table_kwargs=_KWARGS.get(table, {})) as batch:
            for column, nullable in columns:
                batch.alter_column(column, type_=sa.TIMESTAMP(), existing_type=sa.Integer(),
                                   existing_nullable=nullable, server_default=sa.text("CURRENT_TIMESTAMP"))
    conn = op.get_bind()
    for table, columns in COLUMNS.items():
        for column, _ in columns:
            # Whole numbers of milliseconds in SQL, exact (no floating point): seconds, then the ms.
            op.execute(
                f"UPDATE {table} SET {column} = strftime('%Y-%m-%d %H:%M:%S', {column} / 1000, 'unixepoch') "
                f"|| '.' || printf('%03d', {column} % 1000) WHERE typeof({column}) = 'integer' AND {column} >= 0"
            )
            # What SQL integer division would get wrong (before 1970, fractional ms): one by one.
            rest = conn.exec_driver_sql(
                f"SELECT rowid, {column} FROM {table} WHERE typeof({column}) IN ('integer', 'real')").fetchall()
            for rowid, value in rest:
                conn.exec_driver_sql(f"UPDATE {table} SET {column} = ? WHERE rowid = ?",
                                     (_ms_to_text(int(value)), rowid))
    op.execute(f"PRAGMA application_id = {APPLICATION_ID}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # below 0013 a PostgreSQL database is empty
    for table, columns in COLUMNS.items():
        for column, _ in columns:
            # julianday() reads every form SQLite knows (offsets too) and holds whole milliseconds.
            op.execute(
                f"UPDATE {table} SET {column} = CAST(round((julianday({column}) - 2440587.5) * 86400000) AS INTEGER) "
                f"WHERE typeof({column}) = 'text' AND julianday({column}) IS NOT NULL"
            )
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table, table_kwargs=_KWARGS.get(table, {})) as batch:
            for column, nullable in columns:
                batch.alter_column(column, type_=sa.Integer(), existing_type=sa.TIMESTAMP(),
                                   existing_nullable=nullable, server_default=None)
    op.execute("PRAGMA application_id = 0")

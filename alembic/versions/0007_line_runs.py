"""the archive keeps lines in compressed runs: transcript_lines becomes transcript_blocks and transcript_links

Revision ID: 0007_line_runs
Revises: 0006_search_merge
Create Date: 2026-11-24

Each line was a row of its own, compressed alone; now consecutive lines of a file are compressed
together in runs of about 256 KiB (`transcript_blocks`: file, first line, how many lines, the frame).
Measured on the generated 200 MB history, the lines took 0.41 of the JSONL bytes they hold (0.33
compressed, 0.07 pages left part empty by rows of very different sizes) and take 0.25 as runs; the
whole database went from 0.75x to 0.60x the JSONL, and a first sync writes a row per 256 KiB, not
a row per line.
A line's message was named on its row (`message_id`); a message names its own file and line, so
only the lines whose message is another file's (the same transcript arrived two ways) keep a row,
in `transcript_links`; `idx_messages_file` finds a file's messages by line (partial: an app's
messages, which have no file, are not in it).

The upgrade moves every line, byte for byte, a file at a time; the downgrade moves them back to a
row each. Both keep each line's message.
"""
from typing import Sequence, Union

import sqlalchemy as sa

from alembic import op

revision: str = "0007_line_runs"
down_revision: Union[str, None] = "0006_search_merge"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _file_table(name: str, *columns: sa.Column) -> None:
    """A table of a transcript file's rows: its own id, the file's (deleted with it), then `columns`."""
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        *columns,
        sa.ForeignKeyConstraint(["file_id"], ["transcript_files.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )


def _newest_dictionary(bind: sa.Connection) -> int:
    """Load the archive's dictionaries; the id of the newest (0: none), which compresses from now on."""
    from yurudb.lines import codec

    newest = 0
    for dict_id, data in bind.exec_driver_sql("SELECT id, data FROM archive_dicts ORDER BY rowid").fetchall():
        codec.register(dict_id, data)
        newest = dict_id
    return newest


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL's schema is laid whole by 0013_postgresql
    from yurudb.lines import codec

    _file_table("transcript_blocks", sa.Column("first_line", sa.Integer(), nullable=False),
                sa.Column("lines", sa.Integer(), nullable=False), sa.Column("raw", sa.LargeBinary(), nullable=False))
    op.create_index("idx_transcript_blocks", "transcript_blocks", ["file_id", "first_line"], unique=True)
    _file_table("transcript_links", sa.Column("line", sa.Integer(), nullable=False),
                sa.Column("message_id", sa.Text(), nullable=False))
    op.create_index("idx_transcript_links", "transcript_links", ["file_id", "line"], unique=True)
    op.create_index("idx_transcript_links_message", "transcript_links", ["message_id"])
    op.create_index("idx_messages_file", "messages", ["file_id", "line"], sqlite_where=sa.text("file_id IS NOT NULL"))
    bind = op.get_bind()
    dict_id = _newest_dictionary(bind)
    # A line whose message is not the one that names this file and line: a link.
    bind.exec_driver_sql(
        "INSERT INTO transcript_links (file_id, line, message_id) SELECT l.file_id, l.line, l.message_id "
        "FROM transcript_lines AS l JOIN messages AS m ON m.id = l.message_id "
        "WHERE m.file_id IS NOT l.file_id OR m.line IS NOT l.line")
    run: list[bytes] = []
    size = 0
    at: tuple[int, int] | None = None  # (file, first line) of the run being filled
    rows: list[tuple[int, int, int, bytes]] = []

    def cut() -> None:
        nonlocal run, size, at
        if run and at is not None:
            rows.append((at[0], at[1], len(run), codec.encode(b"\n".join(run) + b"\n", dict_id)))
        run, size, at = [], 0, None
        if len(rows) >= 200:
            flush()

    def flush() -> None:
        if rows:
            bind.exec_driver_sql("INSERT INTO transcript_blocks (file_id, first_line, lines, raw) "
                                 "VALUES (?, ?, ?, ?)", list(rows))
            rows.clear()

    last = 0
    for file_id in [r[0] for r in bind.exec_driver_sql("SELECT DISTINCT file_id FROM transcript_lines "
                                                       "ORDER BY file_id").fetchall()]:
        read = -(2**63)  # the last line number read of this file
        while True:  # a page of lines at a time: a file of any size in bounded memory
            page = bind.exec_driver_sql("SELECT line, raw FROM transcript_lines WHERE file_id = ? AND line > ? "
                                        "ORDER BY line LIMIT 500", (file_id, read)).fetchall()
            if not page:
                break
            read = page[-1][0]
            for line, raw in page:
                if at is not None and line != last + 1:
                    cut()  # a line missing (a damaged page lost it): a run is consecutive lines
                if at is None:
                    at = (file_id, line)
                data = codec.decode(raw)
                run.append(data)
                size += len(data) + 1
                last = line
                if size >= codec.RUN_BYTES:
                    cut()
        cut()
    flush()
    op.drop_index("idx_transcript_lines", table_name="transcript_lines")
    op.drop_table("transcript_lines")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # below 0013 a PostgreSQL database is empty
    from yurudb.lines import codec

    _file_table("transcript_lines", sa.Column("line", sa.Integer(), nullable=False),
                sa.Column("message_id", sa.Text(), nullable=True), sa.Column("raw", sa.LargeBinary(), nullable=False))
    op.create_index("idx_transcript_lines", "transcript_lines", ["file_id", "line"], unique=True)
    bind = op.get_bind()
    dict_id = _newest_dictionary(bind)
    for (file_id,) in bind.exec_driver_sql("SELECT DISTINCT file_id FROM transcript_blocks ORDER BY file_id").fetchall():
        owners = {line: mid for line, mid in bind.exec_driver_sql(
            "SELECT line, id FROM messages WHERE file_id = ?", (file_id,)).fetchall()}
        owners.update(bind.exec_driver_sql("SELECT line, message_id FROM transcript_links WHERE file_id = ?",
                                           (file_id,)).fetchall())
        for first, raw in bind.exec_driver_sql("SELECT first_line, raw FROM transcript_blocks WHERE file_id = ? "
                                               "ORDER BY first_line", (file_id,)).fetchall():
            bind.exec_driver_sql(
                "INSERT INTO transcript_lines (file_id, line, message_id, raw) VALUES (?, ?, ?, ?)",
                [(file_id, first + k, owners.get(first + k), codec.encode(line, dict_id))
                 for k, line in enumerate(codec.unpack(raw))])
    op.drop_index("idx_messages_file", table_name="messages")
    op.drop_index("idx_transcript_links_message", table_name="transcript_links")
    op.drop_index("idx_transcript_links", table_name="transcript_links")
    op.drop_table("transcript_links")
    op.drop_index("idx_transcript_blocks", table_name="transcript_blocks")
    op.drop_table("transcript_blocks")

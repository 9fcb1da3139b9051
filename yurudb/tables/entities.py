"""The schema as SQLModel entities (owned by Alembic revisions); imported only for migrations and schema tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, REAL, TIMESTAMP, BigInteger, Column, ForeignKey, Index, Integer, LargeBinary, Text, text
from sqlalchemy.dialects.postgresql import DOUBLE_PRECISION, JSONB
from sqlmodel import Field, SQLModel

from ..backends.sqlite.revision import APPLICATION_ID  # noqa: F401 - re-exported
from ..models import MESSAGE_TYPES, SESSION_STATUSES, Message, Session, Usage  # noqa: F401 - re-exported

# Where PostgreSQL's types must differ (revision 0013 builds its schema): instants are timestamptz,
# the derived JSON columns JSONB (`payload` stays json: its text is kept byte-exact), sizes, inodes
# and nanoseconds 64-bit (SQLite's INTEGER is), money a double.
STAMP = TIMESTAMP().with_variant(TIMESTAMP(timezone=True), "postgresql")
DOC = JSON().with_variant(JSONB(), "postgresql")
BIG = Integer().with_variant(BigInteger(), "postgresql")
DOUBLE = REAL().with_variant(DOUBLE_PRECISION(), "postgresql")

# Timestamps are the spec's `TIMESTAMP DEFAULT CURRENT_TIMESTAMP`: UTC text (yurudb/times.py) in the
# database, timezone-aware datetimes in Python. Snapshots keep the app's epoch milliseconds.

# The table entities below are SQLModel (the schema Alembic's revisions must match); reads
# return the plain pydantic models of yurudb/models.py because validating into them is 2-3x cheaper, which
# matters when a session's 10,000 messages load. A test keeps both field lists identical.


class SessionRow(SQLModel, table=True):
    """Table `sessions`."""

    __tablename__ = "sessions"
    __table_args__ = (Index("idx_sessions_updated", "updated_at"),
                      Index("idx_sessions_claude", "claude_session_id", sqlite_where=text("claude_session_id IS NOT NULL"), postgresql_where=text("claude_session_id IS NOT NULL")))

    id: str = Field(sa_column=Column(Text, primary_key=True))
    name: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="pending", sa_column=Column(Text, server_default=text("'pending'")))
    working_directory: str | None = Field(default=None, sa_type=Text)
    claude_session_id: str | None = Field(default=None, sa_type=Text)
    claude_title: str | None = Field(default=None, sa_type=Text)
    user_renamed: bool = Field(default=False, sa_column_kwargs={"server_default": text("0")})
    created_at: datetime = Field(sa_column=Column(STAMP, nullable=False, server_default=text("CURRENT_TIMESTAMP")))
    updated_at: datetime = Field(sa_column=Column(STAMP, nullable=False, server_default=text("CURRENT_TIMESTAMP")))
    meta: dict[str, Any] | None = Field(default=None, sa_column=Column("metadata", DOC))


class MessageRow(SQLModel, table=True):
    """Table `messages`; `seq` orders a session's messages (timestamps tie)."""

    __tablename__ = "messages"
    __table_args__ = (Index("idx_messages_session", "session_id", "seq", unique=True),
                      Index("idx_messages_search_doc", "search_doc"),
                      # a synced file's messages by line (a line's message; a mirrored or rewritten file's
                      # twins); an app's messages have no file and no entry
                      Index("idx_messages_file", "file_id", "line", sqlite_where=text("file_id IS NOT NULL"), postgresql_where=text("file_id IS NOT NULL")))

    id: str = Field(sa_column=Column(Text, primary_key=True))
    session_id: str = Field(
        sa_column=Column(Text, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False)
    )
    seq: int = Field(sa_column=Column(Integer, nullable=False))
    type: str = Field(sa_column=Column(Text, nullable=False))
    role: str | None = Field(default=None, sa_type=Text)
    content: str | None = Field(default=None, sa_type=Text)
    tool_uses: Any = Field(default=None, sa_column=Column(DOC))
    usage: Any = Field(default=None, sa_column=Column(DOC))
    timestamp: datetime | None = Field(default=None, sa_column=Column(STAMP, server_default=text("CURRENT_TIMESTAMP")))
    payload: Any = Field(default=None, sa_column=Column(JSON))
    # A synced transcript line's thread (its subagent file's subpath; NULL: the main conversation),
    # file and line number; its payload is read from the line's bytes (transcript_blocks).
    thread: str | None = Field(default=None, sa_type=Text)
    file_id: int | None = Field(default=None, sa_type=Integer)
    line: int | None = Field(default=None, sa_type=Integer)
    # its document in the full-text index (search_index, an FTS5 table the revisions create; NULL: not indexed)
    search_doc: int | None = Field(default=None, sa_type=BIG)


class UsageRow(SQLModel, table=True):
    """Table `analytics`."""

    __tablename__ = "analytics"
    __table_args__ = (
        Index("idx_analytics_session", "session_id", "source_id", unique=True),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    session_id: str | None = Field(
        default=None, sa_column=Column(Text, ForeignKey("sessions.id", ondelete="CASCADE"))
    )
    tokens_input: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    tokens_output: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    tokens_cache: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    cost_usd: float = Field(default=0.0, sa_column=Column(DOUBLE, nullable=False, server_default=text("0")))
    model: str | None = Field(default=None, sa_type=Text)
    timestamp: datetime | None = Field(default=None, sa_column=Column(STAMP, server_default=text("CURRENT_TIMESTAMP")))
    # What this row accounts for (e.g. an imported response's message id + request id), so that
    # re-imports and retried record_usage calls count once. NULL rows are never deduplicated.
    source_id: str | None = Field(default=None, sa_type=Text)
    # tokens_cache split by what it cost: writes and reads (NULL: unknown, a row from before 0003).
    tokens_cache_write: int | None = Field(default=None, sa_type=Integer)
    tokens_cache_read: int | None = Field(default=None, sa_type=Integer)


class TranscriptFileRow(SQLModel, table=True):
    """Table `transcript_files`: a Claude Code transcript and its sync cursor."""

    __tablename__ = "transcript_files"
    __table_args__ = (
        Index("idx_transcript_files_path", "machine", "root", "path", unique=True),
        Index("idx_transcript_files_session", "session_id"),
        Index("idx_transcript_files_name", "path"),  # the same file under another root
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    root: str = Field(sa_column=Column(Text, nullable=False))
    path: str = Field(sa_column=Column(Text, nullable=False))  # relative to root, "/"-separated
    session_id: str | None = Field(
        default=None, sa_column=Column(Text, ForeignKey("sessions.id", ondelete="CASCADE")))
    thread: str | None = Field(default=None, sa_type=Text)
    device: int | None = Field(default=None, sa_type=BIG)
    inode: int | None = Field(default=None, sa_type=BIG)
    size: int = Field(default=0, sa_type=BIG, sa_column_kwargs={"server_default": text("0")})
    mtime_ns: int | None = Field(default=None, sa_type=BIG)
    consumed: int = Field(default=0, sa_type=BIG, sa_column_kwargs={"server_default": text("0")})  # bytes read
    lines: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})  # complete lines read
    prefix_sha256: str | None = Field(default=None, sa_type=Text)  # of the first bytes: a rewrite shows
    synced_at: datetime | None = Field(default=None, sa_column=Column(STAMP, server_default=text("CURRENT_TIMESTAMP")))
    gone_at: datetime | None = Field(default=None, sa_column=Column(STAMP))
    tail_sha256: str | None = Field(default=None, sa_type=Text)  # of the bytes before `consumed`: an edit shows
    # the machine it was read on (yurudb.paths.machine_id; '': every machine's, the Agent SDK's keys)
    machine: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=text("''")))


class TranscriptBlockRow(SQLModel, table=True):
    """Table `transcript_blocks`: every line of every transcript, in runs of consecutive lines whose
    exact bytes are zstd-compressed together (codec.pack)."""

    __tablename__ = "transcript_blocks"
    __table_args__ = (Index("idx_transcript_blocks", "file_id", "first_line", unique=True),)

    # the rowid itself (salvage reads damaged tables by rowid; an INTEGER PRIMARY KEY costs nothing)
    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    file_id: int = Field(sa_column=Column(Integer, ForeignKey("transcript_files.id", ondelete="CASCADE"),
                                          nullable=False))
    first_line: int = Field(sa_column=Column(Integer, nullable=False))
    lines: int = Field(sa_column=Column(Integer, nullable=False))  # how many lines from first_line
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class TranscriptLinkRow(SQLModel, table=True):
    """Table `transcript_links`: a line that is a message of another file (the same transcript arrived
    two ways); every other message names its own file and line."""

    __tablename__ = "transcript_links"
    __table_args__ = (Index("idx_transcript_links", "file_id", "line", unique=True),
                      Index("idx_transcript_links_message", "message_id"))

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    file_id: int = Field(sa_column=Column(Integer, ForeignKey("transcript_files.id", ondelete="CASCADE"),
                                          nullable=False))
    line: int = Field(sa_column=Column(Integer, nullable=False))
    message_id: str = Field(sa_column=Column(Text, nullable=False))


class ArchiveDictRow(SQLModel, table=True):
    """Table `archive_dicts`: zstd dictionaries the raw lines are compressed with, by their own id."""

    __tablename__ = "archive_dicts"

    id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class FootprintBlobRow(SQLModel, table=True):
    """Table `footprint_blobs`: the bytes of archived files beside the transcripts, once per content (zstd)."""

    __tablename__ = "footprint_blobs"
    __table_args__ = (Index("idx_footprint_blobs_sha", "sha256", unique=True),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    sha256: str = Field(sa_column=Column(Text, nullable=False))  # of the bytes as on disk
    size: int = Field(sa_column=Column(BIG, nullable=False))  # bytes on disk (data is compressed)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class FootprintFileRow(SQLModel, table=True):
    """Table `footprint_files`: one copy of a file Claude Code keeps beside its transcripts (tool outputs,
    sidecars, memory, history.jsonl), by its path under its root; earlier copies keep `path#replaced-...`."""

    __tablename__ = "footprint_files"
    __table_args__ = (
        Index("idx_footprint_files_path", "machine", "root", "path", unique=True),
        Index("idx_footprint_files_session", "session_key"),
        Index("idx_footprint_files_blob", "blob_id"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    root: str = Field(sa_column=Column(Text, nullable=False))
    path: str = Field(sa_column=Column(Text, nullable=False))  # relative to root, "/"-separated
    session_key: str | None = Field(default=None, sa_type=Text)  # the Claude session folder it lies in
    blob_id: int = Field(sa_column=Column(Integer, ForeignKey("footprint_blobs.id"), nullable=False))
    size: int = Field(default=0, sa_type=BIG, sa_column_kwargs={"server_default": text("0")})
    mtime_ns: int | None = Field(default=None, sa_type=BIG)
    device: int | None = Field(default=None, sa_type=BIG)
    inode: int | None = Field(default=None, sa_type=BIG)
    synced_at: datetime | None = Field(default=None, sa_column=Column(STAMP, server_default=text("CURRENT_TIMESTAMP")))
    gone_at: datetime | None = Field(default=None, sa_column=Column(STAMP))
    machine: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=text("''")))  # as above


class SecretFindingRow(SQLModel, table=True):
    """Table `secret_findings`: a secret the rules saw in a message's text (its kind and a redacted
    preview; never the value), kept exact by the same transaction that indexes the message."""

    __tablename__ = "secret_findings"
    __table_args__ = (Index("idx_secret_findings_message", "message_id"),
                      Index("idx_secret_findings_blob", "blob_id", sqlite_where=text("blob_id IS NOT NULL"), postgresql_where=text("blob_id IS NOT NULL")))

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    # in a message's text, or in a file kept beside the transcripts (by its content: every copy shares it)
    message_id: str | None = Field(default=None, sa_column=Column(Text, ForeignKey("messages.id", ondelete="CASCADE")))
    kind: str = Field(sa_column=Column(Text, nullable=False))
    preview: str = Field(sa_column=Column(Text, nullable=False))  # the value's first characters and length
    blob_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("footprint_blobs.id",
                                                                                 ondelete="CASCADE")))


class SecretScanRow(SQLModel, table=True):
    """Table `secret_scans`: messages saved since their secrets were last looked for (the store's scanner
    works through it in the background, so a save never waits for the scan)."""

    __tablename__ = "secret_scans"

    message_id: str = Field(sa_column=Column(Text, ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True))


class SecretBlobScanRow(SQLModel, table=True):
    """Table `secret_blob_scans`: kept files' contents stored since their secrets were looked for (the same
    background scanner: a sync never waits for the rules over a large tool output)."""

    __tablename__ = "secret_blob_scans"

    blob_id: int = Field(sa_column=Column(Integer, ForeignKey("footprint_blobs.id", ondelete="CASCADE"),
                                          primary_key=True, autoincrement=False))


metadata = SQLModel.metadata

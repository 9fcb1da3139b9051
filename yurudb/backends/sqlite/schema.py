"""The head schema as plain DDL: degraded mode's in-memory twin and new database files (no Alembic at run time).

tests/test_schema.py checks it against what the Alembic revisions build, column for column.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .engine import apply_pragmas
from .revision import APPLICATION_ID, HEAD

# The full-text index (FTS5): contentless (content=''), the text is not stored again; a document is
# removed by giving its text. The tokenizer folds case and accents (search/text.py's rules match it).
SEARCH_DDL = ("CREATE VIRTUAL TABLE search_index USING fts5(body, content='', "
              "tokenize='unicode61 remove_diacritics 2')")
# Segments merged 16 at a time, not FTS5's 4: most of the index's cost at each small commit was
# re-merging (revision 0006 says what was measured).
MERGE_SETTING = "INSERT INTO search_index (search_index, rank) VALUES ('automerge', 16)"

TABLES = ("sessions", "messages", "analytics")  # what degraded mode lays memory over

DDL = """
CREATE TABLE sessions (
    id TEXT NOT NULL, name TEXT NOT NULL, status TEXT DEFAULT 'pending', working_directory TEXT,
    claude_session_id TEXT, claude_title TEXT, user_renamed BOOLEAN DEFAULT 0 NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL,
    metadata JSON, PRIMARY KEY (id)
);
CREATE TABLE messages (
    id TEXT NOT NULL, session_id TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, role TEXT, content TEXT,
    tool_uses JSON, usage JSON, timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP, payload JSON, thread TEXT,
    file_id INTEGER, line INTEGER, search_doc INTEGER, PRIMARY KEY (id),
    FOREIGN KEY(session_id) REFERENCES sessions (id) ON DELETE CASCADE
);
CREATE TABLE analytics (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, session_id TEXT, tokens_input INTEGER DEFAULT 0 NOT NULL,
    tokens_output INTEGER DEFAULT 0 NOT NULL, tokens_cache INTEGER DEFAULT 0 NOT NULL,
    cost_usd REAL DEFAULT 0 NOT NULL, model TEXT, timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP, source_id TEXT,
    tokens_cache_write INTEGER, tokens_cache_read INTEGER, FOREIGN KEY(session_id) REFERENCES sessions (id) ON DELETE CASCADE
);
CREATE TABLE transcript_files (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, root TEXT NOT NULL, path TEXT NOT NULL, session_id TEXT,
    thread TEXT, device INTEGER, inode INTEGER, size INTEGER DEFAULT 0 NOT NULL, mtime_ns INTEGER,
    consumed INTEGER DEFAULT 0 NOT NULL, lines INTEGER DEFAULT 0 NOT NULL, prefix_sha256 TEXT,
    synced_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, gone_at TIMESTAMP, tail_sha256 TEXT,
    machine TEXT DEFAULT '' NOT NULL, FOREIGN KEY(session_id) REFERENCES sessions (id) ON DELETE CASCADE
);
CREATE TABLE transcript_blocks (
    id INTEGER NOT NULL, file_id INTEGER NOT NULL, first_line INTEGER NOT NULL, lines INTEGER NOT NULL,
    raw BLOB NOT NULL, PRIMARY KEY (id), FOREIGN KEY(file_id) REFERENCES transcript_files (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX idx_transcript_blocks ON transcript_blocks (file_id, first_line);
CREATE TABLE transcript_links (
    id INTEGER NOT NULL, file_id INTEGER NOT NULL, line INTEGER NOT NULL, message_id TEXT NOT NULL,
    PRIMARY KEY (id), FOREIGN KEY(file_id) REFERENCES transcript_files (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX idx_transcript_links ON transcript_links (file_id, line);
CREATE INDEX idx_transcript_links_message ON transcript_links (message_id);
CREATE TABLE archive_dicts (id INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (id));
CREATE TABLE footprint_blobs (
    id INTEGER NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (id)
);
CREATE UNIQUE INDEX idx_footprint_blobs_sha ON footprint_blobs (sha256);
CREATE TABLE footprint_files (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, root TEXT NOT NULL, path TEXT NOT NULL, session_key TEXT,
    blob_id INTEGER NOT NULL, size INTEGER DEFAULT 0 NOT NULL, mtime_ns INTEGER, device INTEGER, inode INTEGER,
    synced_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, gone_at TIMESTAMP, machine TEXT DEFAULT '' NOT NULL,
    FOREIGN KEY(blob_id) REFERENCES footprint_blobs (id)
);
CREATE UNIQUE INDEX idx_footprint_files_path ON footprint_files (machine, root, path);
CREATE INDEX idx_footprint_files_session ON footprint_files (session_key);
CREATE INDEX idx_footprint_files_blob ON footprint_files (blob_id);
CREATE TABLE secret_findings (
    id INTEGER NOT NULL, message_id TEXT, kind TEXT NOT NULL, preview TEXT NOT NULL, blob_id INTEGER, PRIMARY KEY (id),
    FOREIGN KEY(message_id) REFERENCES messages (id) ON DELETE CASCADE,
    FOREIGN KEY(blob_id) REFERENCES footprint_blobs (id) ON DELETE CASCADE
);
CREATE INDEX idx_secret_findings_message ON secret_findings (message_id);
CREATE INDEX idx_secret_findings_blob ON secret_findings (blob_id) WHERE blob_id IS NOT NULL;
CREATE TABLE secret_scans (
    message_id TEXT NOT NULL, PRIMARY KEY (message_id), FOREIGN KEY(message_id) REFERENCES messages (id) ON DELETE CASCADE
);
CREATE TABLE secret_blob_scans (
    blob_id INTEGER NOT NULL, PRIMARY KEY (blob_id), FOREIGN KEY(blob_id) REFERENCES footprint_blobs (id) ON DELETE CASCADE
);
CREATE INDEX idx_sessions_updated ON sessions (updated_at);
CREATE INDEX idx_sessions_claude ON sessions (claude_session_id) WHERE claude_session_id IS NOT NULL;
CREATE UNIQUE INDEX idx_transcript_files_path ON transcript_files (machine, root, path);
CREATE INDEX idx_transcript_files_session ON transcript_files (session_id);
CREATE INDEX idx_transcript_files_name ON transcript_files (path);
CREATE UNIQUE INDEX idx_messages_session ON messages (session_id, seq);
CREATE UNIQUE INDEX idx_analytics_session ON analytics (session_id, source_id);
CREATE INDEX idx_messages_search_doc ON messages (search_doc);
CREATE INDEX idx_messages_file ON messages (file_id, line) WHERE file_id IS NOT NULL;
"""


# What Alembic itself creates to record the revision (its `alembic_version` table, as Alembic writes it).
ALEMBIC_VERSION_DDL = ("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                       "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))")


def create(conn: sqlite3.Connection) -> None:
    """Create the head schema's tables and indexes on an empty database (inside the caller's transaction)."""
    for statement in DDL.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute(SEARCH_DDL)
    conn.execute(MERGE_SETTING)


def create_file(path: Path, pragmas: list[str]) -> bool:
    """Lay the head schema into a database file with no tables yet, stamped at the head revision, in
    one transaction; False (nothing done) when the file has tables (another process got there first).

    What every revision from blank would build, without loading Alembic and SQLAlchemy for it (a new
    database is ready in milliseconds, not a third of a second); tests/test_schema.py holds the two
    to the same schema, and later revisions upgrade such a file like any other.
    """
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        if _has_tables(conn):  # before any pragma: a file with tables is left exactly as it is
            return False
        apply_pragmas(conn, pragmas)
        conn.execute("BEGIN IMMEDIATE")  # the check and the creation, with no other writer between
        try:
            if _has_tables(conn):
                conn.execute("ROLLBACK")
                return False
            create(conn)
            conn.execute(ALEMBIC_VERSION_DDL)
            conn.execute("INSERT INTO alembic_version (version_num) VALUES (?)", (HEAD,))
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return True
    finally:
        conn.close()


def _has_tables(conn: sqlite3.Connection) -> bool:
    return bool(conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0])


def not_full_text(name: str | None, type_: str, _parent: object) -> bool:
    """Leave the FTS5 index (a virtual table and its shadow tables) out of Alembic's comparisons."""
    return not (type_ == "table" and name is not None and name.startswith("search_index"))


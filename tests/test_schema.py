"""The Alembic revisions build exactly the spec's schema, and agree with the SQLModel entities."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from yurudb import paths
from yurudb.backends.sqlite.engine import create_engine
from yurudb.backends.sqlite.schema import not_full_text
from yurudb.recovery import migrations
from yurudb.tables.entities import metadata

# (name, declared type, notnull, default, pk) as PRAGMA table_info reports them
EXPECTED_COLUMNS = {
    "sessions": [
        ("id", "TEXT", 1, None, 1),
        ("name", "TEXT", 1, None, 0),
        ("status", "TEXT", 0, "'pending'", 0),
        ("working_directory", "TEXT", 0, None, 0),
        ("claude_session_id", "TEXT", 0, None, 0),
        ("claude_title", "TEXT", 0, None, 0),
        ("user_renamed", "BOOLEAN", 1, "0", 0),
        ("created_at", "TIMESTAMP", 1, "CURRENT_TIMESTAMP", 0),
        ("updated_at", "TIMESTAMP", 1, "CURRENT_TIMESTAMP", 0),
        ("metadata", "JSON", 0, None, 0),
    ],
    "messages": [
        ("id", "TEXT", 1, None, 1),
        ("session_id", "TEXT", 1, None, 0),
        ("seq", "INTEGER", 1, None, 0),
        ("type", "TEXT", 1, None, 0),
        ("role", "TEXT", 0, None, 0),
        ("content", "TEXT", 0, None, 0),
        ("tool_uses", "JSON", 0, None, 0),
        ("usage", "JSON", 0, None, 0),
        ("timestamp", "TIMESTAMP", 0, "CURRENT_TIMESTAMP", 0),
        ("payload", "JSON", 0, None, 0),
        ("thread", "TEXT", 0, None, 0),
        ("file_id", "INTEGER", 0, None, 0),
        ("line", "INTEGER", 0, None, 0),
        ("search_doc", "INTEGER", 0, None, 0),
    ],
    "analytics": [
        ("id", "INTEGER", 1, None, 1),
        ("session_id", "TEXT", 0, None, 0),
        ("tokens_input", "INTEGER", 1, "0", 0),
        ("tokens_output", "INTEGER", 1, "0", 0),
        ("tokens_cache", "INTEGER", 1, "0", 0),
        ("cost_usd", "REAL", 1, "0", 0),
        ("model", "TEXT", 0, None, 0),
        ("timestamp", "TIMESTAMP", 0, "CURRENT_TIMESTAMP", 0),
        ("source_id", "TEXT", 0, None, 0),
        ("tokens_cache_write", "INTEGER", 0, None, 0),
        ("tokens_cache_read", "INTEGER", 0, None, 0),
    ],
    "transcript_files": [
        ("id", "INTEGER", 1, None, 1),
        ("root", "TEXT", 1, None, 0),
        ("path", "TEXT", 1, None, 0),
        ("session_id", "TEXT", 0, None, 0),
        ("thread", "TEXT", 0, None, 0),
        ("device", "INTEGER", 0, None, 0),
        ("inode", "INTEGER", 0, None, 0),
        ("size", "INTEGER", 1, "0", 0),
        ("mtime_ns", "INTEGER", 0, None, 0),
        ("consumed", "INTEGER", 1, "0", 0),
        ("lines", "INTEGER", 1, "0", 0),
        ("prefix_sha256", "TEXT", 0, None, 0),
        ("synced_at", "TIMESTAMP", 0, "CURRENT_TIMESTAMP", 0),
        ("gone_at", "TIMESTAMP", 0, None, 0),
        ("tail_sha256", "TEXT", 0, None, 0),
        ("machine", "TEXT", 1, "''", 0),
    ],
    "transcript_blocks": [
        ("id", "INTEGER", 1, None, 1),
        ("file_id", "INTEGER", 1, None, 0),
        ("first_line", "INTEGER", 1, None, 0),
        ("lines", "INTEGER", 1, None, 0),
        ("raw", "BLOB", 1, None, 0),
    ],
    "transcript_links": [
        ("id", "INTEGER", 1, None, 1),
        ("file_id", "INTEGER", 1, None, 0),
        ("line", "INTEGER", 1, None, 0),
        ("message_id", "TEXT", 1, None, 0),
    ],
    "archive_dicts": [
        ("id", "INTEGER", 1, None, 1),
        ("data", "BLOB", 1, None, 0),
    ],
    "footprint_blobs": [
        ("id", "INTEGER", 1, None, 1),
        ("sha256", "TEXT", 1, None, 0),
        ("size", "INTEGER", 1, None, 0),
        ("data", "BLOB", 1, None, 0),
    ],
    "footprint_files": [
        ("id", "INTEGER", 1, None, 1),
        ("root", "TEXT", 1, None, 0),
        ("path", "TEXT", 1, None, 0),
        ("session_key", "TEXT", 0, None, 0),
        ("blob_id", "INTEGER", 1, None, 0),
        ("size", "INTEGER", 1, "0", 0),
        ("mtime_ns", "INTEGER", 0, None, 0),
        ("device", "INTEGER", 0, None, 0),
        ("inode", "INTEGER", 0, None, 0),
        ("synced_at", "TIMESTAMP", 0, "CURRENT_TIMESTAMP", 0),
        ("gone_at", "TIMESTAMP", 0, None, 0),
        ("machine", "TEXT", 1, "''", 0),
    ],
    "secret_findings": [
        ("id", "INTEGER", 1, None, 1),
        ("message_id", "TEXT", 0, None, 0),
        ("kind", "TEXT", 1, None, 0),
        ("preview", "TEXT", 1, None, 0),
        ("blob_id", "INTEGER", 0, None, 0),
    ],
    "secret_scans": [("message_id", "TEXT", 1, None, 1)],
    "secret_blob_scans": [("blob_id", "INTEGER", 1, None, 1)],
    "search_index": [("body", "", 0, None, 0)],  # FTS5 (its shadow tables are its own business)
}
# (index name, unique, columns)
EXPECTED_INDEXES = {
    "sessions": {("idx_sessions_updated", 0, ("updated_at",)),
                 ("idx_sessions_claude", 0, ("claude_session_id",), "claude_session_id IS NOT NULL")},
    "messages": {("idx_messages_session", 1, ("session_id", "seq")), ("idx_messages_search_doc", 0, ("search_doc",)),
                 ("idx_messages_file", 0, ("file_id", "line"), "file_id IS NOT NULL")},
    "search_index": set(),
    "analytics": {("idx_analytics_session", 1, ("session_id", "source_id"))},
    "transcript_files": {("idx_transcript_files_path", 1, ("machine", "root", "path")),
                         ("idx_transcript_files_session", 0, ("session_id",)),
                         ("idx_transcript_files_name", 0, ("path",))},
    "transcript_blocks": {("idx_transcript_blocks", 1, ("file_id", "first_line"))},
    "transcript_links": {("idx_transcript_links", 1, ("file_id", "line")),
                         ("idx_transcript_links_message", 0, ("message_id",))},
    "archive_dicts": set(),
    "footprint_blobs": {("idx_footprint_blobs_sha", 1, ("sha256",))},
    "footprint_files": {("idx_footprint_files_path", 1, ("machine", "root", "path")),
                        ("idx_footprint_files_session", 0, ("session_key",)),
                        ("idx_footprint_files_blob", 0, ("blob_id",))},
    "secret_findings": {("idx_secret_findings_message", 0, ("message_id",)),
                        ("idx_secret_findings_blob", 0, ("blob_id",), "blob_id IS NOT NULL")},
    "secret_scans": set(),
    "secret_blob_scans": set(),
}
# (table, from column, to table, to column, on delete)
EXPECTED_FOREIGN_KEYS = {
    ("messages", "session_id", "sessions", "id", "CASCADE"),
    ("analytics", "session_id", "sessions", "id", "CASCADE"),
    ("transcript_files", "session_id", "sessions", "id", "CASCADE"),
    ("transcript_blocks", "file_id", "transcript_files", "id", "CASCADE"),
    ("transcript_links", "file_id", "transcript_files", "id", "CASCADE"),
    ("footprint_files", "blob_id", "footprint_blobs", "id", "NO ACTION"),
    ("secret_findings", "message_id", "messages", "id", "CASCADE"),
    ("secret_findings", "blob_id", "footprint_blobs", "id", "CASCADE"),
    ("secret_scans", "message_id", "messages", "id", "CASCADE"),
    ("secret_blob_scans", "blob_id", "footprint_blobs", "id", "CASCADE"),
}


async def upgrade(path: Path, revision: str = "head", action: str = "upgrade") -> str | None:
    return await migrations.run(paths.prepare(path), action, revision)


def read_schema(path: Path) -> tuple[dict, dict, set]:
    conn = sqlite3.connect(path)
    try:
        tables = {
            name
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            if not name.startswith("sqlite_") and name != "alembic_version" and not name.startswith("search_index_")
        }
        columns = {
            t: [(r[1], r[2], r[3], r[4], r[5]) for r in conn.execute(f"PRAGMA table_info({t})")] for t in tables
        }
        indexes: dict[str, set] = {}
        fks = set()
        for t in tables:
            indexes[t] = set()
            for _, name, unique, origin, partial in conn.execute(f"PRAGMA index_list({t})"):
                if origin == "c":  # created by CREATE INDEX, not by a PRIMARY KEY / UNIQUE clause
                    cols = tuple(r[2] for r in conn.execute(f"PRAGMA index_info({name})"))
                    if partial:  # and the rows it holds
                        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]
                        indexes[t].add((name, unique, cols, " ".join(sql.split(" WHERE ", 1)[1].split())))
                    else:
                        indexes[t].add((name, unique, cols))
            for row in conn.execute(f"PRAGMA foreign_key_list({t})"):
                fks.add((t, row[3], row[2], row[4], row[6]))
        return columns, indexes, fks
    finally:
        conn.close()


async def test_blank_database_upgraded_to_head_has_exactly_the_spec_schema(db_path: Path) -> None:
    assert await upgrade(db_path) == migrations.head_revision()
    columns, indexes, fks = read_schema(db_path)
    assert columns == EXPECTED_COLUMNS
    assert indexes == EXPECTED_INDEXES
    assert fks == EXPECTED_FOREIGN_KEYS


async def test_analytics_id_is_autoincrement(db_path: Path) -> None:
    await upgrade(db_path)
    sql = sqlite3.connect(db_path).execute("SELECT sql FROM sqlite_master WHERE name='analytics'").fetchone()[0]
    assert "AUTOINCREMENT" in sql


async def test_upgrade_downgrade_to_base_and_upgrade_again(db_path: Path) -> None:
    await upgrade(db_path)
    assert await upgrade(db_path, "base", "downgrade") is None
    assert read_schema(db_path)[0] == {}
    await upgrade(db_path)
    assert read_schema(db_path)[0] == EXPECTED_COLUMNS


async def test_upgrade_twice_is_a_no_op(db_path: Path) -> None:
    await upgrade(db_path)
    await upgrade(db_path)
    assert read_schema(db_path)[0] == EXPECTED_COLUMNS


async def test_alembic_head_matches_the_sqlmodel_metadata(db_path: Path) -> None:
    await upgrade(db_path)
    engine = create_engine(db_path, role="maintenance")
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True, "compare_server_default": True,
                                                           "include_name": not_full_text}),
                    metadata,
                )
            )
    finally:
        await engine.dispose()
    assert diff == []


async def test_unknown_revision_is_a_migration_error(db_path: Path) -> None:
    import pytest

    from yurudb.errors import MigrationError

    with pytest.raises(MigrationError):
        await upgrade(db_path, "nope")


def test_the_head_recorded_for_start_up_is_alembics_head() -> None:
    from yurudb.backends.sqlite import revision

    assert revision.HEAD == migrations.head_revision()


async def test_head_stamps_yurudbs_application_id(db_path: Path) -> None:
    from yurudb.tables.entities import APPLICATION_ID

    await upgrade(db_path)
    assert sqlite3.connect(db_path).execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID


async def test_an_insert_that_omits_the_timestamps_gets_the_default(db_path: Path) -> None:
    await upgrade(db_path)
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO sessions (id, name) VALUES ('s', 'from a sqlite3 shell')")
    conn.execute("INSERT INTO messages (id, session_id, seq, type) VALUES ('m', 's', 1, 'user')")
    conn.execute("INSERT INTO analytics (session_id) VALUES ('s')")
    conn.commit()
    row = conn.execute("SELECT created_at, updated_at, (SELECT timestamp FROM messages), "
                       "(SELECT timestamp FROM analytics), date('now') FROM sessions").fetchone()
    assert all(value and value.startswith(row[4]) for value in row[:4]), row


def test_import_yurudb_and_the_read_path_load_no_sqlalchemy_sqlmodel_or_alembic(db_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import asyncio, sys, yurudb\n"
        "async def main():\n"
        f"    async with yurudb.open({str(db_path)!r}, read_only=True) as store:\n"
        "        await store.list_sessions()\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in ('sqlalchemy', 'sqlmodel', 'alembic') if m in sys.modules))\n"
    )
    import asyncio

    asyncio.run(upgrade(db_path))  # a database at head, made beforehand (that does load Alembic)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


async def test_the_in_memory_schema_is_the_head_schema(db_path: Path, tmp_path: Path) -> None:
    from yurudb.backends.sqlite import schema

    await upgrade(db_path)
    twin = tmp_path / "twin.db"
    conn = sqlite3.connect(twin, isolation_level=None)  # as degraded mode's memory connects
    schema.create(conn)
    conn.close()
    assert read_schema(twin) == read_schema(db_path)
    # the full-text index's settings (its config rows) too
    config = "SELECT k, v FROM search_index_config ORDER BY k"
    assert sqlite3.connect(twin).execute(config).fetchall() == sqlite3.connect(db_path).execute(config).fetchall()


def test_every_public_name_loads() -> None:
    import yurudb

    assert sorted(yurudb.__all__) == sorted(yurudb._WHERE)
    for name in yurudb.__all__:
        assert getattr(yurudb, name) is not None


def _everything(path: Path) -> tuple:
    """The schema, the index's settings, the application id and the revision of a database file."""
    conn = sqlite3.connect(path)
    try:
        return (read_schema(path), conn.execute("SELECT k, v FROM search_index_config ORDER BY k").fetchall(),
                conn.execute("PRAGMA application_id").fetchone()[0],
                conn.execute("SELECT version_num FROM alembic_version").fetchall(),
                sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")))
    finally:
        conn.close()


def test_a_new_database_is_created_at_head_without_alembic_and_is_what_the_revisions_build(
    db_path: Path, tmp_path: Path
) -> None:
    import asyncio
    import subprocess
    import sys

    fresh = tmp_path / "fresh" / "yurudb.db"
    code = (
        "import asyncio, sys, yurudb\n"
        "async def main():\n"
        f"    async with yurudb.open({str(fresh)!r}, daily_backup=False) as store:\n"
        "        print(store.recovery.migrated_to)\n"
        "        s = await store.create_session('first')\n"
        "        await store.append_message(s.id, type='user', content='hello created file')\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in ('sqlalchemy', 'sqlmodel', 'alembic') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [migrations.head_revision(), "[]"]
    asyncio.run(upgrade(db_path))  # every revision from blank
    assert _everything(fresh) == _everything(db_path)
    # to Alembic it is a database like any other: down two revisions and up again, keeping the message
    assert asyncio.run(upgrade(fresh, "0004_archive", "downgrade")) == "0004_archive"
    assert asyncio.run(upgrade(fresh)) == migrations.head_revision()
    assert _everything(fresh) == _everything(db_path)
    assert sqlite3.connect(fresh).execute("SELECT content FROM messages").fetchall() == [("hello created file",)]


def test_creating_the_schema_leaves_a_file_that_has_tables_alone(tmp_path: Path) -> None:
    from yurudb.backends.sqlite import schema
    from yurudb.backends.sqlite.engine import pragmas

    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.commit()
    conn.close()
    before = other.read_bytes()
    assert schema.create_file(other, pragmas("full")) is False
    assert other.read_bytes() == before


def test_two_processes_opening_one_new_database_at_once_both_work(tmp_path: Path) -> None:
    import subprocess
    import sys

    fresh = tmp_path / "race" / "yurudb.db"
    code = (
        "import asyncio, sys, yurudb\n"
        "async def main():\n"
        "    async with yurudb.open(sys.argv[1], daily_backup=False) as store:\n"
        "        assert store.state == 'ready', store.recovery  # not degraded by the other's lock\n"
        "        s = await store.create_session(sys.argv[2])\n"
        "        await store.append_message(s.id, type='user', content=sys.argv[2])\n"
        "asyncio.run(main())\n"
    )
    # a lost race was about one round in ten before the pragmas waited out "database is locked"
    for round_ in range(int(os.environ.get("YURUDB_RACE_ROUNDS", "20"))):
        target = fresh.with_name(f"yurudb-{round_}.db")
        children = [subprocess.Popen([sys.executable, "-c", code, str(target), f"p{k}"], stderr=subprocess.PIPE,
                                     text=True) for k in range(2)]
        for child in children:
            assert child.wait(timeout=60) == 0, child.stderr.read() if child.stderr else ""
        conn = sqlite3.connect(target)
        assert sorted(r[0] for r in conn.execute("SELECT content FROM messages")) == ["p0", "p1"]
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(migrations.head_revision(),)]
        conn.close()

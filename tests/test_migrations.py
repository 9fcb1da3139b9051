"""Revision 0002 upgrades a populated 0001 database value for value, and downgrades it back exactly."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest
from helpers import dump
from test_schema import upgrade

import yurudb
from yurudb.backends.sqlite.revision import HEAD
from yurudb.tables.entities import APPLICATION_ID
from yurudb.times import to_ms

# Rows the way revision 0001 stored them: epoch milliseconds in INTEGER columns.
SESSIONS = [
    ("s1", "first", "active", "/repo", "claude-1", "title", 1, 1_700_000_000_123, 1_700_000_555_999, '{"k": 1}'),
    ("s2", "before 1970", "pending", None, None, None, 0, -1, 0, None),
    ("s3", "round second", "completed", None, None, None, 0, 1_767_225_600_000, 1_767_225_600_001, None),
]
MESSAGES = [
    ("m1", "s1", 1, "user", "user", "hi", None, None, 1_700_000_000_500, '{"type": "user", "content": "hi"}'),
    ("m2", "s1", 2, "assistant", "assistant", "yo", '[{"name": "Bash"}]', '{"output_tokens": 5}', None,
     '{"type": "assistant"}'),
    ("m3", "s3", 1, "user", None, None, None, None, 1_767_225_600_999, None),
]
USAGE = [
    (1, "s1", 10, 20, 30, 0.5, "claude-opus-4-6", 1_700_000_001_000, "req-1"),
    (2, "s1", 1, 2, 3, 0.25, None, None, None),
]


def populate_0001(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executemany("INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", SESSIONS)
    conn.executemany("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", MESSAGES)
    conn.executemany("INSERT INTO analytics VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", USAGE)
    conn.commit()
    conn.close()


def as_text(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


async def test_0002_converts_every_value_of_a_populated_0001_database_and_back(db_path: Path) -> None:
    await upgrade(db_path, "0001_initial")
    populate_0001(db_path)
    before = dump(db_path)

    assert await upgrade(db_path, "0002_timestamps") == "0002_timestamps"
    after = dump(db_path)
    stamp_columns = {"sessions": (7, 8), "messages": (8,), "analytics": (7,)}
    for table, rows in before.items():
        expected = [tuple(as_text(v) if i in stamp_columns[table] else v for i, v in enumerate(row)) for row in rows]
        assert after[table] == expected, table
    assert after["sessions"][1][7] == "1969-12-31 23:59:59.999"
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("SELECT date(created_at) FROM sessions WHERE id = 's1'").fetchone()[0] == "2023-11-14"
    conn.close()

    assert await upgrade(db_path, "0001_initial", "downgrade") == "0001_initial"
    assert dump(db_path) == before
    assert sqlite3.connect(db_path).execute("PRAGMA application_id").fetchone()[0] == 0


async def test_a_store_opened_on_a_0001_database_reads_its_times_as_utc_datetimes(db_path: Path) -> None:
    await upgrade(db_path, "0001_initial")
    populate_0001(db_path)
    async with yurudb.open(db_path, daily_backup=False) as store:
        assert store.recovery.migrated_from == "0001_initial" and store.recovery.backup_made
        assert any(step.name == "migrate" and f"0001_initial -> {HEAD}" in step.detail for step in store.recovery.steps)
        session = await store.get_session("s1")
        assert session.created_at == datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=timezone.utc)
        assert to_ms(session.updated_at) == 1_700_000_555_999
        messages = await store.get_messages("s1")
        assert [to_ms(m.timestamp) if m.timestamp else None for m in messages] == [1_700_000_000_500, None]
        assert [to_ms(u.timestamp) if u.timestamp else None for u in await store.usage_records("s1")] == [
            1_700_000_001_000, None]


async def test_0003_adds_the_cache_split_to_a_populated_0002_database_and_removes_it_exactly(db_path: Path) -> None:
    await upgrade(db_path, "0001_initial")
    populate_0001(db_path)
    await upgrade(db_path, "0002_timestamps")
    before = dump(db_path)

    assert await upgrade(db_path, "0003_cache_split") == "0003_cache_split"
    after = dump(db_path)
    assert after["sessions"] == before["sessions"] and after["messages"] == before["messages"]
    # every old row keeps its values, and its split is unknown: NULL, never a guessed 0
    assert after["analytics"] == [(*row, None, None) for row in before["analytics"]]

    assert await upgrade(db_path, "0002_timestamps", "downgrade") == "0002_timestamps"
    assert dump(db_path) == before
    sql = sqlite3.connect(db_path).execute("SELECT sql FROM sqlite_master WHERE name = 'analytics'").fetchone()[0]
    assert "AUTOINCREMENT" in sql


async def test_0004_adds_the_archive_to_a_populated_0003_database_and_removes_it_exactly(db_path: Path) -> None:
    await upgrade(db_path, "0001_initial")
    populate_0001(db_path)
    await upgrade(db_path, "0003_cache_split")
    before = dump(db_path)

    assert await upgrade(db_path, "0004_archive") == "0004_archive"
    after = dump(db_path)
    assert after["sessions"] == before["sessions"] and after["analytics"] == before["analytics"]
    # the app's messages keep every value; they have no file, line or thread
    assert after["messages"] == [(*row, None, None, None) for row in before["messages"]]
    assert await upgrade(db_path, "0003_cache_split", "downgrade") == "0003_cache_split"
    assert dump(db_path) == before


async def test_0004_refuses_to_downgrade_away_synced_lines(db_path: Path, tmp_path: Path) -> None:
    import pytest

    from yurudb.claude import sync
    from yurudb.errors import MigrationError

    root = tmp_path / "projects" / "-repo"
    root.mkdir(parents=True)
    (root / "s.jsonl").write_text('{"type": "user", "sessionId": "s", "uuid": "u", "message": {"content": "x"}}\n')
    async with yurudb.open(db_path, daily_backup=False) as store:
        await sync(store, root.parent)
    before = dump(db_path)
    with pytest.raises(MigrationError, match="synced transcript lines"):
        await upgrade(db_path, "0003_cache_split", "downgrade")
    assert dump(db_path) == before


def _line_rows(db: Path) -> list[tuple]:
    """transcript_lines (revision 0004-0006) as (file, line, message, the line's bytes)."""
    from yurudb.lines import codec

    conn = sqlite3.connect(db)
    try:
        for dict_id, data in conn.execute("SELECT id, data FROM archive_dicts"):
            codec.register(dict_id, data)
        return [(f, n, m, codec.decode(raw)) for f, n, m, raw in
                conn.execute("SELECT file_id, line, message_id, raw FROM transcript_lines ORDER BY file_id, line")]
    finally:
        conn.close()


async def archive_0006(db_path: Path) -> tuple[list[bytes], list[bytes]]:
    """An archive as 0006 kept it (a row per line, each compressed alone); its files' lines.

    File 1 (synced): 600 lines, a dictionary, one line that is not JSON and one lost to a damaged page
    (line 250); file 2 (the Agent SDK's mirror of the same session): a message of its own, a line
    that is file 1's message, a line with no message.
    """
    import json

    from yurudb.lines import codec

    await upgrade(db_path, "0006_search_merge")
    import random

    noise = random.Random(7)  # text that compresses about as little as it would in runs: the old rows' pages matter
    text = [json.dumps({"type": "user", "uuid": f"u{n}", "sessionId": "s",
                        "message": {"content": f"words {n} {noise.randbytes(400).hex()}"}}).encode() for n in range(1, 601)]
    text[99] = b"not json \xff"
    trained = codec.train(text)
    assert trained is not None
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO sessions (id, name) VALUES ('s', 'synced')")
    conn.execute("INSERT INTO archive_dicts (id, data) VALUES (?, ?)", trained)
    conn.execute("INSERT INTO transcript_files (id, root, path, session_id, lines) VALUES (1, 'projects', '-r/s.jsonl', 's', 600)")
    conn.execute("INSERT INTO transcript_files (id, root, path, session_id, lines) VALUES (2, 'claude-agent-sdk', 'p/s.jsonl', 's', 3)")
    seq = 0
    for n, raw in enumerate(text, start=1):
        if n == 250:
            continue
        mid = None if n == 100 else f"u{n}"
        if mid is not None:
            seq += 1
            conn.execute("INSERT INTO messages (id, session_id, seq, type, file_id, line) VALUES (?, 's', ?, 'user', 1, ?)",
                         (mid, seq, n))
        conn.execute("INSERT INTO transcript_lines (file_id, line, message_id, raw) VALUES (1, ?, ?, ?)",
                     (n, mid, codec.encode(raw, trained[0])))
    mirror = [b'{"type":"user","uuid":"m1","sessionId":"s"}', text[4], b'{"type":"x"']
    conn.execute("INSERT INTO messages (id, session_id, seq, type, file_id, line) VALUES ('m1', 's', 1000, 'user', 2, 1)")
    for n, (raw, mid) in enumerate(zip(mirror, ["m1", "u5", None], strict=True), start=1):
        conn.execute("INSERT INTO transcript_lines (file_id, line, message_id, raw) VALUES (2, ?, ?, ?)",
                     (n, mid, codec.encode(raw)))
    conn.commit()
    conn.close()
    return text, mirror


async def test_0007_moves_every_archived_line_into_runs_and_back_byte_for_byte(db_path: Path) -> None:
    import json

    from yurudb.lines import codec

    text, mirror = await archive_0006(db_path)
    before = _line_rows(db_path)

    assert await upgrade(db_path) == HEAD
    conn = sqlite3.connect(db_path)
    runs = conn.execute("SELECT file_id, first_line, lines, raw FROM transcript_blocks ORDER BY file_id, first_line").fetchall()
    assert [(f, first, count) for f, first, count, _ in runs][:1] == [(1, 1, runs[0][2])] and len(runs) > 3
    assert not any(first <= 250 < first + count for f, first, count, _ in runs if f == 1)  # the lost line stays lost
    after = {(f, first + k): line for f, first, _, raw in runs for k, line in enumerate(codec.unpack(raw))}
    assert after == {(f, n): raw for f, n, _, raw in before}
    assert conn.execute("SELECT file_id, line, message_id FROM transcript_links").fetchall() == [(2, 2, "u5")]
    assert "transcript_lines" not in {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    # the pages the per-line rows held are given back, not left free in a file the size it was
    assert conn.execute("PRAGMA freelist_count").fetchone()[0] * 10 < conn.execute("PRAGMA page_count").fetchone()[0]
    conn.close()
    async with yurudb.open(db_path, daily_backup=False) as store:
        messages = await store.get_messages("s", limit=None)
    assert [m.payload for m in messages] == [json.loads(text[n - 1]) for n in range(1, 601) if n not in (100, 250)] + [
        json.loads(mirror[0])]

    assert await upgrade(db_path, "0006_search_merge", "downgrade") == "0006_search_merge"
    assert _line_rows(db_path) == before


async def test_a_damaged_file_from_before_0007_gives_its_lines_to_a_salvage(db_path: Path, tmp_path: Path) -> None:
    from test_salvage import leaves, smash

    from yurudb.lines import codec
    from yurudb.recovery.salvage import salvage

    old = tmp_path / "old" / "yurucode.db"
    old.parent.mkdir()
    await archive_0006(old)
    before = _line_rows(old)
    pages = leaves(old, "transcript_lines")
    lost_page = sorted(pages)[len(pages) // 2]
    lost = set(pages[lost_page])
    smash(old, lost_page)
    async with yurudb.open(db_path, daily_backup=False):
        pass  # a database at head
    report = salvage(old, db_path)
    assert report.error is None and report.lost["transcript_lines"]
    conn = sqlite3.connect(db_path)
    for dict_id, data in conn.execute("SELECT id, data FROM archive_dicts"):
        codec.register(dict_id, data)
    runs = conn.execute("SELECT file_id, first_line, lines, raw FROM transcript_blocks").fetchall()
    after = {(f, first + k): line for f, first, _, raw in runs for k, line in enumerate(codec.unpack(raw))}
    # every line on a readable page came through, byte for byte; the mirror's link to file 1's message too
    kept = {(f, n): raw for rowid, (f, n, _, raw) in enumerate(before, start=1) if rowid not in lost}
    assert after == kept and len(kept) < len(before)
    if (2, 2) in kept:
        assert conn.execute("SELECT file_id, line, message_id FROM transcript_links").fetchall() == [(2, 2, "u5")]
    conn.close()


async def test_0008_gives_each_cursor_of_a_populated_0007_archive_the_tail_a_sync_would(
    db_path: Path, tmp_path: Path
) -> None:
    import json

    from yurudb.claude import sync

    root = tmp_path / "projects" / "-repo"
    root.mkdir(parents=True)
    big = b"".join(json.dumps({"type": "user", "sessionId": "a", "uuid": f"a{n}",
                               "message": {"content": f"{n} " + "words " * 300}}).encode() + b"\n" for n in range(60))
    (root / "a.jsonl").write_bytes(big)  # many runs' worth, more than the 4 KiB tail
    (root / "b.jsonl").write_bytes(b'{"type": "user", "sessionId": "b", "uuid": "b1"}\nnot json\n')  # under 4 KiB
    (root / "c.jsonl").write_bytes(big.replace(b'"a', b'"c'))  # loses a run to damage below
    async with yurudb.open(db_path, daily_backup=False) as store:
        await sync(store, root.parent)
    conn = sqlite3.connect(db_path)
    written = dict(conn.execute("SELECT path, tail_sha256 FROM transcript_files"))
    assert all(written.values()) and len(written) == 3
    conn.close()

    assert await upgrade(db_path, "0007_line_runs", "downgrade") == "0007_line_runs"
    before = dump(db_path)
    conn = sqlite3.connect(db_path)
    assert "tail_sha256" not in {r[1] for r in conn.execute("PRAGMA table_info(transcript_files)")}
    conn.execute("DELETE FROM transcript_blocks WHERE id = (SELECT MAX(b.id) FROM transcript_blocks AS b "
                 "JOIN transcript_files AS f ON f.id = b.file_id WHERE f.path = '-repo/c.jsonl')")
    conn.commit()
    conn.close()

    assert await upgrade(db_path) == HEAD
    assert dump(db_path) == before
    conn = sqlite3.connect(db_path)
    upgraded = dict(conn.execute("SELECT path, tail_sha256 FROM transcript_files"))
    conn.close()
    # the same hash the sync wrote, worked out from the archived lines; none where a line is missing
    assert upgraded == {**written, "-repo/c.jsonl": None}

    # and it holds from the first sync after the upgrade: an edit in place near the end is found
    with open(root / "a.jsonl", "r+b") as f:
        f.seek(len(big) - 100)
        f.write(b'  "edited"}\n{"type": "user", "sessionId": "a", "uuid": "a-new"}\n')
    async with yurudb.open(db_path, daily_backup=False) as store:
        report = await sync(store, root.parent)
        assert report.files_rewritten == 1


async def test_0009_indexes_the_lookups_of_a_populated_0008_archive_and_removes_them_exactly(
    db_path: Path, tmp_path: Path
) -> None:
    from yurudb.claude import sync

    root = tmp_path / "projects"
    for n in range(3):
        (root / f"-p{n}").mkdir(parents=True)
        (root / f"-p{n}" / f"s{n}.jsonl").write_text(
            f'{{"type": "user", "sessionId": "s{n}", "uuid": "u{n}", "message": {{"content": "hi {n}"}}}}\n')
    async with yurudb.open(db_path, daily_backup=False) as store:
        await store.create_session("an app's session")  # no Claude id: not in the partial index
        await sync(store, root)
    # an archive at 0008 holding data (0009's downgrade removes the indexes alone, checked below)
    assert await upgrade(db_path, "0008_cursor_tail", "downgrade") == "0008_cursor_tail"
    before = dump(db_path)

    assert await upgrade(db_path) == HEAD
    assert dump(db_path) == before
    conn = sqlite3.connect(db_path)
    plans = [" ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, args)) for sql, args in (
        ("SELECT id FROM sessions WHERE claude_session_id = ? ORDER BY created_at, id LIMIT 1", ("s1",)),
        ("SELECT id FROM transcript_files WHERE path = ? AND root != ?", ("-p1/s1.jsonl", "x")))]
    assert conn.execute("SELECT COUNT(*) FROM sessions INDEXED BY idx_sessions_claude "
                        "WHERE claude_session_id IS NOT NULL").fetchone() == (3,)
    conn.close()
    assert "idx_sessions_claude" in plans[0] and "idx_transcript_files_name" in plans[1], plans

    assert await upgrade(db_path, "0008_cursor_tail", "downgrade") == "0008_cursor_tail"
    assert dump(db_path) == before
    conn = sqlite3.connect(db_path)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    conn.close()
    assert not names & {"idx_sessions_claude", "idx_transcript_files_name"}


async def test_0010_indexes_the_whole_text_of_a_populated_0009_database_and_0009_can_take_it_back(
    db_path: Path, tmp_path: Path
) -> None:
    import json

    from yurudb.claude import sync
    from yurudb.recovery import migrations

    filler = " ".join(f"word{i}" for i in range(3000))
    root = tmp_path / "projects" / "-repo"
    root.mkdir(parents=True)
    line = {"type": "user", "sessionId": "c", "uuid": "c1", "message": {"content": f"start {filler} syncedmiddle {filler} end"}}
    (root / "c.jsonl").write_text(json.dumps(line) + "\n")
    async with yurudb.open(db_path, daily_backup=False) as store:
        s = await store.create_session("app")
        await store.append_message(s.id, {"id": "long", "type": "user", "content": f"begin {filler} appmiddle {filler} done"})
        await store.append_message(s.id, {"id": "short", "type": "user", "content": "a short one"})
        await sync(store, root.parent)
    assert await upgrade(db_path, "0009_lookup_indexes", "downgrade") == "0009_lookup_indexes"

    def matches(word: str) -> int:
        conn = sqlite3.connect(db_path)
        try:
            return conn.execute("SELECT COUNT(*) FROM search_index WHERE search_index MATCH ?", (word,)).fetchone()[0]
        finally:
            conn.close()

    def sound() -> None:
        conn = sqlite3.connect(db_path)
        try:  # FTS5's own check: every document's tokens are what the index holds for it
            conn.execute("INSERT INTO search_index (search_index, rank) VALUES ('integrity-check', 0)")
        finally:
            conn.close()

    before = dump(db_path)
    assert matches("appmiddle") == matches("syncedmiddle") == 0  # 0009 indexed their ends only
    assert matches("begin") == matches("done") == matches("short") == 1
    sound()
    heard: list[tuple[int, int]] = []
    assert await migrations.run(db_path, progress=lambda done, total: heard.append((done, total))) == HEAD
    assert heard and heard[-1][0] == heard[-1][1] == 3  # every indexed message looked at, with progress
    assert matches("appmiddle") == matches("syncedmiddle") == 1
    assert matches("begin") == matches("done") == matches("short") == 1
    sound()
    assert dump(db_path) == before  # rows unchanged: each message keeps its document
    async with yurudb.open(db_path, daily_backup=False) as store:
        assert {h.message_id for h in await store.search("appmiddle")} == {"long"}
        assert len(await store.search("syncedmiddle")) == 1
        await store.update_message("long", content="rewritten")  # the upkeep takes out what 0010 put in
        assert await store.search("appmiddle") == []
    sound()
    assert await upgrade(db_path, "0009_lookup_indexes", "downgrade") == "0009_lookup_indexes"
    assert matches("syncedmiddle") == 0 and matches("start") == 1
    sound()


async def test_0011_adds_the_footprint_to_a_populated_0010_archive_and_refuses_to_drop_kept_files(
    db_path: Path, tmp_path: Path
) -> None:
    from yurudb.claude import sync, transcript_files

    root = tmp_path / "projects"
    sid = "5e550000-0000-4000-8000-00000000a011"
    (root / "-p" / sid / "tool-results").mkdir(parents=True)
    (root / "-p" / f"{sid}.jsonl").write_text(
        f'{{"type": "user", "sessionId": "{sid}", "uuid": "u1", "message": {{"content": "hi"}}}}\n')
    async with yurudb.open(db_path, daily_backup=False) as store:
        await sync(store, root)
    # an archive at 0010 holding data, and a file beside its transcript that 0010 never kept
    assert await upgrade(db_path, "0010_whole_text", "downgrade") == "0010_whole_text"
    (root / "-p" / sid / "tool-results" / "t.txt").write_bytes(b"saved tool output\n" * 100)
    before = dump(db_path)
    lines_before = sqlite3.connect(db_path).execute("SELECT file_id, first_line, raw FROM transcript_blocks").fetchall()

    assert await upgrade(db_path) == HEAD
    assert dump(db_path) == before
    async with yurudb.open(db_path, daily_backup=False) as store:
        assert (await sync(store, root)).footprint.new == 1  # the first sync after the upgrade takes it
        files = await transcript_files(store, sid)
    assert files[f"-p/{sid}/tool-results/t.txt"] == b"saved tool output\n" * 100
    assert sqlite3.connect(db_path).execute("SELECT file_id, first_line, raw FROM transcript_blocks").fetchall() \
        == lines_before

    import pytest

    from yurudb.errors import MigrationError

    with pytest.raises(MigrationError, match="would lose them"):
        await upgrade(db_path, "0010_whole_text", "downgrade")
    assert sqlite3.connect(db_path).execute("SELECT COUNT(*) FROM footprint_files").fetchone() == (1,)
    conn = sqlite3.connect(db_path)  # emptied, it goes back exactly
    conn.execute("DELETE FROM footprint_files")
    conn.execute("DELETE FROM footprint_blobs")
    conn.commit()
    conn.close()
    assert await upgrade(db_path, "0010_whole_text", "downgrade") == "0010_whole_text"
    names = {r[0] for r in sqlite3.connect(db_path).execute("SELECT name FROM sqlite_master")}
    assert not {n for n in names if n.startswith(("footprint", "idx_footprint"))}


async def test_0014_keeps_a_populated_0013_archive_whole_and_refuses_to_merge_two_machines_files(
    db_path: Path, tmp_path: Path, monkeypatch
) -> None:
    from yurudb.claude import sync, transcript_files
    from yurudb.errors import MigrationError

    root = tmp_path / "projects"
    sid = "5e550000-0000-4000-8000-00000000a014"
    transcript = root / "-p" / f"{sid}.jsonl"
    transcript.parent.mkdir(parents=True)
    (root / "-p" / "memory.md").write_bytes(b"# kept beside\n")
    transcript.write_text(f'{{"type": "user", "sessionId": "{sid}", "uuid": "u1", "message": {{"content": "hi"}}}}\n')
    async with yurudb.open(db_path, daily_backup=False) as store:
        await sync(store, root)
    assert await upgrade(db_path, "0013_postgresql", "downgrade") == "0013_postgresql"
    tables = ("transcript_files", "footprint_files", "transcript_blocks", "footprint_blobs")

    def archive() -> dict[str, list[tuple]]:
        conn = sqlite3.connect(db_path)
        try:
            return {t: conn.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in tables}
        finally:
            conn.close()

    before, rows_before = archive(), dump(db_path)
    assert await upgrade(db_path) == HEAD
    after = archive()
    for table in tables[:2]:  # every row as it was, with no machine yet
        assert [row[:-1] for row in after[table]] == before[table] and {row[-1] for row in after[table]} == {""}
    assert [after[t] for t in tables[2:]] == [before[t] for t in tables[2:]] and dump(db_path) == rows_before

    monkeypatch.setenv("YURUDB_MACHINE", "home")
    with transcript.open("a") as f:
        f.write(f'{{"type": "user", "sessionId": "{sid}", "uuid": "u2", "message": {{"content": "more"}}}}\n')
    async with yurudb.open(db_path, daily_backup=False) as store:
        report = await sync(store, root)  # reads on from the cursor the upgrade kept
        assert (report.lines, report.files_rewritten, report.footprint.new) == (1, 0, 0)
        monkeypatch.setenv("YURUDB_MACHINE", "work")
        await sync(store, root)  # the same paths, read on another machine: rows of its own
        assert (await transcript_files(store, sid))[f"-p/{sid}.from-home.jsonl"] == transcript.read_bytes()
    with pytest.raises(MigrationError, match="more than one machine"):
        await upgrade(db_path, "0013_postgresql", "downgrade")
    assert sqlite3.connect(db_path).execute("SELECT COUNT(*) FROM transcript_files").fetchone() == (2,)

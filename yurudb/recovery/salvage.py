"""Salvage: copy every row that can still be read out of a damaged database into a healthy one.

Restoring the newest backup after corruption would lose whatever was written since that backup
(up to a day of conversations). Salvage reads the quarantined file table by table in rowid order,
steps over the pages that cannot be read, and merges what it finds into the database: a row the
damaged file has is newer than the backup's copy of it, so it wins. It never deletes.

A salvage interrupted by a crash is safe to run again: the merge is idempotent, and start-up keeps
a marker beside the database until the merge has committed.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..backends.sqlite.engine import connect_sync
from ..backends.sqlite.transaction import Tx
from ..lines import codec
from ..lines import runs as archive_lines
from ..search import index as search
from ..times import now_text, text_from_ms

CHUNK = 500
# Rowids are signed 64-bit integers.
_FIRST_ROWID, _LAST_ROWID = -(2**63), 2**63 - 1
# Parents before children; the archive's raw lines too: a synced message's payload lives there.
_TABLES = ("sessions", "transcript_files", "messages", "analytics", "archive_dicts", "transcript_blocks",
           "transcript_links", "footprint_blobs", "footprint_files")
_COUNTED = ("sessions", "messages", "analytics")
_TIMESTAMP_COLUMNS = frozenset({"created_at", "updated_at", "timestamp"})
_JSON_COLUMNS = {"sessions": ("metadata",), "messages": ("tool_uses", "usage", "payload"), "analytics": (),
                 "transcript_files": (), "archive_dicts": (), "transcript_blocks": (), "transcript_links": (),
                 "footprint_blobs": (), "footprint_files": ()}
_COUNTER = {"sessions": "sessions", "messages": "messages", "analytics": "usage",  # SalvageReport fields
            "transcript_files": "archive_rows", "archive_dicts": "archive_rows", "transcript_blocks": "archive_rows",
            "transcript_links": "archive_rows", "footprint_blobs": "archive_rows", "footprint_files": "archive_rows"}
# Working copies of damaged files live beside the database; a killed salvage's are removed later.
_COPY_PREFIX = ".yurudb-salvage-"
STALE_COPY_SECONDS = 3600


@dataclass
class SalvageReport:
    """What a salvage read and merged."""

    source: str = ""
    sessions: int = 0  # rows read and merged (new, or refreshing an older copy)
    messages: int = 0
    usage: int = 0
    archive_rows: int = 0  # transcript files, raw lines and dictionaries of the Claude Code archive
    new_sessions: int = 0  # rows the database did not have before (written after its backup)
    new_messages: int = 0
    new_usage: int = 0
    placeholder_sessions: int = 0  # sessions whose row was lost but whose messages were not
    damaged_regions: int = 0  # stretches of rows that could not be read
    rows_skipped: int = 0  # rows read but unusable (garbled values, or clashing with the database)
    error: str | None = None  # the damaged file could not be read at all
    # synced transcripts missing lines the damage took: the next sync reads them again from the start
    # (the copy here is kept as the file's earlier copy), so Claude Code's file gives them back
    files_to_reread: int = 0
    # per table: rows that could not be brought back, at most (rowids stepped over + rows skipped);
    # None when the end of the table could not be read, so the count is unknown
    lost: dict[str, int | None] = field(default_factory=dict)

    def lost_summary(self) -> str:
        """What could not be brought back, per table (empty when nothing was lost)."""
        parts = [f"{table}: {'an unknown number of rows' if n is None else f'up to {n:,} rows'}"
                 for table, n in self.lost.items() if n != 0]
        return "; ".join(parts)

    def summary(self) -> str:
        """One line for logs and the command line."""
        if self.error:
            return f"nothing salvaged: {self.error}"
        return (f"salvaged {self.sessions:,} sessions, {self.messages:,} messages, {self.usage:,} usage records "
                f"({self.new_sessions:,}, {self.new_messages:,} and {self.new_usage:,} of them new); "
                f"{self.placeholder_sessions} sessions rebuilt, {self.damaged_regions} unreadable regions, "
                f"{self.rows_skipped} rows skipped"
                + (f"; {self.files_to_reread} transcripts to read again at the next sync" if self.files_to_reread else ""))


def marker_path(db: Path) -> Path:
    """Where start-up records a salvage still to do (the quarantined files), until it has committed."""
    return Path(f"{db}.salvage")


def write_marker(db: Path, files: Sequence[Path]) -> None:
    """Record the quarantined files to salvage from, durably (written, fsynced, renamed into place)."""
    target = marker_path(db)
    tmp = target.with_name(target.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"files": [str(p) for p in files]}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)
    _fsync_dir(target.parent)


def read_marker(db: Path) -> list[Path] | None:
    """The quarantined files a pending salvage should read, or None when there is none."""
    try:
        data = json.loads(marker_path(db).read_text(encoding="utf-8"))
        return [Path(p) for p in data["files"]]
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        return []  # a torn marker: nothing we can act on; the quarantined files stay where they are


def clear_marker(db: Path) -> None:
    """The salvage has committed."""
    marker_path(db).unlink(missing_ok=True)


def main_file(files: Sequence[Path]) -> Path | None:
    """The database itself among quarantined files (not its -wal, -shm or -journal)."""
    for p in files:
        stem = p.name.rsplit(".corrupt-", 1)[0]
        if not stem.endswith(("-wal", "-shm", "-journal")):
            return p
    return None


def wal_beside(file: Path) -> Path | None:
    """The WAL that goes with a database file: `x.db-wal`, or `x.db-wal.corrupt-T` for `x.db.corrupt-T`."""
    if ".corrupt-" in file.name:
        stem, stamp = file.name.rsplit(".corrupt-", 1)
        candidate = file.with_name(f"{stem}-wal.corrupt-{stamp}")
    else:
        candidate = Path(f"{file}-wal")
    return candidate if candidate.exists() else None


def salvage(source: Path, target: Path, *, wal: Path | None = None) -> SalvageReport:
    """Merge every readable row of `source` (with its WAL, if given) into the database at `target`.

    The source is never written: it is copied first, into the target's folder (SQLite writes to
    a database it opens with a WAL; that folder is writable, and after a quarantine its disk
    already held the file). A source SQLite cannot open is reported in SalvageReport.error.
    Raises OSError when the copy cannot be made and sqlite3.Error when the target fails: the
    salvage can be tried again.
    """
    report = SalvageReport(source=str(source))
    _remove_stale_copies(target.parent)
    with tempfile.TemporaryDirectory(prefix=_COPY_PREFIX, dir=target.parent) as tmp:
        copy = Path(tmp, "damaged.db")
        shutil.copyfile(source, copy)
        if wal is not None and wal.exists():
            shutil.copyfile(wal, Path(f"{copy}-wal"))
        try:
            damaged = sqlite3.connect(copy, isolation_level=None)
        except sqlite3.Error as exc:
            report.error = str(exc)
            return report
        try:
            out = connect_sync(target, role="maintenance")
            try:
                _merge(damaged, out, report)
            finally:
                out.close()
        finally:
            damaged.close()
    return report


def _remove_stale_copies(folder: Path) -> None:
    """Working copies left by a salvage that was killed (copies only: the quarantined files stay)."""
    for old in folder.glob(f"{_COPY_PREFIX}*"):
        try:
            if time.time() - old.stat().st_mtime > STALE_COPY_SECONDS:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass


def _merge(damaged: sqlite3.Connection, out: sqlite3.Connection, report: SalvageReport) -> None:
    try:
        source_columns = {t: _columns(damaged, t) for t in _TABLES}
    except sqlite3.DatabaseError as exc:
        report.error = f"schema unreadable: {exc}"
        return
    out.execute("BEGIN IMMEDIATE")
    try:
        known = {r[0] for r in out.execute("SELECT id FROM sessions")}
        files = {r[0] for r in out.execute("SELECT id FROM transcript_files")}
        before = _counts(out)
        for table in _TABLES:
            # search_doc points into the damaged file's index, which is not copied: rebuilt below
            columns = [c for c in _columns(out, table) if c in source_columns[table] and c != "search_doc"]
            if "id" not in columns:
                continue  # the table is missing from the damaged file (or unreadable there)
            regions: list[int | None] = []
            skipped = 0
            for rows in _scan(damaged, table, columns, regions):
                usable = _timestamps_as_text(columns, [r for r in rows if _usable(table, columns, r)])
                _adopt_orphans(table, columns, usable, known, out, report)
                _adopt_orphan_lines(table, columns, usable, files, out)
                merged = _upsert(out, table, columns, usable)
                skipped += len(rows) - merged
                setattr(report, _COUNTER[table], getattr(report, _COUNTER[table]) + merged)
            report.rows_skipped += skipped
            report.damaged_regions += len(regions)
            report.lost[table] = None if None in regions else skipped + sum(n for n in regions if n is not None)
        if "raw" in _columns(damaged, "transcript_lines"):
            _merge_line_rows(damaged, out, report, files)
        report.files_to_reread = _reread_incomplete(out)
        after = _counts(out)
        # placeholders are counted apart: they hold no data of their own
        report.new_sessions = after["sessions"] - before["sessions"] - report.placeholder_sessions
        report.new_messages = after["messages"] - before["messages"]
        report.new_usage = after["analytics"] - before["analytics"]
        # rows merged over rows the target held may say something else now: index everything afresh
        search.rebuild(Tx(out))
        out.execute("COMMIT")
    except BaseException:
        if out.in_transaction:
            out.execute("ROLLBACK")
        raise


def _adopt_orphans(
    table: str, columns: list[str], rows: list[tuple[Any, ...]], known: set[str],
    out: sqlite3.Connection, report: SalvageReport,
) -> None:
    """Rows whose session row was lost get a rebuilt session to belong to (never dropped for it)."""
    if table == "sessions":
        known.update(r[columns.index("id")] for r in rows)
        return
    if "session_id" not in columns:
        return
    at = columns.index("session_id")
    stamp = columns.index("timestamp") if "timestamp" in columns else None
    for r in rows:
        sid = r[at]
        if not isinstance(sid, str) or sid in known:
            continue
        when = r[stamp] if stamp is not None and isinstance(r[stamp], str) else now_text()
        out.execute(
            "INSERT OR IGNORE INTO sessions (id, name, status, created_at, updated_at, metadata) "
            "VALUES (?, ?, 'interrupted', ?, ?, ?)",
            (sid, f"Recovered session {sid[:8]}", when, when, json.dumps({"salvaged": True})),
        )
        known.add(sid)
        report.placeholder_sessions += 1


def _timestamps_as_text(columns: list[str], rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows of an older file (revision 0001 stored epoch milliseconds) with today's timestamp text."""
    at = [i for i, c in enumerate(columns) if c in _TIMESTAMP_COLUMNS]
    if not at or not any(type(r[i]) is int for r in rows for i in at):
        return rows
    return [tuple(text_from_ms(v) if i in at and type(v) is int else v for i, v in enumerate(r)) for r in rows]


def _adopt_orphan_lines(
    table: str, columns: list[str], rows: list[tuple[Any, ...]], files: set[int], out: sqlite3.Connection
) -> None:
    """Raw lines whose file row was lost get a rebuilt file row (the bytes are what matters)."""
    if table == "transcript_files":
        files.update(r[columns.index("id")] for r in rows)
        return
    if table not in ("transcript_blocks", "transcript_links", "transcript_lines"):
        return
    at = columns.index("file_id")
    for r in rows:
        fid = r[at]
        if isinstance(fid, int) and fid not in files:
            out.execute("INSERT OR IGNORE INTO transcript_files (id, root, path) VALUES (?, '(salvaged)', ?)",
                        (fid, f"salvaged-file-{fid}.jsonl"))
            files.add(fid)


def _merge_line_rows(damaged: sqlite3.Connection, out: sqlite3.Connection, report: SalvageReport,
                     files: set[int]) -> None:
    """A damaged file from before revision 0007 kept a row per line (`transcript_lines`): each line it
    still has, that the database has not, becomes a run of its own (and a link, if its message is
    another file's line)."""
    archive_lines.load_dictionaries(out)
    columns = ["id", "file_id", "line", "message_id", "raw"]
    regions: list[int | None] = []
    skipped = 0
    for rows in _scan(damaged, "transcript_lines", columns, regions):
        _adopt_orphan_lines("transcript_lines", columns, [r for r in rows if isinstance(r[1], int)], files, out)
        for _, file_id, line, message_id, raw in rows:
            try:
                data = codec.decode(raw)
            except (codec.UnknownDictionary, codec.Damaged, TypeError):
                skipped += 1
                continue
            if not isinstance(file_id, int) or not isinstance(line, int) or out.execute(
                    "SELECT 1 FROM transcript_blocks WHERE file_id = ? AND first_line <= ? AND first_line + lines > ?",
                    (file_id, line, line)).fetchone():
                skipped += 1  # garbled, or the database has this line
                continue
            out.execute("INSERT INTO transcript_blocks (file_id, first_line, lines, raw) VALUES (?, ?, 1, ?)",
                        (file_id, line, codec.encode(data + b"\n")))
            owner = out.execute("SELECT file_id, line FROM messages WHERE id = ?", (message_id,)).fetchone()
            if isinstance(message_id, str) and owner is not None and tuple(owner) != (file_id, line):
                out.execute("INSERT OR IGNORE INTO transcript_links (file_id, line, message_id) VALUES (?, ?, ?)",
                            (file_id, line, message_id))
            report.archive_rows += 1
    report.rows_skipped += skipped
    report.damaged_regions += len(regions)
    report.lost["transcript_lines"] = None if None in regions else sum(n for n in regions if n is not None)


def _reread_incomplete(out: sqlite3.Connection) -> int:
    """Synced transcripts whose archived lines no longer all come back (a run lost or damaged): the
    next sync takes each for changed and rewritten and reads it whole; the incomplete copy stays, as
    a rewritten file's earlier copy does (archive_lines.verify, archive_lines.reread)."""
    return archive_lines.reread_damaged(Tx(out))[1]


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in _COUNTED}


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]


def _scan(
    conn: sqlite3.Connection, table: str, columns: list[str], regions: list[int | None]
) -> Iterator[list[tuple[Any, ...]]]:
    """Rows of `table` in rowid order, in chunks, stepping over what cannot be read.

    A read that fails is retried with smaller chunks down to one row; when the next row itself
    cannot be read, a binary search over rowids finds where readable rows start again (past the
    damaged page), so what is lost is what the damaged pages held and nothing more.
    """
    sql = f"SELECT rowid, {', '.join(columns)} FROM {table} WHERE rowid >= ? ORDER BY rowid LIMIT ?"
    start, chunk = _FIRST_ROWID, CHUNK
    while True:
        try:
            rows = conn.execute(sql, (start, chunk)).fetchall()
        except sqlite3.DatabaseError:
            if chunk > 1:
                chunk = max(1, chunk // 8)
                continue
            resume = _readable_from(conn, sql, start)
            # each damaged region: how many rowids were stepped over (None: up to the end of the table)
            # (SQLite numbers rows from 1 up, so a scan that failed at its very start counts from 1)
            regions.append(None if resume is None else max(0, resume - max(start, 1)))
            if resume is None:
                return
            start, chunk = resume, CHUNK
            continue
        if not rows:
            return
        yield [r[1:] for r in rows]
        if rows[-1][0] >= _LAST_ROWID:
            return
        start, chunk = rows[-1][0] + 1, CHUNK


def _readable_from(conn: sqlite3.Connection, sql: str, start: int) -> int | None:
    """The smallest rowid bound above `start` (which fails) from which reading works again; None if none does."""
    def ok(bound: int) -> bool:
        # the whole row, not just its rowid: a row can sit on a good page with its text on a bad one
        try:
            conn.execute(sql, (bound, 1)).fetchall()
            return True
        except sqlite3.DatabaseError:
            return False

    step, hi = 1, None
    while hi is None:
        bound = min(start + step, _LAST_ROWID)
        if ok(bound):
            hi = bound
        elif bound == _LAST_ROWID:
            return None
        step *= 2
    lo = start  # ok(lo) is False and ok(hi) is True: find the smallest bound that reads
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _usable(table: str, columns: list[str], row: tuple[Any, ...]) -> bool:
    """Whether a row read from a damaged page holds values yurudb could have written."""
    values = dict(zip(columns, row, strict=True))
    if table in ("sessions", "messages") and not isinstance(values.get("id"), str):
        return False
    # a synced transcript line's type is whatever Claude Code wrote: any non-empty text
    if table == "messages" and (not isinstance(values.get("seq"), int) or not isinstance(values.get("type"), str)
                                or not values["type"]):
        return False
    if table == "transcript_blocks" and (not isinstance(values.get("raw"), bytes)
                                         or not isinstance(values.get("file_id"), int)
                                         or not isinstance(values.get("first_line"), int)
                                         or not isinstance(values.get("lines"), int)):
        return False
    if table == "transcript_links" and (not isinstance(values.get("message_id"), str)
                                        or not isinstance(values.get("file_id"), int)
                                        or not isinstance(values.get("line"), int)):
        return False
    if table == "footprint_blobs" and (not isinstance(values.get("data"), bytes)
                                       or not isinstance(values.get("sha256"), str)
                                       or not isinstance(values.get("size"), int)):
        return False
    if table == "footprint_files" and (not isinstance(values.get("root"), str) or not isinstance(values.get("path"), str)
                                       or not isinstance(values.get("blob_id"), int)):
        return False
    for column in _JSON_COLUMNS[table]:
        text = values.get(column)
        if text is None:
            continue
        try:
            json.loads(text)
        except (TypeError, ValueError):
            return False
    return True


def _upsert(out: sqlite3.Connection, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> int:
    """Merge rows, the damaged file's version winning (newer than a backup's); returns rows merged."""
    if not rows:
        return 0
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "id")
    where = " WHERE excluded.updated_at >= sessions.updated_at" if table == "sessions" else ""
    sql = (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
           f"ON CONFLICT(id) DO UPDATE SET {updates}{where}")
    out.execute("SAVEPOINT chunk")
    try:
        out.executemany(sql, rows)
        out.execute("RELEASE chunk")
        return len(rows)
    except sqlite3.IntegrityError:
        # One row clashes with the database (a unique key held by another row): merge the rest one by one.
        out.execute("ROLLBACK TO chunk")
        out.execute("RELEASE chunk")
    merged = 0
    for row in rows:
        try:
            out.execute(sql, row)
            merged += 1
        except sqlite3.IntegrityError:
            pass
    return merged


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not possible on every platform; the rename itself is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

"""The rest of a session's footprint: every file Claude Code keeps beside its transcripts, byte-exact.

Under the projects folder that is each `<project>/<session>/tool-results/*.txt` (large tool outputs
the transcript only points to), subagent sidecars (`*.meta.json`), `workflows/*.json`, a project's
`memory/MEMORY.md`, `.session-aliases` and `sessions-index.json`, and whatever else appears there;
beside it, `history.jsonl` (every prompt typed). A `*.jsonl` under the projects folder is a
transcript and goes through the line archive instead (`sync.py`).

Each file's bytes are stored once per content (`footprint_blobs`, zstd, keyed by SHA-256), however
many copies share them; `footprint_files` holds each copy by its path under its root. An unchanged
file costs a stat. A file that grew by appending (history.jsonl) takes the new bytes in place of the
old ones, which it still holds; a file rewritten otherwise keeps its earlier copy under
`<path>#replaced-<time>`, as a rewritten transcript does. A file that disappeared is marked gone;
nothing is ever deleted.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zstandard

from ..backends.sqlite.transaction import Tx
from ..errors import CorruptDatabaseError
from ..lines import runs as archive_lines
from ..paths import machine_id
from ..store.store import Store
from ..times import now_text
from ..writes.batch import BatchEffects
from .apply import adopt

HISTORY = "history.jsonl"  # beside the projects folder: every prompt typed, in every project
# Claude Code names a session's folder by its id, a UUID: files under one belong to that session,
# the others (memory/, sessions-index.json, ...) to the project.
SESSION_FOLDER = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
BATCH_BYTES = 8 * 1024 * 1024  # files committed in one transaction
LEVEL = 3  # zstd level: 9 stored 7% less and took 2.5x as long (W10: 0.27x vs 0.29x the bytes, 30 vs 76 MB/s)


@dataclass
class Found:
    """A file on disk that the footprint archives."""

    path: Path
    rel: str  # under its root, "/"-separated
    st: os.stat_result


@dataclass
class FootprintReport:
    """What a footprint pass found and kept."""

    files: int = 0
    unchanged: int = 0
    new: int = 0
    grown: int = 0
    replaced: int = 0
    gone: int = 0
    bytes: int = 0  # read this pass
    stored: int = 0  # compressed bytes added to the database
    problems: list[str] = field(default_factory=list)


def session_key(rel: str) -> str | None:
    """The Claude session whose folder holds this file (`<project>/<session>/...`), or None (the project's)."""
    parts = rel.split("/")
    return parts[1] if len(parts) >= 3 and SESSION_FOLDER.match(parts[1]) else None


def is_footprint(rel: str) -> bool:
    """Whether a path under the projects folder is the footprint's (not a transcript)."""
    return not rel.endswith(".jsonl") and archive_lines.RETIRED not in rel


def walk(root: Path, problems: list[str], only: set[str] | None = None,
         paths: list[Path] | None = None) -> list[Found]:
    """Every regular file under root that is not a transcript, in a stable order; or just the paths in
    `only` (the caller chose them: history.jsonl is one); `paths`: a walk of root made already (sync's)."""
    def failed(exc: OSError) -> None:
        problems.append(f"{exc.filename}: {exc.strerror or exc}")

    if only is not None:
        candidates = [root / rel for rel in sorted(only)]
    elif paths is not None:
        candidates = paths
    else:
        candidates = []
        for folder, dirs, names in os.walk(root, onerror=failed):  # never follows links to folders
            dirs.sort()
            candidates += [Path(folder) / name for name in sorted(names)]
    found: list[Found] = []
    for path in candidates:
        rel = path.relative_to(root).as_posix()
        if (only is None and not is_footprint(rel)) or path.name.endswith(".yurudb-restore"):
            continue
        try:
            st = path.stat()
        except FileNotFoundError:
            if only is None:
                problems.append(f"{rel}: no such file (a dangling link?)")
            continue
        except OSError as exc:
            problems.append(f"{rel}: {exc.strerror or exc}")
            continue
        if stat.S_ISREG(st.st_mode):
            found.append(Found(path, rel, st))
    return found


@dataclass
class _Copy:
    """What the archive holds of one path: its row and the SHA-256 of its bytes."""

    id: int
    blob_id: int
    size: int
    mtime_ns: int | None
    device: int | None
    inode: int | None
    gone_at: str | None
    sha256: str


@dataclass
class _Read:
    """A changed file read this pass, its bytes compressed off the event loop."""

    found: Found
    sha256: str
    size: int
    prefix_sha256: str | None  # of its first `old.size` bytes: equal to the old copy's when it only grew
    data: bytes  # compressed
    old: _Copy | None


def _current(tx: Tx, place: tuple[str, str]) -> tuple[BatchEffects, dict[str, _Copy]]:
    adopt(tx, "footprint_files", place)
    rows = tx.execute(
        "SELECT f.path, f.id, f.blob_id, f.size, f.mtime_ns, f.device, f.inode, f.gone_at, b.sha256 "
        "FROM footprint_files AS f JOIN footprint_blobs AS b ON b.id = f.blob_id "
        "WHERE f.machine = ? AND f.root = ? AND instr(f.path, ?) = 0", (*place, archive_lines.RETIRED))
    return BatchEffects(), {r[0]: _Copy(*r[1:]) for r in rows}


def _unchanged(copy: _Copy | None, st: os.stat_result) -> bool:
    return (copy is not None and copy.gone_at is None and copy.size == st.st_size
            and copy.mtime_ns == st.st_mtime_ns and copy.inode == st.st_ino and copy.device == st.st_dev)


def _read(found: Found, old: _Copy | None) -> _Read:
    """Read, hash and compress one file (on a worker thread); nothing to compress when its bytes are the archived ones."""
    with open(found.path, "rb") as f:
        data = f.read()
    sha = hashlib.sha256(data).hexdigest()
    if old is not None and old.sha256 == sha:
        return _Read(found, sha, len(data), sha, b"", old)
    prefix = hashlib.sha256(data[:old.size]).hexdigest() if old is not None and old.size < len(data) else None
    return _Read(found, sha, len(data), prefix, zstandard.ZstdCompressor(level=LEVEL, write_checksum=True).compress(data), old)


def _blob(tx: Tx, read: _Read) -> tuple[int, int]:
    """The blob holding these bytes (stored now if no copy had them): (its id, bytes added)."""
    row = tx.execute("SELECT id FROM footprint_blobs WHERE sha256 = ?", (read.sha256,))
    if row:
        return row[0][0], 0
    blob_id = tx.execute("INSERT INTO footprint_blobs (sha256, size, data) VALUES (?, ?, ?) RETURNING id",
                         (read.sha256, read.size, read.data))[0][0]
    # its secrets are looked for once per content, by the store's scanner (a sync never waits for them)
    tx.execute("INSERT OR IGNORE INTO secret_blob_scans (blob_id) VALUES (?)", (blob_id,))
    return blob_id, len(read.data)


def blob_for(tx: Tx, data: bytes) -> int:
    """The blob holding these bytes, stored now if none does (a scrub's rewritten file)."""
    sha = hashlib.sha256(data).hexdigest()
    packed = zstandard.ZstdCompressor(level=LEVEL, write_checksum=True).compress(data)
    return _blob(tx, _Read(None, sha, len(data), None, packed, None))[0]  # type: ignore[arg-type]


def drop_unused_blob(tx: Tx, blob_id: int) -> None:
    """Delete a blob no file row names any more."""
    tx.execute("DELETE FROM footprint_blobs WHERE id = ? AND NOT EXISTS (SELECT 1 FROM footprint_files WHERE blob_id = ?)",
               (blob_id, blob_id))


def _apply(tx: Tx, place: tuple[str, str], reads: list[_Read], report: FootprintReport) -> tuple[BatchEffects, None]:
    now = now_text()
    for r in reads:
        st, old = r.found.st, r.old
        stat_values = (st.st_size, st.st_mtime_ns, st.st_dev, st.st_ino, now)
        if old is not None and old.sha256 == r.sha256:  # touched, moved back, or back from gone: the same bytes
            tx.execute("UPDATE footprint_files SET size = ?, mtime_ns = ?, device = ?, inode = ?, synced_at = ?, "
                       "gone_at = NULL WHERE id = ?", (*stat_values, old.id))
            report.unchanged += 1
            continue
        blob_id, added = _blob(tx, r)
        report.stored += added
        if old is not None and r.prefix_sha256 == old.sha256:
            # it grew by appending: the new bytes hold the old ones, so one copy keeps both
            tx.execute("UPDATE footprint_files SET blob_id = ?, size = ?, mtime_ns = ?, device = ?, inode = ?, "
                       "synced_at = ?, gone_at = NULL WHERE id = ?", (blob_id, *stat_values, old.id))
            drop_unused_blob(tx, old.blob_id)
            report.grown += 1
            continue
        if old is not None:  # rewritten: the earlier copy stays, under a name of its own
            tx.execute("UPDATE footprint_files SET path = path || ? || ? WHERE id = ?",
                       (archive_lines.RETIRED, now, old.id))
            report.replaced += 1
        else:
            report.new += 1
        tx.execute("INSERT INTO footprint_files (machine, root, path, session_key, blob_id, size, mtime_ns, device, "
                   "inode, synced_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (*place, r.found.rel, session_key(r.found.rel), blob_id, *stat_values))
    return BatchEffects(), None


def _mark_gone(tx: Tx, place: tuple[str, str], present: set[str], only: set[str] | None) -> tuple[BatchEffects, int]:
    now, gone = now_text(), 0
    for fid, path in tx.execute("SELECT id, path FROM footprint_files WHERE machine = ? AND root = ? "
                                "AND gone_at IS NULL AND instr(path, ?) = 0", (*place, archive_lines.RETIRED)):
        if path not in present and (only is None or path in only):
            tx.execute("UPDATE footprint_files SET gone_at = ? WHERE id = ?", (now, fid))
            gone += 1
    return BatchEffects(), gone


async def archive(store: Store, root: Path, *, only: set[str] | None = None,
                  report: FootprintReport | None = None, paths: list[Path] | None = None,
                  machine: str | None = None) -> FootprintReport:
    """Archive what changed of the footprint under `root` (or just the paths in `only`) in a few transactions;
    `paths` is a walk of root already made (sync walks once for transcripts and footprint both); the
    files are this machine's (paths.machine_id) unless told whose."""
    report = report if report is not None else FootprintReport()
    place = (machine if machine is not None else machine_id(), str(root))
    found = walk(root, report.problems, only, paths)
    report.files += len(found)
    current = await store.transaction(_current, place)
    batch: list[_Read] = []
    size = 0
    for f in found:
        old = current.get(f.rel)
        if _unchanged(old, f.st):
            report.unchanged += 1
            continue
        try:
            read = await asyncio.to_thread(_read, f, old)
        except OSError as exc:  # removed or unreadable since the walk: said, and the rest goes on
            report.problems.append(f"{f.rel}: {exc.strerror or exc}")
            continue
        report.bytes += read.size
        batch.append(read)
        size += len(read.data)
        if size >= BATCH_BYTES:
            await store.transaction(_apply, place, batch, report)
            batch, size = [], 0
    if batch:
        await store.transaction(_apply, place, batch, report)
    report.gone += await store.transaction(_mark_gone, place, {f.rel for f in found}, only)
    return report


def _decompress(data: bytes, sha256: str | None = None, path: str = "") -> bytes:
    """A blob's bytes; damage (zstd's checksum, or the SHA-256 they were stored under) is an error, never other bytes."""
    try:
        out = zstandard.ZstdDecompressor().decompress(data)
    except zstandard.ZstdError as exc:
        raise CorruptDatabaseError(f"{path}: its archived bytes are damaged ({exc}); `yurudb check` lists it") from None
    if sha256 is not None and hashlib.sha256(out).hexdigest() != sha256:
        raise CorruptDatabaseError(f"{path}: its archived bytes are damaged (not the bytes stored); "
                                   "`yurudb check` lists it")
    return out


async def files_of(store: Store, session_id: str, projects: dict[tuple[str, str], set[str]], *,
                   earlier: bool = False) -> list[tuple[str, str, bytes]]:
    """The footprint that goes with a session, (machine, path, bytes): its own folder's files and its projects' files.

    `projects` maps each (machine, root) to the project folders the session's transcripts lie in. With
    `earlier`, rewritten files' earlier copies come too (named by `earlier_name`).
    """
    claude_ids = {r[0] for r in await store.fetch(
        "SELECT claude_session_id FROM sessions WHERE id = ? AND claude_session_id IS NOT NULL", (session_id,))}
    claude_ids.add(session_id)
    out: list[tuple[str, str, bytes]] = []
    for place, folders in projects.items():
        rows: list[Any] = []
        for folder in sorted(folders):
            rows += await store.fetch(
                "SELECT f.path, f.session_key, b.data, b.sha256 FROM footprint_files AS f "
                "JOIN footprint_blobs AS b ON b.id = f.blob_id WHERE f.machine = ? AND f.root = ? "
                "AND substr(f.path, 1, ?) = ? AND (? OR instr(f.path, ?) = 0) ORDER BY f.path",
                (*place, len(folder) + 1, folder + "/", earlier, archive_lines.RETIRED))
        for path, key, data, sha in rows:
            if key is None or key in claude_ids:  # the project's own files, and this session's folder
                out.append((place[0], path, await asyncio.to_thread(_decompress, data, sha, path)))
    return out


async def history_copies(store: Store) -> list[bytes]:
    """Every archived copy of every history.jsonl: the current ones and those from before a rewrite
    (Claude Code's clean-up drops old prompts from it; the earlier copy still holds them)."""
    rows = await store.fetch(
        "SELECT b.data, b.sha256, f.path FROM footprint_files AS f JOIN footprint_blobs AS b ON b.id = f.blob_id "
        "WHERE f.path = ? OR substr(f.path, 1, ?) = ? ORDER BY f.id",
        (HISTORY, len(HISTORY + archive_lines.RETIRED), HISTORY + archive_lines.RETIRED))
    return [await asyncio.to_thread(_decompress, data, sha, path) for data, sha, path in rows]


def verify(conn: Any) -> list[tuple[int, str, str]]:
    """Every archived file whose bytes are damaged, on a plain sqlite3 connection: (blob id, path, why)."""
    problems: list[tuple[int, str, str]] = []
    for blob_id, sha, data, path in conn.execute(
            "SELECT b.id, b.sha256, b.data, (SELECT MIN(path) FROM footprint_files WHERE blob_id = b.id) "
            "FROM footprint_blobs AS b"):
        try:
            _decompress(data, sha, path or f"blob {blob_id}")
        except CorruptDatabaseError as exc:
            problems.append((blob_id, path or "", str(exc)))
    return problems

"""`push` and `pull`: copy one yurudb database into another (a SQLite archive at home into PostgreSQL
at work, and back), idempotently: a second copy of the same data changes nothing.

Nothing is copied with its row ids, which two databases hand out each their own: each kind of
record is matched by what it is, and goes in through the target's own writes.

- Sessions by id: one the target lacks is inserted; one both have is merged (`merged`).
- Transcript files by (machine, root, path); their lines go through the transaction a sync
  applies (`Commits`, `apply.archive_all`), so messages, links to twins, usage and the search
  index come out as a sync makes them. A file the target lacks is read from its first line; one
  the target holds fewer lines of, from the line after them, when those are the source's lines
  byte for byte; one whose lines differ goes in as a sync takes a rewritten file: the target's
  copy stays, under `<path>#replaced-<time>`. Nothing is overwritten.
- The files kept beside the transcripts by (machine, root, path) and content: a copy whose bytes
  the target's copies of that path lack is kept beside them (the later synced is the current one).
- The app's own messages (no file) by id, appended after the session's messages; one both hold
  with other text keeps the target's, and is counted in `messages_differing`.
- Usage records by (session, source_id); one with no source_id by its whole contents, as many
  times as the source holds it.

The source is only read. Each step commits in transactions of its own: an interrupted copy keeps
what it committed, and the next one goes on from there.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..lines import codec
from ..lines import runs as archive_lines
from ..search import index as search
from ..store.store import Store
from ..times import now_text
from ..writes import statements
from ..writes.batch import BatchEffects
from .apply import RETIRED, Chunk, File, Place
from .sync import CHUNK_BYTES, PREFIX_BYTES, Commits, SyncReport, prepare_chunk

SESSION_COLUMNS = ("id, name, status, working_directory, claude_session_id, claude_title, user_renamed, "
                   "created_at, updated_at, metadata")
FILE_COLUMNS = ("id, machine, root, path, session_id, thread, device, inode, size, mtime_ns, consumed, lines, "
                "prefix_sha256, tail_sha256, synced_at, gone_at")
MESSAGE_COLUMNS = "id, session_id, type, role, content, tool_uses, usage, timestamp, payload"
USAGE_COLUMNS = ("session_id, tokens_input, tokens_output, tokens_cache, cost_usd, model, timestamp, source_id, "
                 "tokens_cache_write, tokens_cache_read")
FOOTPRINT_COLUMNS = ("f.machine, f.root, f.path, f.session_key, f.size, f.mtime_ns, f.device, f.inode, f.synced_at, "
                     "f.gone_at, b.sha256")
PAGE = 500  # rows a step reads and writes at a time
Progress = Callable[[str, int, int], None]  # (step, done, of)


@dataclass
class TransferReport:
    """What a copy took over, what it found there already, and what it could not copy."""

    source: str = ""
    target: str = ""
    sessions_new: int = 0
    sessions_updated: int = 0
    files: int = 0  # transcript files in the source
    files_new: int = 0
    files_grown: int = 0
    files_differing: int = 0  # the target's copy had other lines: kept beside the source's
    files_unchanged: int = 0
    lines: int = 0
    footprint_new: int = 0  # copies of the files beside the transcripts
    footprint_unchanged: int = 0
    messages_new: int = 0  # the app's messages, and the synced lines' messages
    messages_differing: int = 0  # the app's messages both hold with other text: the target's kept
    usage_new: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for people."""
        differing = f", {self.messages_differing} differing (the target's kept)" if self.messages_differing else ""
        return (f"{self.sessions_new} sessions new, {self.sessions_updated} updated; {self.files} transcript files "
                f"({self.files_new} new, {self.files_grown} grown, {self.files_differing} differing, "
                f"{self.files_unchanged} unchanged): {self.lines:,} lines; {self.messages_new:,} new messages"
                f"{differing}; {self.footprint_new} other files new, {self.footprint_unchanged} unchanged; "
                f"{self.usage_new} usage records new; in {self.seconds:.2f} s")

    @property
    def changed(self) -> bool:
        """Whether the copy wrote anything."""
        return bool(self.sessions_new or self.sessions_updated or self.lines or self.files_new or self.files_differing
                    or self.footprint_new or self.messages_new or self.usage_new)


async def transfer(source: Store, target: Store, *, machine: str | None = None,
                   progress: Progress | None = None) -> TransferReport:
    """Copy everything `source` holds that `target` lacks into `target` (see the module's docstring).

    `machine`: whose the source's files from before revision 0014 are (they name no machine), as a
    sync on that machine would take them; `push` gives this machine's id for its own archive."""
    started = time.perf_counter()
    report = TransferReport(source=str(source.url or source.path), target=str(target.url or target.path))
    await _dictionaries(source, target)
    await _sessions(source, target, report)  # first: the files' lines and the messages find their sessions
    await _transcripts(source, target, report, progress, machine)
    await _footprint(source, target, report, machine)
    await _app_messages(source, target, report)
    await _usage(source, target, report)  # last: the usage the lines gave is there already
    report.seconds = time.perf_counter() - started
    return report


# ---- compression dictionaries and sessions -----------------------------------------------------
async def _dictionaries(source: Store, target: Store) -> None:
    """The source's dictionaries, so that the target compresses its lines as well as the source did."""
    held = {r[0] for r in await target.fetch("SELECT id FROM archive_dicts")}
    missing = [(i, bytes(d)) for i, d in await source.fetch("SELECT id, data FROM archive_dicts ORDER BY id")
               if i not in held]
    if missing:
        await target.transaction(_put_dictionaries, missing)


def _put_dictionaries(tx: Any, rows: list[tuple[int, bytes]]) -> tuple[BatchEffects, None]:
    tx.executemany("INSERT OR IGNORE INTO archive_dicts (id, data) VALUES (?, ?)", rows)
    return BatchEffects(), None


async def _sessions(source: Store, target: Store, report: TransferReport) -> None:
    after = ""
    while page := await source.fetch(f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id > ? ORDER BY id LIMIT {PAGE}",
                                     (after,)):
        new, updated = await target.transaction(_merge_sessions, [tuple(r) for r in page])
        report.sessions_new += new
        report.sessions_updated += updated
        after = page[-1][0]


def _merge_sessions(tx: Any, rows: list[tuple[Any, ...]]) -> tuple[BatchEffects, tuple[int, int]]:
    """Insert the sessions the target lacks; merge those it has."""
    effects = BatchEffects()
    held = {r[0]: tuple(r) for r in tx.select_in(f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id IN ({{}})",
                                                  [r[0] for r in rows])}
    new = updated = 0
    for row in rows:
        old = held.get(row[0])
        if old is None:
            tx.execute(statements.INSERT_SESSION, statements.session_row(*row))
            new += 1
        else:
            both = merged(old, row)
            if both == _comparable(old):
                continue
            meta = json.dumps(both[9]) if both[9] is not None else None
            tx.execute("UPDATE sessions SET name = ?, status = ?, working_directory = ?, claude_session_id = ?, "
                       "claude_title = ?, user_renamed = ?, created_at = ?, updated_at = ?, metadata = ? WHERE id = ?",
                       (*statements.session_row(*both[:9], meta)[1:], row[0]))
            updated += 1
        effects.sessions[row[0]] = None  # the cache reads it again
    return effects, (new, updated)


def _comparable(row: Sequence[Any]) -> tuple[Any, ...]:
    """A session row with its flag a bool and its metadata parsed (the engines spell both their own way)."""
    sid, name, status, cwd, claude_id, title, renamed, created, updated, meta = row
    return (sid, name, status, cwd, claude_id, title, bool(renamed), created, updated,
            json.loads(meta) if isinstance(meta, str) else meta)


def merged(old: Sequence[Any], new: Sequence[Any]) -> tuple[Any, ...]:
    """One session as both databases know it (the target's `old`, the source's `new`).

    The later update's name, status and metadata keys win, except that a name the user gave on one
    side only stays; the earliest start and the latest update; what one side knows and the other does
    not (folder, Claude session, title). Merging the result again changes nothing."""
    a, b = _comparable(old), _comparable(new)
    later, earlier = (b, a) if b[8] > a[8] else (a, b)  # a tie keeps what the target has
    named = (a if a[6] else b) if a[6] != b[6] else later
    meta = {**(earlier[9] or {}), **(later[9] or {})}
    return (a[0], named[1], later[2], a[3] or b[3], a[4] or b[4], later[5] or earlier[5], named[6],
            min(a[7], b[7]), max(a[8], b[8]), meta or None)


# ---- transcript files --------------------------------------------------------------------------
@dataclass
class _Cursor:
    """A file row's cursor, as either side holds it."""

    id: int
    machine: str
    root: str
    path: str
    session_id: str | None
    thread: str | None
    device: int | None
    inode: int | None
    size: int | None
    mtime_ns: int | None
    consumed: int
    lines: int
    prefix_sha256: str | None
    tail_sha256: str | None
    synced_at: str | None
    gone_at: str | None

    @property
    def key(self) -> tuple[str, str, str]:
        return self.machine, self.root, self.path

    def same_lines(self, other: _Cursor) -> bool:
        """Whether both cursors stand at the same place of the same bytes (the check a sync trusts)."""
        return (self.lines, self.consumed, self.prefix_sha256, self.tail_sha256) == (
            other.lines, other.consumed, other.prefix_sha256, other.tail_sha256)


class _Stat:
    """The stat a file row was synced with, for the cursor the target's row takes (there is no file here)."""

    def __init__(self, c: _Cursor) -> None:
        self.st_dev, self.st_ino, self.st_mtime_ns = c.device, c.inode, c.mtime_ns
        self.st_size = c.size if c.size is not None else c.consumed


def _owner(machine: str, root: str, unmarked: str | None) -> str:
    """A row's machine as it is copied: an unmarked row (from before 0014) is `unmarked`'s when given."""
    return unmarked if not machine and unmarked and root != "claude-agent-sdk" else machine


async def _cursors(store: Store, unmarked: str | None = None) -> list[_Cursor]:
    rows = await store.fetch(f"SELECT {FILE_COLUMNS} FROM transcript_files ORDER BY id")
    return [_Cursor(r[0], _owner(r[1], r[2], unmarked), *r[2:]) for r in rows]


async def _newest_dictionary(target: Store) -> tuple[int, bytes] | None:
    """The dictionary the target compresses new lines with (what a sync's load_state finds)."""
    await target.load_dictionaries()
    row = await target.fetch("SELECT id, data FROM archive_dicts ORDER BY id DESC LIMIT 1")
    if not row:
        return None
    codec.register(row[0][0], bytes(row[0][1]))
    return row[0][0], bytes(row[0][1])


async def _transcripts(source: Store, target: Store, report: TransferReport, progress: Progress | None,
                       unmarked: str | None) -> None:
    """Each source file's lines the target lacks, through a sync's commits, in the source's order (the
    file a line's message was first read from is the first one here too)."""
    held = {c.key: c for c in await _cursors(target)}
    todo = await _cursors(source, unmarked)
    report.files = len(todo)
    await source.load_dictionaries()
    dictionary = await _newest_dictionary(target)
    lines = SyncReport()
    commits: Commits | None = None
    settle: list[_Cursor] = []
    try:
        for n, c in enumerate(todo, start=1):
            place: Place = (c.machine, c.root)
            if commits is None or commits.place != place:
                if commits is not None:
                    await commits.finish()
                commits = Commits(target, place, lines, 0, None)
            there = held.get(c.key)
            chunks = await _missing(source, target, c, there, report)
            for chunk in chunks:
                ready = asyncio.get_running_loop().create_future()
                ready.set_result(await prepare_chunk(chunk, dictionary, None, target.url is not None))
                await commits.add(chunk, ready)
            if chunks or there is not None and there.same_lines(c) and (c.synced_at or "") > (there.synced_at or ""):
                settle.append(c)
            if progress is not None:
                progress("transcripts", n, len(todo))
        if commits is not None:
            await commits.finish()
    finally:
        if commits is not None:
            await commits.settle()
    report.lines += lines.lines
    report.messages_new += lines.messages_new
    report.usage_new += lines.usage_records  # the responses the copied lines hold, counted as a sync does
    for start in range(0, len(settle), PAGE):
        await target.transaction(_settle_cursors, settle[start: start + PAGE])


async def _missing(source: Store, target: Store, c: _Cursor, there: _Cursor | None,
                   report: TransferReport) -> list[Chunk]:
    """The chunks of a source file that the target lacks (none when it holds them all)."""
    if there is not None and there.same_lines(c):
        report.files_unchanged += 1
        return []
    have = archive_lines.lines_of(await source.fetch(archive_lines.FILE_RUNS, (c.id,)))
    count = 0
    while count < c.lines and count + 1 in have:
        count += 1
    if count < c.lines:  # a damaged page took lines: those before it are copied, and it is said
        report.problems.append(f"{c.root}/{c.path} ({c.machine or 'every machine'}): lines {count + 1}-{c.lines} are "
                               f"missing or damaged in the source; copied lines 1-{count} (`yurudb check` lists them)")
    kept = [have[n] for n in range(1, count + 1)]
    data = b"".join(line + b"\n" for line in kept)
    # the lines the target's row holds: a sync's cursor that another pass moved (`apply._file_row`)
    first, seen = 1, there.lines if there is not None else 0
    if there is not None and there.lines:
        if not await _holds_start(target, there, kept, data, count):
            report.files_differing += 1  # read as a rewrite: the target's copy is kept under a name of its own
        elif count <= there.lines:
            report.files_unchanged += 1  # the target holds all of these lines (and maybe more)
            return []
        else:
            first = there.lines + 1
            report.files_grown += 1
    else:
        report.files_new += 1
    parts = c.path.split(RETIRED)[0].split("/")
    hint = parts[1] if c.thread is not None and len(parts) > 2 else Path(parts[-1]).stem
    f = File(Path(c.root) / c.path, c.path, c.thread, hint, _Stat(c))  # type: ignore[arg-type]
    ids = {line: mid for line, mid in await source.fetch(
        "SELECT line, id FROM messages WHERE file_id = ? AND line >= ?", (c.id, first))}
    return list(_split(f, data, first, seen, ids))


async def _holds_start(target: Store, there: _Cursor, kept: list[bytes], data: bytes, count: int) -> bool:
    """Whether the target's file starts as the source's does, for as many lines as both hold: its cursor's
    hashes say so when it stands inside the source's bytes (what a sync trusts), else its lines are read."""
    if there.lines <= count and there.prefix_sha256 is not None and there.tail_sha256 is not None:
        at = sum(len(line) + 1 for line in kept[: there.lines])
        if at == there.consumed:
            size = min(at, PREFIX_BYTES)
            return (hashlib.sha256(data[:size]).hexdigest(), hashlib.sha256(data[at - size: at]).hexdigest()) == (
                there.prefix_sha256, there.tail_sha256)
    upto = min(there.lines, count)
    theirs = await _lines_of(target, there.id, upto)
    return len(theirs) == upto and theirs == kept[:upto]


async def _lines_of(store: Store, file_id: int, upto: int) -> list[bytes]:
    """A file's lines 1..upto as one database holds them (fewer when some are missing)."""
    have = archive_lines.lines_of(await store.fetch(
        "SELECT first_line, lines, raw FROM transcript_blocks WHERE file_id = ? AND first_line <= ? ORDER BY first_line",
        (file_id, upto)))
    out = []
    for n in range(1, upto + 1):
        if n not in have:
            break
        out.append(have[n])
    return out


def _split(f: File, data: bytes, first: int, seen: int, ids: dict[int, str]) -> Iterator[Chunk]:
    """A file's lines from line `first` on, in chunks cut as a sync's reader cuts them; a file with no
    line is one empty chunk (its row, as a sync keeps an emptied file's)."""
    offset = 0
    for _ in range(first - 1):
        offset = data.index(b"\n", offset) + 1
    n = first
    while True:
        end = data.rfind(b"\n", offset, offset + CHUNK_BYTES) + 1
        if end <= offset:
            end = data.find(b"\n", offset) + 1 or offset  # one line longer than a chunk: alone
        prefix = hashlib.sha256(data[: min(end, PREFIX_BYTES)]).hexdigest()
        tail = hashlib.sha256(data[max(0, end - PREFIX_BYTES): end]).hexdigest()
        piece = data[offset:end]
        yield Chunk(f, n, piece, offset, end, prefix, tail, final=end >= len(data), seen_lines=seen, ids=ids)
        n += piece.count(b"\n")
        offset = end
        if offset >= len(data):
            return


def _settle_cursors(tx: Any, cursors: list[_Cursor]) -> tuple[BatchEffects, None]:
    """Copied files' rows take the source's stat, hashes, sync time and gone mark (a copy sets its own
    time; the Agent SDK's rows keep no hashes): the next copy finds the rows as the source has them.
    Only rows holding the source's lines."""
    tx.executemany("UPDATE transcript_files SET device = ?, inode = ?, size = ?, mtime_ns = ?, prefix_sha256 = ?, "
                   "tail_sha256 = ?, synced_at = ?, gone_at = ? WHERE machine = ? AND root = ? AND path = ? "
                   "AND lines = ? AND consumed = ?",
                   [(c.device, c.inode, c.size, c.mtime_ns, c.prefix_sha256, c.tail_sha256, c.synced_at, c.gone_at,
                     *c.key, c.lines, c.consumed) for c in cursors])
    return BatchEffects(), None


# ---- the files beside the transcripts ----------------------------------------------------------
async def _footprint(source: Store, target: Store, report: TransferReport, unmarked: str | None) -> None:
    """Each copy of a kept file whose bytes the target's copies of that path lack."""
    family: dict[tuple[str, str, str], set[str]] = {}  # (machine, root, path less #replaced-) -> contents
    current: dict[tuple[str, str, str], str | None] = {}  # the target's current copies: their sync time
    for machine, root, path, sha, synced in await target.fetch(
            "SELECT f.machine, f.root, f.path, b.sha256, f.synced_at FROM footprint_files AS f "
            "JOIN footprint_blobs AS b ON b.id = f.blob_id"):
        family.setdefault((machine, root, path.split(RETIRED)[0]), set()).add(sha)
        if RETIRED not in path:
            current[(machine, root, path)] = synced
    rows = await source.fetch(f"SELECT {FOOTPRINT_COLUMNS} FROM footprint_files AS f "
                              "JOIN footprint_blobs AS b ON b.id = f.blob_id ORDER BY f.id")
    batch: list[tuple[Any, ...]] = []
    size = 0
    for row in rows:
        row = (_owner(row[0], row[1], unmarked), *row[1:])
        machine, root, path, sha = row[0], row[1], row[2], row[10]
        shas = family.setdefault((machine, root, path.split(RETIRED)[0]), set())
        if sha in shas:
            report.footprint_unchanged += 1
            continue
        shas.add(sha)
        blob = await source.fetch("SELECT size, data FROM footprint_blobs WHERE sha256 = ?", (sha,))
        batch.append((*row, current.get((machine, root, path), "absent")))
        if RETIRED not in path:
            current[(machine, root, path)] = row[8]
        batch[-1] = (*batch[-1], blob[0][0], bytes(blob[0][1]))
        size += len(blob[0][1])
        report.footprint_new += 1
        if size >= 8 * 1024 * 1024 or len(batch) >= PAGE:
            await target.transaction(_put_footprint, batch)
            batch, size = [], 0
    if batch:
        await target.transaction(_put_footprint, batch)


def _put_footprint(tx: Any, batch: list[tuple[Any, ...]]) -> tuple[BatchEffects, None]:
    now = now_text()
    for (machine, root, path, key, size, mtime, device, inode, synced, gone, sha, theirs, blob_size,
         data) in batch:
        blob = tx.execute("SELECT id FROM footprint_blobs WHERE sha256 = ?", (sha,))
        blob_id = blob[0][0] if blob else tx.execute(
            "INSERT INTO footprint_blobs (sha256, size, data) VALUES (?, ?, ?) RETURNING id", (sha, blob_size, data))[0][0]
        if not blob:  # its secrets are looked for by the target's scanner, as for a sync's
            tx.execute("INSERT OR IGNORE INTO secret_blob_scans (blob_id) VALUES (?)", (blob_id,))
        if RETIRED not in path and theirs != "absent":
            if (synced or "") > (theirs or ""):  # the source's copy is the later: the target's is kept beside it
                tx.execute("UPDATE footprint_files SET path = path || ? || ? WHERE machine = ? AND root = ? "
                           "AND path = ?", (RETIRED, now, machine, root, path))
            else:  # the target's copy is the later: the source's is kept beside it
                path = f"{path}{RETIRED}{synced or now}"
        taken = tx.execute("SELECT 1 FROM footprint_files WHERE machine = ? AND root = ? AND path = ?",
                           (machine, root, path))
        if taken:
            path = f"{path}{RETIRED}{now}"
        tx.execute("INSERT INTO footprint_files (machine, root, path, session_key, blob_id, size, mtime_ns, device, "
                   "inode, synced_at, gone_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (machine, root, path, key, blob_id, size, mtime, device, inode, synced, gone))
    return BatchEffects(), None


# ---- the app's messages and the usage records --------------------------------------------------
async def _app_messages(source: Store, target: Store, report: TransferReport) -> None:
    """The messages the app saved (no transcript line holds them) that the target lacks, in order."""
    after: tuple[str, int] = ("", 0)
    while page := await source.fetch(
            f"SELECT {MESSAGE_COLUMNS}, seq FROM messages WHERE file_id IS NULL AND (session_id > ? OR "
            f"(session_id = ? AND seq > ?)) ORDER BY session_id, seq LIMIT {PAGE}", (after[0], *after)):
        after = (page[-1][1], page[-1][9])
        rows = [tuple(r[:9]) for r in page]
        theirs = {r[0]: r for r in await _select_in(target, f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id IN ({{}})",
                                                     [r[0] for r in rows])}
        new = [r for r in rows if r[0] not in theirs]
        report.messages_differing += sum(1 for r in rows if r[0] in theirs and _message(theirs[r[0]]) != _message(r))
        if new:
            await target.transaction(_put_messages, new)
            report.messages_new += len(new)


def _message(row: Sequence[Any]) -> tuple[Any, ...]:
    """A message row with its JSON parsed (the engines keep JSON each in their own spelling)."""
    def parsed(value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    mid, sid, kind, role, content, tool_uses, usage, stamp, payload = row
    return mid, sid, kind, role, content, parsed(tool_uses), parsed(usage), stamp, parsed(payload)


def _put_messages(tx: Any, rows: list[tuple[Any, ...]]) -> tuple[BatchEffects, None]:
    effects = BatchEffects()
    seqs = statements.next_seqs(tx, [r[1] for r in rows])
    values = []
    for mid, sid, kind, role, content, tool_uses, usage, stamp, payload in rows:
        seq = seqs.get(sid, 1)
        seqs[sid] = seq + 1
        values.append((mid, sid, seq, kind, role, content, tool_uses, usage, stamp, payload))
        effects.sessions[sid] = None
    tx.executemany("INSERT INTO messages (id, session_id, seq, type, role, content, tool_uses, usage, timestamp, "
                   "payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING", values)
    search.index(tx, [r[0] for r in rows])  # and their secrets, in the same transaction
    return effects, None


async def _select_in(store: Store, sql: str, keys: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for start in range(0, len(keys), PAGE):
        part = keys[start: start + PAGE]
        out += await store.fetch(sql.format(", ".join("?" * len(part))), part)
    return out


def _usage_key(row: Sequence[Any]) -> tuple[Any, ...]:
    """What a usage record is: its session and source, or with no source its whole contents."""
    if row[7] is not None:
        return row[0], row[7]
    return tuple(float(v) if i == 4 else v for i, v in enumerate(row))


async def _usage(source: Store, target: Store, report: TransferReport) -> None:
    """The usage records the target lacks: by source, and those with none as many times as the source has
    them; a few hundred sessions' records at a time (an archive holds one per response)."""
    async def copy(where: str, params: Sequence[Any]) -> None:
        held = Counter(_usage_key(r) for r in await target.fetch(
            f"SELECT {USAGE_COLUMNS} FROM analytics WHERE {where}", params))
        new: list[tuple[Any, ...]] = []
        for row in await source.fetch(f"SELECT {USAGE_COLUMNS} FROM analytics WHERE {where} ORDER BY id", params):
            key = _usage_key(row)
            if held[key]:
                held[key] -= 1
                continue
            new.append(tuple(row))
        for start in range(0, len(new), PAGE):
            await target.transaction(_put_usage, new[start: start + PAGE])
        report.usage_new += len(new)

    after = ""
    while sessions := [r[0] for r in await source.fetch(
            f"SELECT DISTINCT session_id FROM analytics WHERE session_id > ? ORDER BY session_id LIMIT {PAGE}",
            (after,))]:
        after = sessions[-1]
        await copy(f"session_id IN ({', '.join('?' * len(sessions))})", sessions)
    await copy("session_id IS NULL", ())  # a record whose session is gone (before ON DELETE CASCADE)


def _put_usage(tx: Any, rows: list[tuple[Any, ...]]) -> tuple[BatchEffects, None]:
    effects = BatchEffects()
    tx.executemany(f"INSERT INTO analytics ({USAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                   "ON CONFLICT(session_id, source_id) DO NOTHING", rows)
    for r in rows:
        if r[0] is not None:
            effects.sessions[r[0]] = None
    return effects, None


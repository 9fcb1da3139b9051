"""`sync`: archive `~/.claude/projects` into yurudb, every line byte-exact, reading only what is new.

Each transcript file has a cursor (device, inode, size, mtime, bytes and lines consumed, a hash of
its first bytes). An unchanged file costs one stat. A grown file is read from its cursor, complete
lines only: a last line without its newline is still being written and waits for the next pass. A
file that shrank, was replaced or whose first bytes changed is read again from the start, which
is idempotent (lines are keyed by file and number). A file that disappeared keeps everything it
gave: its row is marked gone, and so are its sessions (`meta.source_gone`); nothing is deleted.

Lines go to the database in batches, each one transaction on the store's writer connection, and
the cursor moves in the same transaction as the lines it covers: a crash re-reads, never skips.
Per line: its exact bytes (zstd, `yurudb/codec.py`), and for a JSON line with a type a message
(one yurudb session per Claude `sessionId`, subagent files as threads) and for a response its
usage row (one per response, its last line's figures, priced by `yurudb/pricing.py`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import stat
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import codec
from ..batch import BatchEffects
from ..errors import NotFoundError
from ..store import Store
from ..times import now_text
from ..unit_of_work import Tx
from ..validation import new_id
from .prepare import Prepared, prepare
from .worker import Worker

log = logging.getLogger(__name__)

DEFAULT_ROOT = Path.home() / ".claude" / "projects"
BATCH_LINES = 2_000
BATCH_BYTES = 8 * 1024 * 1024
READ_BLOCK = 4 * 1024 * 1024
POOL_MIN_BYTES = 32 * 1024 * 1024  # a first sync this big is worth worker processes
WORKERS = 2  # the commits take a fraction of one core: two workers keep both cores busy
PIPELINE_DEPTH = 4  # chunks prepared ahead of the one being committed
PREFIX_BYTES = 4096  # the rewrite check: a hash of the file's first bytes
Progress = Callable[[int, int], None]


@dataclass
class SyncReport:
    """What a sync read and archived, and everything it could not."""

    root: str = ""
    files: int = 0
    files_read: int = 0
    files_unchanged: int = 0
    files_rewritten: int = 0
    files_gone: int = 0
    lines: int = 0
    bytes: int = 0
    sessions_created: int = 0
    sessions_updated: int = 0
    messages_new: int = 0
    usage_records: int = 0
    not_json: int = 0  # kept byte-exact, without a message
    oversized: int = 0  # kept byte-exact, without a message
    waiting: int = 0  # files whose last line has no newline yet: left for the next pass
    unpriced_models: set[str] = field(default_factory=set)
    last_session: str | None = None  # the last session a new line went to
    problems: list[str] = field(default_factory=list)  # files that could not be read, and why
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for people."""
        return (f"{self.files} files ({self.files_read} read, {self.files_unchanged} unchanged, "
                f"{self.files_rewritten} rewritten, {self.files_gone} gone): {self.lines:,} new lines, "
                f"{self.bytes / 1e6:,.1f} MB, {self.messages_new:,} new messages, {self.sessions_created} "
                f"sessions created, {self.sessions_updated} updated, {self.usage_records} responses counted "
                f"in {self.seconds:.2f} s")


@dataclass
class _File:
    path: Path
    rel: str  # relative to the root, "/"-separated
    thread: str | None  # a subagent file's subpath under its project folder; None: a main transcript
    session_hint: str  # the Claude session the file's name says it belongs to
    st: os.stat_result


@dataclass
class _Chunk:
    """Complete lines of one file, read from `start` (byte offset) as line numbers from `first`."""

    file: _File
    file_id: int | None
    first: int
    lines: list[bytes]
    end: int  # the byte offset after the last line
    prefix_sha256: str
    final: bool = True  # the file's last chunk of this pass: its cursor may take the file's stat


@dataclass
class _Done:
    file_id: int
    lines: int = 0
    bytes: int = 0
    messages_new: int = 0
    usage_records: int = 0
    not_json: int = 0
    oversized: int = 0
    sessions_created: int = 0
    created: set[str] = field(default_factory=set)  # made by this chunk: its times are the lines' own
    sessions_updated: set[str] = field(default_factory=set)
    unpriced: set[str] = field(default_factory=set)
    claude_costs: dict[tuple[str, str], float] = field(default_factory=dict)  # (session, model) -> USD
    last_session: str | None = None
    effects: BatchEffects = field(default_factory=BatchEffects)


async def sync(
    store: Store,
    root: str | Path | None = None,
    *,
    progress: Progress | None = None,
    only: Iterable[str | Path] | None = None,
) -> SyncReport:
    """Archive every transcript under `root` (default ~/.claude/projects) that changed since the last sync.

    `only` limits the pass to these files (what a watcher saw change); one of them that no longer
    exists is marked gone, and the other files are not looked at.
    """
    started = time.perf_counter()
    base = Path(root).expanduser() if root is not None else DEFAULT_ROOT
    if not base.is_dir():
        raise NotFoundError(f"no such directory: {base}")
    base = base.resolve()
    report = SyncReport(root=str(base))
    chosen = None if only is None else {rel for p in only if (rel := _relative(base, p)) is not None}
    found = list(_walk(base, report, chosen))
    report.files = len(found)
    cursors, dictionary = await store._writer.run_exclusive(_load_state, str(base))
    todo = sum(f.st.st_size - _resume_at(cursors.get(f.rel), f) for f in found if _changed(cursors.get(f.rel), f))
    done_bytes = 0
    costs: dict[tuple[str, str], float] = {}
    samples: list[bytes] = []  # lines to train the archive's dictionary on, until there are enough
    # A big first sync parses and compresses in worker processes while this one commits; a small
    # pass (watch) does it on a thread.
    workers = [await Worker.start() for _ in range(WORKERS)] if todo >= POOL_MIN_BYTES and (os.cpu_count() or 1) > 1 \
        else []
    pipeline: deque[tuple[_Chunk, asyncio.Future[Prepared]]] = deque()
    # Small files' chunks share a transaction (one fsync per ~8 MB, not per file); a file's chunks
    # stay in order, and each file's cursor moves in the transaction that holds its lines.
    group: list[tuple[_Chunk, Prepared]] = []

    async def commit() -> None:
        nonlocal done_bytes
        results = await store._writer.run_exclusive(_archive_all, str(base), list(group))
        for (_, prepared), result in zip(group, results, strict=True):
            _tally(report, result)
            costs.update(result.claude_costs)
            done_bytes += prepared.size
        group.clear()
        if progress is not None:
            progress(done_bytes, todo)

    async def apply(chunk: _Chunk, ready: asyncio.Future[Prepared]) -> None:
        group.append((chunk, await ready))
        if sum(p.size for _, p in group) >= BATCH_BYTES:
            await commit()

    turn = 0
    try:
        for chunk in _chunks(found, cursors, report):
            if dictionary is None and chunk.lines:
                samples += chunk.lines[: max(0, codec.TRAIN_SAMPLES - len(samples))]
                dictionary = await _maybe_train(store, samples)
            args = (chunk.lines, chunk.first, chunk.file.rel, chunk.file.session_hint, dictionary)
            turn += 1
            ready: asyncio.Future[Prepared] = asyncio.ensure_future(
                workers[turn % len(workers)].prepare(*args) if workers else asyncio.to_thread(prepare, *args))
            chunk.lines = []  # the preparation has them; a chunk's bytes are held once
            pipeline.append((chunk, ready))
            if len(pipeline) > PIPELINE_DEPTH:
                await apply(*pipeline.popleft())
        while pipeline:
            await apply(*pipeline.popleft())
        if group:
            await commit()
    finally:
        for _, ready in pipeline:
            ready.cancel()
        for worker in workers:
            await worker.close()
    present = [f.rel for f in found]
    report.files_gone = await store._writer.run_exclusive(_mark_gone, str(base), present, chosen)
    if costs:
        await store._writer.run_exclusive(_price_from_claude_code, costs, report.unpriced_models)
    report.seconds = time.perf_counter() - started
    return report


# ---- the files ---------------------------------------------------------------------------------
def _relative(root: Path, path: str | Path) -> str | None:
    """A path's name under root ("/"-separated), or None when it is not a transcript under root."""
    p = Path(path)
    p = p if p.is_absolute() else root / p
    try:
        rel = p.relative_to(root).as_posix()
    except ValueError:
        return None
    return rel if rel.endswith(".jsonl") else None


def _candidates(root: Path, report: SyncReport) -> Iterator[Path]:
    def failed(exc: OSError) -> None:
        report.problems.append(f"{exc.filename}: {exc.strerror or exc}")

    for folder, dirs, names in os.walk(root, onerror=failed):  # never follows links to folders
        dirs.sort()
        for name in sorted(names) + [d for d in dirs if d.endswith(".jsonl")]:
            if name.endswith(".jsonl"):
                yield Path(folder) / name


def _walk(root: Path, report: SyncReport, only: set[str] | None = None) -> Iterator[_File]:
    """The transcript files under root (or just `only`), main transcripts before subagents, in a stable order."""
    found: list[_File] = []
    paths = _candidates(root, report) if only is None else (root / rel for rel in sorted(only))
    for path in paths:
        rel = path.relative_to(root).as_posix()
        try:
            st = path.stat()  # follows a link to a file; a loop or a dangling link raises
        except FileNotFoundError:
            if only is not None:
                continue  # a watched file that went away: marked gone below
            report.problems.append(f"{rel}: no such file (a dangling link?)")
            continue
        except OSError as exc:
            report.problems.append(f"{rel}: {exc.strerror or exc}")
            continue
        if not stat.S_ISREG(st.st_mode):
            report.problems.append(f"{rel}: not a file")
            continue
        parts = rel.split("/")
        thread = "/".join(parts[1:]) if "subagents" in parts[:-1] and len(parts) > 2 else None
        hint = parts[1] if thread is not None else Path(path.name).stem
        found.append(_File(path, rel, thread, hint, st))
    found.sort(key=lambda f: (f.thread is not None, f.rel))
    yield from found


def _changed(cursor: dict[str, Any] | None, f: _File) -> bool:
    if cursor is None or cursor.get("gone_at") is not None:
        return True
    st = f.st
    return (cursor["device"], cursor["inode"], cursor["size"], cursor["mtime_ns"]) != (
        st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _resume_at(cursor: dict[str, Any] | None, f: _File) -> int:
    """Where reading resumes: the cursor, or 0 when the file was replaced, shrank or its start changed."""
    if cursor is None or cursor["consumed"] == 0:
        return 0
    if (cursor["device"], cursor["inode"]) != (f.st.st_dev, f.st.st_ino) or f.st.st_size < cursor["consumed"]:
        return 0
    return cursor["consumed"]


def _prefix_hash(handle: Any, upto: int) -> str:
    """The hash of the file's first bytes up to `upto` (at most PREFIX_BYTES), read without moving."""
    return hashlib.sha256(os.pread(handle.fileno(), min(upto, PREFIX_BYTES), 0)).hexdigest()


def _read(f: _File, cursor: dict[str, Any] | None, report: SyncReport) -> Iterator[_Chunk]:
    """The file's complete lines after its cursor, in chunks (a rewritten file from its start)."""
    start = _resume_at(cursor, f)
    first = cursor["lines"] + 1 if cursor is not None and start else 1
    file_id = cursor["id"] if cursor is not None else None
    with open(f.path, "rb") as handle:
        if start and _prefix_hash(handle, start) != cursor["prefix_sha256"]:  # type: ignore[index]
            start, first = 0, 1
        if cursor is not None and not start and cursor["consumed"]:
            report.files_rewritten += 1
        handle.seek(start)
        offset, pending, batch, size = start, b"", [], 0
        while True:
            block = handle.read(READ_BLOCK)
            if not block:
                break
            pending += block
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                batch.append(raw)
                size += len(raw) + 1
                if len(batch) >= BATCH_LINES or size >= BATCH_BYTES:
                    offset += size
                    yield _Chunk(f, file_id, first, batch, offset, _prefix_hash(handle, offset), final=False)
                    first += len(batch)
                    batch, size = [], 0
        if pending:
            report.waiting += 1  # its last line is still being written
        offset += size
        if batch or file_id is not None:  # a new file with no complete line yet waits, unrecorded
            yield _Chunk(f, file_id, first, batch, offset, _prefix_hash(handle, offset))


def _chunks(found: list[_File], cursors: dict[str, dict[str, Any]], report: SyncReport) -> Iterator[_Chunk]:
    """The new lines of every changed file, chunk by chunk; a file that fails to read is reported."""
    for f in found:
        cursor = cursors.get(f.rel)
        if not _changed(cursor, f):
            report.files_unchanged += 1
            continue
        try:
            yield from _read(f, cursor, report)
            report.files_read += 1
        except OSError as exc:  # removed mid-read, unreadable, a symlink loop: say so, go on
            report.problems.append(f"{f.rel}: {exc.strerror or exc}")


def _tally(report: SyncReport, done: _Done) -> None:
    report.lines += done.lines
    report.bytes += done.bytes
    report.messages_new += done.messages_new
    report.usage_records += done.usage_records
    report.not_json += done.not_json
    report.oversized += done.oversized
    report.sessions_created += done.sessions_created
    report.sessions_updated += len(done.sessions_updated)
    report.unpriced_models |= done.unpriced
    if done.last_session is not None:
        report.last_session = done.last_session


async def _maybe_train(store: Store, samples: list[bytes]) -> tuple[int, bytes] | None:
    """Train the archive's dictionary once there are enough sample lines (None: not yet)."""
    trained = codec.train(samples)
    if trained is None:
        return None
    await store._writer.run_exclusive(_save_dict, *trained)
    return trained


# ---- inside a transaction on the writer connection --------------------------------------------
def _load_state(tx: Tx, root: str) -> tuple[BatchEffects, tuple[dict[str, dict[str, Any]], tuple[int, bytes] | None]]:
    cursors = {
        r[0]: {"id": r[1], "device": r[2], "inode": r[3], "size": r[4], "mtime_ns": r[5], "consumed": r[6],
               "lines": r[7], "prefix_sha256": r[8], "gone_at": r[9]}
        for r in tx.execute("SELECT path, id, device, inode, size, mtime_ns, consumed, lines, prefix_sha256, gone_at "
                            "FROM transcript_files WHERE root = ?", (root,))
    }
    dictionary = None
    for known_id, data in tx.execute("SELECT id, data FROM archive_dicts ORDER BY rowid"):
        codec.register(known_id, data)
        dictionary = (known_id, data)  # the newest compresses from now on
    return BatchEffects(), (cursors, dictionary)


def _save_dict(tx: Tx, dict_id: int, data: bytes) -> tuple[BatchEffects, None]:
    tx.execute("INSERT OR IGNORE INTO archive_dicts (id, data) VALUES (?, ?)", (dict_id, data))
    return BatchEffects(), None


def _session_for(tx: Tx, claude_id: str, cache: dict[str, str], done: _Done) -> str:
    """The yurudb session of a Claude session id: found, or created (its id is the Claude id when free)."""
    found = cache.get(claude_id)
    if found is None:
        row = tx.execute("SELECT id FROM sessions WHERE claude_session_id = ? ORDER BY created_at, id LIMIT 1",
                         (claude_id,))
        if row:
            found = row[0][0]
        else:
            taken = tx.execute("SELECT 1 FROM sessions WHERE id = ?", (claude_id,))
            found = new_id() if taken else claude_id
            now = now_text()
            tx.execute("INSERT INTO sessions (id, name, status, claude_session_id, created_at, updated_at) "
                       "VALUES (?, ?, 'completed', ?, ?, ?)", (found, f"Claude session {claude_id[:8]}", claude_id,
                                                               now, now))
            done.sessions_created += 1
            done.created.add(found)
            done.effects.sessions[found] = None  # the cache learns it from the database
        cache[claude_id] = found
    return found


def _archive_all(tx: Tx, root: str, group: list[tuple[_Chunk, Prepared]]) -> tuple[BatchEffects, list[_Done]]:
    """Archive several prepared chunks in one transaction."""
    effects = BatchEffects()
    done = []
    for chunk, ready in group:
        chunk_effects, result = _archive(tx, root, chunk, ready)
        effects.sessions.update(chunk_effects.sessions)
        done.append(result)
    return effects, done


def _archive(tx: Tx, root: str, chunk: _Chunk, ready: Prepared) -> tuple[BatchEffects, _Done]:
    """Archive one prepared chunk of lines and move the file's cursor past them, in one transaction."""
    f = chunk.file
    file_id = chunk.file_id
    if file_id is None:
        row = tx.execute("SELECT id FROM transcript_files WHERE root = ? AND path = ?", (root, f.rel))
        file_id = row[0][0] if row else tx.execute(
            "INSERT INTO transcript_files (root, path, thread) VALUES (?, ?, ?) RETURNING id",
            (root, f.rel, f.thread))[0][0]
    done = _Done(file_id)
    if not ready.lines:  # nothing new but the file's stat (a partial last line grew)
        _move_cursor(tx, chunk, file_id, 0)
        return done.effects, done
    done.not_json, done.oversized, done.unpriced = ready.not_json, ready.oversized, set(ready.unpriced)
    sessions: dict[str, str] = {}
    file_yid = _session_for(tx, ready.file_session, sessions, done)
    tx.execute("UPDATE transcript_files SET session_id = COALESCE(session_id, ?) WHERE id = ?", (file_yid, file_id))
    owners = {r[0]: (r[1], r[2], r[3], r[4]) for r in tx.select_in(
        "SELECT id, session_id, file_id, line, seq FROM messages WHERE id IN ({})", {m[1] for m in ready.messages})}
    next_seq: dict[str, int] = {}
    message_rows: list[tuple[Any, ...]] = []
    line_ids: dict[int, str] = {}
    for n, candidate, claude_id, kind, role, when in ready.messages:
        yid = _session_for(tx, claude_id, sessions, done)
        message_id = candidate
        owner = owners.get(message_id)
        if owner is not None and (owner[1], owner[2]) != (file_id, n):
            # The same uuid in another line (a resumed session replays earlier lines): archived in
            # each, under an id of its own.
            message_id = f"{message_id}@{file_id}:{n}"
            owner = owners.get(message_id)
        if owner is None:
            if yid not in next_seq:
                top = tx.execute("SELECT MAX(seq) FROM messages WHERE session_id = ?", (yid,))[0][0]
                next_seq[yid] = (top or 0) + 1
            seq = next_seq[yid]
            next_seq[yid] = seq + 1
            done.messages_new += 1
        else:
            seq = owner[3]  # archived before (a re-read): it keeps its place
        owners[message_id] = (yid, file_id, n, seq)
        line_ids[n] = message_id
        done.last_session = yid
        # content, tool uses and usage are read from the raw line (the JSON is stored once)
        message_rows.append((message_id, yid, seq, kind, role, when, f.thread, file_id, n))
    tx.executemany(
        "INSERT INTO messages (id, session_id, seq, type, role, timestamp, thread, file_id, line) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET type = excluded.type, role = excluded.role, "
        "content = NULL, tool_uses = NULL, usage = NULL, timestamp = excluded.timestamp, payload = NULL", message_rows)
    tx.executemany("INSERT INTO transcript_lines (file_id, line, message_id, raw) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT(file_id, line) DO UPDATE SET message_id = excluded.message_id, raw = excluded.raw",
                   [(file_id, n, line_ids.get(n), frame) for n, frame in enumerate(ready.frames, start=chunk.first)])
    usage = []
    for (claude_id, key), (model, tin, tout, cw, cr, cost, when) in ready.responses.items():
        usage.append((_session_for(tx, claude_id, sessions, done), tin, tout, cw + cr, cost or 0.0, model, when, key,
                      cw, cr))
    tx.executemany(
        "INSERT INTO analytics (session_id, tokens_input, tokens_output, tokens_cache, cost_usd, model, timestamp, "
        "source_id, tokens_cache_write, tokens_cache_read) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(session_id, source_id) DO UPDATE SET tokens_input = excluded.tokens_input, "
        "tokens_output = excluded.tokens_output, tokens_cache = excluded.tokens_cache, cost_usd = excluded.cost_usd, "
        "model = excluded.model, timestamp = excluded.timestamp, tokens_cache_write = excluded.tokens_cache_write, "
        "tokens_cache_read = excluded.tokens_cache_read", usage)
    done.usage_records = len(usage)
    for (claude_id, model), cost in ready.claude_costs.items():
        done.claude_costs[(_session_for(tx, claude_id, sessions, done), model)] = cost
    for claude_id, known in ready.facts.items():
        yid = _session_for(tx, claude_id, sessions, done)
        _describe(tx, yid, known, fresh=yid in done.created)
        done.sessions_updated.add(yid)
        done.effects.sessions.setdefault(yid, None)
    _move_cursor(tx, chunk, file_id, ready.lines)
    done.lines, done.bytes = ready.lines, ready.size
    return done.effects, done


def _move_cursor(tx: Tx, chunk: _Chunk, file_id: int, count: int) -> None:
    """The file's cursor past this chunk, in the chunk's transaction."""
    st = chunk.file.st
    # Until the pass reaches the file's end, the cursor must not look like the whole file was seen:
    # a sync stopped here (killed) would take the file for unchanged and never read the rest.
    size, mtime = (st.st_size, st.st_mtime_ns) if chunk.final else (chunk.end, None)
    tx.execute("UPDATE transcript_files SET device = ?, inode = ?, size = ?, mtime_ns = ?, consumed = ?, lines = ?, "
               "prefix_sha256 = ?, synced_at = ?, gone_at = NULL WHERE id = ?",
               (st.st_dev, st.st_ino, size, mtime, chunk.end, chunk.first + count - 1,
                chunk.prefix_sha256, now_text(), file_id))


def _describe(tx: Tx, yid: str, known: dict[str, Any], fresh: bool) -> None:
    """Name, title, folder and times of a session from its lines (a name the user gave stays)."""
    title, prompt = known.get("title"), known.get("prompt")
    # A title names a session; else its first prompt does, while it has only the placeholder name.
    # Times: a new session was stamped with the sync's time; the conversation's own are earlier.
    tx.execute(
        "UPDATE sessions SET claude_title = COALESCE(?, claude_title), "
        "name = CASE WHEN user_renamed THEN name WHEN ? IS NOT NULL THEN ? "
        "WHEN ? IS NOT NULL AND name LIKE 'Claude session %' THEN ? ELSE name END, "
        "working_directory = COALESCE(working_directory, ?), "
        f"created_at = {'COALESCE(?, created_at)' if fresh else 'MIN(created_at, COALESCE(?, created_at))'}, "
        f"updated_at = {'COALESCE(?, updated_at)' if fresh else 'MAX(updated_at, COALESCE(?, updated_at))'} "
        "WHERE id = ?",
        (title, title, title, prompt, prompt, known.get("cwd"), known.get("first"), known.get("last"), yid))


def _mark_gone(tx: Tx, root: str, present: list[str], only: set[str] | None) -> tuple[BatchEffects, int]:
    """Files no longer on disk (of those looked at): mark them and their sessions gone; delete nothing."""
    seen = set(present)
    gone = [(fid, sid) for fid, path, sid in tx.execute(
        "SELECT id, path, session_id FROM transcript_files WHERE root = ? AND gone_at IS NULL", (root,))
        if path not in seen and (only is None or path in only)]
    effects = BatchEffects()
    now = now_text()
    for fid, sid in gone:
        tx.execute("UPDATE transcript_files SET gone_at = ? WHERE id = ?", (now, fid))
        if sid is not None:
            tx.execute("UPDATE sessions SET metadata = json_set(COALESCE(metadata, '{}'), '$.source_gone', ?) "
                       "WHERE id = ?", (now, sid))
            effects.sessions.setdefault(sid, None)
    return effects, len(gone)


def _price_from_claude_code(tx: Tx, costs: dict[tuple[str, str], float],
                            unpriced: set[str]) -> tuple[BatchEffects, None]:
    """Responses of a model no price database knows get Claude Code's own cost for it (its cost-state),
    less what lines priced themselves, shared by tokens."""
    for (sid, model), total in costs.items():
        if model not in unpriced:
            continue
        rows = tx.execute("SELECT id, cost_usd, tokens_input + tokens_output + tokens_cache FROM analytics "
                          "WHERE session_id = ? AND model = ?", (sid, model))
        open_rows = [(rid, max(1, n or 0)) for rid, cost, n in rows if not cost]
        left = max(0.0, total - sum(cost for _, cost, _ in rows if cost))
        weight = sum(w for _, w in open_rows)
        for rid, w in open_rows:
            tx.execute("UPDATE analytics SET cost_usd = ? WHERE id = ?", (left * w / weight, rid))
        if open_rows:
            unpriced.discard(model)
    return BatchEffects(), None

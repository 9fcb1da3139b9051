"""`sync`: archive `~/.claude/projects` into yurudb, every line byte-exact, reading only what is new
(the files and their cursors here; the transaction that applies a chunk in yurudb/claude/apply.py).

Each transcript file has a cursor (device, inode, size, mtime, bytes and lines consumed, hashes of
its first bytes and of the last bytes before the cursor). An unchanged file costs one stat. A grown
file is read from its cursor, complete lines only: a last line without its newline is still being
written and waits for the next pass. A file that shrank, was replaced, or whose first bytes or
bytes just before the cursor changed (rewritten, edited in place) is read again from the start,
which is idempotent (lines are keyed by file and number). A file that disappeared keeps everything it
gave: its row is marked gone, and so are its sessions (`meta.source_gone`); nothing is deleted.
A file found at a new path whose bytes are a missing file's up to its cursor (a project folder
renamed or moved, inode or not) takes that file's cursor and archive, and so does a file put back
where it was (`restore-claude`): read on from the cursor, not archived a second time; a session
whose files are all back is no longer marked gone.

Lines go to the database in batches, each one transaction on the store's writer connection, and
the cursor moves in the same transaction as the lines it covers: a crash re-reads, never skips.
Per line: its exact bytes (zstd, `yurudb/codec.py`), and for a JSON line with a type a message
(one yurudb session per Claude `sessionId`, subagent files as threads) and for a response its
usage row (one per response, its last line's figures, priced by `yurudb/pricing.py`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import os
import stat
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import NotFoundError
from ..lines import codec
from ..paths import machine_id
from ..store.store import Store
from .apply import (
    RETIRED,
    Chunk,
    Cursor,
    Done,
    File,
    Place,
    archive_all,
    archive_and_price,
    load_state,
    mark_gone,
    move_files,
    save_dict,
)
from .footprint import HISTORY, FootprintReport, is_footprint
from .footprint import archive as archive_footprint
from .prepare import Prepared, prepare
from .worker import Worker

log = logging.getLogger(__name__)

DEFAULT_ROOT = Path.home() / ".claude" / "projects"
CHUNK_BYTES = 1024 * 1024  # a chunk: complete lines up to about this much (one longer line alone)
BATCH_BYTES = 8 * 1024 * 1024  # chunks committed in one transaction
READ_BLOCK = 4 * 1024 * 1024
POOL_MIN_BYTES = 32 * 1024 * 1024  # a first sync this big is worth worker processes
WORKERS = 2  # the commits take a fraction of one core: two workers keep both cores busy
PIPELINE_DEPTH = 4  # chunks prepared ahead of the one being committed
PREFIX_BYTES = 4096  # the rewrite check: hashes of the file's first bytes and of the last ones before the cursor
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
    files_moved: int = 0  # found at a new path, the same bytes as a missing file: its archive goes with it
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
    footprint: FootprintReport = field(default_factory=FootprintReport)  # the other files, history.jsonl too
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for people."""
        moved = f", {self.files_moved} moved" if self.files_moved else ""
        return (f"{self.files} files ({self.files_read} read, {self.files_unchanged} unchanged, "
                f"{self.files_rewritten} rewritten, {self.files_gone} gone{moved}): {self.lines:,} new lines, "
                f"{self.bytes / 1e6:,.1f} MB, {self.messages_new:,} new messages, {self.sessions_created} "
                f"sessions created, {self.sessions_updated} updated, {self.usage_records} responses counted "
                f"in {self.seconds:.2f} s{self._footprint()}")

    def _footprint(self) -> str:
        fp = self.footprint
        if not fp.files and not fp.gone:
            return ""
        changed = [f"{n} {what}" for n, what in ((fp.new, "new"), (fp.grown, "grown"), (fp.replaced, "rewritten"),
                                                  (fp.gone, "gone")) if n]
        return (f"; {fp.files} other files ({', '.join(changed) or 'none changed'}; tool outputs, sidecars, memory, "
                f"history: kept byte-exact)")


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
    place = (machine_id(), str(base))
    chosen = None if only is None else {rel for p in only if (rel := _relative(base, p)) is not None}
    walked: list[Path] | None = [] if chosen is None else None  # the other files, for the footprint
    found = list(_walk(base, report, chosen, walked))
    report.files = len(found)
    cursors, dictionary = await store.transaction(load_state, place)
    moves = _moves(base, found, cursors)
    if moves:
        await store.transaction(move_files, place, [(old, f.rel, f.thread) for old, f in moves])
        for old, f in moves:
            cursors[f.rel] = dataclasses.replace(cursors.pop(old), moved=True)
        report.files_moved = len(moves)
    # files found whose cursor was gone or moved: once read, their sessions may have all their files back
    back = {c.session_id for f in found if (c := cursors.get(f.rel)) is not None
            and (c.gone_at is not None or c.moved)}
    todo = sum(f.st.st_size - _resume_at(cursors.get(f.rel), f) for f in found if _changed(cursors.get(f.rel), f))
    samples: list[bytes] = []  # lines to train the archive's dictionary on, until there are enough
    # A big first sync parses and compresses in worker processes while this one commits; a small
    # pass (watch) does it on a thread.
    workers = [await Worker.start() for _ in range(WORKERS)] if todo >= POOL_MIN_BYTES and (os.cpu_count() or 1) > 1 \
        else []
    pipeline: deque[tuple[Chunk, asyncio.Future[Prepared]]] = deque()
    commits = Commits(store, place, report, todo, progress)
    vectors = store.url is not None  # a PostgreSQL store's search vectors are built beside the parse
    turn = 0
    try:
        for chunk in _chunks(found, cursors, report):
            if dictionary is None and chunk.data:
                samples += chunk.lines()[: max(0, codec.TRAIN_SAMPLES - len(samples))]
                dictionary = await _maybe_train(store, samples)
            turn += 1
            ready: asyncio.Future[Prepared] = asyncio.ensure_future(
                prepare_chunk(chunk, dictionary, workers[turn % len(workers)] if workers else None, vectors))
            pipeline.append((chunk, ready))
            if len(pipeline) > PIPELINE_DEPTH:
                await commits.add(*pipeline.popleft())
        while pipeline:
            await commits.add(*pipeline.popleft())
        await commits.finish()
    finally:
        for _, ready in pipeline:
            ready.cancel()
        await commits.settle()
        for worker in workers:
            await worker.close()
    present = [f.rel for f in found]
    report.files_gone = await store.transaction(mark_gone, place, present, chosen, back - {None})
    await _sync_footprint(store, place, only, report, walked)
    report.seconds = time.perf_counter() - started
    return report


async def _sync_footprint(store: Store, place: Place, only: Iterable[str | Path] | None, report: SyncReport,
                          walked: list[Path] | None) -> None:
    """The files beside the transcripts under the place's root (`walked`: what the pass's walk found
    besides them), and history.jsonl beside a projects folder."""
    machine, base = place[0], Path(place[1])
    others = None
    if only is not None:
        others = set()
        for p in only:
            p = Path(p) if Path(p).is_absolute() else base / p
            try:
                rel = p.relative_to(base).as_posix()
            except ValueError:
                continue
            if is_footprint(rel):
                others.add(rel)
    if others is None or others:
        await archive_footprint(store, base, only=others, report=report.footprint, paths=walked, machine=machine)
    home = base.parent
    history = home / HISTORY
    if base.name == "projects" and (only is None or history in {Path(p) for p in only}):
        if history.is_file() or await store.fetch_one(
                "SELECT 1 FROM footprint_files WHERE machine IN (?, '') AND root = ? AND path = ?",
                (machine, str(home), HISTORY)):
            await archive_footprint(store, home, only={HISTORY}, report=report.footprint, machine=machine)
    report.problems += report.footprint.problems
    report.footprint.problems = []


class Commits:
    """Prepared chunks grouped into transactions on the store's writer, one committing while the next
    are prepared: the writer and the workers take turns on the cores instead of waiting for each other.

    Small files' chunks share a transaction (one fsync per ~8 MB, not per file). Commits stay in
    order (the next waits for this one), so each file's cursor moves in the transaction that holds
    its lines. The last one also gives responses of models no price database knows Claude Code's
    own cost for them, so no reader ever sees those at $0 between two transactions.
    """

    def __init__(self, store: Store, place: Place, report: SyncReport, todo: int, progress: Progress | None) -> None:
        self.store, self.place, self.report, self.todo, self.progress = store, place, report, todo, progress
        self.group: list[tuple[Chunk, Prepared]] = []
        self.grouped = 0  # the group's bytes
        self.committing: asyncio.Future[None] | None = None
        self.done_bytes = 0
        self.costs: dict[tuple[str, str], float] = {}  # Claude Code's own costs, (session, model) -> USD

    async def add(self, chunk: Chunk, ready: asyncio.Future[Prepared]) -> None:
        """A chunk once prepared joins the group; a full group goes to commit."""
        prepared = await ready
        self.group.append((chunk, prepared))
        self.grouped += prepared.size
        chunk.data = b""  # prepared: the bytes are in the answer (compressed)
        if self.grouped >= BATCH_BYTES:
            await self._flush()

    async def finish(self) -> None:
        """Commit the last group (with the prices), and wait for it."""
        await self._flush(last=True)
        await self._flush()

    async def settle(self) -> None:
        """A commit under way finishes (or fails) before sync returns: never left running behind it."""
        if self.committing is not None:
            # the error already on its way out is the one reported
            await asyncio.wait([self.committing])
            if not self.committing.cancelled():
                self.committing.exception()

    async def _flush(self, *, last: bool = False) -> None:
        if self.committing is not None:
            await self.committing  # raises what the commit before raised: nothing after it is written
        batch = list(self.group)
        self.committing = asyncio.ensure_future(self._commit(batch, last)) if batch or (last and self.costs) else None
        self.group.clear()
        self.grouped = 0

    async def _commit(self, batch: list[tuple[Chunk, Prepared]], last: bool) -> None:
        if last:
            results, priced = await self.store.transaction(archive_and_price, self.place, batch, dict(self.costs),
                                                           set(self.report.unpriced_models))
        else:
            results, priced = await self.store.transaction(archive_all, self.place, batch), set()
        for (_, prepared), result in zip(batch, results, strict=True):
            _tally(self.report, result)
            self.costs.update(result.claude_costs)
            self.done_bytes += prepared.size
        self.report.unpriced_models -= priced
        if self.progress is not None:
            self.progress(self.done_bytes, self.todo)


async def prepare_chunk(chunk: Chunk, dictionary: tuple[int, bytes] | None, worker: Worker | None,
                    vectors: bool = False) -> Prepared:
    """The chunk prepared: by a worker that reads the same bytes itself, else (or when the file changed
    under it) on a thread from the bytes read here."""
    f = chunk.file
    if worker is not None:
        answer = await worker.prepare(str(f.path), chunk.start, len(chunk.data), zlib.crc32(chunk.data), chunk.first,
                                      f.rel, f.session_hint, dictionary, vectors)
        if answer is not None:
            return answer
    return await asyncio.to_thread(_prepare_here, chunk, dictionary, vectors)


def _prepare_here(chunk: Chunk, dictionary: tuple[int, bytes] | None, vectors: bool = False) -> Prepared:
    """`prepare` of the chunk's own bytes (split on the thread that prepares them)."""
    return prepare(chunk.lines(), chunk.first, chunk.file.rel, chunk.file.session_hint, dictionary, vectors=vectors)


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


def _candidates(root: Path, report: SyncReport, others: list[Path] | None = None) -> Iterator[Path]:
    """The transcripts under root; the other files go to `others` (the footprint's), from the same walk."""
    def failed(exc: OSError) -> None:
        report.problems.append(f"{exc.filename}: {exc.strerror or exc}")

    for folder, dirs, names in os.walk(root, onerror=failed):  # never follows links to folders
        dirs.sort()
        for name in sorted(names) + [d for d in dirs if d.endswith(".jsonl")]:
            if name.endswith(".jsonl"):
                yield Path(folder) / name
            elif others is not None:
                others.append(Path(folder) / name)


def _walk(root: Path, report: SyncReport, only: set[str] | None = None,
          others: list[Path] | None = None) -> Iterator[File]:
    """The transcript files under root (or just `only`), main transcripts before subagents, in a stable order."""
    found: list[File] = []
    paths = _candidates(root, report, others) if only is None else (root / rel for rel in sorted(only))
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
        found.append(File(path, rel, thread, hint, st))
    found.sort(key=lambda f: (f.thread is not None, f.rel))
    yield from found


def _changed(cursor: Cursor | None, f: File) -> bool:
    if cursor is None or cursor.gone_at is not None:
        return True
    st = f.st
    return (cursor.device, cursor.inode, cursor.size, cursor.mtime_ns) != (
        st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _resume_at(cursor: Cursor | None, f: File) -> int:
    """Where reading resumes: the cursor, or 0 when the file was replaced or shrank.

    A file put back after its cursor's had gone (restored, moved here) may be another inode: it
    is the same file when its bytes up to the cursor are, which `_moved_under` checks next.
    """
    if cursor is None or cursor.consumed == 0 or f.st.st_size < cursor.consumed:
        return 0
    same = (cursor.device, cursor.inode) == (f.st.st_dev, f.st.st_ino)
    back = (cursor.gone_at is not None or cursor.moved) and cursor.tail_sha256 is not None
    return cursor.consumed if same or back else 0


def _moves(root: Path, found: list[File], cursors: dict[str, Cursor]) -> list[tuple[str, File]]:
    """Files at a path with no cursor that are a missing file moved there: (its old path, the file).

    The missing file's cursor names it by inode (a rename) or by name (a move that copied), and
    the file's bytes up to that cursor must be the ones it consumed (both of its hashes).
    """
    here = {f.rel for f in found}
    new = [f for f in found if f.rel not in cursors]
    if not new:
        return []
    by_name: dict[str, list[str]] = {}
    by_inode: dict[tuple[Any, Any], str] = {}
    for rel, c in cursors.items():
        if rel in here or RETIRED in rel or not c.consumed or c.tail_sha256 is None:
            continue
        by_name.setdefault(rel.rsplit("/", 1)[-1], []).append(rel)
        by_inode[(c.device, c.inode)] = rel
    moves: list[tuple[str, File]] = []
    taken: set[str] = set()
    for f in new:
        for old in dict.fromkeys([by_inode.get((f.st.st_dev, f.st.st_ino)), *by_name.get(f.path.name, [])]):
            if old is None or old in taken or f.st.st_size < cursors[old].consumed or os.path.lexists(root / old):
                continue
            try:
                with open(f.path, "rb") as handle:
                    if _moved_under(handle, cursors[old], cursors[old].consumed):
                        continue
            except OSError:
                break  # unreadable: reading it reports why
            moves.append((old, f))
            taken.add(old)
            break
    return moves


def _prefix_hash(handle: Any, upto: int) -> str:
    """The hash of the file's first bytes up to `upto` (at most PREFIX_BYTES), read without moving."""
    return hashlib.sha256(os.pread(handle.fileno(), min(upto, PREFIX_BYTES), 0)).hexdigest()


def _tail_hash(handle: Any, upto: int) -> str:
    """The hash of the file's last bytes before `upto` (at most PREFIX_BYTES), read without moving."""
    size = min(upto, PREFIX_BYTES)
    return hashlib.sha256(os.pread(handle.fileno(), size, upto - size)).hexdigest()


def _hashes(handle: Any, upto: int) -> tuple[str, str]:
    """What a cursor at `upto` checks when reading resumes there: (_prefix_hash, _tail_hash)."""
    return _prefix_hash(handle, upto), _tail_hash(handle, upto)


def _moved_under(handle: Any, cursor: Cursor, start: int) -> bool:
    """Whether the bytes a cursor consumed changed (rewritten, or edited in place before `start`): its
    first bytes, or the bytes just before it (a cursor from before revision 0008 may have no tail)."""
    prefix, tail = _hashes(handle, start)
    return prefix != cursor.prefix_sha256 or (cursor.tail_sha256 is not None and tail != cursor.tail_sha256)


def _read(f: File, cursor: Cursor | None, report: SyncReport) -> Iterator[Chunk]:
    """The file's complete lines after its cursor, in chunks (a rewritten file from its start)."""
    start = _resume_at(cursor, f)
    first = cursor.lines + 1 if cursor is not None and start else 1
    seen = cursor.lines if cursor is not None else 0
    with open(f.path, "rb") as handle:
        if start and _moved_under(handle, cursor, start):  # type: ignore[arg-type]
            start, first = 0, 1
        if cursor is not None and not start and cursor.consumed:
            report.files_rewritten += 1
        handle.seek(start)
        offset, buffer = start, b""  # buffer: the bytes read from `offset` on, not yet in a chunk
        while True:
            block = handle.read(READ_BLOCK)
            if not block:
                break
            buffer += block
            cut = 0
            # whole chunks while the buffer holds more than one (the rest waits for the next block)
            while len(buffer) - cut > CHUNK_BYTES:
                end = buffer.rfind(b"\n", cut, cut + CHUNK_BYTES) + 1 or buffer.find(b"\n", cut + CHUNK_BYTES) + 1
                if not end:
                    break  # one line longer than a chunk, its newline not read yet
                data = buffer[cut:end]
                yield Chunk(f, first, data, offset + cut, offset + end, *_hashes(handle, offset + end), final=False,
                            seen_lines=seen)
                first += data.count(b"\n")
                cut = end
            buffer = buffer[cut:]
            offset += cut
        end = buffer.rfind(b"\n") + 1
        if end < len(buffer):
            report.waiting += 1  # its last line is still being written
        if end or cursor is not None:  # a new file with no complete line yet waits, unrecorded
            yield Chunk(f, first, buffer[:end], offset, offset + end, *_hashes(handle, offset + end),
                        seen_lines=seen)


def _chunks(found: list[File], cursors: dict[str, Cursor], report: SyncReport) -> Iterator[Chunk]:
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


def _tally(report: SyncReport, done: Done) -> None:
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
    await store.transaction(save_dict, *trained)
    return trained

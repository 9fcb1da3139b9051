"""The archive's lines in the database: each transcript file's lines as runs of consecutive lines,
compressed together (table `transcript_blocks`, `codec.pack`), and the lines whose message lives
in another file (table `transcript_links`).

A synced message names its file and line (`messages.file_id`, `line`): the run that holds that line
holds its exact bytes. The same transcript can arrive twice (synced from Claude Code's file and
mirrored by the Agent SDK; a rewritten file read again beside its earlier copy): a line that is a
message already is linked to it, never made a second message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from ..errors import ConflictError
from . import codec

T = TypeVar("T")
log = logging.getLogger(__name__)

# A file's last run smaller than this takes the next lines in: a file followed live grows a line at
# a time, and one run per line would compress no better than a line alone.
SMALL_RUN = 16 * 1024

# MESSAGE_READ's last column: the run holding a synced message's line (NULL for an app's message,
# whose payload is its own column)
RUN_OF_MESSAGE = ("(SELECT b.id FROM transcript_blocks AS b WHERE messages.payload IS NULL "
                  "AND b.file_id = messages.file_id AND b.first_line <= messages.line "
                  "ORDER BY b.first_line DESC LIMIT 1)")
RUNS_BY_ID = "SELECT id, first_line, raw FROM transcript_blocks WHERE id IN ({})"
FILE_RUNS = "SELECT first_line, lines, raw FROM transcript_blocks WHERE file_id = ? ORDER BY first_line"


def append(tx: Any, file_id: int, first: int, runs: Sequence[tuple[int, bytes]], dict_id: int) -> None:
    """Store runs of a file's lines numbered from `first`, after the lines it holds (in the caller's transaction)."""
    if not runs:
        return
    last = tx.execute("SELECT id, first_line, lines, raw FROM transcript_blocks WHERE file_id = ? "
                      "ORDER BY first_line DESC LIMIT 1", (file_id,))
    if last:
        run_id, start, count, raw = last[0]
        if start + count > first:  # the cursor and the lines disagree: never write a line twice
            raise ConflictError(f"transcript file {file_id} holds lines from {first} on already (it changed "
                                "while another pass read it); nothing was written: sync again")
        held = _decoded(raw) if start + count == first and 0 <= codec.size_of(raw) < SMALL_RUN else None
        if held is not None:  # a damaged run is never merged into: it stays as it is, for a salvage tool
            n, frame = runs[0]
            merged = codec.encode(held + codec.decode(frame), dict_id)
            tx.execute("UPDATE transcript_blocks SET lines = ?, raw = ? WHERE id = ?", (count + n, merged, run_id))
            first += n
            runs = runs[1:]
    rows = []
    for n, frame in runs:
        rows.append((file_id, first, n, frame))
        first += n
    tx.executemany("INSERT INTO transcript_blocks (file_id, first_line, lines, raw) VALUES (?, ?, ?, ?)", rows)


def lines_of(runs: Iterable[Sequence[Any]]) -> dict[int, bytes]:
    """A file's lines by number, from FILE_RUNS rows (first line, lines, frame); UnknownDictionary as codec.
    A damaged run's lines are not there (logged): the caller finds them missing."""
    out: dict[int, bytes] = {}
    for first, count, raw in runs:
        lines = _unpacked(raw, f"lines {first}-{first + count - 1}")
        for k, line in enumerate(lines or ()):
            out[first + k] = line
    return out


def intact(raw: bytes) -> bool:
    """Whether a run decodes (its bytes were not damaged)."""
    return _decoded(raw) is not None


def _decoded(raw: bytes) -> bytes | None:
    """codec.decode, or None for a damaged run."""
    try:
        return codec.decode(raw)
    except codec.Damaged:
        return None


def _unpacked(raw: bytes, what: str) -> list[bytes] | None:
    """codec.unpack, or None (said loudly) for a run whose bytes were damaged on disk."""
    try:
        return codec.unpack(raw)
    except codec.Damaged as exc:
        log.error("archived transcript %s are damaged (%s): read without them; `yurudb check` lists every "
                  "damaged run and `yurudb repair` has their files read again", what, exc)
        return None


def messages_of(tx: Any, file_ids: Sequence[int]) -> dict[tuple[int, int], str]:
    """(file, line) -> the message that line is, for the lines of these files that are messages."""
    found: dict[tuple[int, int], str] = {}
    for fid, line, mid in tx.select_in("SELECT file_id, line, id FROM messages WHERE file_id IN ({})", file_ids):
        found[(fid, line)] = mid
    for fid, line, mid in tx.select_in("SELECT file_id, line, message_id FROM transcript_links WHERE file_id IN ({})",
                                       file_ids):
        found[(fid, line)] = mid
    return found


def link(tx: Any, links: Sequence[tuple[int, int, str]]) -> None:
    """Lines (file, line) that are a message of another file."""
    tx.executemany("INSERT INTO transcript_links (file_id, line, message_id) VALUES (?, ?, ?) "
                   "ON CONFLICT(file_id, line) DO UPDATE SET message_id = excluded.message_id", links)


# ---- a synced message's bytes, for the reads ------------------------------------------------------
def wanted(rows: Sequence[Sequence[Any]], at: int) -> list[int]:
    """The runs MESSAGE_READ rows need (their column `at`), each once."""
    return sorted({r[at] for r in rows if r[at] is not None})


def with_lines(rows: Sequence[Sequence[Any]], runs: Iterable[Sequence[Any]], at: int) -> list[Sequence[Any]]:
    """MESSAGE_READ rows with column `at` (a run's id) replaced by the message's line, exact; the line
    number is the column before it. RUNS_BY_ID rows give the runs; each is decoded once."""
    decoded = {run_id: (first, _unpacked(raw, f"run {run_id}") or []) for run_id, first, raw in runs}
    out: list[Sequence[Any]] = []
    for r in rows:
        run_id = r[at]
        if run_id is None:
            out.append(r)
            continue
        # a run missing here went between the two reads (its session was deleted): no payload, no error
        first, lines = decoded.get(run_id, (0, []))
        k = r[at - 1] - first
        out.append((*r[:at], lines[k] if 0 <= k < len(lines) else None, *r[at + 1:]))
    return out


def attach(tx: Any, rows: list[Any], at: int) -> list[Any]:
    """with_lines, its runs read in the caller's transaction."""
    ids = wanted(rows, at)
    if not ids:
        return rows
    runs = tx.select_in(RUNS_BY_ID, ids)
    return _decoding(tx, lambda: with_lines(rows, runs, at))


def file_lines(tx: Any, file_id: int) -> dict[int, bytes]:
    """lines_of a file's runs, read in the caller's transaction."""
    runs = tx.execute(FILE_RUNS, (file_id,))
    return _decoding(tx, lambda: lines_of(runs))


def load_dictionaries(tx: Any) -> None:
    """Make every dictionary of the archive known to this process's codec."""
    for dict_id, data in tx.execute("SELECT id, data FROM archive_dicts"):
        codec.register(dict_id, data)


def _decoding(tx: Any, decode: Callable[[], T]) -> T:
    try:
        return decode()
    except codec.UnknownDictionary:  # a run another process compressed with a dictionary trained since
        load_dictionaries(tx)
        return decode()


# Roots whose files yurudb cannot read again: the Agent SDK's mirror has no file, a salvage's rows
# have gaps by nature.
NO_SOURCE = ("claude-agent-sdk", "(salvaged)")
RETIRED = "#replaced-"  # a rewritten file's earlier copy: `<path>#replaced-<time>` (yurudb/claude/apply.py)


def verify(conn: Any) -> list[tuple[int, str, str]]:
    """Every archived run decoded and counted: (file id, path, what is wrong) for each problem found.

    A run whose bytes changed (its checksum, or zstd, says so), or that holds another number of lines
    than its row says; and in a file's current copy, lines its cursor counts that no run holds. (An
    earlier copy kept by a rewrite, or a salvage's rows, may have gaps that are already known.)
    """
    load_dictionaries(conn)
    problems: list[tuple[int, str, str]] = []
    files = conn.execute("SELECT id, path, lines, root FROM transcript_files ORDER BY id")
    for file_id, path, count, root in list(files):
        gaps_matter = root != "(salvaged)" and RETIRED not in path
        expected = 1
        for first, n, raw in conn.execute(FILE_RUNS, (file_id,)):
            if gaps_matter and first > expected:
                problems.append((file_id, path, f"lines {expected}-{first - 1} missing"))
            try:
                held = len(codec.unpack(raw))
            except codec.Damaged:
                problems.append((file_id, path, f"lines {first}-{first + n - 1} damaged"))
            except codec.UnknownDictionary:
                problems.append((file_id, path, f"lines {first}-{first + n - 1}: their dictionary is missing"))
            else:
                if held != n:
                    problems.append((file_id, path, f"lines {first}-{first + n - 1}: the run holds {held}"))
            expected = max(expected, first + n)
        if gaps_matter and expected <= count:
            problems.append((file_id, path, f"lines {expected}-{count} missing"))
    return problems


def superseded(path: str) -> bool:
    """Whether a file's copy is an earlier one, kept beside the copy a sync read again (what restore and
    export give is the other)."""
    return RETIRED in path


def reread_damaged(tx: Any) -> tuple[list[tuple[int, str, str]], int]:
    """verify, then reread each file whose current copy has a problem: (the problems, files marked)."""
    problems = verify(tx)
    return problems, reread(tx, [file_id for file_id, path, _ in problems if not superseded(path)])


def reread(tx: Any, file_ids: Iterable[int]) -> int:
    """Have the next sync read these files again from their start, as a rewritten file is (the copy
    with damaged or missing lines is kept beside the new one); files with no source are left."""
    marked = 0
    for file_id in sorted(set(file_ids)):
        marked += len(tx.execute(
            "UPDATE transcript_files SET mtime_ns = NULL, prefix_sha256 = NULL, tail_sha256 = NULL "
            "WHERE id = ? AND root NOT IN (?, ?) RETURNING id", (file_id, *NO_SOURCE)))
    return marked

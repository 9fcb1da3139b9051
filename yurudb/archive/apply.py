"""The half of `sync` inside a transaction on the store's writer connection: chunks of prepared lines
become messages, raw lines, usage rows and session facts, and each file's cursor moves with them."""

from __future__ import annotations

import json
import os
from collections import defaultdict, deque
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..backends.sqlite.transaction import Tx
from ..lines import codec
from ..lines import runs as archive_lines
from ..search import index as search
from ..times import now_text
from ..validation import new_id
from ..writes import statements
from ..writes.batch import BatchEffects
from ..writes.statements import insert_session
from .prepare import Prepared, split_lines, twin_key


@dataclass
class File:
    path: Path
    rel: str  # relative to the root, "/"-separated
    thread: str | None  # a subagent file's subpath under its project folder; None: a main transcript
    session_hint: str  # the Claude session the file's name says it belongs to
    st: os.stat_result


Place = tuple[str, str]  # (machine, root): where a file was read (paths.machine_id, its projects folder)


@dataclass
class Cursor:
    """Where a file's archive ends: what its bytes looked like when the last pass stopped reading it."""

    id: int
    device: int | None
    inode: int | None
    size: int | None
    mtime_ns: int | None
    consumed: int  # bytes archived (complete lines)
    lines: int  # lines archived
    prefix_sha256: str | None  # of its first bytes (a rewrite changes them)
    gone_at: str | None  # when the file was found missing
    tail_sha256: str | None  # of the bytes just before `consumed` (an edit in place changes them)
    session_id: str | None
    moved: bool = False  # found at a new path this pass (its row goes with it)


CURSOR_COLUMNS = ("id, device, inode, size, mtime_ns, consumed, lines, prefix_sha256, gone_at, tail_sha256, "
                  "session_id")


@dataclass
class Chunk:
    """Complete lines of one file: `data` (each line with its newline) read at byte offset `start`,
    numbered from `first`."""

    file: File
    first: int
    data: bytes
    start: int
    end: int  # the byte offset after the last line
    prefix_sha256: str
    tail_sha256: str  # of the bytes just before `end` (sync._tail_hash)
    final: bool = True  # the file's last chunk of this pass: its cursor may take the file's stat
    seen_lines: int = 0  # the lines the file's cursor counted when this pass read it
    ids: dict[int, str] | None = None  # copied from another database (push, pull): each line's message id there

    def lines(self) -> list[bytes]:
        """The chunk's lines, without their newlines."""
        return split_lines(self.data)


@dataclass
class Done:
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


def load_state(tx: Tx, place: Place) -> tuple[BatchEffects, tuple[dict[str, Cursor], tuple[int, bytes] | None]]:
    """Every file's cursor under the place's root (by path), and the newest compression dictionary.

    Files of this root from before revision 0014 (machine '') become this machine's: the machine that
    syncs the root first reads on from their cursors (a path it has a row of its own for keeps both)."""
    adopt(tx, "transcript_files", place)
    cursors = {r[0]: Cursor(*r[1:]) for r in tx.execute(
        f"SELECT path, {CURSOR_COLUMNS} FROM transcript_files WHERE machine = ? AND root = ?", place)}
    dictionary = None
    for known_id, data in tx.execute("SELECT id, data FROM archive_dicts ORDER BY id"):
        codec.register(known_id, data)
        dictionary = (known_id, data)  # the newest compresses from now on
    return BatchEffects(), (cursors, dictionary)


def adopt(tx: Tx, table: str, place: Place) -> None:
    """A table's rows of this root from before machines were kept (machine '') made this machine's."""
    machine, root = place
    if machine:
        tx.execute(f"UPDATE {table} SET machine = ? WHERE machine = '' AND root = ? AND path NOT IN "
                   f"(SELECT path FROM {table} WHERE machine = ? AND root = ?)", (machine, root, machine, root))


def save_dict(tx: Tx, dict_id: int, data: bytes) -> tuple[BatchEffects, None]:
    tx.execute("INSERT OR IGNORE INTO archive_dicts (id, data) VALUES (?, ?)", (dict_id, data))
    return BatchEffects(), None


def session_for(tx: Tx, claude_id: str, cache: dict[str, str], done: Done) -> str:
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
            insert_session(tx, found, f"Claude session {claude_id[:8]}", status="completed",
                           claude_session_id=claude_id, created_at=now)
            done.sessions_created += 1
            done.created.add(found)
            done.effects.sessions[found] = None  # the cache learns it from the database
        cache[claude_id] = found
    return found


@dataclass
class Twins:
    """The messages of the same transcript that arrived the other way (mirrored by the Agent SDK, or
    synced from the file): a line that is one of them is linked to its message, never made twice."""

    waiting: dict[str, deque[str]] = field(default_factory=lambda: defaultdict(deque))  # twin key -> ids

    def take(self, key: str) -> str | None:
        """The message a line with this twin key already is (each matches once, in order)."""
        found = self.waiting.get(key)
        return found.popleft() if found else None


RETIRED = archive_lines.RETIRED  # a rewritten file's earlier copy keeps its lines under `<path>#replaced-<time>`


def twins(tx: Tx, place: Place, path: str, file_id: int, session_id: str | None = None) -> Twins | None:
    """The messages of `path` that exist already: under another place (the transcript arrived both
    ways, or from another machine, whose project folder may be named for another path: the same file
    of the same session), or in an earlier copy of a file that was rewritten; less those file
    `file_id` links already (an earlier chunk or append took them)."""
    # each lookup on an index: the same path under another place (idx_transcript_files_name), this
    # place's paths that start `<path>#replaced-` (a range of idx_transcript_files_path), and the
    # session's files under other places (idx_transcript_files_session) with the same name in their folder
    machine, root = place
    retired = path + RETIRED
    name = path[path.index("/"):] if "/" in path else path
    others = [r[0] for r in tx.execute(
        "SELECT id FROM transcript_files WHERE path = ? AND (root != ? OR machine != ?) "
        "UNION SELECT id FROM transcript_files WHERE machine = ? AND root = ? AND path >= ? AND path < ? "
        "UNION SELECT id FROM transcript_files WHERE session_id = ? AND (root != ? OR machine != ?) AND id != ? "
        "AND substr(path, instr(path, '/')) = ? AND instr(path, ?) = 0",
        (path, root, machine, machine, root, retired, retired[:-1] + chr(ord(retired[-1]) + 1), session_id, root,
         machine, file_id, name, RETIRED))]
    if not others:
        return None
    found = Twins()
    linked = set(archive_lines.messages_of(tx, [file_id]).values())
    owners = archive_lines.messages_of(tx, others)
    for other in sorted(others):
        for n, raw in sorted(archive_lines.file_lines(tx, other).items()):
            message_id = owners.get((other, n))
            if message_id is None or message_id in linked:
                continue
            found.waiting[twin_key(json.loads(raw))].append(message_id)
    return found


def archive_all(tx: Tx, place: Place, group: list[tuple[Chunk, Prepared]]) -> tuple[BatchEffects, list[Done]]:
    """Archive several prepared chunks in one transaction."""
    effects = BatchEffects()
    done = []
    # The group's text goes into the index last, in one go: FTS5 writes what it holds to a new
    # segment whenever a statement opens a savepoint (an upsert, an INSERT ... RETURNING), so
    # indexing chunk by chunk between those statements made a segment per chunk, each merged later.
    docs = search.Docs(tx)
    for chunk, ready in group:
        chunk_effects, result = _archive(tx, place, chunk, ready, docs)
        effects.sessions.update(chunk_effects.sessions)
        done.append(result)
    docs.insert()
    return effects, done


def _archive(tx: Tx, place: Place, chunk: Chunk, ready: Prepared, docs: search.Docs) -> tuple[BatchEffects, Done]:
    """Archive one prepared chunk of lines and move the file's cursor past them, in the caller's
    transaction; the text to index is left in `docs`."""
    placed = _file_row(tx, place, chunk, ready)
    if placed is None:
        return BatchEffects(), Done(_file_id(tx, place, chunk.file.rel))
    file_id, chunk, ready = placed
    done = Done(file_id)
    if not ready.lines:  # nothing new but the file's stat (a partial last line grew)
        _move_cursor(tx, chunk, file_id, 0)
        return done.effects, done
    sessions: dict[str, str] = {}
    _messages(tx, place, chunk, ready, docs, file_id, sessions, done)
    _usage_and_facts(tx, ready, sessions, done)
    _move_cursor(tx, chunk, file_id, ready.lines)
    done.lines, done.bytes = ready.lines, ready.size
    return done.effects, done


def _file_id(tx: Tx, place: Place, rel: str) -> int:
    return int(tx.execute("SELECT id FROM transcript_files WHERE machine = ? AND root = ? AND path = ?",
                          (*place, rel))[0][0])


def _file_row(tx: Tx, place: Place, chunk: Chunk, ready: Prepared) -> tuple[int, Chunk, Prepared] | None:
    """The file's row for this chunk (a rewritten file's earlier copy retired, a new file's row made),
    and the chunk less what another pass archived since this one read the cursor (None: all of it)."""
    f = chunk.file
    row = tx.execute("SELECT id, lines, consumed, device, inode FROM transcript_files "
                     "WHERE machine = ? AND root = ? AND path = ?", (*place, f.rel))
    if row and row[0][1] >= chunk.first and row[0][1] != chunk.seen_lines:
        # Another pass (a watch, a second sync) archived some of these lines since this one read the
        # cursor: what it took is left to it, when it read this file's bytes as this pass did.
        trimmed = _after(ready, chunk, *row[0][1:])
        if trimmed is not None:
            if trimmed.lines == 0:
                return None
            ready, chunk = trimmed, replace(chunk, first=row[0][1] + 1)
    session_of_copy = None
    if row and chunk.first == 1 and row[0][1]:
        # Read again from its start (rewritten, shrunk, replaced): the earlier copy keeps its lines,
        # which its messages are read from, under a name of its own; the new copy starts afresh and
        # its lines that are the same messages link to them (Twins). Nothing is overwritten.
        # The new copy is the same file's: it stays its session's (exported as that session's file,
        # even while it has no complete line yet).
        now = now_text()
        session_of_copy = tx.execute("SELECT session_id FROM transcript_files WHERE id = ?", (row[0][0],))[0][0]
        tx.execute("UPDATE transcript_files SET path = path || ? || ?, gone_at = COALESCE(gone_at, ?) WHERE id = ?",
                   (RETIRED, now, now, row[0][0]))
        row = []
    file_id = row[0][0] if row else tx.execute(
        "INSERT INTO transcript_files (machine, root, path, thread, session_id) VALUES (?, ?, ?, ?, ?) RETURNING id",
        (*place, f.rel, f.thread, session_of_copy))[0][0]
    return file_id, chunk, ready


def _messages(tx: Tx, place: Place, chunk: Chunk, ready: Prepared, docs: search.Docs, file_id: int,
              sessions: dict[str, str], done: Done) -> None:
    """The chunk's lines: their messages (new, or re-read in place), runs and links to twins."""
    f = chunk.file
    done.not_json, done.oversized, done.unpriced = ready.not_json, ready.oversized, set(ready.unpriced)
    file_yid = session_for(tx, ready.file_session, sessions, done)
    tx.execute("UPDATE transcript_files SET session_id = COALESCE(session_id, ?) WHERE id = ?", (file_yid, file_id))
    # a line copied from another database asks for the id its message has there (which may name
    # that database's file: `<uuid>@<file>:<line>`), so that a copy's messages are the source's
    asked = {m.line: chunk.ids.get(m.line, m.candidate_id) if chunk.ids else m.candidate_id for m in ready.messages}
    owners = {r[0]: (r[1], r[2], r[3], r[4]) for r in tx.select_in(
        "SELECT id, session_id, file_id, line, seq FROM messages WHERE id IN ({})", set(asked.values()))}
    # the rows this chunk writes that may exist already (and be indexed): those found, and the ids
    # made for a uuid seen in another line (not looked up above); a first sync has next to none
    existing: list[str] = []
    next_seq: dict[str, int] = {}
    message_rows: list[tuple[Any, ...]] = []
    links: list[tuple[int, int, str]] = []
    mirrored = twins(tx, place, f.rel, file_id, file_yid)
    intact: dict[int, bool] = {}  # runs of other files that _lost decoded
    for m in ready.messages:
        n, yid = m.line, session_for(tx, m.claude_session, sessions, done)
        if mirrored is not None and (same := mirrored.take(m.twin_key)) is not None:
            links.append((file_id, n, same))  # the Agent SDK mirrored this line already: one message, two copies
            continue
        message_id = asked[n]
        owner = owners.get(message_id)
        if owner is not None and (owner[1], owner[2]) != (file_id, n) and not _lost(tx, owner[1], owner[2], intact):
            # The same uuid in another line (a resumed session replays earlier lines): archived in
            # each, under an id of its own. (A message whose own line a damaged page took, or whose
            # run's bytes were damaged, is this line again: it keeps its id and place and reads from here.)
            message_id = f"{m.candidate_id}@{file_id}:{n}"
            owner = owners.get(message_id)
            existing.append(message_id)
        if owner is None:
            if yid not in next_seq:
                next_seq[yid] = statements.next_seq(tx, yid)
            seq = next_seq[yid]
            next_seq[yid] = seq + 1
            done.messages_new += 1
        else:
            seq = owner[3]  # archived before (a re-read): it keeps its place
            existing.append(message_id)
        owners[message_id] = (yid, file_id, n, seq)
        done.last_session = yid
        # content, tool uses and usage are read from the raw line (the JSON is stored once); the row
        # names its search document (indexed below, in this transaction)
        message_rows.append((message_id, yid, seq, m.type, m.role, m.timestamp, f.thread, file_id, n,
                             docs.add(message_id, m.body, m.secrets, m.vector)))
    # lines archived before (a re-read) leave the index with the text they held first
    if existing:
        docs.insert()  # what earlier chunks left is in the index before anything is taken out of it
        search.unindex(tx, existing)
    tx.executemany(statements.UPSERT_LINE_MESSAGE, message_rows)
    archive_lines.append(tx, file_id, chunk.first, ready.runs, ready.dict_id)
    archive_lines.link(tx, links)


def _usage_and_facts(tx: Tx, ready: Prepared, sessions: dict[str, str], done: Done) -> None:
    """One usage row per response (its last line's figures), Claude Code's costs, and the sessions' facts."""
    usage = []
    for (claude_id, key), (model, tin, tout, cw, cr, cost, when) in ready.responses.items():
        usage.append((session_for(tx, claude_id, sessions, done), tin, tout, cw + cr, cost or 0.0, model, when, key,
                      cw, cr))
    tx.executemany(statements.UPSERT_USAGE, usage)
    done.usage_records = len(usage)
    for (claude_id, model), cost in ready.claude_costs.items():
        done.claude_costs[(session_for(tx, claude_id, sessions, done), model)] = cost
    for claude_id, known in ready.facts.items():
        yid = session_for(tx, claude_id, sessions, done)
        describe(tx, yid, known, fresh=yid in done.created)
        done.sessions_updated.add(yid)
        done.effects.sessions.setdefault(yid, None)


def _lost(tx: Tx, file_id: int | None, line: int | None, intact: dict[int, bool]) -> bool:
    """Whether a synced message's line is gone from the archive: no run holds it (a damaged page took
    it) or its run no longer decodes (its bytes were damaged). `intact` remembers each run's answer."""
    if file_id is None or line is None:
        return False  # an app's message: its payload is its own
    run = tx.execute("SELECT id, first_line + lines > ? FROM transcript_blocks WHERE file_id = ? "
                     "AND first_line <= ? ORDER BY first_line DESC LIMIT 1", (line, file_id, line))
    if not (run and run[0][1]):
        return True
    run_id = run[0][0]
    if run_id not in intact:  # its bytes read once (a resumed session replays many lines of one run)
        raw = tx.execute("SELECT raw FROM transcript_blocks WHERE id = ?", (run_id,))[0][0]
        intact[run_id] = archive_lines.intact(raw)
    return not intact[run_id]


def _after(ready: Prepared, chunk: Chunk, archived: int, consumed: int, device: int | None,
           inode: int | None) -> Prepared | None:
    """The chunk's lines after line `archived`, which another pass archived (up to byte `consumed`
    of the same file); None when that pass did not read the bytes this one did (the file changed)."""
    st = chunk.file.st
    if (device, inode) != (st.st_dev, st.st_ino):
        return None
    if archived >= chunk.first + ready.lines - 1:  # all of them (and maybe more)
        return Prepared() if consumed >= chunk.end else None
    lines = [line for _, frame in ready.runs for line in codec.unpack(frame)]
    skip = archived - chunk.first + 1
    taken = sum(len(line) + 1 for line in lines[:skip])
    if chunk.start + taken != consumed:
        return None
    kept = lines[skip:]
    return replace(ready, lines=len(kept), size=ready.size - taken, runs=codec.pack(kept, ready.dict_id),
                   messages=[m for m in ready.messages if m.line > archived])


def _move_cursor(tx: Tx, chunk: Chunk, file_id: int, count: int) -> None:
    """The file's cursor past this chunk, in the chunk's transaction."""
    st = chunk.file.st
    # Until the pass reaches the file's end, the cursor must not look like the whole file was seen:
    # a sync stopped here (killed) would take the file for unchanged and never read the rest.
    size, mtime = (st.st_size, st.st_mtime_ns) if chunk.final else (chunk.end, None)
    tx.execute("UPDATE transcript_files SET device = ?, inode = ?, size = ?, mtime_ns = ?, consumed = ?, lines = ?, "
               "prefix_sha256 = ?, tail_sha256 = ?, synced_at = ?, gone_at = NULL WHERE id = ?",
               (st.st_dev, st.st_ino, size, mtime, chunk.end, chunk.first + count - 1,
                chunk.prefix_sha256, chunk.tail_sha256, now_text(), file_id))


def describe(tx: Tx, yid: str, known: dict[str, Any], fresh: bool) -> None:
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


def move_files(tx: Tx, place: Place, moves: list[tuple[str, str, str | None]]) -> tuple[BatchEffects, None]:
    """Files found at a new path (old path, new path, its thread): their rows, lines and cursors go with them."""
    tx.executemany("UPDATE transcript_files SET path = ?, thread = ? WHERE machine = ? AND root = ? AND path = ?",
                   [(new, thread, *place, old) for old, new, thread in moves])
    return BatchEffects(), None


def mark_gone(tx: Tx, place: Place, present: list[str], only: set[str] | None,
              back: Collection[str] = ()) -> tuple[BatchEffects, int]:
    """Files no longer on disk (of those looked at): mark them and their sessions gone; delete nothing.
    Sessions in `back` (a file of theirs returned) are no longer marked once none of their files is gone."""
    seen = set(present)
    gone = [(fid, sid) for fid, path, sid in tx.execute(
        "SELECT id, path, session_id FROM transcript_files WHERE machine = ? AND root = ? AND gone_at IS NULL", place)
        if path not in seen and (only is None or path in only)]
    effects = BatchEffects()
    now = now_text()
    for fid, sid in gone:
        tx.execute("UPDATE transcript_files SET gone_at = ? WHERE id = ?", (now, fid))
        if sid is not None:
            tx.execute("UPDATE sessions SET metadata = json_set(COALESCE(metadata, '{}'), '$.source_gone', ?) "
                       "WHERE id = ?", (now, sid))
            effects.sessions.setdefault(sid, None)
    for sid in set(back) - {sid for _, sid in gone}:
        still = tx.execute("SELECT 1 FROM transcript_files WHERE session_id = ? AND gone_at IS NOT NULL "
                           "AND instr(path, ?) = 0 AND root != 'claude-agent-sdk' LIMIT 1", (sid, RETIRED))
        if not still:
            tx.execute("UPDATE sessions SET metadata = json_remove(metadata, '$.source_gone') WHERE id = ? "
                       "AND json_extract(metadata, '$.source_gone') IS NOT NULL", (sid,))
            effects.sessions.setdefault(sid, None)
    return effects, len(gone)


def archive_and_price(tx: Tx, place: Place, group: list[tuple[Chunk, Prepared]], costs: dict[tuple[str, str], float],
                      unpriced: set[str]) -> tuple[BatchEffects, tuple[list[Done], set[str]]]:
    """A sync's last group, then Claude Code's own costs for the unpriced models (one transaction);
    returns the group's results and the models that got a price."""
    effects, done = archive_all(tx, place, group)
    for result in done:
        costs.update(result.claude_costs)
        unpriced |= result.unpriced
    return effects, (done, price_from_claude_code(tx, costs, unpriced))


def price_from_claude_code(tx: Tx, costs: dict[tuple[str, str], float], unpriced: set[str]) -> set[str]:
    """Responses of a model no price database knows get Claude Code's own cost for it (its cost-state),
    less what lines priced themselves, shared by tokens; returns the models so priced."""
    priced: set[str] = set()
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
            priced.add(model)
    return priced

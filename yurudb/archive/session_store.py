"""yurudb as the Claude Agent SDK's `SessionStore`: mirrored transcript entries go into the archive.

`ClaudeAgentOptions(session_store=SessionStore(store))` mirrors every line of a running session.
A key `{project_key, session_id, subpath?}` is a transcript file of the archive (root
`claude-agent-sdk`, path `<project_key>/<session_id>.jsonl`, a subagent at
`<project_key>/<session_id>/<subpath>.jsonl`, its thread as `yurudb sync` names subagent files),
and its session is the yurudb session of that Claude session id, as for synced files. Each
entry is kept as one line (its compact JSON); an entry with a uuid is written once per key. An
append commits through the store's writer connection in one transaction before it returns.

The SDK is not a dependency of yurudb: this module needs it only for `list_session_summaries`
(the SDK's `fold_session_summary`, imported when an append maintains a summary).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from ..backends.sqlite.transaction import Tx
from ..errors import ValidationError
from ..lines import codec, transcript
from ..lines import runs as archive_lines
from ..paths import SHARED_MACHINE
from ..search import fulltext
from ..search import index as search
from ..store.store import Store
from ..times import from_column, now_text, to_ms
from ..writes import statements
from ..writes.batch import BatchEffects
from .apply import Done, describe, session_for, twins
from .prepare import Prepared, prepare

ROOT = "claude-agent-sdk"  # transcript_files.root of mirrored keys
SUMMARY = "agent_sdk_summaries"  # sessions.metadata: {project_key: the SDK's summary}


def _path(key: Any) -> tuple[str, str | None]:
    """A key's file path and thread; ValidationError for a key that is not one."""
    if not isinstance(key, dict):
        raise ValidationError("a session key is a dict {project_key, session_id, subpath?}")
    project, session = key.get("project_key"), key.get("session_id")
    for what, value in (("project_key", project), ("session_id", session)):
        if not isinstance(value, str) or not value or "/" in value or value in (".", ".."):
            raise ValidationError(f"{what} must be a non-empty name without '/', not {value!r}")
    subpath = key.get("subpath")
    if subpath is None:
        return f"{project}/{session}.jsonl", None
    if (not isinstance(subpath, str) or not subpath or subpath.startswith("/") or "\\" in subpath
            or any(part in ("", ".", "..") for part in subpath.split("/"))):
        raise ValidationError(f"subpath must be a relative path inside the session, not {subpath!r}")
    return f"{project}/{session}/{subpath}.jsonl", f"{session}/{subpath}.jsonl"


def _in_asyncio() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class _Portal:
    """An asyncio loop on a thread of its own, for callers on another event loop (trio)."""

    def __init__(self) -> None:
        import threading

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="yurudb-session-store", daemon=True)
        self.thread.start()

    async def call(self, work: Any) -> Any:
        """Run a coroutine on the portal's loop; the calling task waits on a worker thread."""
        try:
            import trio
        except ImportError:  # pragma: no cover - another loop without trio
            work.close()
            raise ValidationError("SessionStore runs under asyncio, or under trio when trio is installed") from None
        future = asyncio.run_coroutine_threadsafe(work, self.loop)
        return await trio.to_thread.run_sync(future.result)

    async def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        import trio

        await trio.to_thread.run_sync(self.thread.join)
        self.loop.close()


class SessionStore:
    """The Agent SDK's SessionStore protocol over a yurudb store (`append`, `load` and every optional method)."""

    def __init__(self, store: Store) -> None:
        if not isinstance(store, Store):
            raise ValidationError(f"SessionStore(store) takes an open yurudb store (`await yurudb.open(path)`), not "
                            f"{type(store).__name__}; to open a database by its path, use "
                            f"`await SessionStore.open(path)`")
        self.store = store
        self._owned = False
        # Group commit: appends that arrive while a transaction runs share the next one (in call
        # order, so one key's batches keep theirs); another process waits on the write lock.
        self._waiting: list[tuple[tuple[Any, ...], asyncio.Future[None]]] = []
        self._committing: asyncio.Task[None] | None = None

    _portal: _Portal | None = None  # opened under trio: the store runs on an asyncio loop of its own

    @classmethod
    async def open(cls, path: str | Path | None = None, **options: Any) -> SessionStore:
        """Open a yurudb database (`yurudb.open` options) as a SessionStore; `close()` closes it.

        Under asyncio the store runs on the caller's loop. Under trio (the SDK runs on anyio, so
        either) it runs on an asyncio loop in a thread of its own, and each call crosses to it.
        """
        from ..recovery.coordinator import open as open_store

        if _in_asyncio():
            adapter = cls(await open_store(path, **options))
        else:
            async def opening() -> Store:
                return await open_store(path, **options)

            portal = _Portal()
            adapter = cls(await portal.call(opening()))
            adapter._portal = portal
        adapter._owned = True
        return adapter

    async def _call(self, work: Any) -> Any:
        return await work if self._portal is None else await self._portal.call(work)

    async def close(self) -> None:
        """Close the store if this adapter opened it."""
        if self._owned:
            await self._call(self.store.close())
        if self._portal is not None:
            await self._portal.stop()

    async def append(self, key: Any, entries: list[Any]) -> None:
        """Mirror a batch of entries; returns once they are committed."""
        return await self._call(self._append(key, entries))

    async def load(self, key: Any) -> list[dict[str, Any]] | None:
        """Every entry of a key, in append order (None for a key never appended to)."""
        return await self._call(self._load(key))

    async def list_sessions(self, project_key: str) -> list[dict[str, Any]]:
        """The main sessions of a project: session_id and mtime (storage time, epoch ms)."""
        return await self._call(self._list_sessions(project_key))

    async def list_session_summaries(self, project_key: str) -> list[dict[str, Any]]:
        """The summaries `append` folded (the SDK's fold_session_summary), for a project's sessions."""
        return await self._call(self._list_session_summaries(project_key))

    async def delete(self, key: Any) -> None:
        """Delete a key's entries; a main key takes its subkeys (and a session left empty) with it."""
        return await self._call(self._delete(key))

    async def list_subkeys(self, key: Any) -> list[str]:
        """The subpaths appended to under a main key."""
        return await self._call(self._list_subkeys(key))

    async def _append(self, key: Any, entries: list[Any]) -> None:
        """Mirror a batch of entries; returns once they are committed."""
        path, thread = _path(key)
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise ValidationError("entries must be a list of JSON objects")
        try:
            lines = [json.dumps(e, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
                     for e in entries]
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"an entry is not JSON: {exc}") from None
        if not lines:
            return
        fold: Any = None
        if thread is None:
            from claude_agent_sdk._internal.session_summary import fold_session_summary as fold
        # compressed in the transaction: which entries are kept is decided there
        # the secrets in their text, and on a server their search vectors, are found here, off the writer
        prepared = await asyncio.to_thread(prepare, lines, 1, path, key["session_id"], None, compress=False,
                                           vectors=self.store.url is not None)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(((path, thread, dict(key), prepared, lines, entries, fold), done))
        if self._committing is None or self._committing.done():
            self._committing = asyncio.get_running_loop().create_task(self._commit())
        await done

    async def _commit(self) -> None:
        """Commit what waits, one transaction for all of it; a failing group is retried one append at a time."""
        while self._waiting:
            group, self._waiting = self._waiting, []
            try:
                await self.store.transaction(_append_all, [args for args, _ in group])
                outcomes: list[BaseException | None] = [None] * len(group)
            except Exception:
                outcomes = []
                for args, _ in group:
                    try:
                        await self.store.transaction(_append_all, [args])
                        outcomes.append(None)
                    except Exception as exc:  # this append alone fails; the others are committed
                        outcomes.append(exc)
            for (_, done), outcome in zip(group, outcomes, strict=True):
                if done.done():
                    continue
                if outcome is None:
                    done.set_result(None)
                else:
                    done.set_exception(outcome)

    async def _load(self, key: Any) -> list[dict[str, Any]] | None:
        """Every entry of a key, in append order (None for a key never appended to)."""
        path, _ = _path(key)
        reads = self.store
        found = await reads.fetch("SELECT id FROM transcript_files WHERE root = ? AND path = ?", (ROOT, path))
        if not found:
            return None
        runs = await reads.fetch(archive_lines.FILE_RUNS, (found[0][0],))
        try:
            lines = archive_lines.lines_of(runs)
        except codec.UnknownDictionary:
            await self.store.load_dictionaries()
            lines = archive_lines.lines_of(runs)
        return [json.loads(raw) for _, raw in sorted(lines.items())]

    async def _list_sessions(self, project_key: str) -> list[dict[str, Any]]:
        """The main sessions of a project: session_id and mtime (storage time, epoch ms)."""
        _path({"project_key": project_key, "session_id": "x"})
        rows = await self.store.fetch(
            "SELECT path, synced_at FROM transcript_files WHERE root = ? AND thread IS NULL AND path LIKE ? ESCAPE '\\'",
            (ROOT, _like(project_key) + "/%"))
        return [{"session_id": p[len(project_key) + 1 : -len(".jsonl")], "mtime": _ms(at)} for p, at in rows]

    async def _list_session_summaries(self, project_key: str) -> list[dict[str, Any]]:
        """The summaries `append` folded (the SDK's fold_session_summary), for a project's sessions."""
        _path({"project_key": project_key, "session_id": "x"})
        rows = await self.store.fetch(
            "SELECT json_extract(s.metadata, ?) FROM transcript_files AS f JOIN sessions AS s ON s.id = f.session_id "
            "WHERE f.root = ? AND f.thread IS NULL AND f.path LIKE ? ESCAPE '\\'",
            (f'$.{SUMMARY}."{project_key}"', ROOT, _like(project_key) + "/%"))
        summaries = [json.loads(r[0]) for r in rows if r[0]]
        return [s for s in summaries if isinstance(s, dict)]

    async def _delete(self, key: Any) -> None:
        """Delete a key's entries; a main key takes its subkeys (and a session left empty) with it."""
        path, thread = _path(key)
        await self.store.transaction(_delete, path, thread, dict(key))

    async def _list_subkeys(self, key: Any) -> list[str]:
        """The subpaths appended to under a main key."""
        path, _ = _path(key)
        prefix = path[: -len(".jsonl")] + "/"
        rows = await self.store.fetch(
            "SELECT path FROM transcript_files WHERE root = ? AND path LIKE ? ESCAPE '\\' ORDER BY id",
            (ROOT, _like(prefix) + "%"))
        return [p[len(prefix) : -len(".jsonl")] for (p,) in rows]


def _held(tx: Tx, file_id: int, uuids: list[str]) -> tuple[set[str], set[str]]:
    """Which of these uuids a key's file has already (its message, or a link to one), and which are
    some message's id anywhere: one statement."""
    # the same uuid taken elsewhere is `<uuid>@<file>:<line>`: each uuid's ids are a range of the
    # primary key (and of idx_transcript_links_message), from the uuid to `<uuid>@~`, told apart here.
    # (By file first, the lookup read every message of a file that grew each append; as thirty ORs
    # PostgreSQL took longer to plan it than to run it.)
    rows = tx.execute("SELECT 0, m.file_id, m.id FROM json_each(?) AS u JOIN messages AS m "
                      "ON m.id >= u.value AND m.id < u.value || '@~' UNION ALL "
                      "SELECT 1, l.file_id, l.message_id FROM json_each(?) AS u JOIN transcript_links AS l "
                      "ON l.message_id >= u.value AND l.message_id < u.value || '@~'",
                      (json.dumps(uuids), json.dumps(uuids)))
    wanted = set(uuids)
    held = {uuid for _, fid, mid in rows if fid == file_id and (uuid := mid.split("@", 1)[0]) in wanted
            and (mid == uuid or mid.startswith(uuid + "@"))}
    taken = {mid for kind, _, mid in rows if not kind and mid in wanted}
    return held, taken


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _ms(column: Any) -> int:
    moment = from_column(column)
    return to_ms(moment) or 0


def _append_all(tx: Tx, appends: list[tuple[Any, ...]]) -> tuple[BatchEffects, None]:
    """Several appends in one transaction (group commit), in call order."""
    effects = BatchEffects()
    for args in appends:
        effects.sessions.update(_append(tx, *args)[0].sessions)
    return effects, None


def _append(tx: Tx, path: str, thread: str | None, key: dict[str, Any], ready: Prepared, lines: list[bytes],
            entries: list[dict[str, Any]], fold: Any) -> tuple[BatchEffects, None]:
    """Append entries to a key's file in one transaction: line numbers and ids decided inside it."""
    # the key's file and the session of its Claude id, in one round trip (each is one on a server)
    row = tx.execute("SELECT f.id, f.lines, f.consumed, (SELECT id FROM sessions WHERE claude_session_id = ? "
                     "ORDER BY created_at, id LIMIT 1) FROM (SELECT 1) AS one LEFT JOIN transcript_files AS f "
                     "ON f.root = ? AND f.path = ?", (key["session_id"], ROOT, path))
    sessions: dict[str, str] = {key["session_id"]: row[0][3]} if row[0][3] is not None else {}
    if row[0][0] is not None:
        file_id, count, consumed = row[0][:3]
    else:
        file_id = tx.execute("INSERT INTO transcript_files (root, path, thread) VALUES (?, ?, ?) RETURNING id",
                             (ROOT, path, thread))[0][0]
        count, consumed = 0, 0
    done = Done(file_id)
    yid = session_for(tx, key["session_id"], sessions, done)
    by_line = {m.line: m for m in ready.messages}
    synced = twins(tx, (SHARED_MACHINE, ROOT), path, file_id)  # the same transcript synced from Claude Code's file
    summary_path = f'$.{SUMMARY}."{key["project_key"]}"'
    # where the session's messages go on, (for a main key) the summary the fold goes on from, and the
    # index's highest document: one round trip
    docs = search.Docs(tx)
    seq, prev, top = tx.execute("SELECT (SELECT MAX(seq) FROM messages WHERE session_id = ?), "
                                "(SELECT json_extract(metadata, ?) FROM sessions WHERE id = ?), "
                                f"{fulltext.engine(tx).TOP}", (yid, summary_path, yid))[0]
    seq = (seq or 0) + 1
    docs.top = int(top or 0)
    kept: list[bytes] = []
    # what the entries' uuids already are, asked once for the whole append (a statement an entry
    # was most of an append's round trips on a server); what this append adds is counted as it goes
    uuids = sorted({u for e in entries if isinstance(u := e.get("uuid"), str) and u})
    held, taken = _held(tx, file_id, uuids) if uuids else (set(), set())
    rows: list[tuple[Any, ...]] = []
    links: list[tuple[int, int, str]] = []
    for k, (raw, raw_entry) in enumerate(zip(lines, entries, strict=True), start=1):
        message = by_line.get(k)
        uuid = raw_entry.get("uuid")
        message_id = None
        if message is not None and isinstance(uuid, str) and uuid and uuid in held:
            continue  # this key has it: an entry with a uuid is written once
        n = count + len(kept) + 1
        linked = False
        if message is not None and synced is not None and (same := synced.take(message.twin_key)) is not None:
            links.append((file_id, n, same))  # synced already: this line links to that message
            message, linked = None, True
        elif message is not None:
            if isinstance(uuid, str) and uuid:
                message_id = uuid if uuid not in taken else f"{uuid}@{file_id}:{n}"
                taken.add(message_id)
            else:  # no uuid: appended every time, under an id of its line
                message_id = transcript.derived_id(json.loads(raw), path, n, raw)
        if (message is not None or linked) and isinstance(uuid, str) and uuid:
            held.add(uuid)  # the file has it now: the same uuid later in this append is not written again
        kept.append(raw)
        if message is not None:
            assert message_id is not None  # every branch that keeps `message` named it
            # the row names its search document (indexed below with the append's other lines: docs.insert)
            rows.append((message_id, yid, seq, message.type, message.role, message.timestamp, thread, file_id, n,
                         docs.add(message_id, message.body, message.secrets, message.vector)))
            seq += 1
    archive_lines.link(tx, links)
    tx.executemany(statements.UPSERT_LINE_MESSAGE, rows)
    runs = codec.pack(kept)
    archive_lines.append(tx, file_id, count + 1, runs, 0)
    docs.insert()
    for (_claude, response_key), (model, tin, tout, cw, cr, cost, when) in ready.responses.items():
        # each response once, with the figures of its last line so far (a later batch updates it)
        tx.execute(statements.UPSERT_USAGE, (yid, tin, tout, cw + cr, cost or 0.0, model, when, response_key, cw, cr))
    for known in ready.facts.values():
        describe(tx, yid, known, fresh=yid in done.created)
    stamp = now_text()
    size = consumed + sum(len(raw) + 1 for raw in kept)  # the bytes of the lines kept (there is no file)
    tx.execute("UPDATE transcript_files SET lines = ?, consumed = ?, size = ?, synced_at = ?, gone_at = NULL, "
               "session_id = COALESCE(session_id, ?) WHERE id = ?", (count + len(kept), size, size, stamp, yid, file_id))
    if fold is not None:
        summary = fold(json.loads(prev) if prev else None, key, entries)
        summary["mtime"] = _ms(stamp)  # storage time, the clock list_sessions reports
        tx.execute("UPDATE sessions SET metadata = json_set(COALESCE(metadata, '{}'), ?, json(?)) WHERE id = ?",
                   (summary_path, json.dumps(summary), yid))
    effects = BatchEffects()
    effects.sessions[yid] = None  # the cache reads it again
    return effects, None


def _delete(tx: Tx, path: str, thread: str | None, key: dict[str, Any]) -> tuple[BatchEffects, None]:
    prefix = path[: -len(".jsonl")] + "/"
    where = "root = ? AND path = ?" if thread is not None else "root = ? AND (path = ? OR path LIKE ? ESCAPE '\\')"
    params: tuple[Any, ...] = (ROOT, path) if thread is not None else (ROOT, path, _like(prefix) + "%")
    files = tx.execute(f"SELECT id, session_id FROM transcript_files WHERE {where}", params)
    effects = BatchEffects()
    for file_id, sid in files:
        held = [r[0] for r in tx.execute("SELECT id FROM messages WHERE file_id = ?", (file_id,))]
        search.unindex(tx, held)  # from the text they hold now; those that stay come back below
        # A message the synced file shares (the same line, two ways in) stays, read from the file's copy.
        # (its line in that file becomes the message's own: the link goes)
        moved = tx.execute(
            "SELECT l.id, l.file_id, l.line, f.thread, l.message_id FROM transcript_links AS l "
            "JOIN transcript_files AS f ON f.id = l.file_id JOIN messages AS m ON m.id = l.message_id "
            "WHERE m.file_id = ? AND l.file_id != ? ORDER BY l.id", (file_id, file_id))
        homes: dict[str, tuple[int, int, int, str | None]] = {}
        for link_id, other, line, other_thread, mid in moved:
            homes.setdefault(mid, (link_id, other, line, other_thread))
        for mid, (link_id, other, line, other_thread) in homes.items():
            tx.execute("UPDATE messages SET file_id = ?, line = ?, thread = ? WHERE id = ?",
                       (other, line, other_thread, mid))
            tx.execute("DELETE FROM transcript_links WHERE id = ?", (link_id,))
        tx.execute("DELETE FROM messages WHERE file_id = ?", (file_id,))
        tx.execute("DELETE FROM transcript_files WHERE id = ?", (file_id,))  # its lines go with it
        search.index(tx, held)
        if sid is not None:
            effects.sessions[sid] = None
    for sid in {sid for _, sid in files if sid is not None}:
        if thread is None:
            tx.execute("UPDATE sessions SET metadata = json_remove(metadata, ?) WHERE id = ? AND metadata IS NOT NULL",
                       (f'$.{SUMMARY}."{key["project_key"]}"', sid))
        left = tx.execute("SELECT (SELECT COUNT(*) FROM messages WHERE session_id = ?) + "
                          "(SELECT COUNT(*) FROM transcript_files WHERE session_id = ?)", (sid, sid))[0][0]
        if not left:
            tx.execute("DELETE FROM sessions WHERE id = ?", (sid,))  # it held only what was deleted
    return effects, None

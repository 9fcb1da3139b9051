"""The public store: validated writes through the single writer, reads on their own connections."""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import EllipsisType
from typing import Any, Literal, TypeVar

from .. import errors
from .. import validation as check
from ..backends.sqlite import backup as backups
from ..backends.sqlite.checkpoint import Checkpointer
from ..backends.sqlite.engine import write_lock_free
from ..backends.sqlite.readers import ReaderPool
from ..degraded.memory import MemoryTwin
from ..errors import NotFoundError, StoreClosedError, ValidationError
from ..events import Event, EventBus, Listener, MessagesDeleted, Recovered
from ..models import Message, SecretFinding, Session, SessionPage, Usage
from ..times import from_column
from ..search import index as search
from ..search import query as queries
from ..secrets import found
from ..writes.batch import BatchEffects, EffectsFeed
from ..writes.ops import Write
from . import listing, requests
from .cache import SessionCache
from .reads import Reads
from .usage import GroupBy, UsageBook
from .writer import Writer

log = logging.getLogger(__name__)

State = Literal["starting", "ready", "degraded", "closed"]
T = TypeVar("T")


class Store:
    """An open yurudb database. Get one from `yurudb.open(...)`.

    It composes its parts, and calls flow one way, down: the public methods validate, writes go to
    the `Writer` (the file, or while degraded the in-memory twin, by the same code), reads go to
    `Reads` (a reader connection, or while degraded memory laid over the file), usage to its
    `UsageBook`, and the `SessionCache` is kept exact by the effects the writer reports back.
    """

    def __init__(
        self,
        path: Path,
        writer: Writer,
        readers: ReaderPool,
        *,
        bus: EventBus | None = None,
        backup_keep: int = backups.KEEP,
        window: int = 10_000,
        memory: MemoryTwin | None = None,
        effects: EffectsFeed | None = None,
        url: str | None = None,
    ) -> None:
        self.path = path  # the database file (a PostgreSQL store's: the local folder of its journal)
        self.url = url  # a PostgreSQL store's server (None: the SQLite file at `path`)
        self.window = window  # max_messages_per_session: how many messages a load returns by default
        self.recovery: Any = None  # the RecoveryReport, handed over by start()
        self.bus = bus or EventBus()
        self.backup_keep = backup_keep
        self._started = False
        self._writer = writer
        self._readers = readers
        self._memory = memory
        self._reads = Reads(path, readers, degraded=lambda: writer.degraded, memory=memory)
        self._cache = SessionCache()
        self.usage = UsageBook(self._reads, writer)
        self._background: list[asyncio.Task[None]] = []
        self._jobs: list[asyncio.Task[None]] = []
        self._checkpointer: Checkpointer | None = None
        self._closed = False
        if effects is not None:
            effects.subscribe(self._apply_effects)
        self.bus.subscribe(self._on_event)

    @property
    def read_only(self) -> bool:
        """Opened with read_only=True: reads only, nothing created or changed on disk."""
        return self._writer.read_only

    @property
    def state(self) -> State:
        """"ready", "degraded" (working from memory after a database failure), "starting" or "closed"."""
        if self._closed:
            return "closed"
        if self._writer.degraded:
            return "degraded"
        return "ready" if self._started else "starting"

    # ---- events ----------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(event)` for every store event; returns an unsubscribe function."""
        return self.bus.subscribe(listener)

    def events(self) -> AsyncIterator[Event]:
        """`async for event in store.events()`: degraded, retrying, recovered, write failed, ..."""
        return self.bus.stream()

    def _on_event(self, event: Event) -> None:
        if isinstance(event, Recovered):
            # What memory served may differ from the file's rows in details (updated_at); start afresh.
            self._cache.clear()

    # ---- lifecycle -------------------------------------------------------------------------
    async def flush(self) -> None:
        """Wait until every write queued so far is committed."""
        await self._writer.flush()

    async def close(self) -> None:
        """Commit what is queued, stop the writer and release every connection."""
        if self._closed:
            return
        await asyncio.gather(*self._jobs, return_exceptions=True)
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self._scan_remaining()
        self._closed = True
        await self._writer.close()
        if self._checkpointer is not None:
            await self._checkpointer.close()
        await self._readers.close()
        self.bus.close()

    def start(self, report: Any, *, checkpointer: Checkpointer | None = None, daily_backup: bool = False) -> None:
        """Put the store to work after start-up: the writer, the checkpointer, the day's backup."""
        self.recovery = report
        if not self._writer.read_only:
            self._writer.start()
        if checkpointer is not None:
            self._checkpointer = checkpointer
            self._spawn(checkpointer.run())
        if daily_backup:
            # Off the start-up path: a backup of a large history takes seconds.
            self._spawn(self._daily_backup(), finish_at_close=True)
        if not self._writer.read_only:
            self._spawn(self._scan_secrets())
        self._started = True

    def _scan_batch(self, tx: Any, batch: int = 500) -> tuple[BatchEffects, int]:
        """One round of the secrets scanner: queued messages, then a few kept files (each may be megabytes)."""
        done = search.scan_queued(tx, batch)
        return BatchEffects(), done + found.scan_blobs(tx, max(1, (batch - done) // 50))

    async def _scan_remaining(self, budget: float = 5.0) -> None:
        """At close, what the scanner has not reached yet, for up to `budget` seconds (the rest stays queued
        for the next open): a command that synced leaves its findings complete."""
        if self._writer.read_only or self._writer.degraded or not self._started:
            return
        try:
            if not await self._reads.fetch(found.ANY_QUEUED):
                return
        except errors.YurudbError:
            return
        if self.url is None and not await asyncio.to_thread(write_lock_free, self.path):
            return  # another process holds the write lock: closing never waits for it (the queue keeps them)
        deadline = asyncio.get_running_loop().time() + budget
        try:
            while await self._writer.run_exclusive(self._scan_batch) and asyncio.get_running_loop().time() < deadline:
                pass
        except errors.YurudbError as exc:  # the queue keeps them
            log.debug("yurudb: the secrets scan waits for the next open: %s", exc)

    async def _scan_secrets(self, every: float = 0.5, batch: int = 500, backlog: int = 20_000) -> None:
        """Look for secrets in the messages saved since (queued by the transactions that indexed them),
        between the writer's batches: a save never waits for the rules. An empty queue is seen on a
        reader: the writer's lock is taken only when there is work. While saves keep coming it waits
        (the app's burst goes first), unless the queue passes `backlog`."""
        def scan(tx: Any) -> tuple[BatchEffects, int]:
            return self._scan_batch(tx, batch)

        last = -1
        while True:
            await asyncio.sleep(every)
            busy, last = self.commits != last, self.commits
            try:
                if self._writer.degraded or not await self._reads.fetch(found.ANY_QUEUED):
                    continue
                if busy and not await self._reads.fetch("SELECT 1 FROM secret_scans LIMIT 1 OFFSET ?", (backlog,)):
                    continue
                while await self._writer.run_exclusive(scan) == batch:
                    await asyncio.sleep(0)  # a save queued meanwhile goes first
                last = self.commits  # its own commits are not the app's: idle stays idle
            except errors.YurudbError as exc:  # the queue keeps them: tried again on the next round
                log.debug("yurudb: the secrets scan waits: %s", exc)
            except Exception:  # a bug: said once; the queue keeps the messages for the next start
                log.exception("yurudb: the secrets scan stopped")
                return

    async def _daily_backup(self) -> None:
        try:
            made = await asyncio.to_thread(backups.make_backup, self.path, None, keep=self.backup_keep, label="daily")
            self.recovery.backup_made = str(made)
        except errors.YurudbError as exc:
            log.warning("yurudb: daily backup failed: %s", exc)

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __del__(self, _warn: Any = warnings.warn) -> None:
        if not getattr(self, "_closed", True):
            _warn(f"yurudb store {self.path} was never closed; call `await store.close()`",
                  ResourceWarning, source=self, stacklevel=2)
            # Without a loop nothing can be awaited; stop the threads so the process can exit.
            try:
                self._readers.abandon()
                if self._checkpointer is not None:
                    self._checkpointer.abandon()
                self._writer.connection.abandon()
                if self._memory is not None:
                    self._memory.abandon()
            except RuntimeError:  # the interpreter is shutting down: its threads are going anyway
                pass

    def _spawn(self, coro: Any, *, finish_at_close: bool = False) -> None:
        """A background task: loops are cancelled at close, jobs (a backup) are waited for."""
        task = asyncio.get_running_loop().create_task(coro)
        (self._jobs if finish_at_close else self._background).append(task)

    @property
    def checkpoints(self) -> int:
        """WAL checkpoints the background checkpointer has run since open (none inside a commit)."""
        return self._checkpointer.checkpoints if self._checkpointer is not None else 0

    async def connection_pragmas(self, names: Sequence[str]) -> dict[str, Any]:
        """`PRAGMA name` on the writer's connection and on every reader of the pool (opening them all).

        {"writer": {name: value}, "readers": [{name: value}, ...]}: what `yurudb check` and the tests
        read to see that each connection got the durability settings.
        """
        self._live()
        for name in names:
            if not name.replace("_", "").isalpha():
                raise ValidationError(f"not a pragma name: {name!r}")

        def read(conn: Any) -> dict[str, Any]:
            return {name: conn.execute(f"PRAGMA {name}").fetchone()[0] for name in names}

        writer = await self._writer.connection.call(read)
        held: list[Any] = []
        readers: list[dict[str, Any]] = []
        try:
            for _ in range(self._readers.size):  # hold each, so the pool opens a new one for the next
                context = self._readers.connection()
                conn = await context.__aenter__()
                held.append(context)
                readers.append({name: (await conn.execute_fetchall(f"PRAGMA {name}"))[0][0] for name in names})
        finally:
            for context in reversed(held):
                await context.__aexit__(None, None, None)
        return {"writer": writer, "readers": readers}

    @property
    def commits(self) -> int:
        """Transactions the writer has committed since open (group commit makes this far below writes)."""
        return self._writer.commits

    # ---- sessions --------------------------------------------------------------------------
    async def create_session(
        self,
        name: str,
        *,
        id: str | None = None,
        status: str = "pending",
        working_directory: str | None = None,
        claude_session_id: str | None = None,
        claude_title: str | None = None,
        user_renamed: bool = False,
        meta: dict[str, Any] | None = None,
        created_at: int | datetime | str | None = None,
        updated_at: int | datetime | str | None = None,
    ) -> Session:
        """Create a session (ConflictError if the id exists)."""
        self._live()
        write = requests.create_session(name, id=id, status=status, working_directory=working_directory,
                                        claude_session_id=claude_session_id, claude_title=claude_title,
                                        user_renamed=user_renamed, meta=meta, created_at=created_at,
                                        updated_at=updated_at)
        return await self._writer.submit(write)

    async def get_session(self, session_id: str) -> Session:
        """One session by id (NotFoundError if missing)."""
        self._live()
        check.ident(session_id, "session_id")
        cached = self._cache.get(session_id)
        if cached is not None:
            return cached
        generation = self._cache.generation
        session = await self._reads.session(session_id)
        if session is None:
            raise NotFoundError(f"session {session_id} not found")
        self._cache.put([session], generation)
        return session

    def cached_session(self, session_id: str) -> Session | None:
        """The session as this store holds it in memory, without a read (None when it holds none)."""
        return self._cache.get(session_id)

    async def list_sessions(
        self, *, limit: int | None = None, offset: int = 0, status: str | None = None
    ) -> list[Session]:
        """Sessions, most recently updated first."""
        self._live()
        status = check.status(status) if status is not None else None
        limit = -1 if limit is None else check.integer(limit, "limit")
        offset = check.integer(offset, "offset")
        generation = self._cache.generation
        sessions = await self._reads.sessions(status=status, limit=limit, offset=offset)
        self._cache.put(sessions, generation)
        return sessions

    async def find_session(self, *, claude_session_id: str) -> Session | None:
        """The session that mirrors a Claude Code session id, if any (the oldest when several do)."""
        self._live()
        check.ident(claude_session_id, "claude_session_id")
        return await self._reads.session_of_claude(claude_session_id)

    async def update_session(self, session_id: str, **fields: Any) -> Session:
        """Change a session's name, status, working_directory, claude ids/title, user_renamed or meta."""
        self._live()
        return await self._writer.submit(requests.update_session(session_id, fields))

    async def rename_session(self, session_id: str, name: str) -> Session:
        """Rename a session on the user's behalf (sets user_renamed, so auto-titles leave it alone)."""
        return await self.update_session(session_id, name=name, user_renamed=True)

    async def delete_session(self, session_id: str) -> None:
        """Delete a session with its messages and usage records."""
        self._live()
        await self._writer.submit(Write("delete_session", check.ident(session_id, "session_id"), {}))

    # ---- messages --------------------------------------------------------------------------
    def validate_message(self, session_id: str, message: Any, projection: Mapping[str, Any] | None = None) -> Write:
        """What append_messages would queue for one message (ValidationError if it is bad); writes nothing."""
        return requests.message(session_id, message, dict(projection or {}), index_search=self._writer.index_search)

    async def message_owners(self, message_ids: Sequence[str]) -> dict[str, str]:
        """The session of each of these message ids that the database holds."""
        self._live()
        return await self._reads.owners(message_ids)

    async def append_message(
        self,
        session_id: str,
        message: Mapping[str, Any] | None = None,
        *,
        type: str | None = None,
        role: str | None = None,
        content: Any = None,
        tool_uses: Any = None,
        usage: Any = None,
        id: str | None = None,
        timestamp: int | datetime | str | None = None,
    ) -> Message:
        """Append a message (the app's message dict, or fields); returns once it is committed."""
        self._live()
        kw = {"type": type, "role": role, "content": content, "tool_uses": tool_uses, "usage": usage,
              "id": id, "timestamp": timestamp}
        return await self._writer.submit(requests.message(session_id, message, kw, index_search=self._writer.index_search))

    async def append_messages(
        self,
        session_id: str,
        messages: Iterable[Mapping[str, Any]],
        *,
        projections: Sequence[Mapping[str, Any]] | None = None,
        return_exceptions: bool = False,
    ) -> list[Any]:
        """Append many messages in order (one transaction when they fit one batch); all validated first.

        `projections[i]` overrides fields read from `messages[i]` (type, role, content, tool_uses,
        usage, id, timestamp) while the message itself stays the payload. With return_exceptions,
        a write that fails (e.g. ConflictError) is returned in its place instead of raised.
        """
        self._live()
        messages = list(messages)
        extra = list(projections) if projections is not None else [{}] * len(messages)
        if len(extra) != len(messages):
            raise ValidationError("projections must match messages one to one")
        writes = [requests.message(session_id, m, dict(p), index_search=self._writer.index_search) for m, p in zip(messages, extra, strict=True)]
        results = await self._writer.submit_many(writes)
        if not return_exceptions:
            for r in results:
                if isinstance(r, BaseException):
                    raise r
        return results

    async def update_message(
        self,
        message_id: str,
        *,
        content: Any = ...,
        tool_uses: Any = ...,
        usage: Any = ...,
        payload: Mapping[str, Any] | None = None,
    ) -> Message:
        """Change a message's content / tool_uses / usage (patched into its payload), or replace its payload."""
        self._live()
        write = requests.update_message(message_id, content=content, tool_uses=tool_uses, usage=usage, payload=payload)
        return await self._writer.submit(write)

    async def get_messages(
        self,
        session_id: str,
        *,
        limit: int | None | EllipsisType = ...,
        before: int | None = None,
        thread: str | None | EllipsisType = None,
        after: int | None = None,
    ) -> list[Message]:
        """The newest `limit` messages, oldest first (default: the `max_messages_per_session` window,
        the whole session for any session under it; None: all); `before=seq` pages further back,
        `after=seq` forward (the oldest `limit` after it: what a live view fetches as a session grows).

        A synced Claude Code session keeps its subagents' lines in threads of their own: `thread`
        None is the main conversation, a subpath (see `threads()`) one subagent, `...` every line.
        """
        self._live()
        check.ident(session_id, "session_id")
        if limit is ...:
            limit = self.window
        if thread is not None and thread is not ...:
            check.text(thread, "thread")
        if before is not None:
            check.integer(before, "before")
        if after is not None:
            check.integer(after, "after")
            if before is not None:
                raise ValidationError("before and after both say where to look: give one")
        if limit is not None:
            check.integer(limit, "limit")
        messages = await self._reads.messages(session_id, thread=thread, before=before, limit=limit, after=after)
        if not messages:
            await self.get_session(session_id)  # an unknown session is an error, an empty one is not
        return messages

    async def search(
        self,
        query: str,
        *,
        session_id: str | None = None,
        working_directory: str | None = None,
        types: Iterable[str] | None = None,
        since: Any = None,
        until: Any = None,
        limit: int = 20,
        offset: int = 0,
        raw: bool = False,
        secrets: bool | None = None,
        redact: bool = False,
    ) -> queries.SearchHits:
        """Messages that say what `query` says, best first, each with a marked snippet.

        Plain words must all appear, a quoted phrase as a phrase, `word*` as a prefix; FTS5 syntax
        only with `raw=True` (bad syntax there is a ValidationError). `working_directory` matches
        that folder and the folders under it; `since`/`until` take what timestamps take.
        `secrets` True keeps only sessions in which a secret was found, False leaves them out;
        `redact` replaces each secret in the snippets with `[REDACTED:kind]`.
        """
        self._live()
        if query is None:
            raise ValidationError("query must be text")
        check.text(query, "query")
        check.flag(raw, "raw")
        expression = query if raw else queries.match_expression(query)
        if raw:
            queries.raw_check(query)
        check.flag(redact, "redact")
        where, params = queries.filters(session_id, working_directory, types, since, until, secrets)
        check.integer(limit, "limit")
        check.integer(offset, "offset")
        if limit < 1 or offset < 0:
            raise ValidationError("limit must be at least 1 and offset at least 0")
        if not expression.strip():
            return queries.SearchHits()
        return await self._reads.search(query, expression, where, params, limit=limit, offset=offset, raw=raw,
                                        redact=redact)

    async def rebuild_search(self, *, progress: Callable[[int, int], None] | None = None) -> int:
        """Index every message afresh (what `yurudb reindex` runs); returns how many were indexed.

        `progress(done, total)` hears how far it has got (it runs on the writer's thread).
        """
        self._live()
        return int(await self._writer.run_exclusive(lambda tx: (BatchEffects(), search.rebuild(tx, progress))))

    # ---- the archive's way in (one write path) ------------------------------------------------
    async def transaction(self, fn: Callable[..., tuple[BatchEffects, T]], *args: Any) -> T:
        """Run `fn(tx, *args)` as one transaction on the writer's connection, between batches; returns its result.

        The archive's bulk writes (sync, restore, the SDK store) come this way, the same writer as
        every save: `fn` returns (what it changed, for the session cache, and its result). Raises
        UnavailableError while the store is degraded (the caller tries again later; nothing is held).
        """
        self._live()
        return await self._writer.run_exclusive(fn, *args)

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The rows of one read-only SELECT on a reader connection (memory over the file while degraded)."""
        self._live()
        return await self._reads.fetch(sql, params)

    async def fetch_one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row of a SELECT (None when there is no row)."""
        self._live()
        return await self._reads.one(sql, params)

    async def threads(self, session_id: str) -> list[str]:
        """The subagent threads of a synced session (their files' subpaths), in the order they began."""
        self._live()
        check.ident(session_id, "session_id")
        return await self._reads.threads(session_id)

    async def load_dictionaries(self) -> None:
        """Load the archive's zstd dictionaries (raw transcript lines are compressed with them)."""
        await self._reads.load_dictionaries()

    async def count_sessions(self) -> int:
        """How many sessions the database holds."""
        self._live()
        return await self._reads.count_sessions()

    async def count_messages(self, session_id: str) -> int:
        """How many messages a session holds."""
        self._live()
        return await self._reads.count_messages(session_id)

    # ---- usage (the UsageBook's) --------------------------------------------------------------
    async def record_usage(
        self,
        session_id: str,
        *,
        model: str | None = None,
        tokens_input: int = 0,
        tokens_output: int = 0,
        tokens_cache: int = 0,
        cost_usd: float | None = None,
        timestamp: int | datetime | str | None = None,
        source_id: str | None = None,
        tokens_cache_write: int | None = None,
        tokens_cache_read: int | None = None,
    ) -> Usage:
        """Record tokens and cost; a repeated `source_id` in the same session replaces, never double-counts.

        `tokens_cache_write` / `tokens_cache_read` split `tokens_cache` by price (writes cost more).
        Without `cost_usd`, the price database prices it by model and tokens (unknown model: $0, logged).
        """
        self._live()
        return await self.usage.record(session_id, model=model, tokens_input=tokens_input,
                                       tokens_output=tokens_output, tokens_cache=tokens_cache, cost_usd=cost_usd,
                                       timestamp=timestamp, source_id=source_id,
                                       tokens_cache_write=tokens_cache_write, tokens_cache_read=tokens_cache_read)

    async def usage_records(self, session_id: str) -> list[Usage]:
        """A session's usage records, oldest first."""
        self._live()
        return await self.usage.records(session_id)

    async def session_totals(self) -> dict[str, dict[str, Any]]:
        """Per session: message count, tokens and cost (for listings)."""
        self._live()
        return await self.usage.session_totals()

    async def usage_summary(
        self,
        *,
        by: GroupBy = "model",
        since: int | datetime | str | None = None,
        until: int | datetime | str | None = None,
        session_id: str | None = None,
        project: str | None = None,
        split: GroupBy | None = None,
    ) -> list[dict[str, Any]]:
        """Totals of tokens and cost grouped by model, day (UTC), session or project, over an optional time
        range; `split` groups each row once more (a day's cost by model), `project` keeps one working directory."""
        self._live()
        return await self.usage.summary(by=by, since=since, until=until, session_id=session_id, project=project,
                                        split=split)

    async def browse(self, *, project: str | None = None, text: str | None = None, since: Any = None,
                     until: Any = None, limit: int = 50, offset: int = 0) -> SessionPage:
        """A page of sessions as a list shows them (names, project, messages, cost, source gone), most recently
        active first, filtered by project, by words in a name or id, and by last activity in [since, until)."""
        self._live()
        limit, offset = check.integer(limit, "limit"), check.integer(offset, "offset")
        if limit < 1 or offset < 0:
            raise ValidationError("limit must be at least 1 and offset at least 0")
        where, params = listing.browse_filters(project, text, since, until)
        total = int(await self._reads.one(f"SELECT COUNT(*) FROM sessions AS s{where}", params))
        rows = await self._reads.fetch(listing.BROWSE_SQL.format(where=where), [*params, limit, offset])
        return SessionPage(total=total, offset=offset, sessions=listing.summaries(rows))

    async def secrets(self, session_id: str | None = None) -> list[SecretFinding]:
        """The secrets found in every session's messages (or one session's), by session and message order; each
        names its kind, line and a redacted preview, never the value."""
        self._live()
        where, params = "", []
        if session_id is not None:
            await self.get_session(session_id)  # an unknown session is an error, not "no secrets"
            where, params = "WHERE messages.session_id = ?", [session_id]
        rows = await self._reads.fetch(
            "SELECT messages.session_id, s.name, messages.id, messages.seq, messages.thread, messages.line, f.kind, "
            "f.preview, s.updated_at FROM secret_findings AS f JOIN messages ON messages.id = f.message_id "
            f"JOIN sessions AS s ON s.id = messages.session_id {where}", params)
        rows += await self._reads.pending_secrets(where, params)  # saved since the scanner's last round
        # the files kept beside the transcripts: each copy of a content that holds one
        owner = ("LEFT JOIN sessions AS s ON s.id = (SELECT id FROM sessions WHERE claude_session_id = ff.session_key "
                 "OR id = ff.session_key LIMIT 1)" + (" WHERE s.id = ?" if session_id is not None else ""))
        files = await self._reads.fetch(
            "SELECT s.id, s.name, ff.path, f.kind, f.preview, s.updated_at FROM secret_findings AS f "
            f"JOIN footprint_files AS ff ON ff.blob_id = f.blob_id {owner}", [session_id] if session_id else [])
        # and kept contents still queued, looked in now
        for r in await self._reads.fetch("SELECT s.id, s.name, ff.path, b.data, s.updated_at FROM secret_blob_scans AS q "
                                         "JOIN footprint_blobs AS b ON b.id = q.blob_id JOIN footprint_files AS ff "
                                         f"ON ff.blob_id = b.id {owner}", [session_id] if session_id else []):
            files += [(r[0], r[1], r[2], kind, preview, r[4]) for kind, preview in found.blob_secrets(r[3])]
        from ..secrets import redact

        listed = [(r[8], SecretFinding(session_id=r[0], session_name=redact(r[1]), message_id=r[2], seq=r[3],
                                      thread=r[4], line=r[5], kind=r[6], preview=r[7])) for r in rows]
        listed += [(r[5], SecretFinding(session_id=r[0], session_name=redact(r[1]) if r[1] else None, path=r[2],
                                       kind=r[3], preview=r[4])) for r in files]
        # a session is often named by its first prompt: the name is given redacted too
        never = datetime.min.replace(tzinfo=UTC)
        listed.sort(key=lambda x: (-(from_column(x[0]) or never).timestamp(), x[1].session_id or "",
                                  x[1].path is not None, x[1].seq or 0, x[1].path or ""))
        return [f for _, f in listed]

    async def projects(self) -> list[dict[str, Any]]:
        """Every project (working directory) with its session count and last activity, most recent first."""
        self._live()
        rows = await self._reads.fetch("SELECT working_directory, COUNT(*), MAX(updated_at) FROM sessions "
                                       "GROUP BY working_directory ORDER BY 3 DESC")
        return [{"project": r[0], "sessions": r[1], "updated_at": from_column(r[2])} for r in rows]

    # ---- maintenance -----------------------------------------------------------------------
    async def backup(self, dest: str | Path | None = None) -> Path:
        """A consistent online copy (writes go on meanwhile): to `dest`, or rotated in backups/ beside the database."""
        self._live()
        target = Path(dest) if dest is not None else None
        if self.url is not None:
            raise ValidationError("a PostgreSQL database is backed up by the server's tools (pg_dump), "
                                  "or copied into a SQLite file with `yurudb pull`")
        if target is None and self.read_only:
            raise errors.ReadOnlyError("a read-only store makes no backups in backups/; give dest")
        return await asyncio.to_thread(backups.make_backup, self.path, target, keep=self.backup_keep)

    async def set_max_size(self, max_size_bytes: int | None) -> None:
        """Cap the database file at `max_size_bytes` (writes past it degrade the store), or lift the cap."""
        self._live()
        if max_size_bytes is not None:
            check.integer(max_size_bytes, "max_size_bytes")
        if self.read_only:
            raise errors.ReadOnlyError("the store was opened read-only")
        with errors.translated():
            await self._writer.connection.set_max_size(max_size_bytes)

    async def check(self) -> list[str]:
        """PRAGMA integrity_check: ["ok"] for a healthy database, else SQLite's findings."""
        self._live()
        if self.url is not None:  # the server keeps its own pages sound; a read shows it answers
            with errors.translated():
                await self._readers.fetchall("SELECT 1")
            return ["ok"]
        try:
            with errors.translated():
                return [r[0] for r in await self._readers.fetchall("PRAGMA integrity_check")]
        except errors.CorruptDatabaseError as exc:  # damage bad enough that the check itself cannot run
            return [str(exc)]

    # ---- internals -------------------------------------------------------------------------
    def _live(self) -> None:
        if self._closed:
            raise StoreClosedError("the store is closed")

    def _apply_effects(self, effects: BatchEffects) -> None:
        """Keep the session cache exact after every batch applied through this store (file or memory)."""
        self._cache.apply(effects)
        for sid, count in effects.trimmed.items():
            self.bus.emit(MessagesDeleted(session_id=sid, count=count))

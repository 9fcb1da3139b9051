"""Start-up: the recovery coordinator that `yurudb.open` runs, and its report."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

from .. import errors, paths
from ..backends.sqlite import backup, engine, integrity, revision, schema
from ..backends.sqlite.backend import SQLiteBackend
from ..backends.sqlite.connection import ThreadConnection
from ..backends.sqlite.engine import Durability
from ..backends.sqlite.transaction import UnitOfWork
from ..degraded.fallback import Fallback, SpillJournal, journal_path
from ..degraded.memory import MemoryTwin
from ..errors import CorruptDatabaseError, DatabaseError, MigrationError, NotFoundError
from ..events import BackupRestored, EventBus, Listener, RecoveryProgress
from ..store.store import Store
from ..store.writer import Writer
from ..writes.batch import EffectsFeed, apply_batch
from ..writes.ops import Write
from . import salvage, startup
from .startup import Options, RecoveryReport, Steps, StepTiming  # noqa: F401 - RecoveryReport is public here too

log = logging.getLogger(__name__)

URL_VAR = "YURUDB_URL"  # a postgresql:// URL: the database when no path is given (before YURUDB_PATH)
INDEX_PRELOAD = 200  # sessions put in the cache at start-up: the sidebar's first screen


async def start(path: str | Path | None, options: Options, on_event: Listener | None = None) -> Store:
    """Run the recovery coordinator and return a store: `ready`, or `degraded` if the database is unusable."""
    options.validate()
    bus = EventBus()
    if on_event is not None:
        bus.subscribe(on_event)
    report = RecoveryReport()
    steps = Steps(report, bus)
    failure: BaseException | None = None
    if path is None and os.environ.get(URL_VAR):
        path = os.environ[URL_VAR]
    if paths.is_server(path):
        return await _start_server(str(path), options, bus, report, steps)
    db = paths.resolve(path)
    report.path = str(db)
    backend = SQLiteBackend(db, durability=options.durability, busy_timeout_ms=options.busy_timeout_ms,
                            max_size_bytes=options.max_size_bytes, readers=options.readers)
    if options.read_only:
        return await _start_read_only(backend, options, bus, report, steps)
    with steps.step("resolve path") as step:
        try:
            backend.refuse_foreign()  # a file that is not ours is never touched (ForeignFileError)
            backend.prepare()
        except DatabaseError as exc:
            failure, step.detail = exc, str(exc)

    conn = backend.writer_connection()
    # The composition root: every collaborator is built whole here, none is rewired afterwards.
    effects = EffectsFeed()  # what each applied batch changed (file or memory) -> the store's session cache
    memory = MemoryTwin(db, busy_timeout_ms=options.busy_timeout_ms)
    fallback = Fallback(
        db, bus.emit, busy_timeout_ms=options.busy_timeout_ms, memory=memory, on_applied=effects,
        # Retries migrate too (a database that came back may be behind); one backup before it is enough.
        prepare=lambda: _migrate_if_behind(db, options, None, backup_first=report.backup_made is None),
    )
    writer = Writer(conn, batch_size=options.batch_size, linger=options.linger_ms / 1000,
                    queue_size=options.queue_size, keep_messages=options.keep_messages,
                    fallback=fallback, index_search=options.index_search, on_applied=effects)
    readers = backend.reader_pool()
    store = Store(db, writer, readers, bus=bus, backup_keep=options.backup_keep,
                  window=options.max_messages_per_session, memory=memory, effects=effects)
    try:
        await _recover(store, db, conn, fallback, options, report, steps, failure)
    except BaseException:
        await store.close()  # nothing may leak from a start-up that did not finish
        raise
    due = not writer.degraded and startup.daily_backup_due(db, options, report.sessions_restored)
    store.start(report, checkpointer=backend.checkpointer(writer, options.checkpoint_interval), daily_backup=due)
    report.state = store.state
    return store


async def _start_server(url: str, options: Options, bus: EventBus, report: RecoveryReport, steps: Steps) -> Store:
    """A store on a PostgreSQL server: migrate, replay the local journal, mark, load (no file to repair)."""
    from ..backends.postgres.backend import PostgresBackend
    from . import migrations

    backend = PostgresBackend(url, busy_timeout_ms=options.busy_timeout_ms, readers=options.readers)
    report.path = paths.display_url(url)
    db = backend.path
    with steps.step("resolve path") as step:
        if not options.read_only:  # a read-only store creates nothing, not even the journal's folder
            backend.prepare()
        step.detail = "postgresql" + (", read-only" if options.read_only else "")
    conn = backend.writer_connection()
    effects = EffectsFeed()
    readers = backend.reader_pool(read_only=options.read_only)
    if options.read_only:
        writer = Writer(conn, read_only=True)
        store = Store(db, writer, readers, bus=bus, window=options.max_messages_per_session, url=url)
    else:
        from ..degraded.server import ServerRows
        from ..tables.rows import row_of_session

        # while the server is away, a held write's session comes from the store's cache (bound below)
        rows = ServerRows(url, lambda ids: [row_of_session(s) for s in map(store.cached_session, ids) if s])
        memory = MemoryTwin(db, busy_timeout_ms=options.busy_timeout_ms, source=rows)
        fallback = Fallback(db, bus.emit, busy_timeout_ms=options.busy_timeout_ms, memory=memory, on_applied=effects,
                            prepare=lambda: _migrate_server(url, None))
        writer = Writer(conn, batch_size=options.batch_size, linger=options.linger_ms / 1000,
                        queue_size=options.queue_size, keep_messages=options.keep_messages,
                        fallback=fallback, index_search=options.index_search, on_applied=effects)
        store = Store(db, writer, readers, bus=bus, window=options.max_messages_per_session, memory=memory,
                      effects=effects, url=url)
    try:
        with steps.step("migrate") as step, errors.translated():
            current = await asyncio.to_thread(migrations.revision_of_url, url)
            if options.read_only and not startup.schema_is_current(current):
                raise MigrationError(f"{report.path} is at schema revision {current or '<none>'}, this yurudb "
                                     f"reads {revision.HEAD}: run `yurudb migrate upgrade`")
            step.detail = f"at {current}" if startup.schema_is_current(current) else await _migrate_server(url, report)
        if options.read_only:
            await _load_index(store, report, steps)
        else:
            await _replay_mark_load(store, conn, fallback, fallback.journal.read()[0], options, report, steps)
    except BaseException:
        await store.close()
        raise
    store.start(report)
    report.state = store.state
    return store


async def _migrate_server(url: str, report: RecoveryReport | None) -> str:
    """Upgrade a server database to head (creating the schema on a blank one); returns what was done."""
    from . import migrations

    current = await asyncio.to_thread(migrations.revision_of_url, url)
    if startup.schema_is_current(current):
        return f"at {current}"
    new = await migrations.run_url(url, "upgrade", "head")
    if report is not None:
        report.migrated_from, report.migrated_to = current, new
    return f"{current or '<blank>'} -> {new}"


async def _start_read_only(
    backend: SQLiteBackend, options: Options, bus: EventBus, report: RecoveryReport, steps: Steps
) -> Store:
    """A store that only reads: no repair, no migration, no journal replay, nothing created on disk."""
    db = backend.path
    with steps.step("resolve path") as step:
        if not db.is_file():
            raise NotFoundError(f"no yurudb database at {db}")
        if backend.refuse_foreign() == "blank":
            raise NotFoundError(f"{db} holds no yurudb database yet")
        step.detail = "read-only"
    with steps.step("migrate") as step, errors.translated():
        current = await asyncio.to_thread(revision.revision_of, db)
        if not startup.schema_is_current(current):
            raise MigrationError(f"{db} is at schema revision {current or '<none>'}, this yurudb reads "
                                 f"{revision.HEAD}: run `yurudb migrate upgrade` (yurucode upgrades it at start)")
        step.detail = f"at {current}"
    journal, _ = SpillJournal(journal_path(db)).read()
    report.journal_entries_pending = len(journal)  # written at the next start of yurucode; not shown here
    writer = Writer(ThreadConnection(db, durability=options.durability), read_only=True)
    readers = backend.reader_pool(read_only=True)
    store = Store(db, writer, readers, bus=bus, backup_keep=options.backup_keep,
                  window=options.max_messages_per_session)
    try:
        with steps.step("load session index") as step:
            report.sessions_restored = await store.count_sessions()
            step.detail = f"{report.sessions_restored} sessions"
    except BaseException:
        await store.close()
        raise
    store.start(report)
    report.state = store.state
    return store


async def _recover(
    store: Store,
    db: Path,
    conn: ThreadConnection,
    fallback: Fallback,
    options: Options,
    report: RecoveryReport,
    steps: Steps,
    failure: BaseException | None,
) -> None:
    """The steps after the path: repair, migrate, replay, mark, load; any storage failure degrades."""
    journal, torn = fallback.journal.read()
    if torn:
        log.warning("spill journal %s: %d unreadable lines skipped", fallback.journal.path, torn)
    if failure is None:
        try:
            await _repair_if_corrupt(db, report, steps, store.bus, repair=options.repair)
            with steps.step("migrate") as step, errors.translated():
                # Alembic (and its engine) only when the stamp says the schema is behind.
                if startup.schema_is_current(await conn.call(revision.stamped_revision)):
                    step.detail = f"at {revision.HEAD}"
                else:
                    step.detail = await _migrate_if_behind(db, options, report, bus=store.bus)
            if options.repair:
                await _salvage_if_pending(db, report, steps)
            await _replay_mark_load(store, conn, fallback, journal, options, report, steps)
        except (DatabaseError, MigrationError, OSError) as exc:
            failure = exc
            await conn.reset()
    if failure is not None:
        report.error = str(failure)
        fallback.enter(f"database unavailable at start-up: {failure}", asyncio.get_running_loop().time())
        if journal:
            # Still in the journal file; memory serves them until the database comes back.
            await fallback.accept(journal, journal=False)
            report.journal_entries_pending = len(journal)
        with steps.step("load session index") as step:
            report.sessions_restored = await store.count_sessions()  # whatever can be read, plus memory
            step.detail = f"{report.sessions_restored} sessions (degraded)"


async def _replay_mark_load(store: Store, conn: ThreadConnection, fallback: Fallback, journal: list[Write],
                            options: Options, report: RecoveryReport, steps: Steps) -> None:
    """Replay what a degraded run left in the journal (emptied once written: `journal` too), mark the
    sessions a dead process had running, and load the session index."""
    with steps.step("replay journal") as step:
        report.journal_entries_replayed = await _replay(conn, journal, options)
        if journal:
            fallback.journal.clear()
            journal.clear()  # the caller's list: written, so nothing of it is for memory to hold
        step.detail = f"{report.journal_entries_replayed} writes"
    with steps.step("mark interrupted") as step, errors.translated():
        report.sessions_interrupted = await conn.call(_mark_interrupted)
        step.detail = f"{report.sessions_interrupted} sessions"
    await _load_index(store, report, steps)


async def _load_index(store: Store, report: RecoveryReport, steps: Steps) -> None:
    with steps.step("load session index") as step:
        report.sessions_restored = await store.count_sessions()
        await store.list_sessions(limit=INDEX_PRELOAD)  # the sidebar's first screen, cached
        step.detail = f"{report.sessions_restored} sessions"


async def _repair_if_corrupt(
    db: Path, report: RecoveryReport, steps: Steps, bus: EventBus, *, repair: bool = True
) -> None:
    """Integrity check; a corrupt file is quarantined (never deleted) and the newest good backup restored."""
    with steps.step("integrity check") as step:
        verdict = await asyncio.to_thread(startup.examine, db)
        step.detail = verdict.problem or "ok"
    if verdict.healthy:
        return
    if not repair:
        raise CorruptDatabaseError(f"{db} is damaged ({verdict.problem or 'a repair was interrupted'}); "
                                   "`yurudb repair` repairs it")
    if verdict.restore_unfinished:
        # A crash came between moving the corrupt file aside and restoring the backup: finish it.
        await _restore_newest_backup(db, report, steps, bus, "repair interrupted before the restore")
        return
    problem = verdict.problem or "damaged"
    log.error("yurudb: %s is corrupt (%s); quarantining it", db, problem)
    # The marker goes down before anything moves: salvage must happen even after a crash here.
    moved = await asyncio.to_thread(backup.quarantine, db, record=lambda files: salvage.write_marker(db, files))
    report.quarantined = [str(p) for p in moved]
    integrity.suspect_path(db).unlink(missing_ok=True)  # it was about the file now set aside
    await _restore_newest_backup(db, report, steps, bus, problem)


async def _restore_newest_backup(db: Path, report: RecoveryReport, steps: Steps, bus: EventBus, why: str) -> None:
    """Put the newest good backup where the (moved-aside) database was, or start an empty one."""
    with steps.step("restore backup") as step:
        good = await asyncio.to_thread(backup.newest_good_backup, db)
        if good is not None:
            await asyncio.to_thread(backup.restore_file, good, db)
            report.backup_restored = str(good)
        else:
            paths.prepare(db)  # start again from an empty database; the damaged one stays aside
        step.detail = f"{why}; restored {good.name if good else 'nothing (no good backup)'}"
        bus.emit(BackupRestored(backup=report.backup_restored, quarantined=tuple(report.quarantined)))


async def _salvage_if_pending(db: Path, report: RecoveryReport, steps: Steps) -> None:
    """Merge what the quarantined file still holds (written since the restored backup) into the database."""
    main = startup.salvage_source(db)
    if main is None:
        return
    with steps.step("salvage") as step:
        if main is False:
            step.detail = "nothing to salvage (the quarantined file is gone)"
            salvage.clear_marker(db)
            return
        assert isinstance(main, Path)
        try:
            with errors.translated():
                report.salvage = await asyncio.to_thread(salvage.salvage, main, db, wal=salvage.wal_beside(main))
        except (OSError, DatabaseError) as exc:
            # Never given up on: the marker stays, and the next start tries again.
            step.detail = f"postponed to the next start: {exc}"
            log.warning("yurudb: salvage from %s %s", main, step.detail)
            return
        step.detail = report.salvage.summary()
        log.warning("yurudb: %s from %s", step.detail, main)
        salvage.clear_marker(db)  # only once the merge has committed


async def _migrate_if_behind(
    db: Path, options: Options, report: RecoveryReport | None, *, backup_first: bool = True,
    bus: EventBus | None = None,
) -> str:
    """Back up (unless the database is new), then upgrade to head; returns what was done."""
    current = None if integrity.is_blank(db) else await asyncio.to_thread(revision.revision_of, db, read_only=False)
    if startup.schema_is_current(current):
        return f"at {current}"
    if current is None and await asyncio.to_thread(
            schema.create_file, db, engine.pragmas(options.durability, busy_timeout_ms=options.busy_timeout_ms)):
        if report is not None:
            report.migrated_from, report.migrated_to = None, revision.HEAD
        return f"<blank> -> {revision.HEAD} (created)"
    if backup_first and current is not None:
        made = await asyncio.to_thread(backup.make_backup, db, None, keep=options.backup_keep,
                                       label="pre-migrate")
        if report is not None:
            report.backup_made = str(made)
    from . import migrations  # Alembic and SQLAlchemy load only when a migration runs

    # A revision that indexes what the database holds takes a while on a big one: the app hears how far
    # it got (RecoveryProgress events of the migrate step; the command draws a bar from them).
    started = time.perf_counter()

    def indexing(done: int, total: int) -> None:
        if bus is not None:
            bus.emit(RecoveryProgress(step="migrate", ms=(time.perf_counter() - started) * 1000,
                                      detail=f"indexing for search: {done:,} of {total:,} messages",
                                      done=done, total=total))

    new = await migrations.run(db, durability=options.durability, busy_timeout_ms=options.busy_timeout_ms,
                               progress=indexing)
    if report is not None:
        report.migrated_from, report.migrated_to = current, new
    return f"{current or '<blank>'} -> {new}"


async def _replay(conn: ThreadConnection, journal: list[Write], options: Options) -> int:
    """Write what a degraded run left in the spill journal (idempotent: replays skip what is there)."""
    if not journal:
        return 0
    with errors.translated():
        async with UnitOfWork(conn) as uow:
            await uow.run(apply_batch, journal, options.keep_messages)
            await uow.commit()
    return len(journal)


def _mark_interrupted(conn: sqlite3.Connection) -> int:
    # The process that had these sessions running is gone; the app offers to resume them.
    return conn.execute("UPDATE sessions SET status = 'interrupted' WHERE status = 'active'").rowcount


class Opening:
    """What `yurudb.open()` returns: await it for a store, or use it as `async with`."""

    def __init__(self, path: str | Path | None, options: Options, on_event: Listener | None) -> None:
        self._path, self._options, self._on_event = path, options, on_event
        self._store: Store | None = None

    def __await__(self) -> Generator[Any, None, Store]:
        return start(self._path, self._options, self._on_event).__await__()

    async def __aenter__(self) -> Store:
        self._store = await start(self._path, self._options, self._on_event)
        return self._store

    async def __aexit__(self, *exc_info: object) -> None:
        if self._store is not None:
            await self._store.close()


def open(  # noqa: A001 - the public name the app calls: yurudb.open(...)
    path: str | Path | None = None,
    *,
    durability: Durability = "full",
    max_messages_per_session: int = 10_000,
    retention: str = "keep",
    batch_size: int = 500,
    linger_ms: float = 0.0,
    queue_size: int = 10_000,
    readers: int = 4,
    busy_timeout_ms: int = 5_000,
    backup_keep: int = backup.KEEP,
    daily_backup: bool = True,
    max_size_bytes: int | None = None,
    on_event: Listener | None = None,
    read_only: bool = False,
    repair: bool = True,
    index_search: bool = True,
) -> Opening:
    """Open (creating or upgrading) the database: `async with yurudb.open() as store` or `await yurudb.open()`.

    `max_messages_per_session` is the window `get_messages` returns by default; older messages
    stay and are paged with `before=`. Only `retention="delete"` deletes beyond it (and emits
    MessagesDeleted). `read_only=True` opens an existing database for reading only: nothing is
    repaired, migrated, replayed or created on disk, and every write raises ReadOnlyError.
    `repair=False` reports a damaged file instead of quarantining and repairing it.
    `index_search=False` skips the full-text index's upkeep on writes (bulk loads, benchmarks): the
    index falls behind until `store.rebuild_search()` (`yurudb reindex`).

    `on_event` receives start-up progress and later store events (degraded, recovered, ...).
    """
    return Opening(path, Options(
        durability=durability, max_messages_per_session=max_messages_per_session, retention=retention,
        batch_size=batch_size,
        linger_ms=linger_ms, queue_size=queue_size, readers=readers, busy_timeout_ms=busy_timeout_ms,
        backup_keep=backup_keep, daily_backup=daily_backup, max_size_bytes=max_size_bytes, read_only=read_only,
        repair=repair, index_search=index_search,
    ), on_event)

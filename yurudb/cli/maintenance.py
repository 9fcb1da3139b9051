"""`yurudb check | backup | restore | salvage`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional, TypeVar

import typer

from ..errors import BackupError, NotFoundError, RecoveryError, translated
from ._edge import (
    backfill_progress,
    console,
    edge,
    err_console,
    esc,
    fail,
    opened,
    options,
    run,
)

if TYPE_CHECKING:
    from ..recovery import salvage as salvaging

T = TypeVar("T")


def check(ctx: typer.Context) -> None:
    """Check the database in full (reads only: nothing is repaired, moved or created)."""
    import asyncio

    from ..backends.sqlite import backup as backups
    from ..backends.sqlite import integrity

    path = options(ctx).path

    async def go() -> str | None:
        if not path.is_file():
            raise NotFoundError(f"no yurudb database at {path}")
        if integrity.refuse_foreign(path) == "blank":
            return None
        with translated():
            return await asyncio.to_thread(integrity.inspect, path)

    problem = run(go())
    if problem is None:
        from ..lines.runs import superseded

        problems = run(_archive_health(path))
        earlier = [p for p in problems if superseded(p[1])]
        damaged = [p for p in problems if not superseded(p[1])]
        _fail_if_damaged([f"{where}: {what}" for _, where, what in damaged],
                         f"{path}: the rows are sound, but {len(damaged)} runs of archived transcript lines are damaged "
                         "or missing (listed above); `yurudb repair` has their files read again from Claude Code's "
                         "folder at the next `yurudb sync` (the damaged copies are kept)")
        if earlier:
            console.print(f"archive: {esc(len(earlier))} damaged runs in earlier copies kept beside a file read again "
                          "(not what export or restore give)", highlight=False)
        files = run(_footprint_health(path))
        _fail_if_damaged([what for _, _, what in files],
                         f"{path}: the rows are sound, but {len(files)} archived files beside the transcripts are "
                         "damaged (listed above); a file still in Claude Code's folder is kept again by the next "
                         "`yurudb sync` once it changes")
        dangling, orphans = run(_index_health(path))
        if dangling:
            fail(f"{path}: the rows are sound, but {dangling} messages point at search documents the index "
                 "lacks (search does not find them): `yurudb reindex` rebuilds the index", 1)
        console.print(f"{esc(path)}: ok", highlight=False)
        if orphans:
            console.print(f"search index: {esc(orphans)} documents of rows deleted outside yurudb (never a hit; "
                          "`yurudb reindex` reclaims the space)", highlight=False)
        return
    good = backups.newest_good_backup(path)
    restore = f"restore the newest good backup ({good})" if good else "start an empty database (no good backup)"
    fail(f"{path} is damaged: {problem}. `yurudb repair` would move it aside as {path.name}.corrupt-<time> "
         f"(kept, never deleted), {restore}, then salvage every row the damaged file still gives up", 1)


def _fail_if_damaged(found: list[str], message: str) -> None:
    """The first 20 damaged parts of the archive, one line each, then the failure (exit 1); nothing if none."""
    for what in found[:20]:
        err_console.print(f"[red]archive:[/] {esc(what)}", highlight=False)
    if found:
        fail(message, 1)


async def _archive_health(path: Path) -> list[tuple[int, str, str]]:
    """archive_lines.verify on a read-only connection."""
    from ..lines import runs as archive_lines

    return await _read_only(path, archive_lines.verify, [])  # before the archive's runs: nothing to check


async def _footprint_health(path: Path) -> list[tuple[int, str, str]]:
    """footprint.verify on a read-only connection."""
    from ..archive import footprint

    return await _read_only(path, footprint.verify, [])  # before revision 0011: nothing to check


async def _index_health(path: Path) -> tuple[int, int]:
    """search.health on a read-only connection."""
    from ..search import index as search

    return await _read_only(path, search.health, (0, 0))  # before the index: nothing to check


async def _read_only(path: Path, look: Callable[[Any], T], before: T) -> T:
    """look(connection) on a read-only connection, on a thread; `before` for a revision without the tables."""
    import asyncio
    import sqlite3
    from contextlib import closing

    from ..backends.sqlite.engine import read_only_uri

    def run_look() -> T:
        with closing(sqlite3.connect(read_only_uri(path), uri=True)) as conn:
            try:
                return look(conn)
            except sqlite3.OperationalError:
                return before

    with translated():
        return await asyncio.to_thread(run_look)


def reindex(ctx: typer.Context) -> None:
    """Rebuild the search index from the messages (after rows were changed outside yurudb)."""
    async def go() -> int:
        async with opened(options(ctx).path) as store:
            with backfill_progress() as report:
                return await store.rebuild_search(progress=report)

    indexed = run(go(), interrupted=lambda: "interrupted: the index is rebuilt in one transaction, so it is whole, "
                                            "as before or as new, never half")
    console.print(f"{indexed:,} messages indexed", highlight=False)


def repair(ctx: typer.Context) -> None:
    """Check the database in full and repair it as yurucode's start-up does: quarantine, restore, salvage."""
    from ..backends.sqlite import integrity

    path = options(ctx).path

    async def go() -> Any:
        if not path.is_file():
            raise NotFoundError(f"no yurudb database at {path}")
        integrity.refuse_foreign(path)
        # The marker makes this start run the full quick_check whatever the file's size.
        integrity.mark_suspect(path, "yurudb repair")
        from .. import open as open_store
        from ..archive.restore import repair_archive

        async with open_store(path, daily_backup=False) as store:
            if store.state == "degraded":
                raise RecoveryError(f"repair could not finish: {store.recovery.error or 'see the log'}")
            return store.recovery, await repair_archive(store)

    report, (damaged, marked) = run(go())
    for _, where, what in damaged[:20]:
        err_console.print(f"[yellow]archive:[/] {esc(where)}: {esc(what)}", highlight=False)
    if damaged:
        console.print(f"{esc(len(damaged))} runs of archived lines were damaged or missing; {esc(marked)} files will be read "
                      "again from Claude Code's folder at the next `yurudb sync` (the damaged copies are kept)",
                      highlight=False)
    if not report.quarantined:
        if not damaged:
            console.print(f"{esc(path)}: ok, nothing to repair", highlight=False)
        return
    console.print(f"damaged file kept as {esc(', '.join(report.quarantined))}", highlight=False)
    console.print(f"restored {report.backup_restored or 'nothing (no good backup): started empty'}", highlight=False)
    if report.salvage is not None:
        console.print(report.salvage.summary(), highlight=False)
        lost = report.salvage.lost_summary()
        console.print(f"[yellow]could not be brought back:[/] {esc(lost)}" if lost else "nothing was lost", highlight=False)


def backup(
    ctx: typer.Context,
    dest: Annotated[Optional[Path], typer.Option(help="Write here (default: rotated in backups/ beside the db).")] = None,
) -> None:
    """Make a consistent online backup (safe while yurucode is running)."""
    async def go() -> Path:
        async with opened(options(ctx).path) as store:
            return await store.backup(dest)

    console.print(f"backup written to {esc(run(go()))}", highlight=False)


def restore(ctx: typer.Context, file: Annotated[Path, typer.Argument(help="A backup file.")]) -> None:
    """Replace the database by a verified backup (refused while anything has the database open)."""
    import asyncio

    from ..backends.sqlite import backup as backups
    from ..backends.sqlite import integrity

    path = options(ctx).path
    if not file.is_file():
        fail(f"no such backup file: {file}", 2)
    if not integrity.is_sqlite(file):
        fail(f"{file} is not a database, so not a backup", 2)
    with edge():
        integrity.refuse_foreign(path)  # never replace a file that is not ours

    async def go() -> tuple[list[Path], list[Path]]:
        try:
            kept = await asyncio.to_thread(backups.restore, file, path)
            return kept, await asyncio.to_thread(backups.rotate_replaced, path, backups.KEEP)
        except OSError as exc:
            raise BackupError(f"restore failed: {exc.strerror or exc}") from exc

    kept, rotated = run(go())
    console.print(f"restored {esc(file)} to {esc(path)}", highlight=False)
    for p in kept:
        console.print(f"[dim]previous file kept as {esc(p)}[/]", highlight=False)
    if rotated:  # said, never silent: the newest restores' files stay, older ones go as backups do
        console.print(f"[dim]removed {len(rotated)} older replaced files (the newest {backups.KEEP} restores' "
                      f"stay): {esc(', '.join(p.name for p in rotated))}[/]", highlight=False)


def salvage(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A damaged (or any) yurudb database file, e.g. a quarantined one.")],
) -> None:
    """Copy every readable session, message and usage record of FILE into the database (never deletes)."""
    import asyncio

    from ..backends.sqlite import backup as backups
    from ..backends.sqlite import integrity
    from ..recovery import salvage as salvaging

    path = options(ctx).path
    if not file.is_file():
        fail(f"no such file: {file}", 2)
    if file.resolve() == path.resolve():
        fail("FILE is the database itself", 2)
    if not integrity.is_sqlite(file):  # before the database is made: bad input changes nothing
        fail(f"{file} is not an SQLite database (its first bytes say so): there is nothing to salvage", 2)

    async def go() -> salvaging.SalvageReport:
        async with opened(path):
            pass  # creates or migrates the database, so the rows land in today's schema
        if await asyncio.to_thread(backups.in_use, path):
            raise BackupError("the database is open in another process (close yurucode first)")
        with translated():
            return await asyncio.to_thread(salvaging.salvage, file, path, wal=salvaging.wal_beside(file))

    report = run(go())
    if report.error:
        fail(report.summary())
    console.print(report.summary(), highlight=False)


def register(app: typer.Typer) -> None:
    """Attach these commands to the root app."""
    app.command()(check)
    app.command()(repair)
    app.command()(reindex)
    app.command()(backup)
    app.command()(restore)
    app.command()(salvage)

"""`yurudb check | backup | restore | salvage`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import backup as backups
from .. import salvage as salvaging
from ..errors import BackupError, translated
from ._edge import console, fail, opened, options, run


def check(ctx: typer.Context) -> None:
    """Run SQLite's integrity_check on the database."""
    async def go() -> list[str]:
        async with opened(options(ctx).path) as store:
            return await store.check()

    result = run(go())
    if result != ["ok"]:
        fail("integrity check failed: " + "; ".join(result[:10]))
    console.print(f"{options(ctx).path}: ok", highlight=False)


def backup(
    ctx: typer.Context,
    dest: Annotated[Optional[Path], typer.Option(help="Write here (default: rotated in backups/ beside the db).")] = None,
) -> None:
    """Make a consistent online backup (safe while yurucode is running)."""
    async def go() -> Path:
        async with opened(options(ctx).path) as store:
            return await store.backup(dest)

    console.print(f"backup written to {run(go())}", highlight=False)


def restore(ctx: typer.Context, file: Annotated[Path, typer.Argument(help="A backup file.")]) -> None:
    """Replace the database by a verified backup (refused while anything has the database open)."""
    path = options(ctx).path
    if not file.is_file():
        fail(f"no such backup file: {file}", 2)

    async def go() -> list[Path]:
        try:
            return await asyncio.to_thread(backups.restore, file, path)
        except OSError as exc:
            raise BackupError(f"restore failed: {exc.strerror or exc}") from exc

    kept = run(go())
    console.print(f"restored {file} to {path}", highlight=False)
    for p in kept:
        console.print(f"[dim]previous file kept as {p}[/]", highlight=False)


def salvage(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A damaged (or any) yurudb database file, e.g. a quarantined one.")],
) -> None:
    """Copy every readable session, message and usage record of FILE into the database (never deletes)."""
    path = options(ctx).path
    if not file.is_file():
        fail(f"no such file: {file}", 2)
    if file.resolve() == path.resolve():
        fail("FILE is the database itself", 2)

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
    app.command()(backup)
    app.command()(restore)
    app.command()(salvage)

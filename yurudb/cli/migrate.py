"""`yurudb migrate`: upgrade, downgrade, current, history."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .. import paths
from ._edge import backfill_progress, console, esc, fail, options, run

app = typer.Typer(help="Schema migrations (Alembic revisions).", no_args_is_help=True, rich_markup_mode=None)


async def _migrate(path: Path, action: str, revision: str) -> tuple[str | None, Path | None]:
    """Migrate, backing the database up first when it holds anything; returns (revision, backup)."""
    import asyncio

    from ..backends.sqlite import backup, integrity
    from ..recovery import (
        migrations,  # Alembic loads only for the commands that need it
    )

    migrations.check_revision(revision)  # a typo changes nothing, not even a backup
    if isinstance(path, str):  # a PostgreSQL server: one transaction, no file to copy first
        from ..errors import translated

        with translated():
            current = await asyncio.to_thread(migrations.revision_of_url, path)
        if current is None and action == "downgrade":
            fail(f"no yurudb database at {paths.display_url(path)}: nothing to downgrade", 2)
        return await migrations.run_url(path, action, revision), None
    if integrity.refuse_foreign(path) == "blank":
        if action == "downgrade":
            fail(f"no yurudb database at {path}: nothing to downgrade", 2)
        return await migrations.run(paths.prepare(path), action, revision), None
    from ..backends.sqlite.revision import HEAD, revision_of

    current = await asyncio.to_thread(revision_of, path)
    if current == (HEAD if revision == "head" else revision):  # nothing to do: no backup, nothing written
        return current, None
    made = await asyncio.to_thread(backup.make_backup, path, None, label=f"pre-{action}")
    with backfill_progress() as report:
        return await migrations.run(path, action, revision, progress=report), made


def _report(path: Path | str, rev: str | None, made: Path | None) -> None:
    if made is not None:
        console.print(f"backup of the previous state: {esc(made)}", highlight=False)
    if isinstance(path, str):
        path = paths.display_url(path)
    console.print(f"{esc(path)}: at revision {esc(rev or '<base>')}", highlight=False)


@app.command()
def upgrade(ctx: typer.Context, revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Upgrade the database to REVISION (default: head), creating it if missing; backs up first."""
    path = options(ctx).path
    _report(path, *run(_migrate(path, "upgrade", revision)))


@app.command()
def downgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="A revision id, or 'base' (no tables at all).")],
    yes: Annotated[bool, typer.Option("--yes", help="Confirm a downgrade to 'base', which removes every table.")] = False,
) -> None:
    """Downgrade the database to REVISION; backs up first. 'base' removes every table and needs --yes."""
    path = options(ctx).path
    if revision == "base" and not yes:
        fail("downgrade to 'base' removes every table and all their data; "
             "run again with --yes if you mean it (a backup is made first)", 2)
    _report(path, *run(_migrate(path, "downgrade", revision)))


@app.command()
def current(ctx: typer.Context) -> None:
    """Show the database's revision and the newest one available (reads only)."""
    import asyncio

    from ..backends.sqlite import integrity
    from ..backends.sqlite import revision as revisions
    from ..errors import translated

    path = options(ctx).path
    if not isinstance(path, str) and not path.is_file():
        fail(f"no database at {path} (run `yurudb migrate upgrade` to create it)", 2)

    async def go() -> str | None:
        if isinstance(path, str):
            from ..recovery.migrations import revision_of_url

            with translated():
                return await asyncio.to_thread(revision_of_url, path)
        integrity.refuse_foreign(path)
        with translated():
            return await asyncio.to_thread(revisions.revision_of, path)

    rev = run(go())
    head = revisions.HEAD
    state = "up to date" if rev == head else "behind"
    shown = paths.display_url(path) if isinstance(path, str) else path
    console.print(f"{esc(shown)}: {esc(rev or '<base>')} (head {esc(head)}, {esc(state)})", highlight=False)


@app.command()
def history() -> None:
    """List the revisions, newest first."""
    from ..recovery import migrations

    for rev, down, doc in migrations.history():
        console.print(f"{esc(down or '<base>')} -> {esc(rev)}: {esc(doc)}", highlight=False)

"""`yurudb migrate`: upgrade, downgrade, current, history."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import migrations, paths
from ..engine import create_engine
from ._edge import console, options, run

app = typer.Typer(help="Schema migrations (Alembic revisions).", no_args_is_help=True)


async def _migrate(path, action: str, revision: str) -> str | None:
    engine = create_engine(paths.prepare(path), role="maintenance")
    try:
        return await migrations.migrate(engine, action, revision)
    finally:
        await engine.dispose()


@app.command()
def upgrade(ctx: typer.Context, revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Upgrade the database to REVISION (default: head), creating it if missing."""
    path = options(ctx).path
    rev = run(_migrate(path, "upgrade", revision))
    console.print(f"{path}: at revision {rev or '<base>'}", highlight=False)


@app.command()
def downgrade(ctx: typer.Context, revision: Annotated[str, typer.Argument()]) -> None:
    """Downgrade the database to REVISION ('base' removes every table)."""
    path = options(ctx).path
    rev = run(_migrate(path, "downgrade", revision))
    console.print(f"{path}: at revision {rev or '<base>'}", highlight=False)


async def _current(path) -> str | None:
    engine = create_engine(path, role="reader", pool_size=1)
    try:
        return await migrations.current_revision(engine)
    finally:
        await engine.dispose()


@app.command()
def current(ctx: typer.Context) -> None:
    """Show the database's revision and the newest one available."""
    path = options(ctx).path
    if not path.exists():
        from ._edge import fail

        fail(f"no database at {path} (run `yurudb migrate upgrade` to create it)")
    rev = run(_current(path))
    head = migrations.head_revision()
    state = "up to date" if rev == head else "behind"
    console.print(f"{path}: {rev or '<base>'} (head {head}, {state})", highlight=False)


@app.command()
def history() -> None:
    """List the revisions, newest first."""
    for rev, down, doc in migrations.history():
        console.print(f"{down or '<base>'} -> {rev}: {doc}", highlight=False)

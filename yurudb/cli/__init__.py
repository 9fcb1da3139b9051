"""The `yurudb` command: one Typer app, sub-commands in sibling modules, errors handled at the edge."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import _edge, migrate

app = typer.Typer(
    name="yurudb",
    help="yurudb: the session store of yurucode. Migrate, import, inspect, export, back up, repair.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # plain help and usage errors: rich's rendering of them doubled the start-up (200 ms against 110)
    rich_markup_mode=None,
)
app.add_typer(migrate.app, name="migrate")


@app.callback()
def _root(
    ctx: typer.Context,
    db: Annotated[
        Optional[str],
        typer.Option("--db", help="Database file, or a postgresql:// URL (default: $YURUDB_URL, else "
                     "$YURUDB_PATH or ~/.yurucode/yurucode.db).", envvar=None),
    ] = None,
) -> None:
    ctx.obj = _edge.Options(db=db)


from . import archive, data, maintenance, mcp, secrets, serve, transfer  # noqa: E402

data.register(app)
archive.register(app, data.import_app)
maintenance.register(app)
serve.register(app)
secrets.register(app)
mcp.register(app)
transfer.register(app)


def main() -> None:
    """Console-script entry point."""
    try:
        with _edge.edge():  # what a command did not turn into an exit code still ends as one line
            app()
    except typer.Exit as exc:  # raised by edge() itself, outside Typer, which would have turned it into the code
        sys.exit(exc.exit_code)

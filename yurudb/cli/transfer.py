"""`yurudb push` and `yurudb pull`: this machine's archive copied into a shared database and back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .. import paths
from ._edge import console, err_console, esc, fail, opened, options, run

OTHER_HELP = "The other database: a postgresql:// URL or a file (default: $YURUDB_URL)."


def push(ctx: typer.Context, to: Annotated[Optional[str], typer.Argument(help=OTHER_HELP, show_default=False)] = None
         ) -> None:
    """Copy this machine's archive (--db, else the default file) into another database; again copies only what is new."""
    local = _local(ctx)
    if not local.is_file():
        fail(f"no database at {local}: nothing to push", 2)
    _copy(local, _other(to, "push"), machine=paths.machine_id())


def pull(ctx: typer.Context, source: Annotated[Optional[str], typer.Argument(
        metavar="FROM", help=OTHER_HELP, show_default=False)] = None) -> None:
    """Copy another database into this machine's archive (--db, else the default file); again copies only what is new."""
    local = _local(ctx)
    other = _other(source, "pull")
    if not paths.is_server(other) and not Path(other).is_file():
        fail(f"no database at {other}: nothing to pull", 2)
    _copy(other, local, machine=None)


def _local(ctx: typer.Context) -> Path:
    """This machine's database file: --db, else YURUDB_PATH or the default (a server is not one)."""
    given = options(ctx).db
    if given is not None and paths.is_server(str(given)):
        fail("push and pull copy between this machine's file and another database: give --db a file, and the "
             "server as the command's argument", 2)
    path = paths.resolve(given)
    if path.is_dir():
        fail(f"{path} is a folder, not a database file", 2)
    if given is not None and not path.parent.is_dir():
        fail(f"--db {path}: the folder {path.parent} does not exist", 2)
    return path


def _other(given: str | None, verb: str) -> Any:
    """The other side: a server URL, or a file (its folder must exist)."""
    import os

    other = given or os.environ.get("YURUDB_URL")
    if not other:
        fail(f"{verb} needs the other database: give a postgresql:// URL or a file, or set YURUDB_URL", 2)
    if paths.is_server(other):
        return other
    path = Path(other).expanduser()
    if path.is_dir():
        fail(f"{path} is a folder, not a database file", 2)
    if not path.parent.is_dir():
        fail(f"{path}: the folder {path.parent} does not exist", 2)
    return path


def _name(target: Any) -> str:
    return paths.display_url(target) if paths.is_server(target) else str(target)


def _copy(source: Any, target: Any, *, machine: str | None) -> None:
    if not paths.is_server(source) and not paths.is_server(target) and Path(source).resolve() == Path(target).resolve() \
            or paths.is_server(source) and source == target:
        fail(f"{_name(source)} is the database on both sides: nothing to copy", 2)

    async def go() -> Any:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        from ..claude import transfer

        async with opened(source, read_only=True) as src, opened(target) as dst:
            console.print(f"copying {esc(_name(source))} into {esc(_name(target))}", highlight=False)
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          console=console.real(), transient=True) as bar:
                task = bar.add_task("transcripts", total=None)
                return await transfer(src, dst, machine=machine,
                                      progress=lambda step, done, of: bar.update(task, description=step,
                                                                                  completed=done, total=of))

    report = run(go(), interrupted=lambda: "interrupted: what was copied is committed; the same command again goes "
                                           "on from there")
    if report.changed:
        console.print(report.summary(), highlight=False)
    else:
        console.print(f"nothing to copy: {esc(_name(target))} holds everything {esc(_name(source))} does "
                      f"({report.files:,} transcript files)", highlight=False)
    if report.messages_differing:
        err_console.print(f"[yellow]{report.messages_differing} messages of the app differ between the two; "
                          f"{esc(_name(target))} keeps its own text of each[/]", highlight=False)
    for problem in report.problems:
        err_console.print(f"[red]{esc(problem)}[/]", highlight=False, soft_wrap=True)
    if report.problems:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Attach these commands to the root app."""
    app.command()(push)
    app.command()(pull)

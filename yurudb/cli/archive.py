"""`yurudb sync | import claude | restore-claude`: the archive of Claude Code's transcripts."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from ._edge import console, err_console, fail, opened, options, run

if TYPE_CHECKING:
    from ..claude import SyncReport


def _root(directory: Path | None) -> Path:
    """DIR, else ~/.claude/projects (also when empty: its files are gone, which the sync records)."""
    from ..claude import DEFAULT_ROOT

    if directory is not None:
        if not directory.is_dir():
            fail(f"no such directory: {directory}", 2)
        return directory
    return DEFAULT_ROOT


async def _example_instead(store: Any, root: Path) -> Path | None:
    """The bundled example, for a first run only: no Claude Code folder at all, and nothing archived
    from it. A folder that is there but empty is an archive whose files are gone, never a first run."""
    from ..claude import DEFAULT_ROOT

    if root != DEFAULT_ROOT or root.is_dir():
        return None
    held = await store.fetch_one("SELECT COUNT(*) FROM transcript_files WHERE root = ?", (str(root.resolve()),))
    if held:
        fail(f"{root} is gone; the {held:,} files archived from it are kept (nothing is marked gone): "
             "`yurudb restore-claude --gone` puts them back", 1)
    console.print(f"[dim]no Claude Code folder at {root}; syncing the bundled example[/]")
    return Path(str(resources.files("yurudb.examples") / "projects"))


def sync(
    ctx: typer.Context,
    directory: Annotated[Optional[Path], typer.Argument(help="Default: ~/.claude/projects.")] = None,
) -> None:
    """Archive Claude Code's transcripts: every line byte-exact, only what is new since the last sync."""
    root = _root(directory)

    async def go() -> SyncReport:
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

        from ..claude import sync as syncing

        async with opened(options(ctx).path) as store:
            source = await _example_instead(store, root) or root
            with Progress(TextColumn("syncing"), BarColumn(), DownloadColumn(), TimeElapsedColumn(),
                          console=console.real(), transient=True) as bar:
                task = bar.add_task("bytes", total=None)
                return await syncing(store, source,
                                     progress=lambda done, total: bar.update(task, completed=done, total=total))

    report = run(go())
    console.print(report.summary(), highlight=False)
    kept = [f"{n} {what}" for n, what in ((report.not_json, "lines that are not JSON"),
                                           (report.oversized, "oversized lines")) if n]
    if kept:
        console.print(f"[yellow]kept byte-exact without a message:[/] {', '.join(kept)}", highlight=False)
    if report.waiting:
        console.print(f"[dim]{report.waiting} files end in a line still being written: the next sync takes it[/]")
    if report.unpriced_models:
        console.print(f"[yellow]no price for[/] {', '.join(sorted(report.unpriced_models))} "
                      "(and no figure from Claude Code): their cost counts as $0", highlight=False)
    for problem in report.problems:
        err_console.print(f"[yellow]not archived:[/] {problem}", highlight=False, soft_wrap=True)
    if report.problems:
        raise typer.Exit(1)


def watch(
    ctx: typer.Context,
    directory: Annotated[Optional[Path], typer.Argument(help="Default: ~/.claude/projects.")] = None,
) -> None:
    """Follow Claude Code's transcripts live: every appended line archived within a second. Ctrl-C stops."""
    import asyncio
    import signal
    import time

    root = _root(directory)

    async def go() -> Any:
        from rich.live import Live

        from ..archive.watch import WatchStatus
        from ..claude import watch as watching
        from ..errors import NotFoundError

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)  # stop between passes: what was seen is committed
        started = time.monotonic()
        async with opened(options(ctx).path) as store:
            names: dict[str, str] = {}

            def line(status: Any) -> str:
                rate = status.lines / max(time.monotonic() - started, 1e-9)
                failing = "" if not status.error else " · [red]folder gone, waiting[/]" if not status.retry_in \
                    else f" · [red]failing, retry in {status.retry_in:.0f} s[/]"
                return (f"watching {root} · {len(status.files)} files changed · {status.lines:,} lines "
                        f"({rate:,.1f}/s) · last session: {names.get(status.last_session or '', '-')}{failing}")

            with Live(line(WatchStatus()),
                      console=console.real(), transient=False, auto_refresh=False) as live:
                def on_pass(report: Any, status: Any) -> None:
                    if report.last_session and report.last_session not in names:
                        names[report.last_session] = report.last_session[:8]
                    live.update(line(status), refresh=True)
                    for problem in report.problems:
                        err_console.print(f"[yellow]not archived:[/] {problem}", highlight=False)

                def on_error(exc: BaseException, status: Any) -> None:
                    live.update(line(status), refresh=True)
                    if isinstance(exc, NotFoundError):  # the folder went: everything archived stays committed
                        err_console.print(f"\n[red]{status.error}[/] (everything archived so far is committed)",
                                          highlight=False)
                        return
                    # loud, and the watch goes on: the lines stay in Claude Code's files until a pass commits them
                    err_console.print(f"[red]sync pass failed:[/] {status.error}; trying again in "
                                      f"{status.retry_in:.0f} s (nothing is lost: the lines wait in their files)",
                                      highlight=False)
                    live.update(line(status), refresh=True)

                status = await watching(store, root, stop=stop, on_pass=on_pass, on_error=on_error)
        return status

    status = run(go())
    if status.error is not None:
        err_console.print(f"[red]stopped:[/] {status.lines:,} lines archived in {status.passes} passes; the last "
                          f"pass failed ({status.error}): what it did not commit is still only in Claude Code's "
                          "files, and the next `yurudb sync` archives it", highlight=False)
        raise typer.Exit(1)
    console.print(f"stopped: {status.lines:,} lines archived in {status.passes} passes, all committed",
                  highlight=False)


def restore_claude(
    ctx: typer.Context,
    session: Annotated[Optional[str], typer.Argument(help="Session id (or a unique prefix).")] = None,
    gone: Annotated[bool, typer.Option(
        "--gone", help="Every session whose files Claude Code no longer has (deleted by its clean-up).")] = False,
    into: Annotated[Optional[Path], typer.Option(help="Default: ~/.claude/projects.")] = None,
) -> None:
    """Put a session's transcript files (or --gone: every gone session's) back where Claude Code looks for
    them, never overwriting a differing file."""
    from ..claude import DEFAULT_ROOT, restore_files, transcript_files
    from .data import resolve_session

    if (session is None) == (not gone):
        fail("give a SESSION or --gone (not both)", 2)
    dest = into or DEFAULT_ROOT
    if dest.exists() and not dest.is_dir():
        fail(f"--into {dest} is not a folder", 2)

    async def go() -> Any:
        async with opened(options(ctx).path, read_only=True) as store:
            if gone:
                chosen = [s for s in await store.list_sessions() if (s.meta or {}).get("source_gone")]
            else:
                chosen = [await resolve_session(store, session or "")]
            return [(s, await transcript_files(store, s.id)) for s in chosen]

    differing = 0
    restored = run(go())
    for _, files in restored:
        report = restore_files(files, dest)
        differing += len(report.differing)
        for rel in report.written:
            console.print(f"restored {dest / rel}", highlight=False)
        for rel in report.identical:
            console.print(f"[dim]already there, identical: {dest / rel}[/]", highlight=False)
        for rel in report.differing:
            err_console.print(f"[yellow]left alone (it differs from the archive):[/] {dest / rel}", highlight=False)
    if differing:
        hint = f"`yurudb export {restored[0][0].id} --format jsonl -o DIR`" if not gone else \
            "`yurudb export SESSION --format jsonl -o DIR`"
        fail(f"{differing} files differ from the archive and were not overwritten; {hint} writes the archived "
             "ones elsewhere")
    if gone:
        console.print(f"{len(restored)} sessions whose files were gone are back; `claude --resume <id>` continues "
                      "any of them", highlight=False)
    else:
        s = restored[0][0]
        console.print(f"`claude --resume {s.claude_session_id or s.id}` continues it", highlight=False)


def register(app: typer.Typer, import_app: typer.Typer) -> None:
    """Attach these commands to the root app (and `import claude`, sync's old name)."""
    app.command()(sync)
    app.command()(watch)
    import_app.command("claude", help="The same as `yurudb sync` (its older name).")(sync)
    app.command("restore-claude")(restore_claude)

"""`yurudb sync | import claude | restore-claude`: the archive of Claude Code's transcripts."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from ._edge import EXAMPLE_SESSION, console, err_console, esc, example_notice, fail, opened, options, peek, run

if TYPE_CHECKING:
    from ..claude import SyncReport


def _roots(directory: Path | None) -> list[Path]:
    """DIR, else every place Claude Code keeps projects (`yurudb.claude.places`: CLAUDE_CONFIG_DIR's
    folders, ~/.claude/projects, ~/.config/claude/projects), whether there or not: the sync says which."""
    from ..claude import places

    if directory is not None:
        if not directory.is_dir():
            fail(f"no such directory: {directory}", 2)
        return [directory]
    return places()


async def _missing(store: Any, root: Path) -> int:
    """How many files the archive holds from a folder that is not there (0: it never had any)."""
    return await store.fetch_one("SELECT COUNT(*) FROM transcript_files WHERE root = ?", (str(root.resolve()),)) \
        or 0


def _archived_lines(db: Path) -> int:
    """The transcript lines a database holds (0 before it exists), read without writing anything."""
    return peek(db, lambda conn: conn.execute("SELECT COALESCE(SUM(lines), 0) FROM transcript_files").fetchone()[0], 0)


def _example() -> Path:
    return Path(str(resources.files("yurudb.examples") / "projects"))


def demo(
    path: Annotated[Optional[Path], typer.Argument(
        help="The demo's own database (default: demo.db beside the default database).")] = None,
) -> None:
    """Sync the bundled example conversation into a database of its own, and show how to look at it."""
    from ..paths import default_db_path

    target = path or default_db_path().parent / "demo.db"
    if target.is_dir():
        fail(f"{target} is a folder, not a database file", 2)
    if path is not None and not target.parent.is_dir():
        fail(f"{target}: the folder {target.parent} does not exist", 2)

    async def go() -> SyncReport:
        from ..claude import sync as syncing

        async with opened(target) as store:
            return await syncing(store, _example())

    report = run(go())
    console.print(f"the example conversation is in {esc(target)} ({report.messages_new} new messages); your own "
                  "archive is untouched", highlight=False)
    console.print(f"  yurudb --db {esc(target)} sessions", highlight=False)
    console.print(f"  yurudb --db {esc(target)} show {EXAMPLE_SESSION[:8]}", highlight=False)
    console.print(f"  yurudb --db {esc(target)} search todo", highlight=False)


def sync(
    ctx: typer.Context,
    directory: Annotated[Optional[Path], typer.Argument(
        help="Default: every place Claude Code keeps projects (CLAUDE_CONFIG_DIR, ~/.claude, ~/.config/claude).")] = None,
) -> None:
    """Archive Claude Code's transcripts and the files beside them: every byte, only what is new since the last sync."""
    roots = _roots(directory)

    async def go() -> tuple[list[tuple[Path, SyncReport]], list[str]]:
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

        from ..claude import sync as syncing

        done: list[tuple[Path, SyncReport]] = []
        gone: list[str] = []
        async with opened(options(ctx).path) as store:
            there = [root for root in roots if root.is_dir()]
            for root in roots:
                if root in there:
                    continue
                held = await _missing(store, root)
                if held:  # a folder that held files went: loud, and nothing is marked gone
                    gone.append(f"{root} is gone; the {held:,} files archived from it are kept (nothing is marked "
                                "gone): `yurudb restore-claude --gone` puts them back")
                elif directory is None:
                    console.print(f"[dim]not there: {esc(root)}[/]", highlight=False)
            if not there and not gone and directory is None:
                # no Claude Code folder anywhere: nothing to archive (the example has a database of its own)
                console.print("no Claude Code folder in any of those places: nothing to archive. "
                              "`yurudb demo` shows yurudb on an example conversation, in a database of its own",
                              highlight=False)
            for root in there:
                console.print(f"reading {esc(root)}", highlight=False)
                with Progress(TextColumn("syncing"), BarColumn(), DownloadColumn(), TimeElapsedColumn(),
                              console=console.real(), transient=True) as bar:
                    task = bar.add_task("bytes", total=None)
                    done.append((root, await syncing(
                        store, root, progress=lambda d, total: bar.update(task, completed=d, total=total))))
        return done, gone

    db = options(ctx).path
    before = _archived_lines(db)

    def interrupted() -> str:
        return (f"interrupted: {_archived_lines(db) - before:,} lines committed, the next sync goes on from there")

    reports, gone = run(go(), interrupted=interrupted)
    example_notice(db)
    problems = False
    for _root, report in reports:
        problems |= _said(report)
    for line in gone:
        err_console.print(f"[red]{esc(line)}[/]", highlight=False, soft_wrap=True)
    if problems or gone:
        raise typer.Exit(1)


def _said(report: SyncReport) -> bool:
    """Print one sync's report; True when it had problems (files it could not read)."""
    console.print(report.summary(), highlight=False)
    kept = [f"{n} {what}" for n, what in ((report.not_json, "lines that are not JSON"),
                                           (report.oversized, "oversized lines")) if n]
    if kept:
        console.print(f"[yellow]kept byte-exact without a message:[/] {esc(', '.join(kept))}", highlight=False)
    if report.waiting:
        console.print(f"[dim]{esc(report.waiting)} files end in a line still being written: the next sync takes it[/]")
    if report.unpriced_models:
        console.print(f"[yellow]no price for[/] {esc(', '.join(sorted(report.unpriced_models)))} "
                      "(and no figure from Claude Code): their cost counts as $0", highlight=False)
    for problem in report.problems:
        err_console.print(f"[yellow]not archived:[/] {esc(problem)}", highlight=False, soft_wrap=True)
    return bool(report.problems)


def watch(
    ctx: typer.Context,
    directory: Annotated[Optional[Path], typer.Argument(
        help="Default: every place Claude Code keeps projects (CLAUDE_CONFIG_DIR, ~/.claude, ~/.config/claude).")] = None,
) -> None:
    """Follow Claude Code's files live: every appended line archived within a second. Ctrl-C stops."""
    import asyncio
    import signal
    import time

    places = _roots(directory)
    roots = [root for root in places if root.is_dir()] or places[:1]  # none there yet: wait for the first
    interrupted: list[int] = []  # the signal that stopped the watch

    async def go() -> Any:
        from rich.live import Live

        from ..archive.watch import WatchStatus
        from ..claude import watch as watching
        from ..errors import NotFoundError

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        def stopping(sig: int) -> None:
            interrupted.append(sig)
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping, sig)  # stop between passes: what was seen is committed
        started = time.monotonic()
        async with opened(options(ctx).path) as store:
            names: dict[str, str] = {}
            shown = esc(", ".join(str(root) for root in roots))

            def line(status: Any) -> str:
                rate = status.lines / max(time.monotonic() - started, 1e-9)
                failing = "" if not status.error else " · [red]folder gone, waiting[/]" if not status.retry_in \
                    else f" · [red]failing, retry in {status.retry_in:.0f} s[/]"
                return (f"watching {shown} · {len(status.files)} files changed · {status.lines:,} lines "
                        f"({rate:,.1f}/s) · last session: {esc(names.get(status.last_session or '', '-'))}{failing}")

            with Live(line(WatchStatus()),
                      console=console.real(), transient=False, auto_refresh=False) as live:
                def on_pass(report: Any, status: Any) -> None:
                    if report.last_session and report.last_session not in names:
                        names[report.last_session] = report.last_session[:8]
                    live.update(line(status), refresh=True)
                    for problem in report.problems:
                        err_console.print(f"[yellow]not archived:[/] {esc(problem)}", highlight=False)

                def on_error(exc: BaseException, status: Any) -> None:
                    live.update(line(status), refresh=True)
                    if isinstance(exc, NotFoundError):  # the folder went: everything archived stays committed
                        err_console.print(f"\n[red]{esc(status.error)}[/] (everything archived so far is committed)",
                                          highlight=False)
                        return
                    # loud, and the watch goes on: the lines stay in Claude Code's files until a pass commits them
                    err_console.print(f"[red]sync pass failed:[/] {esc(status.error)}; trying again in "
                                      f"{status.retry_in:.0f} s (nothing is lost: the lines wait in their files)",
                                      highlight=False)
                    live.update(line(status), refresh=True)

                statuses = await asyncio.gather(*(watching(store, root, stop=stop, on_pass=on_pass, on_error=on_error)
                                                  for root in roots))
        return statuses

    statuses = run(go())
    status = statuses[0]
    for other in statuses[1:]:  # one line for all the places watched
        status.lines += other.lines
        status.passes += other.passes
        status.error = status.error or other.error
    if status.error is not None:
        err_console.print(f"[red]stopped:[/] {status.lines:,} lines archived in {esc(status.passes)} passes; the last "
                          f"pass failed ({esc(status.error)}): what it did not commit is still only in Claude Code's "
                          "files, and the next `yurudb sync` archives it", highlight=False)
        raise typer.Exit(1)
    if interrupted and interrupted[0] == signal.SIGINT:  # Ctrl-C: one line, 130, as for every command
        err_console.print(f"[yellow]interrupted: {status.lines:,} lines committed, the next sync goes on from "
                          "there[/]", highlight=False)
        raise typer.Exit(130)
    console.print(f"stopped: {status.lines:,} lines archived in {esc(status.passes)} passes, all committed",
                  highlight=False)


def restore_claude(
    ctx: typer.Context,
    session: Annotated[Optional[str], typer.Argument(help="Session id (or a unique prefix).")] = None,
    gone: Annotated[bool, typer.Option(
        "--gone", help="Every session whose files Claude Code no longer has (deleted by its clean-up).")] = False,
    into: Annotated[Optional[Path], typer.Option(
        help="Default: where Claude Code looks (the first CLAUDE_CONFIG_DIR's projects, else ~/.claude/projects).")] = None,
    cwd: Annotated[Optional[Path], typer.Option(
        "--cwd", help="The folder the project lives in now: the session goes under its project folder, "
                      "each line's cwd rewritten (the archive is not changed).")] = None,
) -> None:
    """Put a session's transcript files (or --gone: every gone session's) back where Claude Code looks for
    them, never overwriting a differing file."""
    from ..archive.restore import relocated
    from ..claude import restore_files, restore_target, transcript_files
    from .data import resolve_session

    if (session is None) == (not gone):
        fail("give a SESSION or --gone (not both)", 2)
    if cwd is not None and gone:
        fail("--cwd moves one session: give a SESSION, not --gone", 2)
    dest = into or restore_target()
    if dest.exists() and not dest.is_dir():
        fail(f"--into {dest} is not a folder", 2)

    async def go() -> Any:
        async with opened(options(ctx).path, read_only=True) as store:
            if gone:
                chosen = [s for s in await store.list_sessions() if (s.meta or {}).get("source_gone")]
            else:
                chosen = [await resolve_session(store, session or "")]
            out = [(s, await transcript_files(store, s.id)) for s in chosen]
            if cwd is not None:
                s, files = out[0]
                files, changed = await relocated(store, s.id, files, str(cwd.expanduser().absolute()), dest.absolute())
                rewritten.append(changed)
                out = [(s, files)]
            return out

    differing = 0
    rewritten: list[int] = []
    restored = run(go())
    for _, files in restored:
        report = restore_files(files, dest)
        differing += len(report.differing)
        for rel in report.written:
            console.print(f"restored {esc(dest / rel)}", highlight=False)
        for rel in report.identical:
            console.print(f"[dim]already there, identical: {esc(dest / rel)}[/]", highlight=False)
        for rel in report.differing:
            err_console.print(f"[yellow]left alone (it differs from the archive):[/] {esc(dest / rel)}", highlight=False)
    if differing:
        hint = f"`yurudb export {restored[0][0].id} --format jsonl -o DIR`" if not gone else \
            "`yurudb export SESSION --format jsonl -o DIR`"
        fail(f"{differing} files differ from the archive and were not overwritten; {hint} writes the archived "
             "ones elsewhere")
    if gone:
        console.print(f"{esc(len(restored))} sessions whose files were gone are back; `claude --resume <id>` continues "
                      "any of them", highlight=False)
    else:
        s = restored[0][0]
        if cwd is not None:
            console.print(f"moved to {esc(cwd)}: {rewritten[0]:,} lines rewritten (cwd and paths into the project "
                          "folder); the archive keeps them as Claude Code wrote them", highlight=False)
        console.print(f"`claude --resume {esc(s.claude_session_id or s.id)}` continues it"
                      f"{esc(f' (run it in {cwd})' if cwd is not None else '')}", highlight=False)


def recover_history(
    ctx: typer.Context,
    directory: Annotated[Optional[Path], typer.Argument(
        help="A projects folder whose history.jsonl to read too (default: every place Claude Code keeps one).")] = None,
) -> None:
    """Rebuild, from history.jsonl, a prompt-only session for each session whose transcript is gone
    and was never archived (marked as rebuilt: never restored as a transcript)."""
    from ..archive.history import live_files, recover

    roots = _roots(directory)

    async def go() -> Any:
        async with opened(options(ctx).path) as store:
            return await recover(store, live_files(roots))

    report = run(go())
    console.print(f"{report.prompts:,} prompts in history.jsonl ({report.already_archived:,} of sessions yurudb "
                  f"archived): {report.sessions_rebuilt:,} sessions rebuilt, {report.prompts_added:,} prompts added",
                  highlight=False)
    if report.unreadable:
        console.print(f"[yellow]{report.unreadable:,} lines are not prompts[/] (kept in the archive as they are)",
                      highlight=False)
    for sid in report.rebuilt_ids[:20]:
        console.print(f"[dim]rebuilt (prompts only): {esc(sid)}[/]", highlight=False)


def register(app: typer.Typer, import_app: typer.Typer) -> None:
    """Attach these commands to the root app (and `import claude`, sync's old name)."""
    app.command()(sync)
    app.command()(watch)
    import_app.command("claude", help="The same as `yurudb sync` (its older name).")(sync)
    app.command("restore-claude")(restore_claude)
    app.command("recover-history")(recover_history)
    app.command()(demo)

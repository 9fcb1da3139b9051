"""`yurudb sessions | show | import | export | usage`: reading and moving conversations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from ..errors import NotFoundError, ValidationError
from ._edge import (
    check_output,
    console,
    err_console,
    esc,
    example_notice,
    fail,
    opened,
    options,
    print_json,
    print_table,
    quick_read,
    rule,
    run,
    visible,
)

if TYPE_CHECKING:  # the library loads when a command runs, not for --help
    from ..importers import snapshot
    from ..store.store import Store

import_app = typer.Typer(help="Import Claude Code transcripts or an app snapshot.", no_args_is_help=True, rich_markup_mode=None)



async def resolve_session(store: Store, ref: str) -> Any:
    """A session by id, or by a unique id prefix (what `yurudb sessions` shows)."""
    try:
        return await store.get_session(ref)
    except NotFoundError:
        matches = [s for s in await store.list_sessions() if s.id.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise ValidationError(f"{ref!r} matches {len(matches)} sessions; give more of the id") from None
        raise


def sessions(
    ctx: typer.Context,
    limit: Annotated[Optional[int], typer.Option(help="Show at most this many.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List sessions, most recently updated first."""
    if limit is not None and limit < 1:
        fail("--limit must be at least 1", 2)

    async def go() -> Any:
        async with opened(options(ctx).path, read_only=True) as store:
            if as_json:
                return await store.list_sessions(limit=limit), await store.session_totals()
            return await store.usage.listing(limit)

    if not as_json:
        from ..store import listing

        # the listing's query on a read-only connection when that is what the store would read
        quick, rows = quick_read(options(ctx).path, lambda conn: listing.listing_rows(
            conn.execute(listing.LISTING_SQL, (-1 if limit is None else limit,)).fetchall()))
        if not quick:
            rows = run(go())
        example_notice(options(ctx).path)
        print_table(f"{len(rows)} sessions in {options(ctx).path}",
                    ["id", "name", "status", "messages", "updated (UTC)", "cost"],
                    [[sid, name, status, str(count), updated, f"${cost:.4f}"]
                     for sid, name, status, updated, count, cost in rows], right=frozenset({"messages", "cost"}))
        return
    listed, totals = run(go())
    print_json([s.model_dump(mode="json") | {"messages": totals.get(s.id, {}).get("messages", 0),
                                             "cost_usd": totals.get(s.id, {}).get("cost_usd", 0.0)}
                for s in listed])


def show(
    ctx: typer.Context,
    session: Annotated[str, typer.Argument(help="Session id (or a unique prefix).")],
    limit: Annotated[int, typer.Option(help="Messages per page (the newest first page).")] = 50,
    before: Annotated[Optional[int], typer.Option(help="Page back: show messages before this seq.")] = None,
    around: Annotated[Optional[int], typer.Option(help="Show the messages around this seq (a search hit).")] = None,
    thread: Annotated[Optional[str], typer.Option(
        help="A subagent's thread (see the (thread) marks), or 'all' for every line; default: the conversation.")
    ] = None,
    all_events: Annotated[bool, typer.Option("--all", help="Include progress/bookkeeping lines.")] = False,
    full: Annotated[bool, typer.Option("--full", help="Tool arguments whole on a terminal too (piped: always).")] = False,
    width: Annotated[int, typer.Option(help="On a terminal, cut each tool argument to this many characters.")] = 60,
) -> None:
    """Print a conversation, newest page first; --before pages back, --around SEQ centres on one message.

    A page holds --limit messages that are shown (bookkeeping lines hidden without --all do not count)."""
    import sys

    from . import export as exporting

    if around is not None and before is not None:
        fail("--around and --before both say where to look: give one", 2)
    if limit < 1 or width < 1:
        fail("--limit and --width must be at least 1", 2)
    which: Any = ... if thread == "all" else thread

    def shown(m: Any) -> bool:
        return all_events or m.type not in exporting.HIDDEN_TYPES or m.seq == around

    async def back(store: Store, sid: str, upto: int | None, want: int, scope: Any) -> tuple[list[Any], bool]:
        """The newest `want` shown messages before `upto`, and whether there are more shown before them."""
        got: list[Any] = []
        cursor = upto
        while True:
            batch = await store.get_messages(sid, limit=max(100, 2 * want), before=cursor, thread=scope)
            got = [m for m in batch if shown(m)] + got
            if len(got) > want or len(batch) < max(100, 2 * want):
                return got[-want:], len(got) > want
            cursor = batch[0].seq

    async def go() -> tuple[Any, list[Any], bool, bool]:
        async with opened(options(ctx).path, read_only=True) as store:
            s = await resolve_session(store, session)
            if around is None:
                page, older = await back(store, s.id, before, limit, which)
                return s, page, older, False
            # every thread unless one is named: a hit may be a subagent's line
            scope = ... if thread is None else which
            newest = await store.get_messages(s.id, limit=1, thread=scope)
            last = newest[-1].seq if newest else 0
            upto, later = around + 1, []
            while True:  # the shown messages after the hit, half a page of them
                window = await store.get_messages(s.id, limit=None if upto > last else limit * 2,
                                                  before=min(upto + limit * 2, last + 1), thread=scope)
                later = [m for m in window if m.seq > around and shown(m)]
                if len(later) > limit // 2 or upto > last:
                    break
                upto += limit * 2
            newer = len(later) > (limit - 1) // 2
            earlier, older = await back(store, s.id, around + 1, limit - len(later[:(limit - 1) // 2]), scope)
            if not earlier or earlier[-1].seq != around:
                raise NotFoundError(f"session {s.id} has no message #{around}")
            return s, earlier + later[:(limit - 1) // 2], older, newer

    s, messages, older, newer = run(go())
    whole = full or not sys.stdout.isatty()
    rule(f"[bold]{esc(s.name)}[/] · {esc(s.id)} · {esc(s.status)}")
    for m in messages:
        style = {"user": "cyan", "assistant": "green"}.get(m.role or m.type, "yellow")
        pointer = "[bold reverse]▶[/] " if m.seq == around else ""
        marked = f" [dim]({esc(m.thread)})[/]" if m.thread and (around is not None or thread == "all") else ""
        console.print(f"{pointer}[{style}]#{m.seq} {esc(m.role or m.type)}[/]{marked} "
                      f"[dim]{exporting.when(m.timestamp)}[/]", highlight=False)
        text = exporting.message_text(m)
        if text:
            console.print(visible(text), markup=False, highlight=False)
        for tool in m.tool_uses or []:
            summary = exporting.tool_summary(tool, None if whole else width)
            console.print(f"  [magenta]tool[/] {esc(summary)}", highlight=False)
    scope = f" --thread {esc(thread)}" if thread is not None else ""
    if older and messages:
        console.print(f"[dim]older messages: yurudb show {esc(s.id)} --before {messages[0].seq}{scope}[/]",
                      highlight=False)
    if newer and messages:
        console.print(f"[dim]newer messages: yurudb show {esc(s.id)} --around {messages[-1].seq + 1}{scope} "
                      f"(or the newest: yurudb show {esc(s.id)}{scope})[/]", highlight=False)
    if not messages:
        console.print("no messages here", highlight=False)


def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help='Words to find (all of them), "a phrase", or prefix*.')],
    session: Annotated[Optional[str], typer.Option("--session", help="Only this session (id or prefix).")] = None,
    project: Annotated[Optional[Path], typer.Option("--project", help="Only sessions in this folder or below.")] = None,
    types: Annotated[Optional[str], typer.Option("--type", help="Only these types: user,assistant,...")] = None,
    since: Annotated[Optional[str], typer.Option(help="Only messages from this time on (ISO date or time, UTC).")] = None,
    until: Annotated[Optional[str], typer.Option(help="Only messages before this time (ISO date or time, UTC).")] = None,
    limit: Annotated[int, typer.Option(help="How many hits.")] = 20,
    offset: Annotated[int, typer.Option(help="Skip this many hits (the next page).")] = 0,
    raw: Annotated[bool, typer.Option("--raw", help="The query is SQLite FTS5 syntax (AND, OR, NOT, NEAR).")] = False,
    with_secrets: Annotated[Optional[bool], typer.Option(
        "--secrets/--no-secrets", help="Only sessions in which a secret was found / only those without.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the hits as JSON.")] = False,
) -> None:
    """Find messages across every session: best first, with the words marked and how to open each."""
    from ..search import query as searching

    async def go() -> Any:
        async with opened(options(ctx).path, read_only=True) as store:
            sid = (await resolve_session(store, session)).id if session is not None else None
            folder = str(project.expanduser().absolute()) if project is not None else None
            kinds = [k.strip() for k in types.split(",")] if types is not None else None
            return await store.search(query, session_id=sid, working_directory=folder, types=kinds, since=since,
                                      until=until, limit=limit, offset=offset, raw=raw, secrets=with_secrets)

    hits = run(go())
    if as_json:
        print_json({"hits": [searching.dumps_hit(h) for h in hits], "complete": hits.complete,
                    "ranked_newest": hits.ranked_newest, "note": hits.note})
    else:
        from rich.text import Text

        for h in hits:
            console.print(f"[bold]{esc(h.session_name)}[/] [dim]{esc(h.session_id[:12])} · #{h.seq} {esc(h.type)} · "
                          f"{h.timestamp.isoformat(' ', 'seconds')[:19] + ' UTC' if h.timestamp else ''}[/]",
                          highlight=False)
            line, at = Text("  "), 0
            for a, b in h.marks:  # each piece made visible on its own: the marks keep their words
                line.append(visible(h.snippet[at:a]))
                line.append(visible(h.snippet[a:b]), style="bold yellow reverse")
                at = b
            line.append(visible(h.snippet[at:]))
            console.print(line, highlight=False)
            console.print(f"  [dim]yurudb show {esc(h.session_id)} --around {h.seq}[/]", highlight=False)
        if not hits:
            console.print("no messages found", highlight=False)
        elif len(hits) == limit:
            console.print(f"[dim]more: --offset {offset + limit}[/]", highlight=False)
    if not hits.complete:
        err_console.print(f"[yellow]incomplete:[/] {esc(hits.note)}", highlight=False)
    elif hits.note and not as_json:
        console.print(f"[dim]{esc(hits.note)}[/]", highlight=False)


@import_app.command("snapshot")
def import_snapshot(ctx: typer.Context, file: Annotated[Path, typer.Argument(help="The app's sessions as JSON.")]) -> None:
    """Import the app's in-memory sessions (a JSON array of session objects)."""
    from ..importers import snapshot

    path = options(ctx).path
    fresh = not path.exists()

    async def go() -> snapshot.SnapshotReport:
        sessions = snapshot.load(file)
        async with opened(path) as store:
            report = await snapshot.import_snapshot(store, sessions)
            empty = await store.count_sessions() == 0
        if fresh and empty:  # a refused import into a new path leaves nothing behind
            for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                leftover.unlink(missing_ok=True)
        return report

    r = run(go())
    if r.problems and not (r.sessions_created or r.sessions_updated):
        for problem in r.problems:
            err_console.print(f"[yellow]bad record:[/] {esc(problem)}", highlight=False, soft_wrap=True)
        fail(f"{file}: {len(r.problems)} bad records; nothing was imported", 2)
    console.print(f"{r.sessions_created} sessions created, {r.sessions_updated} updated, {r.messages} messages, "
                  f"{r.usage_records} usage records", highlight=False)
    for problem in r.problems:
        console.print(f"[yellow]problem:[/] {esc(problem)}", highlight=False)
    if r.problems:
        raise typer.Exit(1)


def export(
    ctx: typer.Context,
    session: Annotated[Optional[str], typer.Argument(help="Session id (or a unique prefix).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="json, markdown, or jsonl (the transcript files, -o DIR).")] = "json",
    all_sessions: Annotated[bool, typer.Option("--all", help="Every session (JSON: a snapshot array).")] = False,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
    earlier: Annotated[bool, typer.Option(
        "--earlier", help="jsonl: also each file's copies from before it was rewritten (<name>.replaced-<time>.jsonl).")
    ] = False,
    keep_secrets: Annotated[bool, typer.Option(
        "--keep-secrets", help="json/markdown: keep the secrets found in the text (each is [REDACTED:kind] by default).")
    ] = False,
) -> None:
    """Export a session (or --all) as JSON (re-importable snapshot) or Markdown, or a synced session's
    transcript files as Claude Code wrote them (--format jsonl -o DIR).

    JSON and Markdown leave the machine (shared, pasted, synced): each secret in them is replaced by
    [REDACTED:kind] unless --keep-secrets. jsonl gives the files as they are, byte for byte."""
    from ..importers import snapshot
    from . import export as exporting

    if fmt not in ("json", "markdown", "jsonl"):
        fail(f"--format must be json, markdown or jsonl, not {fmt!r}", 2)
    if keep_secrets and fmt == "jsonl":
        fail("--keep-secrets goes with json or markdown (jsonl is never redacted: the files as they are)", 2)
    if fmt == "jsonl":
        export_transcripts(ctx, session, all_sessions, output, earlier)
        return
    if earlier:
        fail("--earlier goes with --format jsonl", 2)
    from .. import secrets

    redacted = [0]
    if (session is None) == (not all_sessions):
        fail("give a SESSION or --all (not both)", 2)

    if output is not None:
        check_output(output)  # before reading anything: a bad path is bad input

    async def go() -> int:
        import textwrap

        async with opened(options(ctx).path, read_only=True) as store:
            chosen = await store.list_sessions() if all_sessions else [await resolve_session(store, session or "")]
            totals = await store.session_totals() if fmt == "markdown" else {}
            # one session at a time, written as it is read: memory holds a session, never the history
            with _Sink(output) as sink, _progress(len(chosen) if all_sessions else 0) as step:
                if fmt == "json" and all_sessions:
                    sink.write("[")
                for n, s in enumerate(chosen):
                    if fmt == "json":
                        kept = await snapshot.export_session(store, s)
                        shared = kept if keep_secrets else secrets.redact_value(kept)
                        redacted[0] += shared != kept
                        text = json.dumps(shared, indent=2, ensure_ascii=False)
                        if all_sessions:
                            text = ("," if n else "") + "\n" + textwrap.indent(text, "  ")
                    else:
                        kept = exporting.to_markdown(s, await store.get_messages(s.id, limit=None), totals.get(s.id))
                        shared = kept if keep_secrets else secrets.redact(kept)
                        redacted[0] += shared != kept
                        text = ("\n" if n else "") + shared
                    sink.write(text)
                    step()
                if fmt == "json" and all_sessions:
                    sink.write("\n]" if chosen else "]")
                sink.write("\n")
                sink.commit()
            return len(chosen)

    run(go(), interrupted=lambda: "interrupted: nothing was written")
    if redacted[0]:
        err_console.print(f"[yellow]secrets redacted[/] in {redacted[0]} session(s): each is {esc('[REDACTED:kind]')} "
                          "(`yurudb secrets scan` lists them; --keep-secrets keeps them)", highlight=False)
    if output is not None:
        console.print(f"wrote {esc(output)}", highlight=False)


class _Sink:
    """Where an export goes: stdout (control codes shown escaped), or a file written beside its name and
    moved into place whole at the end (an export stopped halfway leaves nothing)."""

    def __init__(self, output: Path | None) -> None:
        self.output = output
        # a device or a pipe (-o /dev/stdout) is written as it is, never replaced by a file
        special = output is not None and output.exists() and not output.is_file()
        self.tmp = output.with_name(f".{output.name}.yurudb-export") if output is not None and not special else None
        self._file: Any = None

    def __enter__(self) -> _Sink:
        if self.output is not None:
            try:
                self._file = open(self.tmp or self.output, "w", encoding="utf-8")
            except OSError as exc:
                fail(f"-o {self.output}: {exc.strerror or exc}", 1)
        return self

    def write(self, text: str) -> None:
        import sys

        try:
            if self._file is not None:
                self._file.write(text)
            else:
                sys.stdout.write(visible(text))
        except OSError as exc:  # a full disk, a closed pipe: one line
            fail(f"cannot write {self.output or 'to stdout'}: {exc.strerror or exc}", 1)

    def commit(self) -> None:
        import os
        import sys

        try:
            if self._file is not None:
                self._file.close()
                self._file = None
                if self.tmp is not None:
                    os.replace(self.tmp, self.output)  # type: ignore[arg-type]
            else:
                sys.stdout.flush()
        except OSError as exc:
            fail(f"cannot write {self.output or 'to stdout'}: {exc.strerror or exc}", 1)

    def __exit__(self, *exc: Any) -> None:
        if self._file is not None:  # not committed: the partial file goes, the target is untouched
            try:
                self._file.close()
            except OSError:
                pass
        if self.tmp is not None:
            self.tmp.unlink(missing_ok=True)


def _progress(total: int) -> Any:
    """A bar on stderr while many sessions are exported (a terminal only); `step()` after each."""
    import contextlib
    import sys

    @contextlib.contextmanager
    def bar() -> Any:
        if total < 2 or not sys.stderr.isatty():
            yield lambda: None
            return
        from rich.progress import Progress

        with Progress(console=err_console.real(), transient=True) as progress:
            task = progress.add_task("exporting sessions", total=total)
            yield lambda: progress.advance(task)

    return bar()


def export_transcripts(ctx: typer.Context, session: str | None, all_sessions: bool, output: Path | None,
                       earlier: bool = False) -> None:
    """Write synced sessions' transcript files under DIR in Claude Code's layout, byte for byte."""
    from ..claude import restore_files, transcript_files

    if output is None or (output.exists() and not output.is_dir()):
        fail("--format jsonl writes a folder of transcript files: give -o DIR", 2)
    if (session is None) == (not all_sessions):
        fail("give a SESSION or --all (not both)", 2)

    from ..archive.restore import RestoreReport

    async def go() -> RestoreReport:
        report = RestoreReport()
        async with opened(options(ctx).path, read_only=True) as store:
            if all_sessions:
                chosen = [s for s in await store.list_sessions() if s.claude_session_id]
            else:
                chosen = [await resolve_session(store, session or "")]
            with _progress(len(chosen) if all_sessions else 0) as step:
                for s in chosen:  # a session's files written before the next is read: memory holds one
                    done = restore_files(await transcript_files(store, s.id, earlier=earlier), output)
                    report.written += done.written
                    report.identical += done.identical
                    report.differing += done.differing
                    step()
        return report

    report = run(go(), interrupted=lambda: "interrupted: the files written so far are whole (each is written "
                                           "beside its name and moved into place)")
    for rel in report.written:
        console.print(f"wrote {esc(output / rel)}", highlight=False)
    for rel in report.differing:
        err_console.print(f"[yellow]left alone (it differs):[/] {esc(output / rel)}", highlight=False)
    if report.differing:
        raise typer.Exit(1)


def _day(value: str | None, what: str) -> str | None:
    """A --since/--until date (YYYY-MM-DD, midnight UTC) or ISO time, as the store takes it."""
    from ..validation import timestamp

    if value is None:
        return None
    try:
        timestamp(value if "T" in value else f"{value}T00:00:00+00:00", what)
    except ValidationError:
        raise ValidationError(f"{what} must be a date like 2026-01-31, not {value!r}") from None
    return value if "T" in value else f"{value}T00:00:00+00:00"


def usage(
    ctx: typer.Context,
    by: Annotated[str, typer.Option(help="model, day, session or project.")] = "model",
    split: Annotated[Optional[str], typer.Option(help="Then split each row by model, day, session or project.")] = None,
    since: Annotated[Optional[str], typer.Option(help="Only from this date (YYYY-MM-DD or ISO time).")] = None,
    until: Annotated[Optional[str], typer.Option(help="Only before this date (YYYY-MM-DD or ISO time).")] = None,
    project: Annotated[Optional[str], typer.Option(help="Only sessions in this working directory.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Tokens and cost, grouped by model, day, session or project."""
    async def go() -> list[dict[str, Any]]:
        async with opened(options(ctx).path, read_only=True) as store:
            return await store.usage_summary(by=by, since=_day(since, "--since"), until=_day(until, "--until"),  # type: ignore[arg-type]
                                             project=project, split=split)  # type: ignore[arg-type]

    from ..store import listing

    def query(conn: Any) -> list[dict[str, Any]]:
        sql, params = listing.summary_query(by, _day(since, "--since"), _day(until, "--until"), None,
                                            project=project, split=split)
        return listing.summary_rows(by, conn.execute(sql, params).fetchall(), split)

    try:
        quick, rows = quick_read(options(ctx).path, query)
    except ValidationError:
        quick, rows = False, None  # said by the store's path, with the option's name
    if not quick:
        rows = run(go())
    if as_json:
        print_json(rows)
        return
    key = f"{by} (UTC)" if by == "day" else by
    keys = [key] + ([f"{split} (UTC)" if split == "day" else split] if split else [])
    total = None
    if rows:
        total = ["total", *([""] if split else []), f"{sum(r['records'] for r in rows):,}",
                 f"{sum(r['tokens_input'] for r in rows):,}", f"{sum(r['tokens_output'] for r in rows):,}",
                 f"{sum(r['tokens_cache'] for r in rows):,}", f"${sum(r['cost_usd'] for r in rows):.4f}"]
    where = "".join(f" {word} {value}" for word, value in (("since", since), ("until", until), ("in", project)) if value)
    print_table(f"usage by {by}" + (f" and {split}" if split else "") + where,
                [*keys, "responses", "input", "output", "cache", "cost"],
                [[str(r[by]), *([str(r[split])] if split else []), f"{r['records']:,}", f"{r['tokens_input']:,}",
                  f"{r['tokens_output']:,}", f"{r['tokens_cache']:,}", f"${r['cost_usd']:.4f}"] for r in rows],
                right=frozenset({"responses", "input", "output", "cache", "cost"}), total=total)


def delete(
    ctx: typer.Context,
    session: Annotated[str, typer.Argument(help="Session id (or a unique prefix).")],
    yes: Annotated[bool, typer.Option("--yes", help="Delete without asking (a backup is made first).")] = False,
) -> None:
    """Delete a session: its messages, usage and archived files (the database is backed up first)."""
    import sys

    path = options(ctx).path

    async def find() -> Any:
        async with opened(path, read_only=True) as store:
            s = await resolve_session(store, session)
            return s, await store.count_messages(s.id)

    s, count = run(find())
    if not yes:
        if not sys.stdin.isatty():
            fail(f"deleting {s.id} ({s.name!r}, {count} messages) needs --yes", 2)
        if not typer.confirm(f"delete session {s.id} ({s.name!r}, {count} messages)? A backup is made first"):
            fail("nothing deleted", 1)

    async def go() -> Path:
        async with opened(path) as store:
            made = await store.backup()
            await store.delete_session(s.id)
            return made

    made = run(go())
    console.print(f"deleted {esc(s.id)} ({esc(s.name)}, {count} messages); the database before it: {esc(made)}",
                  highlight=False)


def register(app: typer.Typer) -> None:
    """Attach these commands to the root app."""
    app.command()(sessions)
    app.command()(delete)
    app.command()(show)
    app.command()(search)
    app.add_typer(import_app, name="import")
    app.command()(export)
    app.command()(usage)

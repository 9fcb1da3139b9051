"""`yurudb secrets scan | scrub`: the secrets found in the history, and the one way to remove them."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from ._edge import console, err_console, esc, fail, opened, options, print_json, run

app = typer.Typer(help="Secrets found in the history (keys, tokens, passwords): list them, or scrub one session.",
                  no_args_is_help=True, rich_markup_mode=None)


@app.command()
def scan(
    ctx: typer.Context,
    session: Annotated[Optional[str], typer.Argument(help="One session (id or a unique prefix); default: all.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the secrets found, per session: kind, line, a redacted preview (never the value). Reads only.

    Every message is scanned as it is saved or synced (and every older one by the upgrade that
    added this), so this lists what is known; it changes nothing."""
    from ..secrets import redact
    from .data import resolve_session

    async def go() -> Any:
        async with opened(options(ctx).path, read_only=True) as store:
            sid = (await resolve_session(store, session)).id if session is not None else None
            return await store.secrets(sid)

    found = run(go())
    if as_json:
        print_json([f.model_dump(mode="json") for f in found])
        return
    if not found:
        console.print("no secrets found" + (f" in {esc(session)}" if session else ""), highlight=False)
        return
    by_session: dict[str | None, list[Any]] = {}
    for f in found:
        by_session.setdefault(f.session_id, []).append(f)
    for sid, items in by_session.items():
        # a session is often named by its first prompt, secret and all
        name = redact(items[0].session_name) if items[0].session_name else "(a project's files)"
        console.print(f"[bold]{esc(sid or '-')}[/]  {esc(name)}  ({len(items)})", highlight=False)
        for f in items:
            where = f"file {f.path}" if f.path else f"line {f.line}" if f.line is not None else f"message #{f.seq}"
            thread = f" ({f.thread})" if f.thread else ""
            console.print(f"  {esc(f.kind):<20} {esc(where)}{esc(thread)}  {esc(f.preview)}", highlight=False)
    err_console.print(f"{len(found)} secrets in {len(by_session)} sessions; exports and MCP answers redact them; "
                      "`yurudb secrets scrub SESSION --yes` removes them from the archive", highlight=False)


@app.command()
def scrub(
    ctx: typer.Context,
    session: Annotated[str, typer.Argument(help="Session id (or a unique prefix).")],
    yes: Annotated[bool, typer.Option("--yes", help="Rewrite the archive (a backup is made first).")] = False,
) -> None:
    """Remove a session's secrets from the archive itself: every one becomes [REDACTED:kind] in its archived
    lines and files, its messages and the index. Backs up first; restore gives the scrubbed files."""
    if not yes:
        fail("scrub rewrites the archive: give --yes (a backup is made first)", 2)
    from ..archive.scrub import scrub as scrubbing
    from ..tables.rows import SESSION_COLUMNS, session_from_row
    from ..writes.batch import BatchEffects
    from .data import resolve_session

    async def go() -> Any:
        async with opened(options(ctx).path) as store:
            s = await resolve_session(store, session)
            backup = await store.backup()

            def rewrite(tx: Any) -> tuple[BatchEffects, Any]:
                # freed pages are zeroed, so the old text does not linger in the file's free space
                tx.execute("PRAGMA secure_delete = ON")
                try:
                    report = scrubbing(tx, s.id)
                    # a renamed session is told to the cache as it now reads
                    row = tx.execute(f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?", (s.id,))[0]
                    return BatchEffects(sessions={s.id: session_from_row(row)} if report.renamed else {}), report
                finally:
                    tx.execute("PRAGMA secure_delete = OFF")

            report = await store.transaction(rewrite)
            report.backup = str(backup)
            return s, report

    s, report = run(go())
    if not report.secrets:
        console.print(f"no secrets found in {esc(s.id)}: nothing rewritten", highlight=False)
        return
    kinds = ", ".join(f"{n} {esc(k)}" for k, n in sorted(report.secrets.items()))
    console.print(f"scrubbed {esc(s.id)}: {kinds}; {report.lines} archived lines, {report.files} files beside them "
                  f"and {report.messages} messages rewritten" + ("; its name too" if report.renamed else ""), highlight=False)
    err_console.print(f"the backup taken first still holds them: {esc(report.backup)} (delete it once you have "
                      "checked); Claude Code's own files on disk are not touched", highlight=False)


def register(root: typer.Typer) -> None:
    """Attach the group to the root app."""
    root.add_typer(app, name="secrets")

"""`yurudb serve`: the store over HTTP + WebSocket on loopback (the `serve` extra)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..errors import YurudbError
from ._edge import err_console, esc, fail, options, run


def serve(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="The port (0: a free one, said in serve.json).")] = 0,
    host: Annotated[Optional[str], typer.Option(
        help="Listen here (default 127.0.0.1; anything but loopback is reachable from other machines).")] = None,
    watch: Annotated[bool, typer.Option("--watch", help="Also follow Claude Code's projects folders live "
                                                         "(every place it keeps them); new lines are events.")] = False,
) -> None:
    """Serve the database to the desktop app on loopback: the library's API under /api/v1, events on a WebSocket.

    The first line on stdout (and serve.json beside the database, mode 0600) gives the URL and the token.
    SIGTERM or Ctrl-C finish the requests in flight, then close the store."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        fail("`yurudb serve` needs the serve extra: pip install 'yurudb[serve]'", 1)
    from ..serve import run as serving

    chosen = host or "127.0.0.1"
    if chosen not in serving.LOOPBACK:
        err_console.print(f"[bold red]warning:[/] serving on {esc(chosen)}, not loopback: any machine that reaches it "
                          "can try the token, the only guard left", highlight=False, soft_wrap=True)
    if not 0 <= port <= 65535:
        fail("--port must be 0-65535", 2)
    path = options(ctx).path
    roots = None
    if watch:
        from ..claude import places

        roots = [p for p in places() if p.is_dir()]
        for root in roots:
            err_console.print(f"[dim]watching {esc(root)}[/]", highlight=False)
    run(serving.serve(path, host=chosen, port=port, announce=lambda line: print(line, flush=True), watch=roots),
        interrupted=lambda: "stopped: the requests in flight were finished and the store closed")


def ui(
    ctx: typer.Context,
    watch: Annotated[bool, typer.Option("--watch", help="When it starts the server: follow Claude Code's projects "
                                                         "folders live, so open sessions grow on screen.")] = False,
    browser: Annotated[bool, typer.Option("--browser/--no-browser", help="Open the browser (else print the address).")] = True,
) -> None:
    """Open the web page: browse, search and chart the history (starts `yurudb serve` for this database if none runs)."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        fail("`yurudb ui` needs the serve extra: pip install 'yurudb[serve]'", 1)
    import webbrowser

    from ..serve import run as serving

    path = options(ctx).path
    found = serving.running(path)
    if found is None:
        try:
            found = serving.start_detached(path, watch=watch)
        except YurudbError as exc:
            fail(str(exc), 1)
        err_console.print(f"[dim]started yurudb serve (process {found['pid']}; its log: "
                          f"{esc(serving.log_path(path))}); `kill {found['pid']}` stops it[/]", highlight=False)
    # the token rides in the #fragment: the browser never sends it to a server, so no log holds it
    address = f"{found['url']}/#token={found['token']}"
    print(address, flush=True)
    if browser and not webbrowser.open(address):
        err_console.print("no browser could be started here: open the address above in one", highlight=False)


def register(app: typer.Typer) -> None:
    """Attach the commands to the root app."""
    app.command()(serve)
    app.command()(ui)

"""`yurudb mcp`: the history as an MCP server over stdio, for Claude Code (the `mcp` extra)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from typing import Annotated

import typer

from ._edge import console, err_console, esc, fail, options, run


def mcp(
    ctx: typer.Context,
    install: Annotated[bool, typer.Option("--install", help="Print the `claude mcp add` line that gives Claude Code "
                                                            "this server (with --yes: run it).")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="With --install: add it to Claude Code's settings now.")] = False,
) -> None:
    """Serve the history to Claude over MCP (stdio), read-only: search_sessions, list_sessions, get_messages,
    usage_summary. Every answer cites its session and line; secrets are [REDACTED:kind]."""
    path = options(ctx).path
    try:
        import mcp as _sdk  # noqa: F401
    except ImportError:
        fail("`yurudb mcp` needs the mcp extra: pip install 'yurudb[mcp]'", 1)
    from ..mcp import server

    if yes and not install:
        fail("--yes goes with --install", 2)
    if install:
        line = server.install_command(path if isinstance(path, str) else path.absolute(), sys.executable)
        if not yes:
            console.print(shlex.join(line), highlight=False, soft_wrap=True)
            err_console.print("run that line (or `yurudb mcp --install --yes`) to give Claude Code this server; "
                              "`claude mcp remove yurudb` takes it away", highlight=False)
            return
        if shutil.which("claude") is None:
            fail(f"`claude` is not on PATH; run this where it is: {esc(shlex.join(line))}", 1)
        done = subprocess.run(line, capture_output=True, text=True, check=False)  # its failure is said below
        if done.returncode != 0:
            fail(f"claude mcp add failed: {esc((done.stderr or done.stdout).strip())}", 1)
        console.print("added: Claude Code now has the yurudb MCP server (user scope)", highlight=False)
        return
    if not isinstance(path, str) and not path.is_file():  # a server's database: the store says if it is not one
        fail(f"no database at {esc(path)} (nothing to serve; `yurudb sync` makes one)", 2)
    run(server.serve(path), interrupted=lambda: "stopped")


def register(app: typer.Typer) -> None:
    """Attach the command to the root app."""
    app.command()(mcp)

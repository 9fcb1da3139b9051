"""What every command shares: the --db option, running a coroutine, and turning errors into exit codes."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console

from .. import paths
from ..errors import DatabaseError, NotFoundError, ValidationError, YurudbError
from ..store import Store

T = TypeVar("T")
console = Console()
err_console = Console(stderr=True)


@dataclass
class Options:
    """Options given before the command name."""

    db: Path | None = None

    @property
    def path(self) -> Path:
        """The database path this invocation works on."""
        return paths.resolve(self.db)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one red line and exit with `code` (1: failure, 2: bad usage or input)."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; yurudb errors become one line and a non-zero exit."""
    try:
        return asyncio.run(coro)
    except (ValidationError, NotFoundError) as exc:
        fail(str(exc), 2)
    except YurudbError as exc:
        fail(str(exc), 1)
    except OSError as exc:
        fail(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), 1)


def options(ctx: typer.Context) -> Options:
    """The root options of this invocation."""
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Options) else Options()


def print_json(data: Any) -> None:
    """Machine-readable output for scripts (no colour, no wrapping)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


@asynccontextmanager
async def opened(path: Path) -> AsyncIterator[Store]:
    """The store for one command; a degraded start is an error here (a command line is not the app)."""
    from .. import open as open_store

    async with open_store(path) as store:
        if store.state == "degraded":
            raise DatabaseError(f"database unavailable: {store.recovery.error or 'see the log'}")
        yield store

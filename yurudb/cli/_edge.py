"""What every command shares: the --db option, running a coroutine, and turning errors into exit codes."""

from __future__ import annotations

import os
import re
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
import contextlib
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

from .. import errors, paths
from ..errors import DatabaseError, NotFoundError, ValidationError, YurudbError

if TYPE_CHECKING:
    from rich.console import Console

    from ..store.store import Store

T = TypeVar("T")
class _Lazy:
    """A rich Console made on first use: a command that prints plain text never loads rich's console."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def real(self) -> Console:
        """The Console itself (for rich objects that take one)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real(), name)


# C0 controls but tab and newline, DEL and C1: what moves a terminal's cursor, sets its title, colours
# or hides text, or makes a hyperlink. Text from transcripts (tool output, fetched pages) is untrusted.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """Text as it may reach a terminal or a pipe: every control character shown escaped (ESC as \\x1b)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def esc(value: object) -> str:
    """A value from a transcript or a person, for a rich markup string: shown exactly, never read as markup."""
    from rich.markup import escape

    return escape(visible(str(value)))


# Piped or redirected output gets every value whole (no terminal width to fit); a terminal wraps.
console = _Lazy() if sys.stdout.isatty() else _Lazy(width=100_000)
err_console = _Lazy(stderr=True)


@dataclass
class Options:
    """Options given before the command name."""

    db: str | Path | None = None

    @property
    def server(self) -> str | None:
        """The postgresql:// URL this invocation works on (--db, else $YURUDB_URL when no --db is given)."""
        if self.db is None:
            url = os.environ.get("YURUDB_URL")
            return url if paths.is_server(url) else None
        return str(self.db) if paths.is_server(str(self.db)) else None

    @property
    def path(self) -> Any:
        """The database this invocation works on: a file's path (a --db that cannot be one is bad input, said
        here), or a server's postgresql:// URL, which `yurudb.open` takes as it takes a path."""
        if self.server is not None:
            return self.server
        path = paths.resolve(self.db)
        if path.is_dir():
            fail(f"{path} is a folder, not a database file (--db takes the path of a file)", 2)
        if self.db is not None and not path.parent.is_dir():
            fail(f"--db {path}: the folder {path.parent} does not exist", 2)
        return path


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one red line and exit with `code` (1: failure, 2: bad usage or input)."""
    err_console.print(f"[bold red]error:[/] {esc(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def run(coro: Coroutine[Any, Any, T], *, interrupted: Callable[[], str] | None = None) -> T:
    """Run a command's coroutine; every error becomes one line and a non-zero exit, never a traceback.

    Ctrl-C cancels the coroutine (its `finally` blocks commit or roll back) and exits 130 with one
    line: `interrupted()` says what was kept."""
    import asyncio  # not for --help: asyncio is a fifth of the command's import time

    with edge(interrupted):
        return asyncio.run(coro)


@contextmanager
def edge(interrupted: Callable[[], str] | None = None) -> Iterator[None]:
    """Where exceptions become exit codes: 2 for bad input, 1 for failures, 130 for Ctrl-C."""
    try:
        yield
    except (typer.Exit, typer.Abort, typer.TyperException):
        raise
    except (ValidationError, NotFoundError) as exc:
        fail(str(exc), 2)
    except YurudbError as exc:
        fail(str(exc), 1)
    except OSError as exc:
        fail(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), 1)
    except sqlite3.Error as exc:
        fail(str(errors.classify(exc)), 1)
    except KeyboardInterrupt:
        said = "interrupted"
        if interrupted is not None:
            with contextlib.suppress(Exception):
                said = interrupted()
        err_console.print(f"[yellow]{esc(said)}[/]", highlight=False, soft_wrap=True)
        raise typer.Exit(130) from None
    except Exception as exc:  # a bug: still one line (YURUDB_DEBUG=1 shows the traceback)
        if os.environ.get("YURUDB_DEBUG"):
            raise
        fail(f"unexpected {type(exc).__name__}: {exc} (set YURUDB_DEBUG=1 for details)", 1)


def check_output(path: Path) -> None:
    """An output path that cannot work (a directory, a missing folder) is bad input, said before any work."""
    if path.is_dir():
        fail(f"-o {path} is a directory; give a file name", 2)
    if not path.parent.is_dir():
        fail(f"-o {path}: the folder {path.parent} does not exist", 2)


def options(ctx: typer.Context) -> Options:
    """The root options of this invocation."""
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Options) else Options()


# Past this many rows a rich table costs seconds to lay out (10,000 sessions: 3.8 s); plain text is instant.
RICH_TABLE_MAX_ROWS = 1_000


def print_table(title: str, columns: list[str], rows: list[list[str]], *, right: frozenset[str] = frozenset(),
                total: list[str] | None = None) -> None:
    """A table with every value whole: rich (wrapping) on a terminal, aligned plain text when piped or long."""
    if sys.stdout.isatty() and len(rows) <= RICH_TABLE_MAX_ROWS:
        from rich.table import Table

        table = Table(title=esc(title))
        for col in columns:
            table.add_column(col, overflow="fold", justify="right" if col in right else "left")
        for row in rows:
            table.add_row(*(esc(v) for v in row))
        if total is not None:
            table.add_section()
            table.add_row(*(esc(v) for v in total))
        console.print(table)
        return
    title = visible(title)
    if _CONTROL.search("".join(v for row in rows for v in row)):  # one pass over all; a cell each only then
        rows = [[visible(v) for v in row] for row in rows]
    body = [columns, *rows, *([total] if total is not None else [])]
    widths = [max(len(r[i]) for r in body) for i in range(len(columns))]
    lines = [title]
    for row in body:
        cells = [v.rjust(w) if c in right else v.ljust(w) for v, w, c in zip(row, widths, columns, strict=True)]
        lines.append("  ".join(cells).rstrip())
    sys.stdout.write("\n".join(lines) + "\n")


def print_json(data: Any) -> None:
    """Machine-readable output for scripts (no colour, no wrapping)."""
    import json

    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


@contextmanager
def backfill_progress() -> Iterator[Callable[[int, int], None]]:
    """`report(done, total)` for a progress bar (stderr) while messages are indexed (a revision, reindex)."""
    bar: Any = None
    task: Any = None

    def report(done: int, total: int) -> None:
        nonlocal bar, task
        if bar is None:
            from rich.progress import Progress

            bar = Progress(console=err_console.real())
            bar.start()
            task = bar.add_task("indexing messages for search", total=total)
        bar.update(task, completed=done)

    try:
        yield report
    finally:
        if bar is not None:
            bar.stop()


def rule(title: str) -> None:
    """A heading line: rich's rule on a terminal, plain text when piped (no terminal width to fill)."""
    if sys.stdout.isatty():
        console.rule(title)
    else:
        console.print(f"── {title} ──", highlight=False)


@asynccontextmanager
async def opened(path: Path, *, read_only: bool = False) -> AsyncIterator[Store]:
    """The store for one command; a degraded start is an error here (a command line is not the app).

    Read-only commands open with read_only=True: nothing is repaired, migrated or created.
    """
    from .. import open as open_store

    # Only the app's own store and `yurudb repair` repair a database; a command reports the damage.
    from ..events import RecoveryProgress

    with backfill_progress() as report:  # opening an older database upgrades it: a revision may index messages
        store = await open_store(path, read_only=read_only, repair=False, daily_backup=not read_only,
                                 on_event=lambda e: report(e.done, e.total)
                                 if isinstance(e, RecoveryProgress) and e.total is not None else None)
    async with store:
        if store.state == "degraded":
            raise DatabaseError(f"database unavailable: {store.recovery.error or 'see the log'}")
        yield store


EXAMPLE_SESSION = "5f0c8e2a-7d3b-4c1e-9a6f-0b2d4e6f8a10"  # the bundled example's Claude session id


def example_notice(db: Path) -> None:
    """Say so when an older yurudb synced the bundled example into this archive (it is never removed unasked)."""
    found = peek(db, lambda conn: conn.execute("SELECT id FROM sessions WHERE id = ? OR claude_session_id = ? "
                                               "LIMIT 1", (EXAMPLE_SESSION, EXAMPLE_SESSION)).fetchone(), None)
    if found:
        err_console.print(f"[dim]this archive holds the bundled example session ({esc(found[0])}), synced by an "
                          f"older yurudb: `yurudb delete {esc(found[0])} --yes` removes it[/]", highlight=False,
                          soft_wrap=True)


def quick_read(path: Path, look: Callable[[sqlite3.Connection], T]) -> tuple[bool, T | None]:
    """`look(connection)` on a plain read-only connection, when that reads what the store would: a yurudb
    file at the head revision, with no spill journal to replay and no suspect mark. (False, None)
    otherwise, and on any SQLite error: the caller then opens the store, which says what is wrong.

    A listing then costs the query, not the store's import (pydantic, asyncio, the write path)."""
    from ..backends.sqlite import integrity
    from ..backends.sqlite.revision import HEAD, revision_of

    if isinstance(path, str):  # a server: the store reads it (its journal may hold writes to replay)
        return False, None
    journal = path.with_name(path.name + ".journal")  # degraded.fallback.journal_path, without its imports
    if not path.is_file() or journal.exists() or any(path.parent.glob(f"{journal.name}.unreplayed-*")) \
            or integrity.suspect_path(path).exists():
        return False, None
    try:
        if revision_of(path) != HEAD:
            return False, None
    except sqlite3.Error:
        return False, None
    missing = object()
    found = peek(path, look, missing)
    return (False, None) if found is missing else (True, found)  # type: ignore[return-value]


def _peek_server(url: str, look: Callable[[Any], T], default: T) -> T:
    from ..backends.postgres.dialect import statement
    from ..backends.postgres.engine import connect_sync

    class Reading:
        """The `execute` of a sqlite3 connection, said in PostgreSQL's dialect."""

        def __init__(self, conn: Any) -> None:
            self.conn = conn

        def execute(self, sql: str, params: Any = ()) -> Any:
            st = statement(sql)
            return self.conn.execute(st.sql, st.params(tuple(params)))

    try:
        conn = connect_sync(url, decode_text=True)
    except Exception:  # the store, opened next, says what is wrong
        return default
    try:
        conn.execute("SET default_transaction_read_only = on")
        return look(Reading(conn))
    except Exception:  # not a yurudb database yet (no tables): as for a file that is not there
        return default
    finally:
        conn.close()


def peek(path: Path, look: Callable[[sqlite3.Connection], T], default: T) -> T:
    """`look(connection)` on a plain read-only connection (writes nothing, creates nothing); `default`
    when there is no file or SQLite cannot read it."""
    from contextlib import closing

    from ..backends.sqlite.engine import read_only_uri

    if isinstance(path, str):  # a PostgreSQL server, read in a read-only transaction
        return _peek_server(path, look, default)
    if not path.is_file():
        return default
    try:
        with closing(sqlite3.connect(read_only_uri(path), uri=True)) as conn:
            return look(conn)
    except sqlite3.Error:
        return default

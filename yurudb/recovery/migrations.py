"""Running the Alembic revisions programmatically, from inside a running event loop."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from alembic import command

from ..backends.sqlite.engine import BUSY_TIMEOUT_MS, Durability, create_engine
from ..backends.sqlite.revision import revision_of, stamped_revision  # noqa: F401 - part of this module's API
from ..errors import MigrationError, UnknownRevisionError

Progress = Callable[[int, int], None]
_PACKAGE = Path(__file__).resolve().parent.parent  # the yurudb package folder


def script_location() -> Path:
    """The Alembic scripts: bundled in the wheel, or the repository's `alembic/` in a checkout."""
    for candidate in (_PACKAGE / "_alembic", _PACKAGE.parent / "alembic"):
        if (candidate / "env.py").is_file():
            return candidate
    raise MigrationError("the Alembic scripts are missing from this installation")


def alembic_config(url: str | None = None) -> Config:
    """An Alembic Config that needs no alembic.ini."""
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location()))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


@functools.cache
def head_revision() -> str:
    """The newest revision in the scripts (read once per process: parsing them costs ms at every open)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise MigrationError("no Alembic revision found")
    return head


def check_revision(revision: str) -> None:
    """UnknownRevisionError unless `revision` names a revision (or head, base, a relative step)."""
    try:
        ScriptDirectory.from_config(alembic_config()).get_revisions(revision)
    except Exception as exc:  # CommandError, ResolutionError, ValueError for malformed names
        raise UnknownRevisionError(f"no schema revision {revision!r} (see `yurudb migrate history`)") from exc


def history() -> list[tuple[str, str | None, str]]:
    """Every revision, newest first: (revision, down_revision, message)."""
    scripts = ScriptDirectory.from_config(alembic_config())
    return [
        (str(s.revision), s.down_revision if isinstance(s.down_revision, str) else None, s.doc or "")
        for s in scripts.walk_revisions()
    ]


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (None for a blank database)."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


def _run(connection: Connection, action: str, revision: str, progress: Progress | None = None) -> None:
    cfg = alembic_config()
    # env.py picks this up instead of making an engine of its own (we are inside an event loop).
    cfg.attributes["connection"] = connection
    # a revision that indexes messages reports (done, total) here
    cfg.attributes["progress"] = progress
    if action == "upgrade":
        command.upgrade(cfg, revision)
    else:
        command.downgrade(cfg, revision)


async def migrate(
    engine: AsyncEngine, action: str = "upgrade", revision: str = "head", progress: Progress | None = None
) -> str | None:
    """Upgrade or downgrade to `revision` in one transaction; returns the new current revision."""
    if action not in ("upgrade", "downgrade"):
        raise MigrationError(f"unknown migration action {action!r}")
    check_revision(revision)
    try:
        async with engine.connect() as conn:
            # Batch migrations recreate tables; with foreign keys on, dropping the old parent
            # table would cascade-delete every child row. The pragma is a no-op inside a
            # transaction, so it goes straight to the driver before BEGIN, and the keys are
            # checked before COMMIT instead.
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            await raw.execute("PRAGMA foreign_keys = OFF")
            try:
                async with conn.begin():
                    await conn.run_sync(_run, action, revision, progress)
                    bad = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).fetchall()
                    if bad:
                        raise MigrationError(f"migration left {len(bad)} broken foreign keys")
                    return await conn.run_sync(_current)
            finally:
                await raw.execute("PRAGMA foreign_keys = ON")
    except MigrationError:
        raise
    except Exception as exc:  # alembic raises CommandError, driver errors, KeyError for bad revisions
        raise MigrationError(f"{action} to {revision} failed: {exc}") from exc


def _run_url(url: str, action: str, revision: str, progress: Progress | None) -> str | None:
    """Migrate a server database in one transaction, holding a lock that a second migrator waits on."""
    from sqlalchemy import create_engine as sync_engine
    from sqlalchemy import text
    from sqlalchemy.pool import NullPool

    engine = sync_engine(sqlalchemy_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn, conn.begin():
            # two stores starting at once on a blank server: the second waits, then finds it at head
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('yurudb migrate'))"))
            _run(conn, action, revision, progress)
            return _current(conn)
    finally:
        engine.dispose()


def sqlalchemy_url(url: str) -> str:
    """A postgresql:// URL as SQLAlchemy's psycopg dialect names it."""
    scheme, rest = url.split("://", 1)
    return f"postgresql+psycopg://{rest}" if scheme in ("postgresql", "postgres") else url


async def run_url(url: str, action: str = "upgrade", revision: str = "head",
                  progress: Progress | None = None) -> str | None:
    """Upgrade or downgrade a PostgreSQL database; returns the new revision."""
    import asyncio

    if action not in ("upgrade", "downgrade"):
        raise MigrationError(f"unknown migration action {action!r}")
    check_revision(revision)
    try:
        return await asyncio.to_thread(_run_url, url, action, revision, progress)
    except MigrationError:
        raise
    except Exception as exc:  # alembic's CommandError, the driver's errors
        raise MigrationError(f"{action} to {revision} failed: {exc}") from exc


def revision_of_url(url: str) -> str | None:
    """The revision a PostgreSQL database is at (None: blank), read without SQLAlchemy."""
    from ..backends.postgres.engine import connect_sync

    conn = connect_sync(url)
    try:
        if conn.execute("SELECT to_regclass('alembic_version')").fetchone()[0] is None:
            return None
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None
    finally:
        conn.close()


async def run(
    path: Path, action: str = "upgrade", revision: str = "head", *, durability: Durability = "full",
    busy_timeout_ms: int = BUSY_TIMEOUT_MS, progress: Progress | None = None,
) -> str | None:
    """Create a maintenance engine on `path`, migrate it, dispose of it; returns the new revision.

    `progress(done, total)` hears how far a revision that indexes messages has got.
    """
    blank = not path.exists() or path.stat().st_size == 0 or _no_tables(path)
    engine = create_engine(path, role="maintenance", durability=durability, busy_timeout_ms=busy_timeout_ms)
    try:
        new = await migrate(engine, action, revision, progress)
    finally:
        await engine.dispose()
    if blank or _mostly_free(path):
        # Later revisions rebuild tables that earlier ones made: a new database starts without
        # the free pages that leaves (it is empty, so this costs nothing), and one whose migration
        # freed most of its pages (0007 moves every archived line into runs a fraction of the size)
        # gives them back instead of staying the size it was.
        conn = sqlite3.connect(path, timeout=busy_timeout_ms / 1000)
        try:
            conn.execute("VACUUM")
        except sqlite3.OperationalError:
            pass  # another process is using it, or no room for the copy: the free pages are only space
        finally:
            conn.close()
    return new


def _mostly_free(path: Path) -> bool:
    """Whether a tenth or more of the database's pages are free (worth a copy of the rest to give back, once,
    after a migration: a fifth left 0007's freed pages in place when a later revision added two)."""
    conn = sqlite3.connect(path)
    try:
        free, pages = (conn.execute(f"PRAGMA {p}").fetchone()[0] for p in ("freelist_count", "page_count"))
        return pages > 0 and free * 10 >= pages
    except sqlite3.DatabaseError:
        return False
    finally:
        conn.close()


def _no_tables(path: Path) -> bool:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0
    except sqlite3.DatabaseError:
        return False
    finally:
        conn.close()

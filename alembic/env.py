"""Alembic environment: async (aiosqlite), batch mode for SQLite, shared connection when given one."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from sqlalchemy import Connection

from alembic import context
from yurudb.backends.sqlite.engine import create_engine, database_url
from yurudb.backends.sqlite.schema import not_full_text
from yurudb.paths import default_db_path, prepare
from yurudb.tables.entities import metadata

config = context.config
if config.config_file_name is not None and config.attributes.get("connection") is None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _configure(**kwargs: object) -> None:
    # SQLite cannot ALTER most things; batch mode recreates the table instead.
    context.configure(target_metadata=metadata, render_as_batch=True, compare_type=True,
                      include_name=not_full_text, **kwargs)


def do_run_migrations(connection: Connection) -> None:
    """Run the revisions on a sync connection (inside the caller's transaction if it has one)."""
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    """Open our own engine (the alembic command line) and run the revisions through it."""
    url = config.get_main_option("sqlalchemy.url")
    path = url.split(":///", 1)[1] if url else str(prepare(default_db_path()))
    engine = create_engine(path, role="maintenance")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    _configure(url=config.get_main_option("sqlalchemy.url") or database_url(default_db_path()),
               literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif (shared := config.attributes.get("connection")) is not None:
    # yurudb.migrations passes its connection: we are already inside a running event loop.
    do_run_migrations(shared)
else:
    asyncio.run(run_async_migrations())

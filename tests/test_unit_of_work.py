"""The unit of work commits only when told to."""

from __future__ import annotations

from pathlib import Path

import pytest

from yurudb import paths
from yurudb.backends.sqlite.connection import ThreadConnection
from yurudb.backends.sqlite.engine import create_engine
from yurudb.backends.sqlite.transaction import Tx, UnitOfWork
from yurudb.recovery import migrations

INSERT = "INSERT INTO sessions (id, name, created_at, updated_at) VALUES (?, ?, 1, 1)"


@pytest.fixture
async def conn(db_path: Path):
    engine = create_engine(paths.prepare(db_path), role="maintenance")
    await migrations.migrate(engine)
    await engine.dispose()
    conn = ThreadConnection(db_path)
    yield conn
    await conn.close()


def insert(tx: Tx, *rows: tuple[str, str]) -> None:
    tx.executemany(INSERT, list(rows))


def count(tx: Tx) -> int:
    return tx.execute("SELECT COUNT(*) FROM sessions")[0][0]


async def committed_count(conn: ThreadConnection) -> int:
    return await conn.call(lambda c: c.execute("SELECT COUNT(*) FROM sessions").fetchone()[0])


async def test_rolls_back_uncommitted_work_by_default(conn) -> None:
    async with UnitOfWork(conn) as uow:
        await uow.run(insert, ("a", "x"))
        assert await uow.run(count) == 1
    assert await committed_count(conn) == 0


async def test_rolls_back_on_error(conn) -> None:
    with pytest.raises(RuntimeError):
        async with UnitOfWork(conn) as uow:
            await uow.run(insert, ("a", "x"))
            raise RuntimeError("boom")
    assert await committed_count(conn) == 0


async def test_commits_when_told_to(conn) -> None:
    async with UnitOfWork(conn) as uow:
        await uow.run(insert, ("a", "x"), ("b", "y"))
        await uow.commit()
    assert await committed_count(conn) == 2


async def test_select_in_chunks_past_the_parameter_limit(conn) -> None:
    def work(tx: Tx) -> int:
        insert(tx, *[(f"s{i}", "x") for i in range(2000)])
        return len(tx.select_in("SELECT id FROM sessions WHERE id IN ({})", [f"s{i}" for i in range(2500)]))

    async with UnitOfWork(conn) as uow:
        assert await uow.run(work) == 2000
        await uow.commit()

"""The unit of work commits only when told to."""

from __future__ import annotations

from pathlib import Path

import pytest

from yurudb import migrations, paths
from yurudb.engine import create_engine
from yurudb.unit_of_work import UnitOfWork

INSERT = "INSERT INTO sessions (id, name, created_at, updated_at) VALUES (?, ?, 1, 1)"


@pytest.fixture
async def engine(db_path: Path):
    engine = create_engine(paths.prepare(db_path), role="writer")
    await migrations.migrate(engine)
    yield engine
    await engine.dispose()


async def count(engine) -> int:
    async with engine.connect() as conn:
        return (await conn.exec_driver_sql("SELECT COUNT(*) FROM sessions")).scalar()


async def test_rolls_back_uncommitted_work_by_default(engine) -> None:
    async with engine.connect() as conn:
        async with UnitOfWork(conn) as uow:
            await uow.execute(INSERT, ("a", "x"))
    assert await count(engine) == 0


async def test_rolls_back_on_error(engine) -> None:
    async with engine.connect() as conn:
        with pytest.raises(RuntimeError):
            async with UnitOfWork(conn) as uow:
                await uow.execute(INSERT, ("a", "x"))
                raise RuntimeError("boom")
    assert await count(engine) == 0


async def test_commits_when_told_to(engine) -> None:
    async with engine.connect() as conn:
        async with UnitOfWork(conn) as uow:
            await uow.executemany(INSERT, [("a", "x"), ("b", "y")])
            await uow.commit()
    assert await count(engine) == 2


async def test_select_in_chunks_past_the_parameter_limit(engine) -> None:
    async with engine.connect() as conn:
        async with UnitOfWork(conn) as uow:
            await uow.executemany(INSERT, [(f"s{i}", "x") for i in range(2000)])
            rows = await uow.select_in("SELECT id FROM sessions WHERE id IN ({})", [f"s{i}" for i in range(2500)])
            await uow.commit()
    assert len(rows) == 2000

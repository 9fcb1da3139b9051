"""Every pragma yurudb relies on is in force on writer and reader connections alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from yurudb import paths
from yurudb.backends.sqlite.engine import BUSY_TIMEOUT_MS, create_engine
from yurudb.errors import ValidationError

SYNCHRONOUS = {"full": 2, "normal": 1}


async def read_pragmas(path: Path, role: str, durability: str) -> dict[str, object]:
    engine = create_engine(paths.prepare(path), role=role, durability=durability)
    try:
        async with engine.connect() as conn:
            out = {}
            for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous"):
                out[name] = (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar()
            return out
    finally:
        await engine.dispose()


@pytest.mark.parametrize("role", ["reader", "maintenance"])
@pytest.mark.parametrize("durability", ["full", "normal"])
async def test_every_connection_gets_the_pragmas(db_path: Path, role: str, durability: str) -> None:
    got = await read_pragmas(db_path, role, durability)
    assert got == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": BUSY_TIMEOUT_MS,
        "synchronous": SYNCHRONOUS[durability],
    }


async def test_reader_pool_connections_all_get_the_pragmas(db_path: Path) -> None:
    engine = create_engine(paths.prepare(db_path), role="reader", pool_size=3)
    try:
        conns = [await engine.connect() for _ in range(3)]
        for conn in conns:
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
            assert (await conn.exec_driver_sql("PRAGMA synchronous")).scalar() == 2
        for conn in conns:
            await conn.close()
    finally:
        await engine.dispose()


def test_unknown_durability_is_rejected(db_path: Path) -> None:
    with pytest.raises(ValidationError):
        create_engine(db_path, durability="sometimes")  # type: ignore[arg-type]


PRAGMAS = ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")


def expected(durability: str) -> dict[str, object]:
    return {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": BUSY_TIMEOUT_MS,
            "synchronous": SYNCHRONOUS[durability]}


@pytest.mark.parametrize("durability", ["full", "normal"])
async def test_the_stores_writer_and_readers_get_the_pragmas(db_path: Path, durability: str) -> None:
    import yurudb

    async with yurudb.open(db_path, durability=durability, readers=3, daily_backup=False) as store:
        seen = await store.connection_pragmas(PRAGMAS + ("wal_autocheckpoint",))
        writer = seen["writer"]
        assert writer.pop("wal_autocheckpoint") == 0  # checkpoints are the checkpointer's job
        assert writer == expected(durability)
        readers = [{k: v for k, v in r.items() if k != "wal_autocheckpoint"} for r in seen["readers"]]
        assert len(readers) == 3
        assert all(r == expected(durability) for r in readers)

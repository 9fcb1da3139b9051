"""Every test gets a real SQLite file under tmp_path, and YURUDB_PATH points at it.

`--backend postgresql` (or YURUDB_TEST_BACKEND=postgresql) runs the library tests' `store` on a
fresh database of a real PostgreSQL server instead: the one YURUDB_TEST_PG names (`.ci/run`
starts one), else a throwaway one these tests start themselves; tests marked `sqlite_only` (the
file's own faults, pragmas, backups) are skipped there.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

SHARED_TRANSCRIPTS = Path(__file__).resolve().parents[2] / "shared" / "data" / "claude-transcripts"


@pytest.fixture(autouse=True)
def db_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh database path in a folder of its own for this test, also exported as YURUDB_PATH
    (the command takes a --db whose folder is missing for bad input)."""
    path = tmp_path / "yurudb" / "yurucode.db"
    path.parent.mkdir()
    monkeypatch.setenv("YURUDB_PATH", str(path))
    # the machine a sync reads files on (never a machine-id file in the real home); a test of two
    # machines gives each process its own
    monkeypatch.setenv("YURUDB_MACHINE", "test-machine")
    return path


@pytest.fixture
def shared_transcripts() -> Path:
    """The real Claude Code transcripts beside the repository; skips when they are absent."""
    if not SHARED_TRANSCRIPTS.is_dir():
        pytest.skip("../shared/data/claude-transcripts is not present")
    return SHARED_TRANSCRIPTS


@pytest.fixture
async def store(target: str | Path):
    """An open store on this test's database (SQLite, or PostgreSQL with --backend postgresql)."""
    import yurudb

    async with yurudb.open(target) as s:
        yield s



def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--backend", choices=("sqlite", "postgresql"),
                     default=os.environ.get("YURUDB_TEST_BACKEND", "sqlite"),
                     help="the engine the library tests' store runs on")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--backend") != "postgresql":
        return
    skip = pytest.mark.skip(reason="SQLite's own (the file, its pragmas and faults): not run with --backend postgresql")
    for item in items:
        if item.get_closest_marker("sqlite_only"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def backend(pytestconfig: pytest.Config) -> str:
    """The engine this run's `store` fixture opens."""
    return str(pytestconfig.getoption("--backend"))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A PostgreSQL server's URL (its `postgres` database): YURUDB_TEST_PG's, or a throwaway one started here."""
    given = os.environ.get("YURUDB_TEST_PG")
    if given:
        yield given
        return
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (the postgres extra)")
    from pgserver import Server, bin_dir

    if bin_dir() is None:
        pytest.skip("PostgreSQL is not installed here (apt-get install -y postgresql failed or was not run)")
    try:
        server = Server().init().start()
    except Exception as exc:  # e.g. no postgres user to run it as
        pytest.skip(f"a throwaway PostgreSQL server could not be started: {exc}")
    try:
        yield server.url
    finally:
        server.remove()


_TEMPLATES: dict[str, str] = {}  # server -> a database at the head revision, copied for each test


def fresh_database(server: str, *, blank: bool = False) -> str:
    """A new database on the server, at the head revision (a copy of one migrated once per run: each
    test would otherwise pay Alembic's upgrade), or `blank`; its URL."""
    import psycopg

    template = "" if blank else f" TEMPLATE {_template(server)}"
    name = f"yurudb_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}{template}")
    return server.rsplit("/", 1)[0] + "/" + name


def _template(server: str) -> str:
    if server not in _TEMPLATES:
        import asyncio

        from yurudb.recovery import migrations

        url = fresh_database(server, blank=True)
        # on a thread of its own: the first test to need it may be inside a running event loop
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, migrations.run_url(url)).result()
        _TEMPLATES[server] = url.rsplit("/", 1)[1]
    return _TEMPLATES[server]


def drop_database(server: str, url: str) -> None:
    """Drop a test's database (its connections are closed first)."""
    import psycopg

    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh PostgreSQL database for this test, at the head revision with nothing in it (dropped after it)."""
    url = fresh_database(pg_server)
    try:
        yield url
    finally:
        drop_database(pg_server, url)


@pytest.fixture
def pg_blank_url(pg_server: str) -> Iterator[str]:
    """A fresh PostgreSQL database with no schema at all (for the migrations' own tests)."""
    url = fresh_database(pg_server, blank=True)
    try:
        yield url
    finally:
        drop_database(pg_server, url)


@pytest.fixture
def target(backend: str, db_path: Path, request: pytest.FixtureRequest) -> str | Path:
    """What this run's store opens: the test's SQLite file, or a fresh PostgreSQL database."""
    if backend == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return db_path

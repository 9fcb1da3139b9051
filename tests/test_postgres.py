"""PostgreSQL: the schema in step with the models, one query language on both engines, the archive
byte-exact from a server, two machines syncing at once, and a server stopped and started mid-write.

Each test runs on a real server: YURUDB_TEST_PG's (`.ci/run` starts one), else a throwaway one
(tests/pgserver.py); they skip, saying why, only where PostgreSQL cannot be had.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import yurudb
from yurudb.claude import sync, transcript_files

YURUDB = [sys.executable, "-c", "import sys; from yurudb.cli import main; sys.argv[0] = 'yurudb'; main()"]
SID = "0b7e3c7a-2a35-4a4e-9d11-6a1d4c0f9e21"


def _line(i: int, sid: str = SID, text: str | None = None, **extra: object) -> bytes:
    kind = "user" if i % 2 == 0 else "assistant"
    body = text or f"line {i} of the conversation about parseConfig"
    message = {"role": kind, "content": body if kind == "user" else [{"type": "text", "text": body}]}
    if kind == "assistant":
        message |= {"id": f"msg_{sid[:8]}_{i}", "model": "claude-sonnet-4-5",
                    "usage": {"input_tokens": 10 + i, "output_tokens": 5}}
    return json.dumps({"type": kind, "uuid": f"{sid[:8]}-{i:04d}", "sessionId": sid, "cwd": "/work/repo",
                       "timestamp": f"2026-12-01T10:{i // 60:02d}:{i % 60:02d}.000Z", "message": message, **extra},
                      separators=(",", ":")).encode()


def test_the_revisions_build_what_the_models_say_on_postgresql(pg_blank_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    from yurudb.recovery import migrations
    from yurudb.tables.entities import metadata

    assert asyncio.run(migrations.run_url(pg_blank_url)) == migrations.head_revision()

    def ours(name: str | None, type_: str, parent: object) -> bool:
        # what PostgreSQL has beyond the models, by design: the tsvector index and SQLite's rowid as a column
        return not (name in ("search_index", "idx_search_index_body", "rowid", "idx_messages_rowid", "alembic_version"))

    engine = create_engine(migrations.sqlalchemy_url(pg_blank_url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": ours})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_migrate_upgrades_downgrades_and_reports_a_server_database(pg_blank_url: str) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*YURUDB, "--db", pg_blank_url, *args], capture_output=True, check=False,
                              text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})

    assert "<base>" in cli("migrate", "current").stdout
    assert cli("migrate", "upgrade").returncode == 0
    assert "up to date" in cli("migrate", "current").stdout
    assert cli("migrate", "downgrade", "0012_secrets").returncode == 0
    behind = cli("migrate", "current").stdout
    assert "0012_secrets" in behind and "behind" in behind
    assert cli("migrate", "upgrade").returncode == 0
    bad = cli("migrate", "upgrade", "no-such-revision")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


CORPUS = [
    "please refactor the parseConfig helper in config.py",
    "The getUserName function returns None for guests",
    "HTTPServer listens on port 8080; see tests/test_server.py",
    "naïve café résumé: accents fold",
    "日本語のテキストを検索する",
    "a quick brown fox jumps over the lazy dog",
    "the dog was lazy, the fox was quick",
    "unrelated message about databases and PostgreSQL",
]
QUERIES = ["refactor", "parseconfig", "ParseConfig", "UserName", "getUserName", "http", "server", "8080",
           "tests", "cafe", "resume", "naive", "日本", "検索", "テキスト", '"quick brown"', '"lazy dog"', '"dog lazy"',
           "quick fox", "qui*", "data*", "post*", "nothing-matches-this", "fox -dog", '"the fox"']


async def _hits(where: str | Path) -> dict[str, set[str]]:
    async with yurudb.open(where, daily_backup=False) as store:
        session = await store.create_session("corpus")
        for text in CORPUS:
            await store.append_message(session.id, {"type": "user", "content": text})
        return {q: {h.snippet for h in await store.search(q, limit=50)} for q in QUERIES}


async def test_the_same_query_finds_the_same_messages_on_both_engines(db_path: Path, pg_url: str) -> None:
    on_sqlite, on_postgres = await _hits(db_path), await _hits(pg_url)
    assert on_postgres == on_sqlite
    assert len(on_sqlite["quick fox"]) == 2 and len(on_sqlite['"quick brown"']) == 1  # the corpus does find things


def _projects(home: Path, project: str, lines: list[bytes], sid: str = SID) -> Path:
    folder = home / ".claude" / "projects" / project
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{sid}.jsonl").write_bytes(b"".join(x + b"\n" for x in lines))
    return folder / f"{sid}.jsonl"


async def test_a_synced_archive_comes_back_byte_exact_from_postgresql(tmp_path: Path, pg_url: str) -> None:
    root = tmp_path / ".claude" / "projects"
    main = _projects(tmp_path, "-work-repo", [_line(i) for i in range(40)])
    agent = main.parent / SID / "subagents" / "agent-a1.jsonl"
    agent.parent.mkdir(parents=True)
    agent.write_bytes(_line(100, isSidechain=True) + b"\n" + b'{"torn": \n')  # a line no JSON parser takes
    output = main.parent / SID / "tool-results" / "toolu_01.txt"
    output.parent.mkdir(parents=True)
    output.write_bytes(b"\x00\x01 binary tool output \xff\n")
    async with yurudb.open(pg_url, daily_backup=False) as store:
        report = await sync(store, root)
        assert report.files_read >= 2
        files = await transcript_files(store, SID)
        assert files[f"-work-repo/{SID}.jsonl"] == main.read_bytes()
        assert files[f"-work-repo/{SID}/subagents/agent-a1.jsonl"] == agent.read_bytes()
        assert len(await store.get_messages(SID)) == 40
        again = await sync(store, root)  # nothing new: nothing written twice
        assert again.files_unchanged >= 2 and len(await store.get_messages(SID)) == 40
        usage = await store.usage_summary()
        assert sum(u["tokens_input"] for u in usage) == sum(10 + i for i in range(1, 40, 2))


def _sync_as(home: Path, url: str) -> subprocess.Popen[str]:
    env = {**os.environ, "HOME": str(home), "YURUDB_URL": url, "PYTHONPATH": str(Path(__file__).parents[1])}
    env.pop("YURUDB_PATH", None)
    env.pop("YURUDB_MACHINE", None)  # each home keeps the machine id its first sync makes
    return subprocess.Popen([*YURUDB, "sync"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_two_machines_sync_into_one_database_at_once_each_line_once(tmp_path: Path, pg_url: str) -> None:
    """Two homes (two machines' ~/.claude/projects, other project paths) and one session resumed on both:
    each machine's copy is kept as its own file, byte-exact, and the lines the copies share are one
    message each (the second copy's lines link to the first's)."""
    a, b = tmp_path / "laptop", tmp_path / "desktop"
    shared = [_line(i) for i in range(30)]
    _projects(a, "-home-me-repo", shared)
    _projects(b, "-Users-me-code-repo", shared + [_line(i) for i in range(30, 45)])  # resumed on the desktop
    for n in range(6):  # and sessions of each machine's own
        _projects(a, "-home-me-other", [_line(i, sid=f"aaaaaaaa-0000-0000-0000-{n:012d}") for i in range(200)],
                  sid=f"aaaaaaaa-0000-0000-0000-{n:012d}")
        _projects(b, "-Users-me-else", [_line(i, sid=f"bbbbbbbb-0000-0000-0000-{n:012d}") for i in range(200)],
                  sid=f"bbbbbbbb-0000-0000-0000-{n:012d}")
    runs = [_sync_as(a, pg_url), _sync_as(b, pg_url)]
    outs = [p.communicate(timeout=180) for p in runs]
    for p, (out, err) in zip(runs, outs):
        assert p.returncode == 0, err
        assert "Traceback" not in err and "lock" not in err.lower()

    async def check() -> None:
        async with yurudb.open(pg_url, daily_backup=False) as store:
            assert len(await store.get_messages(SID, limit=None)) == 45  # each line once, the resumed part too
            for n in range(6):
                assert len(await store.get_messages(f"aaaaaaaa-0000-0000-0000-{n:012d}", limit=None)) == 200
                assert len(await store.get_messages(f"bbbbbbbb-0000-0000-0000-{n:012d}", limit=None)) == 200
            machines = {r[0] for r in await store.fetch("SELECT machine FROM transcript_files")}
            kept = {(home / ".yurucode" / "machine-id").read_text().strip() for home in (a, b)}
            assert machines == kept and len(kept) == 2
            files = await transcript_files(store, SID)
            assert files[f"-home-me-repo/{SID}.jsonl"] == b"".join(x + b"\n" for x in shared)
            assert files[f"-Users-me-code-repo/{SID}.jsonl"] == (b / ".claude" / "projects" / "-Users-me-code-repo"
                                                                  / f"{SID}.jsonl").read_bytes()
    asyncio.run(check())


async def test_a_server_crashed_and_restarted_between_writes_loses_nothing_and_the_store_reconnects() -> None:
    """A real fault: the server is stopped as a crash stops it (`pg_ctl -m immediate`, no shutdown
    checkpoint) and started again; every write acknowledged before is there, and the next writes and
    reads reconnect on their own."""
    import psycopg

    pgserver = pytest.importorskip("pgserver")
    if pgserver.bin_dir() is None:
        pytest.skip("PostgreSQL is not installed here (apt-get install -y postgresql failed or was not run)")
    server = pgserver.Server().init().start()
    try:
        async with yurudb.open(server.url, daily_backup=False) as store:
            session = await store.create_session("across a crash")
            acked = [(await store.append_message(session.id, {"type": "user", "content": f"before {i}"})).id
                     for i in range(20)]
            server.stop("immediate")
            server.start()
            acked += [(await store.append_message(session.id, {"type": "user", "content": f"after {i}"})).id
                      for i in range(5)]
            assert store.state == "ready"
            assert [m.id for m in await store.get_messages(session.id)] == acked
            assert len(await store.search("after")) == 5
        with psycopg.connect(server.url) as conn:
            assert {r[0] for r in conn.execute("SELECT id FROM messages")} == set(acked)
    finally:
        server.remove()


def test_read_only_commands_on_a_server_create_nothing_locally(tmp_path: Path, pg_url: str) -> None:
    home = tmp_path / "home"
    _projects(home, "-work-repo", [_line(i) for i in range(4)])
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(Path(__file__).parents[1])}
    env.pop("YURUDB_PATH", None)
    synced = subprocess.run([*YURUDB, "--db", pg_url, "sync"], env=env, capture_output=True, timeout=120, check=False)
    assert synced.returncode == 0
    local = home / ".yurucode"
    import shutil

    shutil.rmtree(local)  # what the sync made (the journal's folder); the reads below must not make it again
    for args in (["sessions"], ["search", "parseConfig"], ["usage"], ["migrate", "current"], ["show", SID]):
        done = subprocess.run([*YURUDB, "--db", pg_url, *args], env=env, capture_output=True, text=True, timeout=120,
                              check=False)
        assert done.returncode == 0, (args, done.stderr)
        assert not local.exists(), args


_WRITER = """
import asyncio, sys
import yurudb

async def main() -> None:
    async with yurudb.open(sys.argv[1], daily_backup=False) as store:
        session = await store.create_session("killed")
        print("session", session.id, flush=True)
        for i in range(100_000):
            m = await store.append_message(session.id, {"type": "user", "content": f"acknowledged {i}"})
            print("acked", m.id, flush=True)  # only after the call returned: the write is durable

asyncio.run(main())
"""


def test_nothing_acknowledged_is_lost_when_the_client_is_killed_and_the_server_crashes() -> None:
    """Real faults, one after the other: SIGKILL the writing client mid-stream, then stop the server as a
    crash does (`pg_ctl -m immediate`: no shutdown checkpoint) and start it again. Every message the
    client was told was saved is there (synchronous_commit on: a commit is on the server's disk)."""
    import signal

    import psycopg

    pgserver = pytest.importorskip("pgserver")
    if pgserver.bin_dir() is None:
        pytest.skip("PostgreSQL is not installed here (apt-get install -y postgresql failed or was not run)")
    server = pgserver.Server().init().start()
    try:
        child = subprocess.Popen([sys.executable, "-c", _WRITER, server.url], stdout=subprocess.PIPE, text=True,
                                 env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
        assert child.stdout is not None
        acked: list[str] = []
        for text in child.stdout:
            kind, value = text.split()
            if kind == "acked":
                acked.append(value)
            if len(acked) >= 300:
                break
        child.send_signal(signal.SIGKILL)
        acked += [text.split()[1] for text in child.stdout if text.startswith("acked")]  # what it said before dying
        child.wait(timeout=30)
        server.stop("immediate")
        server.start()
        with psycopg.connect(server.url) as conn:
            kept = {r[0] for r in conn.execute("SELECT id FROM messages")}
        assert len(acked) >= 300 and set(acked) <= kept
    finally:
        server.remove()


async def test_writes_go_on_while_the_server_is_stopped_mid_write_and_are_replayed_once_it_is_back() -> None:
    """The real server stopped (`pg_ctl -m fast`) while three writers append: the store degrades to the
    memory twin and the spill journal, every save is still acknowledged, and once the server is
    started again everything is replayed into it, once each, in the order it was acknowledged."""
    import psycopg

    from yurudb.events import Degraded, Recovered

    pgserver = pytest.importorskip("pgserver")
    if pgserver.bin_dir() is None:
        pytest.skip("PostgreSQL is not installed here (apt-get install -y postgresql failed or was not run)")
    server = pgserver.Server().init().start()
    events: list[object] = []
    try:
        async with yurudb.open(server.url, daily_backup=False, on_event=events.append) as store:
            sessions = [await store.create_session(f"writer {n}") for n in range(3)]
            acked: dict[str, list[str]] = {s.id: [] for s in sessions}
            stop = asyncio.Event()

            async def writer(sid: str) -> None:
                i = 0
                while not stop.is_set():
                    m = await store.append_message(sid, {"type": "user", "content": f"message {i} of {sid}"})
                    acked[sid].append(m.id)
                    i += 1
                    await asyncio.sleep(0.002)

            tasks = [asyncio.create_task(writer(s.id)) for s in sessions]

            async def until(done: Any, seconds: float = 30.0) -> None:
                deadline = asyncio.get_running_loop().time() + seconds
                while not done():
                    for t in tasks:
                        if t.done():
                            t.result()  # a writer that failed: its error is the test's
                    assert asyncio.get_running_loop().time() < deadline, "timed out"
                    await asyncio.sleep(0.01)

            await until(lambda: sum(map(len, acked.values())) >= 60)
            await asyncio.to_thread(server.stop, "fast")  # mid-write: the writers never pause
            down = sum(map(len, acked.values()))
            await until(lambda: sum(map(len, acked.values())) >= down + 60)
            assert store.state == "degraded"
            held = await store.search("message", limit=5)  # while it is away: what memory holds, said so
            assert held and not held.complete
            await asyncio.to_thread(server.start)
            await until(lambda: store.state == "ready")
            stop.set()
            await asyncio.gather(*tasks)
            assert store.state == "ready"
            for sid, ids in acked.items():
                assert [m.id for m in await store.get_messages(sid, limit=None)] == ids
        assert any(isinstance(e, Degraded) for e in events) and any(isinstance(e, Recovered) for e in events)
        with psycopg.connect(server.url) as conn:
            for sid, ids in acked.items():
                kept = [r[0] for r in conn.execute("SELECT id FROM messages WHERE session_id = %s ORDER BY seq", (sid,))]
                assert kept == ids  # each once, in the order acknowledged
    finally:
        server.remove()


@pytest.mark.parametrize("odd", [{"type": "user", "content": "a NUL \x00 here, and the mark \ufdd0 itself"},
                                 {"type": "assistant", "content": "a lone surrogate in JSON",
                                  "tool_uses": [{"name": "Bash", "input": {"command": "echo \udc00 \\udc00"}}],
                                  "usage": {"note": "x\x00y"}, "metadata": {"k": "\ud800"}}],
                         ids=["nul-in-text", "lone-surrogate-in-json"])
async def test_text_postgresql_cannot_hold_is_kept_exactly_and_found(pg_url: str, odd: dict) -> None:
    """What SQLite keeps and PostgreSQL's types refuse (U+0000 in text, `\\u0000` and lone surrogates in
    jsonb) is kept exactly: each message reads back as written, its batch is saved whole, and its
    words are found."""
    async with yurudb.open(pg_url, daily_backup=False) as store:
        session = await store.create_session("odd text \x00 in a name")
        results = await asyncio.gather(*(store.append_message(session.id, odd if i == 5 else
                                                              {"type": "user", "content": f"good {i}"})
                                         for i in range(10)))
        assert store.state == "ready"
        kept = await store.get_messages(session.id)
        assert [m.id for m in kept] == [r.id for r in results]
        assert kept[5].payload == odd and kept[5].content == odd["content"]
        assert kept[5].tool_uses == odd.get("tool_uses") and kept[5].usage == odd.get("usage")
        assert (await store.get_session(session.id)).name == "odd text \x00 in a name"
        assert [h.message_id for h in await store.search("lone surrogate" if "tool_uses" in odd else "NUL mark")] \
            == [results[5].id]
    async with yurudb.open(pg_url, daily_backup=False) as store:  # and so it is after a restart
        assert (await store.get_messages(session.id))[5].payload == odd


async def test_a_synced_transcript_finds_the_same_lines_on_both_engines(tmp_path: Path, db_path: Path,
                                                                         pg_url: str) -> None:
    """The vectors of synced lines are built beside the parse (in the sync's workers): the same hits as FTS5's."""
    root = tmp_path / ".claude" / "projects"
    _projects(tmp_path, "-work-repo", [_line(i, text=CORPUS[i % len(CORPUS)] + f" turn{i}") for i in range(40)])

    async def hits(where: str | Path) -> dict[str, set[str]]:
        async with yurudb.open(where, daily_backup=False) as store:
            await sync(store, root)
            return {q: {h.message_id for h in await store.search(q, limit=50)} for q in QUERIES + ["turn7", "turn*"]}

    on_sqlite, on_postgres = await hits(db_path), await hits(pg_url)
    assert on_postgres == on_sqlite and on_sqlite["turn7"] and len(on_sqlite["turn*"]) == 40

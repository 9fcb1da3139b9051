"""Seeded fuzz: malformed transcripts, snapshots and API arguments.

What must hold for every case: no traceback (an exception outside `yurudb.errors` is a failure), every
transcript line archived byte-exact, and every rejected input changes nothing.

YURUDB_FUZZ_CASES sets how many cases run in all (a modest default for CI); YURUDB_FUZZ_SEED the
seed the cases are drawn from. A failure names the seed and case that reproduce it.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import string
from pathlib import Path
from typing import Any

import pytest
from helpers import dump
from test_sync_histories import archive
from typer.testing import CliRunner

import yurudb
from yurudb.claude import sync, transcript_files
from yurudb.cli import app
from yurudb.errors import NotFoundError, YurudbError

CASES = int(os.environ.get("YURUDB_FUZZ_CASES", "2000"))
SEED = int(os.environ.get("YURUDB_FUZZ_SEED", "27"))
FILES_PER_PASS = 40  # transcripts synced together: one database, one pass, then a second one
# the share of the cases each kind takes
TRANSCRIPTS, SNAPSHOTS, CALLS = CASES // 2, CASES // 4, CASES - CASES // 2 - CASES // 4

runner = CliRunner()


# ---- values of the wrong kind ------------------------------------------------------------------
def junk(rng: random.Random, depth: int = 0) -> Any:
    """A JSON value of any kind, sometimes odd (huge numbers, NUL, lone surrogates escaped, nesting)."""
    kind = rng.randrange(12 if depth < 3 else 8)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 1, 2**63, -(2**63) - 1, 10**30, 7])
    if kind == 3:
        return rng.choice([0.5, -0.0, 1e308, -1e-308, 3.14])
    if kind == 4:
        return ""
    if kind == 5:
        return "".join(rng.choice(string.printable) for _ in range(rng.randint(1, 30)))
    if kind == 6:
        return rng.choice(["\x00", "a\x00b", "\ud800", "\u202e", "é" * 3, "\r\n", "2026-13-45T99:99:99Z"])
    if kind == 7:
        return "x" * rng.choice([1000, 70_000])
    if kind in (8, 9):
        return [junk(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(["type", "content", "id", "usage", "text", "x"]): junk(rng, depth + 1)
            for _ in range(rng.randint(0, 3))}


def encoded(value: Any, ascii_only: bool = True) -> bytes:
    """JSON bytes; unescaped, a lone surrogate becomes bytes that are not UTF-8 (as a broken writer's are)."""
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


def nested(depth: int) -> str:
    """JSON nested deeper than Python's recursion limit."""
    return '{"a":' * depth + "1" + "}" * depth


# ---- transcripts ---------------------------------------------------------------------------------
def line(rng: random.Random, sid: str, n: int, uuids: list[str]) -> bytes:
    """One transcript line: well formed, or broken in one of the ways files on disk are."""
    good = {"type": rng.choice(["user", "assistant", "system", "summary", "attachment", "x-new-kind"]),
            "sessionId": sid, "uuid": f"{sid[:8]}-{n}", "timestamp": "2026-03-01T10:00:00.000Z",
            "message": {"role": "user", "content": f"line {n} says hello"}}
    kind = rng.randrange(20)
    if kind == 0:  # truncated: a line cut short, with its newline (a crash mid-write, then more lines)
        text = json.dumps(good)
        return text[: rng.randint(1, len(text) - 1)].encode()
    if kind == 1:
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 60))).replace(b"\n", b"")  # not UTF-8
    if kind == 2:
        return encoded(good).replace(b"hello", b"hel\x00lo")  # a raw NUL inside a string
    if kind == 3:
        return encoded(good) + b"\r"  # CRLF
    if kind == 4:
        good["message"]["content"] = "y" * rng.choice([100_000, 600_000])  # huge
        return encoded(good)
    if kind == 5:
        return nested(rng.choice([100, 5000, 50_000])).encode()  # deeply nested
    if kind == 6:
        good["message"]["usage"] = rng.choice(["lots", 12, [], {"input_tokens": "many"}, {"output_tokens": -5}])
    elif kind == 7:
        if rng.random() < 0.5:
            del good["sessionId"]
        else:
            good["sessionId"] = junk(rng)
    elif kind == 8 and uuids:
        good["uuid"] = rng.choice(uuids)  # a duplicate
    elif kind == 9:
        good[rng.choice(["type", "uuid", "timestamp", "message", "parentUuid", "isSidechain"])] = junk(rng)
    elif kind == 10:
        good["message"] = {"role": junk(rng), "content": junk(rng)}
    elif kind == 11:
        good["message"]["content"] = [junk(rng) for _ in range(rng.randint(0, 4))]
    elif kind == 12:
        return rng.choice([b"", b" ", b"\t", b"[]", b"null", b"123", b'"a string"', b"{}", b"\xef\xbb\xbf{}"])
    elif kind == 13:
        return encoded(junk(rng))
    uuids.append(str(good.get("uuid")))
    return encoded(good, rng.random() < 0.5)


def transcript(rng: random.Random, sid: str) -> tuple[bytes, bytes]:
    """A file's bytes now, and the rest of a half-written last line (b"" when it ends whole)."""
    uuids: list[str] = []
    data = b"".join(line(rng, sid, n, uuids) + b"\n" for n in range(rng.randint(0, 12)))
    if rng.random() < 0.3:
        last = line(rng, sid, 99, uuids) + b"\n"
        cut = rng.randint(0, len(last) - 1)
        return data + last[:cut], last[cut:]
    return data, b""


def complete(data: bytes) -> bytes:
    """What a pass archives of a file: up to its last newline."""
    return data[: data.rfind(b"\n") + 1]


def case_seeds(kind: str, count: int) -> list[int]:
    return [random.Random(f"{SEED}-{kind}").randrange(2**32) + i for i in range(count)]


@pytest.mark.parametrize("group", range((TRANSCRIPTS + FILES_PER_PASS - 1) // FILES_PER_PASS))
async def test_malformed_transcripts_are_archived_byte_exact(tmp_path: Path, group: int) -> None:
    root, db = tmp_path / "projects", tmp_path / "fuzz.db"
    seeds = case_seeds("transcripts", TRANSCRIPTS)[group * FILES_PER_PASS:(group + 1) * FILES_PER_PASS]
    files: dict[str, tuple[bytes, bytes]] = {}
    for seed in seeds:
        rng = random.Random(seed)
        sid = f"f{seed:08x}-0000-4000-8000-000000000000"[:36]
        rel = f"-p{seed % 3}/{sid}.jsonl" if rng.random() < 0.8 else f"-p0/{sid[:8]}/subagents/agent-{seed}.jsonl"
        files[rel] = transcript(rng, sid)
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(files[rel][0])
    async with yurudb.open(db, daily_backup=False) as store:
        for finished in (False, True):
            if finished:  # the half-written lines get their ends, as the next write does
                for rel, (_, rest) in files.items():
                    with open(root / rel, "ab") as f:
                        f.write(rest)
            await sync(store, root)  # problems are reported, never raised
            held = archive(db)
            for rel, (now, rest) in files.items():
                expected = complete(now + rest if finished else now).split(b"\n")[:-1]
                current = [lines for is_current, lines in held.get(rel, []) if is_current]
                assert current == [expected] or (not expected and current in ([], [[]])), (
                    f"seed {seeds[list(files).index(rel)]}: {rel} is not archived byte-exact (YURUDB_FUZZ_SEED={SEED})")
        restored: dict[str, bytes] = {}
        for s in await store.list_sessions():
            try:
                restored.update(await transcript_files(store, s.id))
            except NotFoundError:  # a session named only by lines inside another session's file
                pass
    for rel, (now, rest) in files.items():
        if complete(now + rest):
            assert restored.get(rel) == complete(now + rest), f"{rel}: restore does not give its bytes back"
    # the command, on the same files (on a thread of its own: it runs its own event loop)
    result = await asyncio.to_thread(runner.invoke, app, ["--db", str(db), "sync", str(root)])
    assert "Traceback" not in result.output and result.exit_code == 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


# ---- snapshots -----------------------------------------------------------------------------------
def snapshot(rng: random.Random) -> list[dict[str, Any]]:
    """A well-formed app snapshot (two sessions)."""
    n = rng.randrange(10**6)
    return [{"id": f"snap-{n}-{i}", "name": f"session {i}", "status": "completed", "createdAt": 1_700_000_000_000,
             "updatedAt": 1_700_000_001_000, "workingDirectory": "/home/dev/app",
             "messages": [{"id": f"m-{n}-{i}-{j}", "type": rng.choice(["user", "assistant"]),
                           "content": f"message {j}", "timestamp": 1_700_000_000_000 + j} for j in range(3)],
             "analytics": [{"id": f"u-{n}-{i}", "model": "claude-sonnet-4-5", "tokensInput": 10, "tokensOutput": 5,
                            "tokensCache": 0, "costUsd": 0.01, "timestamp": 1_700_000_000_500}]}
            for i in range(2)]


def mutate(rng: random.Random, value: Any) -> Any:
    """The value with one thing in it replaced, removed or added."""
    if isinstance(value, dict) and value and rng.random() < 0.75:
        key = rng.choice(list(value))
        out = dict(value)
        roll = rng.random()
        if roll < 0.2:
            del out[key]
        elif roll < 0.6:
            out[key] = junk(rng)
        else:
            out[key] = mutate(rng, out[key])
        return out
    if isinstance(value, list) and value and rng.random() < 0.75:
        out = list(value)
        i = rng.randrange(len(out))
        roll = rng.random()
        if roll < 0.15:
            out.append(out[i])  # a duplicate record
        elif roll < 0.4:
            out[i] = junk(rng)
        else:
            out[i] = mutate(rng, out[i])
        return out
    return junk(rng)


def snapshot_bytes(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.1:  # not JSON at all, or cut short
        text = json.dumps(snapshot(rng))
        return rng.choice([text[: rng.randint(0, len(text) - 1)].encode(), b"\xff\xfe\x00", nested(50_000).encode()])
    data = snapshot(rng)
    for _ in range(rng.randint(1, 3)):
        data = mutate(rng, data)
    return encoded(data, rng.random() < 0.5) if rng.random() < 0.95 else encoded({"sessions": data})


@pytest.mark.parametrize("group", range((SNAPSHOTS + 49) // 50))
def test_malformed_snapshots_are_refused_whole_without_a_traceback(tmp_path: Path, group: int) -> None:
    db, file = tmp_path / "fuzz.db", tmp_path / "snapshot.json"
    file.write_text(json.dumps(snapshot(random.Random(group))))
    assert runner.invoke(app, ["--db", str(db), "import", "snapshot", str(file)]).exit_code == 0
    for seed in case_seeds("snapshots", SNAPSHOTS)[group * 50:(group + 1) * 50]:
        file.write_bytes(snapshot_bytes(random.Random(seed)))
        before = dump(db)
        result = runner.invoke(app, ["--db", str(db), "import", "snapshot", str(file)])
        where = f"seed {seed} (YURUDB_FUZZ_SEED={SEED})"
        assert "Traceback" not in result.output, (where, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), (where, repr(result.exception))
        assert result.exit_code in (0, 2), (where, result.output)
        if result.exit_code == 2:
            assert dump(db) == before, f"{where}: a refused snapshot changed the database"


# ---- API arguments -------------------------------------------------------------------------------
def arguments(rng: random.Random, sid: str, mid: str) -> tuple[str, tuple, dict]:
    """A call on the store with one or more arguments of the wrong kind (or right, now and then)."""
    def pick(good: Any) -> Any:
        return good if rng.random() < 0.5 else junk(rng)

    name = rng.choice(["create_session", "append_message", "append_messages", "update_message", "update_session",
                       "rename_session", "record_usage", "get_messages", "search", "usage_summary", "list_sessions",
                       "get_session", "delete_session"])
    if name == "create_session":
        return name, (pick("a name"),), {k: junk(rng) for k in rng.sample(
            ["id", "status", "working_directory", "meta", "created_at", "user_renamed", "claude_session_id"],
            rng.randint(0, 3))}
    if name == "append_message":
        message = mutate(rng, {"type": "user", "content": "hi", "id": f"fz-{rng.randrange(10**9)}",
                               "usage": {"input_tokens": 1}, "timestamp": 1_700_000_000_000})
        return name, (pick(sid), message), {}
    if name == "append_messages":
        return name, (pick(sid), [mutate(rng, {"type": "assistant", "content": "x"}) for _ in range(3)]), {}
    if name == "update_message":
        return name, (pick(mid),), {k: junk(rng) for k in rng.sample(["content", "tool_uses", "usage", "payload"],
                                                                      rng.randint(1, 2))}
    if name == "update_session":
        return name, (pick(sid),), {k: junk(rng) for k in rng.sample(
            ["name", "status", "meta", "working_directory", "updated_at", "no_such_field"], rng.randint(1, 2))}
    if name == "rename_session":
        return name, (pick(sid), junk(rng)), {}
    if name == "record_usage":
        return name, (pick(sid),), {k: junk(rng) for k in rng.sample(
            ["model", "tokens_input", "tokens_output", "tokens_cache", "cost_usd", "timestamp", "source_id",
             "tokens_cache_read"], rng.randint(1, 3))}
    if name == "get_messages":
        return name, (pick(sid),), {k: junk(rng) for k in rng.sample(["limit", "before", "thread"], rng.randint(1, 2))}
    if name == "search":
        return name, (pick("hello"),), {k: junk(rng) for k in rng.sample(
            ["session_id", "working_directory", "types", "since", "until", "limit", "offset", "raw"], rng.randint(0, 2))}
    if name == "usage_summary":
        return name, (), {k: junk(rng) for k in rng.sample(["by", "since", "until", "session_id"], rng.randint(1, 2))}
    if name == "list_sessions":
        return name, (), {k: junk(rng) for k in rng.sample(["status", "limit", "offset"], rng.randint(1, 2))}
    return name, (junk(rng),), {}


@pytest.mark.parametrize("group", range((CALLS + 99) // 100))
async def test_api_calls_with_wrong_arguments_raise_typed_errors_and_change_nothing(tmp_path: Path,
                                                                                   group: int) -> None:
    db = tmp_path / "fuzz.db"
    async with yurudb.open(db, daily_backup=False) as store:
        session = await store.create_session("target")
        message = await store.append_message(session.id, type="user", content="hello there")
        for seed in case_seeds("calls", CALLS)[group * 100:(group + 1) * 100]:
            name, args, kwargs = arguments(random.Random(seed), session.id, message.id)
            if name == "delete_session" and args == (session.id,):
                continue
            await store.flush()
            before = dump(db)
            where = f"seed {seed}: {name}(*{str(args)[:200]}, **{str(kwargs)[:200]}) (YURUDB_FUZZ_SEED={SEED})"
            try:
                await getattr(store, name)(*args, **kwargs)
            except YurudbError:
                await store.flush()
                assert dump(db) == before, f"{where}: refused, yet the database changed"
            except Exception as exc:  # noqa: BLE001 - anything else is what this test exists to find
                raise AssertionError(f"{where} raised {type(exc).__name__}: {exc}") from exc
            assert store.state == "ready", where


async def test_the_lines_fuzzing_found_are_archived_and_readable(tmp_path: Path) -> None:
    """Each of these once stopped a sync or made a session the API cannot name (kept here by name)."""
    root, db = tmp_path / "projects", tmp_path / "found.db"
    base = {"type": "user", "uuid": "u", "message": {"role": "user", "content": "hello"}}
    odd = {
        "-a/5e550000-0000-4000-8000-00000000000a.jsonl": [nested(5000), {**base, "sessionId": "a\u0000b"}],
        "-b/5e550000-0000-4000-8000-00000000000b.jsonl": [{**base, "uuid": "v", "sessionId": "a\u0000b"},
                                                           {**base, "uuid": "w", "sessionId": " "},
                                                           {**base, "uuid": "x" * 600, "sessionId": ""}],
        "-c/5e550000-0000-4000-8000-00000000000c.jsonl": [{**base, "uuid": "s", "message": {"content": "\ud800 x"}},
                                                           {**base, "uuid": "t", "cwd": "\udfff"}],
    }
    data = {rel: b"".join((ln.encode() if isinstance(ln, str) else encoded(ln)) + b"\n" for ln in lines)
            for rel, lines in odd.items()}
    for rel, raw in data.items():
        (root / rel).parent.mkdir(parents=True)
        (root / rel).write_bytes(raw)
    async with yurudb.open(db, daily_backup=False) as store:
        report = await sync(store, root)
        assert report.not_json == 1  # the line nested 5,000 deep: kept as bytes, without a message
        sessions = await store.list_sessions()
        assert sorted(s.id for s in sessions) == sorted(rel.split("/")[1][:-6] for rel in odd)
        for s in sessions:
            for m in await store.get_messages(s.id, limit=None):  # every message reads back
                assert "\ud800" not in (m.content or "")
            assert (await transcript_files(store, s.id)) == {rel: data[rel] for rel in odd if s.id in rel}

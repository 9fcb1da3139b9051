"""`yurudb serve`, a real process on a real socket: discovery, auth, the API one to one, errors,
events, one server per database, and nothing acknowledged lost to SIGTERM or SIGKILL."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import YURUDB, call, hold_write_lock, release, serving

pytest.importorskip("starlette", reason="yurudb serve needs the serve extra (pip install -e '.[test,serve,mcp]')")
pytest.importorskip("uvicorn", reason="yurudb serve needs the serve extra (pip install -e '.[test,serve,mcp]')")
websockets = pytest.importorskip("websockets", reason="the events test needs websockets (the serve extra)")

def too_big(info: dict[str, Any]) -> int:
    """The status of a request that announces a body over 16 MB (refused before it is read)."""
    import http.client
    from urllib.parse import urlparse

    where = urlparse(info["url"])
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    conn.putrequest("POST", "/api/v1/sessions")
    conn.putheader("Authorization", f"Bearer {info['token']}")
    conn.putheader("Content-Length", str(16 * 1024 * 1024 + 1))
    conn.endheaders()
    conn.send(b"{")
    status = conn.getresponse().status
    conn.close()
    return status


def counted(db: Path | str, sql: str) -> Any:
    from helpers import rows

    return rows(db, sql)


@pytest.mark.sqlite_only  # the file beside the database, SQLite's write lock
def test_discovery_the_first_line_and_serve_json_then_gone_on_a_clean_stop(db_path: Path) -> None:
    with serving(db_path) as (info, proc):
        discovery = db_path.with_name("serve.json")
        assert json.loads(discovery.read_text()) == info
        assert oct(discovery.stat().st_mode & 0o777) == "0o600"
        assert info["url"].startswith("http://127.0.0.1:") and info["pid"] == proc.pid
        assert call(info, "GET", "/api/v1/health")[1]["state"] == "ready"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    assert not discovery.exists()


def test_without_the_token_from_another_origin_or_host_nothing_is_read_or_written(target) -> None:
    with serving(target) as (info, _):
        for token, headers, status, kind in (
                (None, {}, 401, "Unauthorized"), ("wrong", {}, 401, "Unauthorized"),
                ("", {"Origin": "http://evil.example"}, 403, "ForbiddenOrigin"),
                ("", {"Host": "evil.example"}, 403, "ForbiddenHost")):  # a rebound DNS name
            got = call(info, "POST", "/api/v1/sessions", {"name": "x"}, token=token, headers=headers)
            assert got == (status, {"error": {"type": kind, "message": got[1]["error"]["message"]}})
        own = call(info, "GET", "/api/v1/sessions", headers={"Origin": info["url"]})
        assert own == (200, [])
    assert counted(target, "SELECT COUNT(*) FROM sessions") == [(0,)]


def test_the_api_is_the_librarys_one_to_one_with_one_error_shape(target) -> None:
    with serving(target) as (info, _):
        status, s = call(info, "POST", "/api/v1/sessions", {"name": "fix the flaky test", "working_directory": "/repo"})
        assert status == 201 and s["name"] == "fix the flaky test"
        sid = s["id"]
        status, m = call(info, "POST", f"/api/v1/sessions/{sid}/messages",
                         {"message": {"id": "m1", "type": "user", "content": "the flaky test fails"}})
        assert status == 201 and m["id"] == "m1" and m["seq"] == 1
        status, many = call(info, "POST", f"/api/v1/sessions/{sid}/messages",
                            {"messages": [{"type": "assistant", "content": f"step {i}"} for i in range(5)]})
        assert status == 201 and [x["seq"] for x in many] == [2, 3, 4, 5, 6]
        status, again = call(info, "POST", f"/api/v1/sessions/{sid}/messages",
                             {"message": {"id": "m1", "type": "user", "content": "the flaky test fails"}})
        assert status == 201 and again["seq"] == 1  # a retried save with the same id: the same message
        assert call(info, "PATCH", f"/api/v1/messages/{many[-1]['id']}", {"content": "found it"})[1]["content"] \
            == "found it"
        page = call(info, "GET", f"/api/v1/sessions/{sid}/messages?limit=2")[1]
        assert [x["seq"] for x in page] == [5, 6]
        assert [x["seq"] for x in call(info, "GET", f"/api/v1/sessions/{sid}/messages?limit=2&before=5")[1]] == [3, 4]
        assert [x["seq"] for x in call(info, "GET", f"/api/v1/sessions/{sid}/messages?limit=3&around=4")[1]] == [3, 4, 5]
        assert call(info, "GET", f"/api/v1/sessions/{sid}/messages?around=99")[0] == 404
        assert call(info, "POST", f"/api/v1/sessions/{sid}/rename", {"name": "renamed"})[1]["user_renamed"] is True
        status, u = call(info, "POST", f"/api/v1/sessions/{sid}/usage",
                         {"model": "claude-sonnet-4-5", "tokens_input": 1000, "tokens_output": 100})
        assert status == 201 and u["cost_usd"] > 0  # priced from the price database
        assert call(info, "GET", "/api/v1/usage?by=model")[1][0]["records"] == 1
        hits = call(info, "GET", "/api/v1/search?q=flaky")[1]
        assert [h["message_id"] for h in hits["hits"]] == ["m1"]
        assert call(info, "GET", "/api/v1/health")[1]["recovery"]["steps"]
        # errors: one shape, one status per kind, nothing changed
        assert call(info, "GET", "/api/v1/sessions/nosuch")[0] == 404
        assert call(info, "POST", "/api/v1/sessions", {"name": "x", "id": sid})[1]["error"]["type"] == "ConflictError"
        assert call(info, "POST", "/api/v1/sessions", {"name": "x", "status": "sleepy"})[0] == 422
        assert call(info, "POST", "/api/v1/sessions", {"nme": "typo"})[0] == 422
        assert call(info, "POST", "/api/v1/sessions", raw=b"{not json")[1]["error"]["type"] == "NotJSON"
        assert too_big(info) == 413
        assert call(info, "GET", f"/api/v1/sessions/{sid}/messages?limit=lots")[0] == 422
        assert len(call(info, "GET", "/api/v1/sessions")[1]) == 1
        assert call(info, "DELETE", f"/api/v1/sessions/{sid}") == (204, None)
        assert call(info, "GET", f"/api/v1/sessions/{sid}")[0] == 404
        doc = call(info, "GET", "/api/v1/openapi.json")[1]
    assert doc["openapi"].startswith("3.1") and {"Session", "Message", "Usage", "Error"} <= set(doc["components"]["schemas"])
    assert {"/api/v1/sessions", "/api/v1/sessions/{session}/messages", "/api/v1/search"} <= set(doc["paths"])


@pytest.mark.sqlite_only  # the file beside the database, SQLite's write lock
def test_a_second_server_on_the_same_database_stops_and_a_stale_file_is_replaced(db_path: Path) -> None:
    with serving(db_path) as (info, _):
        second = subprocess.run([*YURUDB, "--db", str(db_path), "serve", "--port", "0"], capture_output=True,
                                text=True, timeout=60)
        assert second.returncode == 1 and f"process {info['pid']}" in second.stderr
        assert "Traceback" not in second.stderr
    stale = db_path.with_name("serve.json")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale.write_text(json.dumps({"url": "http://127.0.0.1:1", "token": "old", "pid": gone.pid, "db": str(db_path)}))
    with serving(db_path) as (info, _):
        assert json.loads(stale.read_text())["token"] == info["token"] != "old"


def test_nothing_acknowledged_is_lost_to_sigterm_mid_writes_or_to_sigkill(target) -> None:
    acked: list[str] = []
    with serving(target) as (info, proc):
        sid = call(info, "POST", "/api/v1/sessions", {"name": "writes"})[1]["id"]

        def writer(n: int) -> None:
            for i in range(10_000):
                try:
                    status, m = call(info, "POST", f"/api/v1/sessions/{sid}/messages",
                                     {"message": {"id": f"w{n}-{i}", "type": "user", "content": f"line {i}"}})
                except OSError:
                    return  # the server went
                if status != 201:
                    return
                acked.append(m["id"])

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)  # drains what is in flight, then closes the store
        for t in threads:
            t.join(timeout=60)
        assert proc.wait(timeout=30) == 0
    assert acked
    held = {r[0] for r in counted(target, "SELECT id FROM messages")}
    assert set(acked) <= held, f"{len(set(acked) - held)} acknowledged saves lost to SIGTERM"

    acked.clear()
    with serving(target) as (info, proc):
        for i in range(50):
            acked.append(call(info, "POST", f"/api/v1/sessions/{sid}/messages",
                              {"message": {"id": f"k{i}", "type": "user", "content": "before the kill"}})[1]["id"])
        proc.kill()  # SIGKILL: no drain, no close
        proc.wait()
    held = {r[0] for r in counted(target, "SELECT id FROM messages")}
    assert set(acked) <= held


@pytest.mark.sqlite_only  # the file beside the database, SQLite's write lock
def test_a_save_while_the_database_is_locked_is_held_202_and_the_events_say_so(db_path: Path) -> None:
    async def watch_events(info: dict[str, Any], seen: list[str], ready: asyncio.Event) -> None:
        url = info["url"].replace("http://", "ws://") + "/api/v1/events"
        async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {info['token']}"}) as ws:
            await ws.send(json.dumps({"token": info["token"]}))
            while True:
                event = json.loads(await ws.recv())
                seen.append(event["type"])
                if event["type"] == "Hello":
                    ready.set()
                if event["type"] == "Recovered":
                    return

    with serving(db_path) as (info, _):
        sid = call(info, "POST", "/api/v1/sessions", {"name": "locked"})[1]["id"]
        seen: list[str] = []

        async def scenario() -> tuple[int, Any]:
            ready = asyncio.Event()
            watcher = asyncio.create_task(watch_events(info, seen, ready))
            await asyncio.wait_for(ready.wait(), 30)
            holder = hold_write_lock(db_path)  # another process holds the write lock past the busy timeout
            try:
                answer = await asyncio.to_thread(call, info, "POST", f"/api/v1/sessions/{sid}/messages",
                                                 {"message": {"id": "held", "type": "user", "content": "typed"}})
            finally:
                release(holder)
            await asyncio.wait_for(watcher, 60)
            return answer

        status, m = asyncio.run(scenario())
        assert status == 202 and m["id"] == "held"  # accepted: in the spill journal, not yet in the file
        assert "Degraded" in seen and seen[-1] == "Recovered"
        assert call(info, "GET", f"/api/v1/sessions/{sid}/messages")[1][-1]["id"] == "held"

    async def unauthorized() -> Any:
        with serving(db_path) as (again, _):
            url = again["url"].replace("http://", "ws://") + "/api/v1/events"
            async with websockets.connect(url) as ws:
                await ws.send(json.dumps({"token": "wrong"}))
                return json.loads(await ws.recv())

    assert asyncio.run(unauthorized())["type"] == "Unauthorized"


def test_random_requests_get_json_answers_and_never_crash_the_server(target) -> None:
    rng = random.Random(21)
    paths = ["/api/v1/sessions", "/api/v1/sessions/x", "/api/v1/sessions/x/messages", "/api/v1/messages/x",
             "/api/v1/search?q=a", "/api/v1/usage?by=nope", "/api/v1/sessions/x/usage", "/api/v1/nope",
             "/api/v1/sessions/x/rename", "/api/v1/sessions/x/files", "/api/v1/health"]
    bodies: list[bytes | None] = [None, b"", b"{", b"[]", b"null", b'{"name": 5}', b'{"message": "x"}',
                                  b'{"messages": [1, 2]}', b'{"content": {"a": [1]}}', "é".encode() * 10, b"\xff\xfe"]
    with serving(target) as (info, proc):
        call(info, "POST", "/api/v1/sessions", {"name": "target", "id": "x"})
        for _ in range(int(os.environ.get("YURUDB_SERVE_FUZZ", "2000"))):
            method = rng.choice(["GET", "POST", "PATCH", "DELETE", "PUT"])
            status, answer = call(info, method, rng.choice(paths), raw=rng.choice(bodies))
            assert status < 500, (method, status, answer)
            if status >= 400:
                assert answer is not None and set(answer) == {"error"}, (method, status, answer)
        assert call(info, "GET", "/api/v1/health")[1]["state"] == "ready"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")


def test_serve_watch_archives_new_lines_and_says_so_on_the_events(target, tmp_path: Path) -> None:
    home = tmp_path / "home"
    sid = "5e550000-0000-4000-8000-0000000000e1"
    transcript = home / ".claude" / "projects" / "-repo" / f"{sid}.jsonl"
    transcript.parent.mkdir(parents=True)

    def line(n: int) -> bytes:
        return json.dumps({"type": "user", "sessionId": sid, "uuid": f"u{n}",
                           "message": {"content": f"line {n} from Claude Code"}}).encode() + b"\n"

    transcript.write_bytes(line(0))
    env = {**os.environ, "HOME": str(home)}
    env.pop("CLAUDE_CONFIG_DIR", None)
    env.pop("XDG_CONFIG_HOME", None)
    with serving(target, "--watch", env=env) as (info, _):
        async def scenario() -> list[dict[str, Any]]:
            url = info["url"].replace("http://", "ws://") + f"/api/v1/events?token={info['token']}"
            seen: list[dict[str, Any]] = []
            async with websockets.connect(url) as ws:
                assert json.loads(await ws.recv())["type"] == "Hello"
                with open(transcript, "ab") as f:
                    f.write(line(1))
                # the first pass (line 0) may be said first: wait until the new line is in, by an event
                while len(call(info, "GET", f"/api/v1/sessions/{sid}/messages")[1] or []) < 2 \
                        or not any(e["type"] == "LinesArchived" for e in seen):
                    seen.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
            return seen

        events = asyncio.run(scenario())
        archived = next(e for e in events if e["type"] == "LinesArchived")
        assert archived["lines"] >= 1 and archived["last_session"] == sid
        contents = [m["content"] for m in call(info, "GET", f"/api/v1/sessions/{sid}/messages")[1]]
        assert contents == ["line 0 from Claude Code", "line 1 from Claude Code"]

"""W11: many clients, one writer. 50 HTTP/1.1 keep-alive clients of one `yurudb serve` append to
sessions of their own, open loop at 1,000 msg/s offered and closed loop; beside the library
in-process doing the same (50 asyncio tasks on one store)."""

from __future__ import annotations

import asyncio
import http.client
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parents[1]
CLIENTS = 50


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))]


def _phase(n: int, rate: float | None) -> float:
    """Client n's offset in the schedule: the clients take turns, so 1,000 msg/s offered arrive evenly,
    as many windows typing do, not all fifty at the same instant."""
    return n / (CLIENTS * rate) if rate else 0.0


async def _post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, path: str, token: str,
                body: bytes) -> int:
    """One HTTP/1.1 request on a kept-alive connection: its status (the answer read whole)."""
    writer.write(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
                 f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    await reader.readexactly(length)
    return int(head.split(b" ", 2)[1])


async def _clients(info: dict[str, Any], sessions: list[str], rate: float | None,
                   seconds: float) -> tuple[int, list[float]]:
    """Each client on its own keep-alive connection (asyncio, as the app's windows would be: no threads
    fighting over the GIL); `rate` per client per second, or as fast as it can."""
    where = urlparse(info["url"])
    host = f"{where.hostname}:{where.port}"
    latencies: list[float] = []
    start = time.perf_counter() + 0.2

    async def client(n: int) -> int:
        reader, writer = await asyncio.open_connection(where.hostname, where.port)
        i = 0
        while True:
            due = start + (_phase(n, rate) + i / rate if rate else 0)
            now = time.perf_counter()
            if now - start > seconds:
                writer.close()
                return i
            if rate and due > now:
                await asyncio.sleep(due - now)
            t0 = time.perf_counter()
            body = json.dumps({"message": {"type": "user", "content": f"client {n} message {i}"}}).encode()
            status = await _post(reader, writer, host, f"/api/v1/sessions/{sessions[n]}/messages", info["token"], body)
            assert status == 201, status
            latencies.append(time.perf_counter() - (due if rate else t0))  # open loop: from when it was due
            i += 1

    sent = sum(await asyncio.gather(*(client(n) for n in range(CLIENTS))))
    return sent, latencies


def _clients_over_http(info: dict[str, Any], sessions: list[str], rate: float | None,
                       seconds: float) -> tuple[int, list[float]]:
    return asyncio.run(_clients(info, sessions, rate, seconds))


async def _library(db: Path, rate: float | None, seconds: float) -> tuple[int, list[float]]:
    import yurudb

    async with yurudb.open(db, daily_backup=False) as store:
        sessions = [(await store.create_session(f"client {n}")).id for n in range(CLIENTS)]
        latencies: list[float] = []
        start = time.perf_counter() + 0.2

        async def client(n: int) -> int:
            i = 0
            while True:
                due = start + (_phase(n, rate) + i / rate if rate else 0)
                now = time.perf_counter()
                if now - start > seconds:
                    return i
                if rate and due > now:
                    await asyncio.sleep(due - now)
                t0 = time.perf_counter()
                await store.append_message(sessions[n], type="user", content=f"client {n} message {i}")
                latencies.append(time.perf_counter() - (due if rate else t0))
                i += 1

        sent = sum(await asyncio.gather(*(client(n) for n in range(CLIENTS))))
        return sent, latencies


def w11(tmp: Path, res: Any, quick: bool, Row: Any) -> None:  # noqa: N803 - the table's row type
    label = f"W11 serve ({CLIENTS} HTTP keep-alive clients, one writer)"
    seconds = 3.0 if quick else 6.0
    db = tmp / "w11" / "serve.db"
    db.parent.mkdir(parents=True)
    proc = subprocess.Popen([sys.executable, "-c", "from yurudb.cli import main; main()", "--db", str(db), "serve"],
                            stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        where = urlparse(info["url"])
        conn = http.client.HTTPConnection(where.hostname, where.port)
        headers = {"Authorization": f"Bearer {info['token']}"}
        sessions = []
        for n in range(CLIENTS):
            conn.request("POST", "/api/v1/sessions", body=json.dumps({"name": f"client {n}"}), headers=headers)
            sessions.append(json.loads(conn.getresponse().read())["id"])
        sent, open_lat = _clients_over_http(info, sessions, 1000 / CLIENTS, seconds)
        done, closed_lat = _clients_over_http(info, sessions, None, seconds)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    lib_sent, lib_open = asyncio.run(_library(tmp / "w11" / "library.db", 1000 / CLIENTS, seconds))
    lib_done, _ = asyncio.run(_library(tmp / "w11" / "library2.db", None, seconds))
    res.rows.append(Row(label, "p99 save latency at 1,000 msg/s offered", _pct(open_lat, 99) * 1000,
                        _pct(lib_open, 99) * 1000, "ms", False, "< 10 ms",
                        f"{sent / seconds:,.0f} msg/s achieved, p50 {statistics.median(open_lat) * 1000:.2f} ms; "
                        f"raw: the library in-process, {CLIENTS} asyncio tasks ({lib_sent / seconds:,.0f} msg/s)"))
    res.rows.append(Row(label, "messages/s, closed loop", done / seconds, lib_done / seconds, "msg/s", True, "",
                        f"each client waits for its answer; p99 {_pct(closed_lat, 99) * 1000:.1f} ms; "
                        "raw: the library in-process, the same"))

"""Serving one database: its discovery file, its socket, and a lifecycle that loses nothing acknowledged.

`serve.json` beside the database (mode 0600) says where the server is and its token; its first
line on stdout says the same. One server per database: a second finds the first through the file
and stops. SIGTERM or Ctrl-C stop taking requests, let the ones in flight finish (uvicorn's graceful
shutdown), then close the store, which commits what its writer holds; the file is removed last.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import secrets
import signal
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import paths
from ..errors import ValidationError, YurudbError

log = logging.getLogger(__name__)
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class AlreadyServed(YurudbError):
    """Another `yurudb serve` serves this database."""


def discovery_path(db: Path) -> Path:
    """The discovery file of a database: `serve.json` beside it (a server's: in its local folder)."""
    return paths.local_path(db).with_name("serve.json")


def running(db: Path) -> dict[str, Any] | None:
    """The live server of a database, from its discovery file (None: none, or a stale file)."""
    path = discovery_path(db)
    try:
        found = json.loads(path.read_text())
        pid = int(found["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if found.get("db") not in (None, str(db)):
        return None  # another database's server in the same folder
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # its process is gone: the file is stale
    except PermissionError:
        pass  # alive, another user's
    return found


@dataclass
class Served:
    """What the server announces."""

    url: str
    token: str
    pid: int
    db: str

    def to_json(self) -> str:
        return json.dumps({"url": self.url, "token": self.token, "pid": self.pid, "db": self.db})


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # no Nagle: an answer's headers and body are two writes, and the second would wait out the
    # client's delayed ACK (measured: 44 ms for every request); accepted sockets inherit it on Linux
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ValidationError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(512)
    sock.setblocking(False)
    return sock


def write_discovery(db: Path, served: Served) -> Path:
    """serve.json, readable by its owner only, written whole (replaced atomically)."""
    path = discovery_path(db)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(served.to_json() + "\n")
    os.replace(tmp, path)
    return path


async def serve(db: Path, *, host: str = "127.0.0.1", port: int = 0, announce: Any = print,
                store_options: dict[str, Any] | None = None, watch: list[Path] | None = None) -> None:
    """Open the store, serve it until SIGTERM or Ctrl-C, then drain, close and remove serve.json.

    With `watch`, those projects folders are followed live meanwhile (`yurudb watch`), and each pass
    that archived lines is an event (`LinesArchived`) on /api/v1/events."""
    import uvicorn

    from ..recovery.coordinator import open as open_store
    from .app import create_app

    other = running(db)
    if other is not None:
        raise AlreadyServed(f"{db} is served already by process {other['pid']} at {other.get('url')} "
                            f"({discovery_path(db)})")
    sock = bind(host, port)
    bound = sock.getsockname()[1]
    token = secrets.token_urlsafe(32)
    shown = f"[{host}]" if ":" in host else host
    served = Served(url=f"http://{shown}:{bound}", token=token, pid=os.getpid(), db=str(db))
    store = await open_store(db, **(store_options or {}))
    written: Path | None = None
    interrupted = False
    try:
        config = uvicorn.Config(create_app(store, token, port=bound, host=host), log_level="warning",
                                access_log=False, lifespan="off", timeout_graceful_shutdown=30)
        server = _Server(config)
        serving = asyncio.ensure_future(server.serve(sockets=[sock]))
        # announced once the server has its signal handlers and takes requests: a SIGTERM from then
        # on drains instead of killing
        while not server.started and not serving.done():
            await asyncio.sleep(0.005)
        if server.started:
            written = write_discovery(db, served)
            announce(served.to_json())
        watching = _Watching(store, watch or [])
        try:
            await serving
        finally:
            await watching.stop()
        interrupted = signal.SIGINT in server.stopped_by
    finally:
        await store.close()  # every acknowledged write is committed: the writer drains before it stops
        if written is not None and (running(db) or {}).get("pid") == os.getpid():  # ours still: not a successor's
            written.unlink(missing_ok=True)
        sock.close()
    if interrupted:
        raise KeyboardInterrupt  # the command says so and exits 130, as for every Ctrl-C


class _Watching:
    """Watches of projects folders running beside the server, each pass said on the store's event bus."""

    def __init__(self, store: Any, roots: list[Path]) -> None:
        from ..claude import watch
        from ..events import LinesArchived

        self.stop_event = asyncio.Event()

        def said(report: Any, status: Any) -> None:
            if report.lines:
                store.bus.emit(LinesArchived(root=str(report.root), lines=report.lines, files=report.files_read,
                                             last_session=report.last_session))

        self.tasks = [asyncio.ensure_future(watch(store, root, stop=self.stop_event, on_pass=said)) for root in roots]

    async def stop(self) -> None:
        """The last pass of each watch, committed, before the store closes."""
        self.stop_event.set()
        for task in self.tasks:
            try:
                await task
            except Exception as exc:  # noqa: BLE001 - a watch that failed is said, the server still stops cleanly
                log.error("yurudb serve: the watch ended with %r", exc)


@functools.cache
def _server_class() -> type:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, which after its graceful shutdown leaves the signal to us: it would raise it
        again (killing the process before the store is closed and serve.json removed)."""

        stopped_by: list[int]

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            self.stopped_by = []

            def stop(sig: int, frame: Any) -> None:
                self.stopped_by.append(sig)
                self.handle_exit(sig, frame)

            previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return Server


def _Server(config: Any) -> Any:  # noqa: N802 - a class made on first use (uvicorn loads only for serve)
    return _server_class()(config)


def log_path(db: Path) -> Path:
    """Where a server started by `yurudb ui` writes what it says (beside the database)."""
    return paths.local_path(db).with_name("serve.log")


def start_detached(db: Path, *, watch: bool = False, timeout: float = 30.0) -> dict[str, Any]:
    """Start `yurudb serve` for a database in its own session (it outlives the command) and wait for its
    discovery file; a server that fails to start is an error quoting its log."""
    import subprocess
    import sys
    import time

    log = log_path(db)
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "yurudb", "--db", str(db), "serve", *(["--watch"] if watch else [])],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=out, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = running(db)
        if found is not None and found.get("pid") == proc.pid:
            return found
        if proc.poll() is not None:
            said = log.read_text(errors="replace").strip().splitlines()[-3:]
            raise YurudbError(f"yurudb serve stopped at once (exit {proc.returncode}): {' / '.join(said) or 'no output'}")
        time.sleep(0.05)
    proc.terminate()
    raise YurudbError(f"yurudb serve did not start within {timeout:.0f} s (its log: {log})")


def main(db: Path, host: str, port: int) -> None:
    """Run the server (the command's body)."""
    asyncio.run(serve(db, host=host, port=port, announce=lambda line: print(line, flush=True)))

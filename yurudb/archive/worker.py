"""Worker processes for big syncs: each prepares the chunks sent on its stdin (`archive_prepare.serve`).

A plain subprocess, not multiprocessing: spawn and forkserver re-import the host program's main
module (which a library cannot ask of the apps that use it), and fork copies a process whose
threads may hold locks. Each request and answer is a length-prefixed pickle; answers come in
the order the requests did.
"""

from __future__ import annotations

import asyncio
import pickle
import sys
from collections import deque
from typing import Any

from .prepare import HEADER, Prepared


_START = ("import signal; signal.signal(signal.SIGINT, signal.SIG_IGN); "
          "from yurudb.archive.prepare import serve; serve()")


class Worker:
    """The parent's side: `await worker.prepare(*args)` (several may be in flight, answered in order)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self._waiting: deque[asyncio.Future[Prepared | None]] = deque()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def start(cls) -> Worker:
        """Start the worker process."""
        process = await asyncio.create_subprocess_exec(
            # only what preparing lines needs: not this package, whose whole store takes twice as long; Ctrl-C
            # ignored before the imports too (a worker still importing when it came printed a traceback)
            sys.executable, "-c", _START, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, limit=2**30)
        return cls(process)

    async def prepare(self, *args: Any) -> Prepared | None:
        """What archive_prepare.prepare_range(*args) returns, computed in the worker."""
        assert self._process.stdin is not None
        future: asyncio.Future[Prepared | None] = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        data = pickle.dumps(args, protocol=pickle.HIGHEST_PROTOCOL)
        self._process.stdin.write(HEADER.pack(len(data)) + data)
        await self._process.stdin.drain()
        return await future

    async def _read(self) -> None:
        assert self._process.stdout is not None
        try:
            while True:
                size = HEADER.unpack(await self._process.stdout.readexactly(HEADER.size))[0]
                answer = pickle.loads(await self._process.stdout.readexactly(size))
                future = self._waiting.popleft()
                if future.done():
                    continue  # its caller stopped waiting (a sync that failed cancels what is in flight)
                if isinstance(answer, BaseException):
                    future.set_exception(answer)
                else:
                    future.set_result(answer)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            while self._waiting:
                future = self._waiting.popleft()
                if not future.done():
                    future.set_exception(RuntimeError(f"the sync worker stopped: {exc}"))
                    future.exception()  # whoever still awaits it gets it; a sync already stopped need not

    async def close(self) -> None:
        """Stop the worker."""
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            await asyncio.wait_for(self._process.wait(), 10)
        except TimeoutError:
            self._process.kill()
        self._reader.cancel()

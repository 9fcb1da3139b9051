"""Worker processes for big syncs: each prepares the chunks sent on its stdin (`main`).

A plain subprocess, not multiprocessing: spawn and forkserver re-import the host program's main
module (which a library cannot ask of the apps that use it), and fork copies a process whose
threads may hold locks. Each request and answer is a length-prefixed pickle; answers come in
the order the requests did.
"""

from __future__ import annotations

import asyncio
import pickle
import struct
import sys
from collections import deque
from typing import Any

from .prepare import Prepared, prepare

_HEADER = struct.Struct("!Q")


class Worker:
    """The parent's side: `await worker.prepare(*args)` (several may be in flight, answered in order)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self._waiting: deque[asyncio.Future[Prepared]] = deque()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def start(cls) -> Worker:
        """Start the worker process."""
        process = await asyncio.create_subprocess_exec(
            # -c, not -m: the package imports this module, and -m would run it a second time
            sys.executable, "-c", "from yurudb.claude.worker import main; main()", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, limit=2**30)
        return cls(process)

    async def prepare(self, *args: Any) -> Prepared:
        """What prepare(*args) returns, computed in the worker."""
        assert self._process.stdin is not None
        future: asyncio.Future[Prepared] = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        data = pickle.dumps(args, protocol=pickle.HIGHEST_PROTOCOL)
        self._process.stdin.write(_HEADER.pack(len(data)) + data)
        await self._process.stdin.drain()
        return await future

    async def _read(self) -> None:
        assert self._process.stdout is not None
        try:
            while True:
                size = _HEADER.unpack(await self._process.stdout.readexactly(_HEADER.size))[0]
                answer = pickle.loads(await self._process.stdout.readexactly(size))
                future = self._waiting.popleft()
                if isinstance(answer, BaseException):
                    future.set_exception(answer)
                else:
                    future.set_result(answer)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            while self._waiting:
                self._waiting.popleft().set_exception(RuntimeError(f"the sync worker stopped: {exc}"))

    async def close(self) -> None:
        """Stop the worker."""
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            await asyncio.wait_for(self._process.wait(), 10)
        except TimeoutError:
            self._process.kill()
        self._reader.cancel()


def main() -> None:
    """The worker's loop: requests on stdin, answers on stdout, until stdin closes."""
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    while True:
        header = source.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return
        args = pickle.loads(source.read(_HEADER.unpack(header)[0]))
        try:
            answer: Any = prepare(*args)
        except Exception as exc:  # handed back: the parent's sync reports it
            answer = exc
        data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        sink.write(_HEADER.pack(len(data)) + data)
        sink.flush()


if __name__ == "__main__":
    main()

"""The single writer: a bounded queue drained in batches, one transaction per batch, futures resolved after commit."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any

from .. import errors
from ..backends.sqlite import integrity
from ..backends.sqlite.connection import ThreadConnection
from ..backends.sqlite.transaction import UnitOfWork
from ..degraded.fallback import Fallback
from ..errors import (
    CorruptDatabaseError,
    DatabaseError,
    LockedError,
    MigrationError,
    ReadOnlyError,
    StoreClosedError,
    UnavailableError,
)
from ..events import WriteFailed
from ..writes.batch import BatchEffects, apply_batch
from ..writes.ops import Write, coalesce

log = logging.getLogger(__name__)

_STOP = object()



class _Barrier:
    """A queue marker resolved once everything queued before it is committed (flush)."""

    def __init__(self, future: asyncio.Future[None]) -> None:
        self.future = future


class Writer:
    """Owns the writer connection; `submit` returns once the write is committed (group commit)."""

    def __init__(
        self,
        connection: ThreadConnection,
        *,
        batch_size: int = 500,
        linger: float = 0.0,
        queue_size: int = 10_000,
        keep_messages: int | None = None,
        lock_retries: int = 1,
        fallback: Fallback | None = None,
        read_only: bool = False,
        index_search: bool = True,
        on_applied: Callable[[BatchEffects], None] | None = None,
    ) -> None:
        self.connection = connection
        self.read_only = read_only  # a store opened read-only: every write is refused before it is queued
        self.index_search = index_search  # each transaction keeps the full-text index in step
        self.batch_size = batch_size
        self.linger = linger
        self.keep_messages = keep_messages  # retention="delete" only; None deletes nothing
        self.lock_retries = lock_retries
        # Told what every applied batch changed (the fallback reports its batches to the same feed).
        self._notify = on_applied if on_applied is not None else (lambda effects: None)
        self.fallback = fallback
        self.commits = 0  # committed transactions, for tests and benchmarks
        self.written = 0  # writes committed (what the WAL has grown by, roughly)
        self.last_commit = 0.0
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=queue_size)
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        """Start the writer task."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="yurudb-writer")

    @property
    def degraded(self) -> bool:
        """Running from memory and the spill journal because the database failed."""
        return self.fallback is not None and self.fallback.active

    @property
    def idle(self) -> bool:
        """Nothing queued."""
        return self._queue.empty()

    def _accepting(self) -> None:
        if self._closing:
            raise StoreClosedError("the store is closed")
        if self.read_only:
            raise ReadOnlyError("the store was opened read-only")

    async def submit(self, write: Write) -> Any:
        """Queue one write and wait until it is committed; returns its result."""
        self._accepting()
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        write.waiters.append(fut)
        try:
            self._queue.put_nowait(write)
        except asyncio.QueueFull:
            await self._queue.put(write)  # backpressure: wait for the writer to catch up
        return await fut

    async def submit_many(self, writes: list[Write]) -> list[Any]:
        """Queue writes back to back (they usually share one transaction); results in order."""
        self._accepting()
        loop = asyncio.get_running_loop()
        futs = []
        for w in writes:
            fut: asyncio.Future[Any] = loop.create_future()
            w.waiters.append(fut)
            futs.append(fut)
            await self._queue.put(w)
        return list(await asyncio.gather(*futs, return_exceptions=True))

    async def flush(self) -> None:
        """Wait until everything queued so far is committed (or handed to the fallback)."""
        if self._task is None or self._task.done():
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Barrier(fut))
        await fut

    async def close(self) -> None:
        """Commit what is queued, then stop (also after a start-up that never started the task)."""
        self._closing = True
        if self._task is not None and not self._task.done():
            await self._queue.put(_STOP)
            await self._task
        await self.connection.close()
        if self.fallback is not None:
            await self.fallback.close()

    async def _run(self) -> None:
        stop = False
        loop = asyncio.get_running_loop()
        while not stop:
            if self.degraded:
                assert self.fallback is not None
                try:
                    item = await asyncio.wait_for(self._queue.get(), self.fallback.seconds_to_retry(loop.time()))
                except TimeoutError:
                    await self._try_recover()
                    continue
            else:
                item = await self._queue.get()
            batch: list[Write] = []
            barriers: list[_Barrier] = []
            stop = self._take(item, batch, barriers)
            if not stop:
                stop = await self._fill(batch, barriers)
            batch = [w for w in batch if w.live]
            if self.degraded and self.fallback is not None and self.fallback.seconds_to_retry(loop.time()) == 0:
                await self._try_recover()
            if batch:
                if self.degraded and self.fallback is not None:
                    # Order matters: nothing may reach the database ahead of what the journal holds.
                    await self._to_memory(batch)
                else:
                    await self._commit(batch)
            for b in barriers:
                if not b.future.done():
                    b.future.set_result(None)
        if self.degraded:
            await self._try_recover()  # one last attempt at close; the journal keeps the rest

    async def _try_recover(self) -> bool:
        """Replay what memory holds in one transaction; back to normal on success."""
        fallback = self.fallback
        assert fallback is not None
        loop = asyncio.get_running_loop()
        try:
            if fallback.prepare is not None:
                with errors.translated():
                    await fallback.prepare()
            _, effects = await self._apply(fallback.pending())
        except (DatabaseError, MigrationError, OSError) as exc:
            fallback.retry_failed(exc, loop.time())
            return False
        await fallback.recovered()
        self._notify(effects)
        return True

    def _take(self, item: Any, batch: list[Write], barriers: list[_Barrier]) -> bool:
        if item is _STOP:
            return True
        if isinstance(item, _Barrier):
            barriers.append(item)
        else:
            batch.append(item)
        return False

    async def _fill(self, batch: list[Write], barriers: list[_Barrier]) -> bool:
        """Take what else is queued, up to batch_size, lingering up to `linger` seconds for more."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.linger
        while len(batch) < self.batch_size:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return False
                try:
                    item = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    return False
            if self._take(item, batch, barriers):
                return True
        return False

    async def _commit(self, batch: list[Write]) -> None:
        """Apply a batch; retry lock timeouts; isolate a bad write; hand storage failures to the fallback."""
        writes = coalesce(batch)
        attempt = 0
        while True:
            try:
                results, effects = await self._apply(writes)
            except DatabaseError as exc:
                if isinstance(exc, LockedError) and attempt < self.lock_retries:
                    attempt += 1
                    await asyncio.sleep(min(0.05 * 2**attempt, 1.0) * (0.5 + random.random()))
                    continue
                if exc.__class__ is DatabaseError and len(writes) > 1:
                    # Not a storage fault (e.g. a constraint we did not foresee).
                    await self._one_at_a_time(writes)
                    return
                await self._handle_failure(writes, exc)
                return
            except Exception as exc:  # a bug must fail its callers, never hang them or sink the batch
                if len(writes) > 1:
                    await self._one_at_a_time(writes)
                    return
                log.exception("yurudb writer: unexpected error")
                writes[0].fail(exc)
                if self.fallback is not None:
                    self.fallback.emit(WriteFailed(error=repr(exc), writes=1))
                return
            break
        self._notify(effects)
        for w, result in zip(writes, results, strict=True):
            if isinstance(result, BaseException):
                w.fail(result)
            else:
                w.resolve(result)

    async def _one_at_a_time(self, writes: list[Write]) -> None:
        """One transaction per write, so only the write at fault fails; after a degrade, the rest
        go to the fallback in order (nothing may reach the database ahead of the journal)."""
        for k, w in enumerate(writes):
            if self.degraded and self.fallback is not None:
                await self._to_memory(writes[k:])
                return
            await self._commit([w])

    async def _apply(self, writes: list[Write]) -> tuple[list[Any], BatchEffects]:
        with errors.translated():
            try:
                async with UnitOfWork(self.connection, index_search=self.index_search) as uow:
                    results, effects = await uow.run(apply_batch, writes, self.keep_messages, commit=True)
            except BaseException:
                # A failed commit can leave the connection unusable (I/O error); reconnect next time.
                await self.connection.reset()
                raise
        self.commits += 1
        self.written += len(writes)
        self.last_commit = asyncio.get_running_loop().time()
        return results, effects

    async def _to_memory(self, writes: list[Write]) -> None:
        """Hand writes to the degraded path; if even that fails, their callers get the error (never a hang)."""
        assert self.fallback is not None
        try:
            await self.fallback.accept(writes)
        except Exception as exc:
            log.exception("yurudb writer: the degraded path failed")
            for w in writes:
                w.fail(exc)
            self.fallback.emit(WriteFailed(error=repr(exc), writes=len(writes)))

    async def run_exclusive(self, fn: Callable[..., tuple[BatchEffects, Any]], *args: Any) -> Any:
        """Run fn(Tx, *args) as one transaction on the writer's connection, between batches (a bulk write:
        the archive's sync). fn returns (effects, result); listeners hear the effects after the commit."""
        self._accepting()
        if self.degraded:
            raise UnavailableError("the database is unavailable (the store is degraded); try again later")
        with errors.translated():
            try:
                async with UnitOfWork(self.connection, index_search=self.index_search) as uow:
                    effects, result = await uow.run(fn, *args, commit=True)
            except BaseException:
                await self.connection.reset()  # as after a failed batch: reconnect next time
                raise
        self.commits += 1
        self.last_commit = asyncio.get_running_loop().time()
        self._notify(effects)
        return result

    async def _handle_failure(self, writes: list[Write], exc: DatabaseError) -> None:
        reason = str(exc)
        if isinstance(exc, CorruptDatabaseError):
            # Start-up only runs the full quick_check on small files: make the next one check this one.
            integrity.mark_suspect(self.connection.path, reason)
            reason = f"the database file is damaged ({exc}); the next start repairs it"
        fallback = self.fallback
        if fallback is not None and fallback.handles(exc):
            fallback.enter(reason, asyncio.get_running_loop().time())
            await self._to_memory(writes)
            return
        for w in writes:
            w.fail(exc)
        if fallback is not None:
            fallback.emit(WriteFailed(error=str(exc), writes=len(writes)))

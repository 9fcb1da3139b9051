"""`watch`: follow `~/.claude/projects` live; each line Claude Code appends is archived within a second.

A full sync first, then watchfiles reports what changed and only those files are synced (from
their cursors). A folder that appears, goes or is renamed (a project folder moved, a copied-in
history) is reported as the folder alone, not its files: it makes a full pass (a stat per file).
Changes are gathered for at most `debounce_ms` (Claude Code writes a response as a burst of lines)
and synced together. Every pass commits before the next begins, so stopping (Ctrl-C,
`stop`) leaves everything seen committed.

A pass that fails (another process holds the database past the busy timeout, the disk is full, the
store is degraded, a file changed under the pass) ends nothing: it is reported, its files are synced
again at the next change or after a back-off, whichever comes first, and nothing is lost meanwhile,
since a file's cursor moves only with the lines its transaction commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConflictError, DatabaseError, NotFoundError
from ..store.store import Store
from .footprint import HISTORY
from .sync import DEFAULT_ROOT, SyncReport, sync

DEBOUNCE_MS = 300  # the longest a change waits to be grouped with others
STEP_MS = 25  # a pause this long after a change ends the group
TICK_MS = 500  # how often a watch with a failed pass behind it looks whether to try again
RETRY_FIRST = 1.0  # seconds before a failed pass is tried again, doubling while it keeps failing ...
RETRY_MAX = 30.0  # ... up to this
# What a later pass can get past: the database busy, full, degraded or unreadable for now, a file
# that changed under the pass, a file system error. Anything else is a bug and ends the watch.
TRANSIENT = (DatabaseError, ConflictError, OSError)


@dataclass
class WatchStatus:
    """What the watcher has done so far (for a live status line)."""

    passes: int = 0
    files: set[str] = field(default_factory=set)
    lines: int = 0
    last_session: str | None = None
    last: SyncReport | None = None
    failures: int = 0  # passes that failed (each tried again)
    error: str | None = None  # why the latest pass failed; None once a pass succeeds
    retry_in: float = 0.0  # seconds until a failed pass is tried again (0: nothing waiting)


async def watch(
    store: Store,
    root: str | Path | None = None,
    *,
    stop: asyncio.Event | None = None,
    on_pass: Callable[[SyncReport, WatchStatus], object] | None = None,
    on_error: Callable[[BaseException, WatchStatus], object] | None = None,
    debounce_ms: int = DEBOUNCE_MS,
) -> WatchStatus:
    """Sync `root`, then every file that changes, until `stop` is set (or the task is cancelled).

    A failed pass is reported to `on_error` and tried again (`status.error` says why while it
    fails); when `stop` comes, one last pass is tried and `status.error` tells whether it failed.
    If `root` itself goes, `on_error` is told (a NotFoundError) and the watch waits for it to return.
    """
    from watchfiles import awatch

    base = Path(root).expanduser().resolve() if root is not None else DEFAULT_ROOT.resolve()
    status = WatchStatus()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    # files a failed pass left to sync again (None: all of them, the full pass failed); empty: none
    owed: set[str] | None = set()
    retry_at = 0.0
    failed_in_row = 0

    async def one_pass(only: set[str] | None) -> None:
        nonlocal owed, retry_at, failed_in_row
        wanted = None if only is None or owed is None else only | owed
        try:
            report = await sync(store, base, only=wanted)
        except NotFoundError:
            if base.is_dir():
                raise
            owed = None  # the folder went during the pass: the watch notices, waits, then walks it all
            return
        except TRANSIENT as exc:
            owed = None if wanted is None else set(wanted)
            failed_in_row += 1
            status.failures += 1
            status.error = f"{type(exc).__name__}: {exc}"
            status.retry_in = min(RETRY_MAX, RETRY_FIRST * 2 ** (failed_in_row - 1))
            retry_at = loop.time() + status.retry_in
            if on_error is not None:
                on_error(exc, status)
            return
        owed, failed_in_row = set(), 0
        status.error, status.retry_in = None, 0.0
        status.passes += 1
        status.lines += report.lines
        status.last = report
        if report.lines:
            status.last_session = report.last_session
        if on_pass is not None:
            on_pass(report, status)

    await one_pass(None)
    while not stop.is_set():
        # the watcher also wakes every TICK_MS with no change (an empty set), for a pass owed a retry
        # history.jsonl beside a projects folder is archived too: watched when it is there
        history = base.parent / HISTORY
        extra = [history] if base.name == "projects" and history.is_file() else []
        caught_up = False
        try:
            async for changes in awatch(base, *extra, stop_event=stop, debounce=debounce_ms, step=STEP_MS,
                                        rust_timeout=TICK_MS, yield_on_timeout=True, watch_filter=_wanted):
                if not base.is_dir():
                    break  # the folder itself went, and its watcher with it
                if not caught_up:
                    # the watcher is running now: a pass for what changed between the walk and its start
                    # (a line written then would otherwise wait for the file's next change)
                    caught_up = True
                    await one_pass(None)
                # every file counts (transcripts, tool outputs, sidecars, memory); what is not a file now
                # may be a folder made, removed or renamed
                touched = {path for _change, path in changes if path.endswith(".jsonl") or os.path.isfile(path)}
                status.files |= {path for path in touched if path.endswith(".jsonl")}
                if len(touched) < len(changes):  # a folder: which files came or went with it, only a walk tells
                    await one_pass(None)
                elif touched:
                    await one_pass(touched)
                elif status.error is not None and loop.time() >= retry_at:
                    await one_pass(set())  # only what is owed
            else:
                break  # stopped
        except FileNotFoundError:
            if base.is_dir():
                raise
            # the folder went between the walk and the watcher's start (the watcher cannot begin on it)
        # Gone (removed, or its disk unmounted): its files are not marked gone (a sync never takes a
        # missing folder for an empty one), and the watch waits for it, then walks it again.
        status.error, status.retry_in = f"{base} is gone: waiting for it to come back", 0.0
        if on_error is not None:
            on_error(NotFoundError(status.error), status)
        while not base.is_dir() and not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TICK_MS / 1000)
        if base.is_dir():
            await one_pass(None)
    if base.is_dir():
        await one_pass(None)  # stopping: what changed since the last event is committed too (stat-only if nothing)
    return status


def _wanted(_change: object, path: str) -> bool:
    """Any file Claude Code keeps, or what may be a folder; not the temporary files a restore writes."""
    return not path.endswith(".yurudb-restore")

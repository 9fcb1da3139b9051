"""`watch`: follow `~/.claude/projects` live; each line Claude Code appends is archived within a second.

A full sync first, then watchfiles reports what changed and only those files are synced (from
their cursors). Changes are gathered for at most `debounce_ms` (Claude Code writes a response as a
burst of lines) and synced together. Every pass commits before the next begins, so stopping (Ctrl-C,
`stop`) leaves everything seen committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..store import Store
from .sync import DEFAULT_ROOT, SyncReport, sync

DEBOUNCE_MS = 300  # the longest a change waits to be grouped with others
STEP_MS = 25  # a pause this long after a change ends the group


@dataclass
class WatchStatus:
    """What the watcher has done so far (for a live status line)."""

    passes: int = 0
    files: set[str] = field(default_factory=set)
    lines: int = 0
    last_session: str | None = None
    last: SyncReport | None = None


async def watch(
    store: Store,
    root: str | Path | None = None,
    *,
    stop: asyncio.Event | None = None,
    on_pass: Callable[[SyncReport, WatchStatus], object] | None = None,
    debounce_ms: int = DEBOUNCE_MS,
) -> WatchStatus:
    """Sync `root`, then every file that changes, until `stop` is set (or the task is cancelled)."""
    from watchfiles import awatch

    base = Path(root).expanduser().resolve() if root is not None else DEFAULT_ROOT.resolve()
    status = WatchStatus()
    stop = stop or asyncio.Event()

    async def one_pass(only: set[str] | None) -> None:
        report = await sync(store, base, only=only)
        status.passes += 1
        status.lines += report.lines
        status.last = report
        if report.lines:
            status.last_session = report.last_session
        if on_pass is not None:
            on_pass(report, status)

    await one_pass(None)
    async for changes in awatch(base, stop_event=stop, debounce=debounce_ms, step=STEP_MS,
                                watch_filter=lambda _change, path: path.endswith(".jsonl")):
        touched = {path for _change, path in changes}
        status.files |= touched
        await one_pass(touched)
    await one_pass(None)  # stopping: what changed since the last event is committed too (stat-only if nothing)
    return status

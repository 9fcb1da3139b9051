"""Degraded mode: the spill journal beside the database and the in-memory overlay that serves reads meanwhile."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .models import Message, Session, Usage
from .errors import STORAGE_FAULTS, ConflictError, NotFoundError
from .ops import Write, coalesce
from .times import from_column, now_text
from .validation import new_id, now_ms

log = logging.getLogger(__name__)


def journal_path(db: Path) -> Path:
    """The spill journal of a database: `<name>.journal` beside it."""
    return db.with_name(db.name + ".journal")


class SpillJournal:
    """Append-only JSON lines, fsynced per append; replayed (idempotently) when the database works again."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writable = True
        # Set when the file exists but could not be read: it may hold writes we never replayed,
        # so it is set aside instead of removed.
        self.unread = False

    def append(self, writes: list[Write]) -> bool:
        """Append and fsync; False when the folder cannot be written (the writes then live in memory only)."""
        data = "".join(json.dumps(w.to_record(), separators=(",", ":")) + "\n" for w in writes).encode()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            if self.writable:
                log.warning("spill journal %s not writable: %s", self.path, exc)
            self.writable = False
            return False
        self.writable = True
        return True

    def files(self) -> list[Path]:
        """Journals to replay, oldest first: ones set aside unread by an earlier run, then the current one."""
        aside = sorted(self.path.parent.glob(f"{self.path.name}.unreplayed-*"),
                       key=lambda p: int(p.name.rsplit("-", 1)[1]) if p.name.rsplit("-", 1)[1].isdigit() else 0)
        return [*aside, self.path]

    def read(self) -> tuple[list[Write], int]:
        """Every complete entry, in order, and how many lines were unreadable (a torn last line after a crash)."""
        writes: list[Write] = []
        bad = 0
        try:
            files = self.files()
        except OSError:
            files = [self.path]
        for path in files:
            try:
                raw = path.read_bytes()
            except FileNotFoundError:
                continue
            except OSError as exc:
                log.error("spill journal %s cannot be read (%s); it is kept for a later start", path, exc)
                self.unread = True
                continue
            for line in raw.splitlines():
                if not line.strip():
                    continue
                try:
                    writes.append(Write.from_record(json.loads(line)))
                except (ValueError, KeyError, TypeError):
                    bad += 1
        return writes, bad

    def clear(self) -> None:
        """Remove the journal once its writes are committed to the database."""
        try:
            if self.unread and self.path.exists():
                aside = self.path.with_name(f"{self.path.name}.unreplayed-{now_ms()}")
                os.replace(self.path, aside)
                log.error("spill journal set aside unreplayed as %s", aside)
                self.unread = False
                return
            for path in self.files():
                path.unlink(missing_ok=True)
        except OSError as exc:  # a later replay is idempotent; keeping it is safe
            log.warning("could not remove spill journal %s: %s", self.path, exc)


class Base:
    """What the overlay reads from the database (each may fail: then it knows nothing)."""

    def __init__(
        self,
        session: Callable[[str], Awaitable[Session | None]],
        message: Callable[[str], Awaitable[Message | None]],
        max_seq: Callable[[str], Awaitable[int]],
    ) -> None:
        self.session, self.message, self.max_seq = session, message, max_seq


@dataclass
class Overlay:
    """Writes the database has not taken yet, and the state they produce, for reads while degraded."""

    writes: list[Write] = field(default_factory=list)
    sessions: dict[str, Session | None] = field(default_factory=dict)  # None: deleted
    messages: dict[str, dict[str, Message]] = field(default_factory=dict)  # session -> id -> message
    message_owner: dict[str, str] = field(default_factory=dict)
    usage: list[Usage] = field(default_factory=list)
    next_seq: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.writes)

    async def _session(self, sid: str, base: Base) -> Session | None:
        if sid in self.sessions:
            return self.sessions[sid]
        return await base.session(sid)

    async def _message(self, mid: str, base: Base) -> Message | None:
        owner = self.message_owner.get(mid)
        if owner is not None:
            if self.sessions.get(owner, True) is None:
                return None
            return self.messages.get(owner, {}).get(mid)
        found = await base.message(mid)
        if found is not None and self.sessions.get(found.session_id, True) is None:
            return None
        return found

    async def apply(self, writes: list[Write], base: Base) -> list[Any]:
        """Apply writes in memory with the writer's semantics; one result or exception per write."""
        results: list[Any] = []
        for w in coalesce(writes):
            try:
                result = await self._apply_one(w, base)
            except (NotFoundError, ConflictError) as exc:
                results.append((w, exc))
                continue
            self.writes.append(w)
            results.append((w, result))
        return results

    async def _apply_one(self, w: Write, base: Base) -> Any:
        v, now = w.values, from_column(now_text())
        if w.kind == "create_session":
            if await self._session(w.target, base) is not None:
                raise ConflictError(f"session {w.target} already exists")
            created = w.created_session()
            self.sessions[w.target] = created
            return created
        if w.kind == "delete_session":
            if await self._session(w.target, base) is None:
                raise NotFoundError(f"session {w.target} not found")
            self.sessions[w.target] = None
            self.messages.pop(w.target, None)
            self.usage = [u for u in self.usage if u.session_id != w.target]
            return None
        if w.kind == "update_session":
            current = await self._session(w.target, base)
            if current is None:
                raise NotFoundError(f"session {w.target} not found")
            changes: dict[str, Any] = {k: v[k] for k in ("name", "status", "working_directory",
                                                         "claude_session_id", "claude_title", "user_renamed")
                                       if k in v}
            if "meta_json" in v:
                changes["meta"] = w.obj("meta")
            stamp = from_column(v["updated_at"]) if v.get("updated_at") is not None else now
            updated = current.model_copy(update={**changes, "updated_at": stamp})
            self.sessions[w.target] = updated
            return updated
        if w.kind == "append_message":
            sid = v["session_id"]
            session = await self._session(sid, base)
            if session is None:
                raise NotFoundError(f"session {sid} not found")
            existing = await self._message(w.target, base)
            if existing is not None and existing.session_id != sid:
                raise ConflictError(f"message {w.target} belongs to another session ({existing.session_id})")
            if existing is not None:
                seq = existing.seq
            else:
                if sid not in self.next_seq:
                    self.next_seq[sid] = await base.max_seq(sid) + 1
                seq = self.next_seq[sid]
                self.next_seq[sid] = seq + 1
            appended = w.appended_message(seq)
            self._put_message(appended, now, session)
            return appended
        if w.kind == "update_message":
            found = await self._message(w.target, base)
            if found is None:
                raise NotFoundError(f"message {w.target} not found")
            patched = _patched(found, w)
            self._put_message(patched, now, await self._session(patched.session_id, base))
            return patched
        # record_usage
        sid = v["session_id"]
        if await self._session(sid, base) is None:
            raise NotFoundError(f"session {sid} not found")
        if v.get("source_id") is None:
            # Replaying the journal twice (a crash between commit and clear) must not count twice.
            v["source_id"] = f"yurudb-journal:{new_id()}"
        usage = w.recorded_usage(None)
        self.usage.append(usage)
        return usage

    def _put_message(self, message: Message, now: datetime, session: Session | None) -> None:
        self.messages.setdefault(message.session_id, {})[message.id] = message
        self.message_owner[message.id] = message.session_id
        if session is not None:
            self.sessions[message.session_id] = session.model_copy(update={"updated_at": now})

    # ---- reads while degraded: what the database returned, with the overlay laid over it ----
    def merge_sessions(self, from_db: list[Session]) -> list[Session]:
        """Every session, most recently updated first."""
        merged = {s.id: s for s in from_db}
        for sid, session in self.sessions.items():
            if session is None:
                merged.pop(sid, None)
            else:
                merged[sid] = session
        by_id = sorted(merged.values(), key=lambda s: s.id)
        return sorted(by_id, key=lambda s: s.updated_at, reverse=True)  # stable: ties stay in id order

    def merge_messages(self, session_id: str, from_db: list[Message]) -> list[Message]:
        """A session's messages in seq order."""
        merged = {m.id: m for m in from_db}
        merged.update(self.messages.get(session_id, {}))
        return sorted(merged.values(), key=lambda m: m.seq)

    def clear(self) -> None:
        """Forget everything (after the writes reached the database)."""
        self.writes.clear()
        self.sessions.clear()
        self.messages.clear()
        self.message_owner.clear()
        self.usage.clear()
        self.next_seq.clear()


def _patched(message: Message, w: Write) -> Message:
    """A message with an update_message write applied (the same rules as the SQL in batch.py)."""
    v = w.values
    payload = w.obj("payload") if "payload_json" in v else message.payload
    payload = dict(payload) if isinstance(payload, dict) else {}
    changes: dict[str, Any] = {}
    for col in ("type", "role"):
        if col in v:
            changes[col] = v[col]
    for key in ("content", "tool_uses", "usage"):
        if f"{key}_json" in v:
            value = w.obj(key)
            payload[key] = value
            changes[key] = v["content"] if key == "content" else value
    changes["payload"] = payload
    return message.model_copy(update=changes)


class Fallback:
    """The degraded-mode policy: journal + overlay, exponential backoff, and the way back to `ready`."""

    def __init__(self, db: Path, emit: Callable[[Any], None], *, first_delay: float = 0.1, max_delay: float = 30.0) -> None:
        self.journal = SpillJournal(journal_path(db))
        self.overlay = Overlay()
        self.base: Base | None = None
        # Run before each replay attempt (start-up sets it to "migrate if behind": a database that
        # could not be created at start-up has no tables yet when it comes back).
        self.prepare: Callable[[], Awaitable[Any]] | None = None
        self.emit = emit
        self.active = False
        self.attempts = 0
        self.first_delay, self.max_delay = first_delay, max_delay
        self.delay = first_delay
        self._retry_at = 0.0

    def handles(self, exc: BaseException) -> bool:
        """Whether this failure should degrade the store instead of failing the callers."""
        return isinstance(exc, STORAGE_FAULTS)

    def enter(self, reason: str, now: float) -> None:
        """Switch to degraded (idempotent)."""
        if not self.active:
            from .events import Degraded

            self.active = True
            self.delay = self.first_delay
            self._retry_at = now + self.delay
            log.warning("yurudb degraded: %s", reason)
            self.emit(Degraded(reason=reason, journal=str(self.journal.path)))

    def seconds_to_retry(self, now: float) -> float:
        """How long until the next attempt on the database."""
        return max(0.0, self._retry_at - now)

    async def accept(self, writes: list[Write], *, journal: bool = True) -> None:
        """Take writes in memory (and the journal), then answer their callers."""
        assert self.base is not None
        results = await self.overlay.apply(writes, self.base)
        accepted = [w for w, r in results if not isinstance(r, BaseException)]
        if journal and accepted:
            # fsynced before anyone hears "saved", on a worker thread: an fsync can take milliseconds
            # and the event loop serves every other caller meanwhile (the writer task awaits it, so
            # journal order stays the order of acceptance)
            await asyncio.to_thread(self.journal.append, accepted)
        for w, r in results:
            if isinstance(r, BaseException):
                w.fail(r)
            else:
                w.resolve(r)

    def retry_failed(self, exc: BaseException, now: float) -> None:
        """Back off after another failed attempt."""
        from .events import Retrying

        self.attempts += 1
        self.delay = min(self.delay * 2, self.max_delay)
        self._retry_at = now + self.delay
        self.emit(Retrying(attempt=self.attempts, delay=self.delay, reason=str(exc)))

    def recovered(self) -> int:
        """Everything reached the database: clear the journal and the overlay; returns how many writes."""
        from .events import Recovered

        count = len(self.overlay)
        self.journal.clear()
        self.overlay.clear()
        self.active = False
        self.attempts = 0
        self.emit(Recovered(replayed=count))
        return count

    def pending(self) -> list[Write]:
        """Fresh copies of the overlay's writes, for a replay (no callers attached)."""
        return [Write.from_record(w.to_record()) for w in self.overlay.writes]

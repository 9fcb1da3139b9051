"""`recover-history`: prompt-only sessions rebuilt from history.jsonl, for sessions whose transcript
Claude Code deleted before yurudb saw it.

history.jsonl (beside the projects folder) keeps every prompt typed: `display`, `pastedContents`,
`timestamp` (ms), `project` (the working directory) and, in current versions, `sessionId`. It
outlives the transcripts it came with, so it can give back what was asked in sessions long gone.
A rebuilt session is marked (`meta.rebuilt_from = "history.jsonl"`, no Claude session id), holds
user prompts only, and is never restored as a transcript. Running it again adds nothing twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConflictError
from ..lines.transcript import usable_id
from ..store.store import Store
from ..validation import storable
from .footprint import HISTORY, history_copies

REBUILT = "history.jsonl"  # meta.rebuilt_from of a session rebuilt here
GAP_MS = 60 * 60 * 1000  # prompts without a session id: a new session after an hour's silence in a project


@dataclass
class Prompt:
    """One history.jsonl entry."""

    text: str
    timestamp: int
    project: str | None
    session: str | None
    pasted: list[str] = field(default_factory=list)


@dataclass
class HistoryReport:
    """What recover-history found and rebuilt."""

    prompts: int = 0  # distinct entries read
    unreadable: int = 0  # distinct lines that are not an entry (kept in the archive as they are)
    sessions_rebuilt: int = 0
    prompts_added: int = 0
    already_archived: int = 0  # prompts of sessions whose transcript yurudb holds
    rebuilt_ids: list[str] = field(default_factory=list)


def parse(data: bytes, bad: set[bytes]) -> list[Prompt]:
    """The entries of one history.jsonl copy; a line that is not one goes to `bad`, never fatal."""
    out: list[Prompt] = []
    for line in data.splitlines():
        if not line.strip():
            continue
        try:
            entry = json.loads(line.decode("utf-8"))
        except (ValueError, RecursionError):
            bad.add(line)
            continue
        display, when = (entry.get("display"), entry.get("timestamp")) if isinstance(entry, dict) else (None, None)
        if not isinstance(display, str) or isinstance(when, bool) or not isinstance(when, (int, float)):
            bad.add(line)
            continue
        pasted = [p["content"] for p in (entry.get("pastedContents") or {}).values()
                  if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("content"), str)] \
            if isinstance(entry.get("pastedContents"), dict) else []
        project = entry.get("project") if isinstance(entry.get("project"), str) else None
        out.append(Prompt(storable(display), int(when), project, usable_id(entry.get("sessionId")),
                          [storable(p) for p in pasted]))
    return out


def groups(prompts: list[Prompt]) -> dict[str, list[Prompt]]:
    """Prompts by the session they were typed in: its id, or (older entries) project and time."""
    out: dict[str, list[Prompt]] = {}
    last: dict[str | None, tuple[str, int]] = {}
    for p in sorted(prompts, key=lambda p: (p.timestamp, p.text)):
        if p.session is not None:
            key = p.session
        else:
            held = last.get(p.project)
            if held is None or p.timestamp - held[1] > GAP_MS:
                digest = hashlib.sha1(f"{p.project}|{p.timestamp}".encode()).hexdigest()[:16]
                held = (f"~{digest}", p.timestamp)
            key = held[0]
            last[p.project] = (key, p.timestamp)
        out.setdefault(key, []).append(p)
    return out


async def _archived(store: Store, key: str, prompts: list[Prompt]) -> bool:
    """Whether yurudb holds this session's transcript (then the prompts are in it already)."""
    if not key.startswith("~"):
        return bool(await store.fetch_one("SELECT 1 FROM sessions WHERE id = ? OR claude_session_id = ? LIMIT 1",
                                          (key, key)))
    # no session id: covered when an archived session of that folder spans the prompts' time
    first, last = prompts[0], prompts[-1]
    return bool(await store.fetch_one(
        "SELECT 1 FROM sessions WHERE working_directory = ? AND claude_session_id IS NOT NULL "
        "AND created_at <= strftime('%Y-%m-%d %H:%M:%f', ? / 1000.0, 'unixepoch') "
        "AND updated_at >= strftime('%Y-%m-%d %H:%M:%f', ? / 1000.0, 'unixepoch') LIMIT 1",
        (first.project, last.timestamp, first.timestamp)))


async def recover(store: Store, live: list[Path] | None = None) -> HistoryReport:
    """Rebuild a prompt-only session for each session history.jsonl remembers and yurudb never archived.

    Reads every archived copy of history.jsonl and the files in `live` (history.jsonl beside each
    projects folder, which a sync may not have taken yet)."""
    report = HistoryReport()
    copies = await history_copies(store)
    for path in live or []:
        if path.is_file():
            copies.append(path.read_bytes())
    seen: dict[tuple[Any, ...], Prompt] = {}
    bad: set[bytes] = set()
    for data in copies:
        for p in parse(data, bad):
            seen.setdefault((p.timestamp, p.text, p.project, p.session), p)
    report.prompts, report.unreadable = len(seen), len(bad)
    for key, prompts in groups(list(seen.values())).items():
        if await _archived(store, key, prompts):
            report.already_archived += len(prompts)
            continue
        sid = f"history-{key.lstrip('~')}"
        meta = {"rebuilt_from": REBUILT, "prompts_only": True, "claude_session_id": None if key.startswith("~") else key}
        try:
            await store.create_session(storable(prompts[0].text.splitlines()[0][:80] if prompts[0].text.strip()
                                                else "prompts from history.jsonl"),
                                       id=sid, status="completed", working_directory=prompts[0].project, meta=meta,
                                       created_at=prompts[0].timestamp, updated_at=prompts[-1].timestamp)
            report.sessions_rebuilt += 1
            report.rebuilt_ids.append(sid)
        except ConflictError:
            pass  # rebuilt by an earlier run: only prompts it lacks are added
        messages = [{"id": f"{sid}:{p.timestamp}:{n}", "type": "user", "role": "user",
                     "content": "\n\n".join([p.text, *p.pasted]), "timestamp": p.timestamp,
                     "rebuilt_from": REBUILT} for n, p in enumerate(prompts)]
        held = await store.message_owners([m["id"] for m in messages])
        messages = [m for m in messages if m["id"] not in held]  # an earlier run's
        if messages:
            await store.append_messages(sid, messages)
        report.prompts_added += len(messages)
    return report


def live_files(projects_folders: list[Path]) -> list[Path]:
    """history.jsonl beside each projects folder."""
    return [folder.parent / HISTORY for folder in projects_folders]

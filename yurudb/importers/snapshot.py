"""The app's in-memory sessions as JSON (the migration path from the in-memory store), both ways.

A snapshot is a JSON array of session objects as the app holds them:
    {"id", "name", "status", "messages": [...], "workingDirectory", "claudeSessionId", "claudeTitle",
     "userRenamed", "createdAt", "updatedAt", "analytics": [...]}
Messages are stored exactly as given (their `id` is kept; one is derived from the session and
position when missing). `analytics` is a list of usage records
    {"id", "model", "tokensInput", "tokensOutput", "tokensCache", "costUsd", "timestamp"};
any other value is kept verbatim. Keys yurudb has no column for are kept in the session's
metadata, so `export` gives back what was imported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import validation as check
from ..errors import ValidationError, YurudbError
from ..models import Session, Usage
from ..store.store import Store
from ..times import to_ms

KNOWN_KEYS = {"id", "name", "status", "messages", "workingDirectory", "claudeSessionId", "claudeTitle",
              "userRenamed", "createdAt", "updatedAt", "analytics", "metadata"}
# analytics source_id: "snapshot:" + the record's id as JSON, or "snapshot#<n>" for a record without one
USAGE_SOURCE, USAGE_NO_ID = "snapshot:", "snapshot#"


@dataclass
class SnapshotReport:
    """What a snapshot import did."""

    sessions_created: int = 0
    sessions_updated: int = 0
    messages: int = 0
    usage_records: int = 0
    problems: list[str] = field(default_factory=list)


def load(path: Path) -> list[dict[str, Any]]:
    """Read and shape-check a snapshot file (ValidationError when it is not one)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValidationError(f"no such file: {path}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValidationError(f"{path} is not JSON: {exc}") from None
    except RecursionError:
        raise ValidationError(f"{path} nests deeper than JSON can be read here") from None
    if isinstance(data, dict) and isinstance(data.get("sessions"), list):
        data = data["sessions"]
    if not isinstance(data, list) or not all(isinstance(s, dict) for s in data):
        raise ValidationError(f"{path}: a snapshot is a JSON array of session objects")
    for i, s in enumerate(data):
        if not isinstance(s.get("id"), str) or not s["id"]:
            raise ValidationError(f"{path}: session #{i} has no id")
        if not isinstance(s.get("messages", []), list):
            raise ValidationError(f"{path}: session {s['id']} has messages that are not a list")
    return data


async def import_snapshot(store: Store, sessions: list[dict[str, Any]]) -> SnapshotReport:
    """Write snapshot sessions to the store (re-importing replaces, never duplicates).

    All or nothing: every record is validated first, and if any is bad nothing is written and
    `problems` names each bad record.
    """
    report = SnapshotReport()
    report.problems = await validate(store, sessions)
    if report.problems:
        return report
    for s in sessions:
        try:
            await _import_one(store, s, report)
        except YurudbError as exc:  # the database changed under us since the validation
            report.problems.append(f"session {s.get('id')}: {exc}")
    return report


async def validate(store: Store, sessions: list[dict[str, Any]]) -> list[str]:
    """Every problem of a snapshot, each naming its record; [] when all of it can be imported."""
    problems: list[str] = []
    owner: dict[str, str] = {}  # message id -> the snapshot session that holds it
    for i, s in enumerate(sessions):
        sid = s["id"]
        where = f"session #{i} ({sid[:80]})"
        try:
            check.ident(sid, "id")
            check.session_fields(_fields(s))
            for key in ("createdAt", "updatedAt"):
                check.timestamp(s.get(key), key)
        except ValidationError as exc:
            problems.append(f"{where}: {exc}")
        for j, m in enumerate(s.get("messages") or []):
            try:
                write = store.validate_message(sid, m, {} if isinstance(m, dict) and m.get("id") else {"id": f"{sid}:{j}"})
            except ValidationError as exc:
                problems.append(f"{where}, message #{j}: {exc}")
                continue
            if owner.setdefault(write.target, sid) != sid:
                problems.append(f"{where}, message #{j}: id {write.target} is also in session {owner[write.target]}")
        analytics = s.get("analytics")
        for j, u in enumerate(analytics if isinstance(analytics, list) else []):
            try:
                _usage_fields(u)
            except ValidationError as exc:
                problems.append(f"{where}, analytics #{j}: {exc}")
    for mid, sid in (await store.message_owners(list(owner))).items():
        if owner[mid] != sid:
            problems.append(f"session {owner[mid]}: message id {mid} belongs to session {sid} in the database")
    return problems


def _fields(s: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": s.get("name") or f"Session {s['id'][:8]}",
        "status": s.get("status") or "pending",
        "working_directory": s.get("workingDirectory"),
        "claude_session_id": s.get("claudeSessionId"),
        "claude_title": s.get("claudeTitle"),
        "user_renamed": bool(s.get("userRenamed", False)),
    }


def _usage_fields(u: Any) -> dict[str, Any]:
    """record_usage's arguments from a snapshot analytics record (ValidationError when it has bad values)."""
    if not isinstance(u, dict):
        raise ValidationError("not an object")
    fields = {"model": u.get("model"), "tokens_input": u.get("tokensInput", 0), "tokens_output": u.get("tokensOutput", 0),
              "tokens_cache": u.get("tokensCache", 0), "cost_usd": u.get("costUsd", 0.0), "timestamp": u.get("timestamp")}
    check.text(fields["model"], "model")
    for key in ("tokens_input", "tokens_output", "tokens_cache"):
        check.integer(fields[key], key)
    check.number(fields["cost_usd"], "cost_usd")
    check.timestamp(fields["timestamp"])
    return fields


async def _import_one(store: Store, s: dict[str, Any], report: SnapshotReport) -> None:
    sid = s["id"]
    extra = {k: v for k, v in s.items() if k not in KNOWN_KEYS}
    analytics = s.get("analytics")
    meta: dict[str, Any] = dict(s["metadata"]) if isinstance(s.get("metadata"), dict) else {}
    if extra:
        meta["snapshot_extra"] = extra
    if analytics is not None and not isinstance(analytics, list):
        meta["snapshot_analytics"] = analytics
    fields: dict[str, Any] = {**_fields(s), "meta": meta or None}
    try:
        await store.get_session(sid)
        await store.update_session(sid, **fields)
        report.sessions_updated += 1
    except YurudbError as exc:
        if exc.__class__.__name__ != "NotFoundError":
            raise
        await store.create_session(id=sid, created_at=s.get("createdAt"), **fields)
        report.sessions_created += 1
    messages = s.get("messages") or []
    if messages:
        ids = [{"id": f"{sid}:{i}"} if not isinstance(m, dict) or not m.get("id") else {}
               for i, m in enumerate(messages)]
        results = await store.append_messages(sid, messages, projections=ids, return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                report.problems.append(f"session {sid}: {r}")
            else:
                report.messages += 1
    for i, u in enumerate(analytics if isinstance(analytics, list) else []):
        await store.record_usage(
            sid, **_usage_fields(u), source_id=USAGE_SOURCE + json.dumps(u["id"]) if "id" in u else f"{USAGE_NO_ID}{i}",
        )
        report.usage_records += 1
    if s.get("updatedAt") is not None:
        await store.update_session(sid, updated_at=s["updatedAt"])


async def export_session(store: Store, session: Session) -> dict[str, Any]:
    """One session in snapshot form (what import_snapshot takes back)."""
    messages = await store.get_messages(session.id, limit=None)
    usage = await store.usage_records(session.id)
    meta = dict(session.meta or {})
    out: dict[str, Any] = {
        "id": session.id,
        "name": session.name,
        "status": session.status,
        "messages": [m.payload for m in messages],
        "workingDirectory": session.working_directory,
        "claudeSessionId": session.claude_session_id,
        "claudeTitle": session.claude_title,
        "userRenamed": session.user_renamed,
        "createdAt": to_ms(session.created_at),
        "updatedAt": to_ms(session.updated_at),
        "analytics": meta.pop("snapshot_analytics", None) or [_usage_out(u) for u in usage],
    }
    out.update(meta.pop("snapshot_extra", {}))
    if meta:
        out["metadata"] = meta
    return out


def _usage_out(u: Usage) -> dict[str, Any]:
    record: dict[str, Any] = {}
    source = u.source_id or ""
    if source.startswith(USAGE_SOURCE):
        record["id"] = json.loads(source[len(USAGE_SOURCE):])
    elif not source.startswith(USAGE_NO_ID):
        record["id"] = source or u.id  # recorded by the app or an import: its own key
    record.update(model=u.model, tokensInput=u.tokens_input, tokensOutput=u.tokens_output,
                  tokensCache=u.tokens_cache, costUsd=u.cost_usd, timestamp=to_ms(u.timestamp))
    return record

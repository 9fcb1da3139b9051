"""Applying one batch of writes inside one unit of work: checks first, then grouped SQL, then retention."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
import json
from datetime import datetime
from typing import Any

from ..backends.sqlite.transaction import Tx
from ..errors import ConflictError, NotFoundError
from ..models import Session
from ..search import index as search
from ..tables.rows import MESSAGE_COLUMNS, SESSION_COLUMNS, message_from_row, session_from_row
from ..times import from_column, now_text
from .ops import Write
from .statements import INSERT_SESSION, UPSERT_MESSAGE, UPSERT_USAGE, next_seqs, session_row

INSERT_USAGE = UPSERT_USAGE + " RETURNING id"
SESSION_UPDATE_COLUMNS = {
    "name": "name", "status": "status", "working_directory": "working_directory",
    "claude_session_id": "claude_session_id", "claude_title": "claude_title",
    "user_renamed": "user_renamed", "meta_json": "metadata",
}
MESSAGE_PATCH_KEYS = ("content", "tool_uses", "usage")


@dataclass
class BatchEffects:
    """What a committed batch changed, for the session cache."""

    sessions: dict[str, Session | None] = field(default_factory=dict)  # None: deleted
    touched: dict[str, datetime] = field(default_factory=dict)  # session id -> new updated_at
    trimmed: dict[str, int] = field(default_factory=dict)  # session id -> old messages deleted by retention


class EffectsFeed:
    """Who hears what each applied batch changed, in the file or (degraded) in memory: the session cache.

    Built once by the composition root and handed to the writer and the fallback, so the write path
    calls nothing above it: it only reports to whoever subscribed.
    """

    def __init__(self) -> None:
        self._listeners: list[Callable[[BatchEffects], None]] = []

    def subscribe(self, listener: Callable[[BatchEffects], None]) -> None:
        """Call `listener(effects)` after every applied batch."""
        self._listeners.append(listener)

    def __call__(self, effects: BatchEffects) -> None:
        for listener in self._listeners:
            listener(effects)


@dataclass
class _Held:
    """What the database holds that a batch's writes depend on (the check step's answer)."""

    live: set[str]  # sessions that exist
    owners: dict[str, tuple[str, int]]  # message id -> (session, seq), kept current as the plan goes
    owners_before: dict[str, tuple[str, int]]  # the same, as the batch found it
    synced: set[str]  # messages that are transcript lines (kept as Claude Code wrote them)
    next_seq: dict[str, int]  # session -> the seq its next message takes


@dataclass
class _Plan:
    """What a batch will do: statements in write order, and each write's result or error."""

    results: list[Any]
    effects: BatchEffects = field(default_factory=BatchEffects)
    rows: list[tuple[str, tuple[Any, ...], int]] = field(default_factory=list)  # (sql, params, write index)
    singles: dict[int, tuple[str, tuple[Any, ...]]] = field(default_factory=dict)  # statements whose rows are results
    touched_at: dict[str, str] = field(default_factory=dict)  # session -> its new updated_at, as text


def apply_batch(
    uow: Tx, writes: list[Write], keep_messages: int | None = None
) -> tuple[list[Any], BatchEffects]:
    """Apply writes in order; returns one result or exception per write (per-write errors do not abort).

    Four steps: check what the database holds, plan each write against it (refusals are results,
    not aborts), run the plan with the search index moving in the same transaction, then retain.
    `keep_messages` is the opt-in retention (`retention="delete"`): sessions the batch appended to
    keep only their newest `keep_messages` messages. None (the default) deletes nothing.
    """
    now = now_text()
    held = _check(uow, writes)
    # The full-text index moves in this same transaction. An append names its document in its own
    # row (no second write of the row); a message this batch also updates, and every batch that
    # deletes a session, takes the general path after the plan (search.index: one re-index per
    # message, with the batch's last word).
    docs = search.Docs(uow, fast=not any(w.kind == "delete_session" for w in writes))
    plan = _plan(writes, held, docs, now)
    _run(uow, writes, held, docs, plan, now)
    _retain(uow, held, keep_messages, plan.effects)
    return plan.results, plan.effects


def _check(uow: Tx, writes: list[Write]) -> _Held:
    """The sessions and messages the writes name, as the database holds them now."""
    session_ids = {w.values["session_id"] if "session_id" in w.values else w.target for w in writes
                   if w.kind not in ("update_message",)}
    live = {r[0] for r in uow.select_in("SELECT id FROM sessions WHERE id IN ({})", session_ids)}
    message_ids = {w.target for w in writes if w.kind in ("append_message", "update_message")}
    found = uow.select_in("SELECT id, session_id, seq, file_id FROM messages WHERE id IN ({})", message_ids)
    owners: dict[str, tuple[str, int]] = {r[0]: (r[1], r[2]) for r in found}
    appended_to = {w.values["session_id"] for w in writes if w.kind == "append_message"}
    return _Held(live=live, owners=owners, owners_before=dict(owners), synced={r[0] for r in found if r[3] is not None},
                 next_seq=next_seqs(uow, appended_to))


def _plan(writes: list[Write], held: _Held, docs: search.Docs, now: str) -> _Plan:
    """Each write against what is held: its statement and result, or the error it gets instead."""
    now_dt = from_column(now)
    assert now_dt is not None
    plan = _Plan(results=[None] * len(writes))

    def touch(sid: str, w: Write, at: str | None = None) -> None:
        # A write held while degraded carries the time it was acknowledged (`at`): replayed later,
        # it keeps that time, so reads before and after recovery agree. Others happen now. The
        # batch's last write to a session sets its time.
        at = at or w.values.get("at")
        text, moment = (now, now_dt) if at is None else (at, from_column(at) or now_dt)
        plan.touched_at[sid], effects.touched[sid] = text, moment

    results, effects, live, owners, next_seq = plan.results, plan.effects, held.live, held.owners, held.next_seq
    updated = {w.target for w in writes if w.kind == "update_message"}
    for i, w in enumerate(writes):
        v = w.values
        if w.kind == "create_session":
            if w.target in live:
                if w.replay:
                    continue
                results[i] = ConflictError(f"session {w.target} already exists")
                continue
            live.add(w.target)
            session = w.created_session()
            results[i] = session
            effects.sessions[w.target] = session
            plan.rows.append((INSERT_SESSION, session_row(w.target, v["name"], v["status"], v["working_directory"],
                                                          v["claude_session_id"], v["claude_title"],
                                                          v["user_renamed"], v["created_at"], v["updated_at"],
                                                          v["meta_json"]), i))
        elif w.kind == "append_message":
            sid = v["session_id"]
            if sid not in live:
                results[i] = NotFoundError(f"session {sid} not found")
                continue
            owner = owners.get(w.target)
            if owner is not None and w.target in held.synced:
                results[i] = ConflictError(f"message {w.target} is a synced transcript line")
                continue
            if owner is not None and owner[0] != sid:
                results[i] = ConflictError(f"message {w.target} belongs to another session ({owner[0]})")
                continue
            if owner is not None:
                seq = owner[1]
            else:
                seq = next_seq.get(sid, 1)
                next_seq[sid] = seq + 1
            owners[w.target] = (sid, seq)
            results[i] = w.appended_message(seq)
            touch(sid, w)
            doc = docs.take(w) if w.target not in updated else None
            plan.rows.append((UPSERT_MESSAGE, (w.target, sid, seq, v["type"], v["role"], v["content"],
                                               v["tool_uses_json"], v["usage_json"], v["timestamp"],
                                               v["payload_json"], doc), i))
        elif w.kind == "update_message":
            owner = owners.get(w.target)
            if owner is None:
                results[i] = NotFoundError(f"message {w.target} not found")
                continue
            if w.target in held.synced:
                results[i] = ConflictError(f"message {w.target} is a synced transcript line: the archive keeps "
                                           "it as Claude Code wrote it")
                continue
            touch(owner[0], w)
            plan.singles[i] = _message_update(w)
            plan.rows.append(("", (), i))
        elif w.kind == "record_usage":
            sid = v["session_id"]
            if sid not in live:
                results[i] = NotFoundError(f"session {sid} not found")
                continue
            plan.singles[i] = (INSERT_USAGE, (sid, v["tokens_input"], v["tokens_output"], v["tokens_cache"],
                                              v["cost_usd"], v["model"], v["timestamp"], v["source_id"],
                                              v.get("tokens_cache_write"), v.get("tokens_cache_read")))
            plan.rows.append(("", (), i))
        elif w.kind == "update_session":
            if w.target not in live:
                results[i] = NotFoundError(f"session {w.target} not found")
                continue
            at = w.values.get("updated_at") or w.values.get("at") or now
            plan.singles[i] = _session_update(w, at)
            touch(w.target, w, at)
            plan.rows.append(("", (), i))
        elif w.kind == "delete_session":
            if w.target not in live:
                if not w.replay:
                    results[i] = NotFoundError(f"session {w.target} not found")
                continue
            live.discard(w.target)
            held.owners = owners = {k: o for k, o in owners.items() if o[0] != w.target}
            next_seq.pop(w.target, None)
            effects.touched.pop(w.target, None)
            plan.touched_at.pop(w.target, None)
            effects.sessions[w.target] = None
            plan.rows.append(("DELETE FROM sessions WHERE id = ?", (w.target,), i))
    return plan


def _run(uow: Tx, writes: list[Write], held: _Held, docs: search.Docs, plan: _Plan, now: str) -> None:
    """The plan's statements in order, the index moving with them, then every touched session's time."""
    # The full-text index changes in this same transaction, once per message with the batch's last
    # word (a streamed message updated ten times in one batch is re-indexed once, in place).
    results, before_batch = plan.results, set(held.owners_before)
    updated = {w.target for w in writes if w.kind == "update_message"}
    changing = {w.target for i, w in enumerate(writes)
                if w.kind in ("append_message", "update_message") and not isinstance(results[i], BaseException)}
    if docs.fast:
        # appends carry their document (docs.take); an existing message appended again leaves the
        # index first; a message this batch updates goes from the text it holds to its last text
        search.unindex(uow, (changing & before_batch) - updated)
        before = search.current(uow, changing & updated & before_batch)
        _run_plan(uow, plan.rows, plan.singles, writes, results, plan.effects)
        docs.insert()
        search.replace(uow, docs, before, _last_bodies(writes, results, changing & updated))
    else:
        # a batch that deletes a session: out with the text they hold now, back in from the rows left
        search.unindex(uow, changing & (before_batch | updated))
        search.unindex_sessions(uow, [w.target for w, sql in ((writes[i], s) for s, _, i in plan.rows)
                                      if w.kind == "delete_session" and sql])
        _run_plan(uow, plan.rows, plan.singles, writes, results, plan.effects)
        search.index(uow, changing)
    by_time: dict[str, list[str]] = {}
    for sid, at in plan.touched_at.items():  # a session deleted in the batch left it
        by_time.setdefault(at, []).append(sid)
    for at, touched in by_time.items():
        # one statement for all the sessions touched at one time (a batch's own: `now`; a replay's:
        # the times its writes were acknowledged)
        uow.execute("UPDATE sessions SET updated_at = ? WHERE id IN (SELECT value FROM json_each(?))",
                    (at, json.dumps(touched)))


def _retain(uow: Tx, held: _Held, keep_messages: int | None, effects: BatchEffects) -> None:
    """The opt-in retention: sessions appended to keep their newest `keep_messages` (None: nothing goes)."""
    if keep_messages is None:
        return
    for sid, top in held.next_seq.items():
        if sid in held.live and top - 1 > keep_messages:
            # The window's oldest seq: everything below it goes (seqs only grow, so it is a range).
            search.unindex_where(uow, "session_id = ? AND seq <= ?", (sid, top - 1 - keep_messages))
            gone = uow.execute("DELETE FROM messages WHERE session_id = ? AND seq <= ? RETURNING 1",
                               (sid, top - 1 - keep_messages))
            if gone:
                effects.trimmed[sid] = len(gone)


def _last_bodies(writes: list[Write], results: list[Any], ids: set[str]) -> dict[str, str]:
    """The indexed text each of these messages ends the batch with (its last append or update)."""
    last: dict[str, str] = {}
    for w, r in zip(writes, results, strict=True):
        if w.target not in ids or isinstance(r, BaseException) or r is None:
            continue
        if w.kind == "append_message":
            last[w.target] = search.body_of(w)
        elif w.kind == "update_message":
            last[w.target] = search.indexed(search.text_of(r.content, r.tool_uses, r.payload))
    return last


def _run_plan(
    uow: Tx,
    plan: list[tuple[str, tuple[Any, ...], int]],
    singles: dict[int, tuple[str, tuple[Any, ...]]],
    writes: list[Write],
    results: list[Any],
    effects: BatchEffects,
) -> None:
    """Run the plan in order; consecutive rows of one statement go in one executemany."""
    run_sql = ""
    run_rows: list[Sequence[Any]] = []
    for sql, params, i in plan + [("", (), -1)]:
        if sql != run_sql or i in singles or i < 0:
            if run_rows:
                uow.executemany(run_sql, run_rows)
            run_sql, run_rows = sql, []
        if i in singles:
            stmt, args = singles[i]
            rows = uow.execute(stmt, args)
            results[i] = _single_result(writes[i], rows, effects)
        elif i >= 0:
            run_rows.append(params)


def _single_result(w: Write, rows: list[Any], effects: BatchEffects) -> Any:
    if w.kind == "update_message":
        return message_from_row(rows[0])
    if w.kind == "update_session":
        session = session_from_row(rows[0])
        effects.sessions[w.target] = session
        return session
    return w.recorded_usage(rows[0][0])


def _message_update(w: Write) -> tuple[str, tuple[Any, ...]]:
    """UPDATE ... RETURNING for one (possibly coalesced) message update; patches payload in SQL."""
    v = w.values
    sets: list[str] = []
    params: list[Any] = []
    payload_sql = "payload"
    payload_params: list[Any] = []
    if "payload_json" in v:
        payload_sql = "json(?)"  # typed on PostgreSQL; SQLite's json_set minifies its first argument anyway
        payload_params.append(v["payload_json"])
        for col in ("type", "role"):
            if col in v:
                sets.append(f"{col} = ?")
                params.append(v[col])
    for key in MESSAGE_PATCH_KEYS:
        if f"{key}_json" in v:
            column_value = v["content"] if key == "content" else v[f"{key}_json"]
            sets.append(f"{key} = ?")
            params.append(column_value)
            payload_sql = f"json_set({payload_sql}, '$.{key}', json(?))"
            payload_params.append(v[f"{key}_json"] if v[f"{key}_json"] is not None else "null")
    sets.append(f"payload = {payload_sql}")
    sql = f"UPDATE messages SET {', '.join(sets)} WHERE id = ? RETURNING {MESSAGE_COLUMNS}"
    return sql, (*params, *payload_params, w.target)


def _session_update(w: Write, now: str) -> tuple[str, tuple[Any, ...]]:
    """UPDATE ... RETURNING for one session update."""
    sets, params = [], []
    for key, column in SESSION_UPDATE_COLUMNS.items():
        if key in w.values:
            sets.append(f"{column} = ?")
            value = w.values[key]
            params.append(bool(value) if key == "user_renamed" else value)
    sets.append("updated_at = ?")
    params.append(w.values.get("updated_at") or now)
    sql = f"UPDATE sessions SET {', '.join(sets)} WHERE id = ? RETURNING {SESSION_COLUMNS}"
    return sql, (*params, w.target)

"""Each call of the store validated into a Write (ValidationError if it is bad); nothing here is queued."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .. import validation as check
from ..errors import ValidationError
from ..search import index as search
from ..times import now_text
from ..writes.ops import Write


def create_session(
    name: str, *, id: str | None, status: str, working_directory: str | None, claude_session_id: str | None,
    claude_title: str | None, user_renamed: bool, meta: dict[str, Any] | None,
    created_at: int | datetime | str | None, updated_at: int | datetime | str | None,
) -> Write:
    """A create_session write."""
    fields = check.session_fields({
        "name": name, "status": status, "working_directory": working_directory,
        "claude_session_id": claude_session_id, "claude_title": claude_title,
        "user_renamed": user_renamed, "meta": meta,
    })
    sid = check.ident(id, "id") if id is not None else check.new_id()
    created = check.timestamp(created_at, "created_at") or now_text()
    values = {**fields, "created_at": created,
              "updated_at": check.timestamp(updated_at, "updated_at") or created,
              "meta_json": check.encode_json(fields["meta"], "meta")}
    del values["meta"]
    return Write("create_session", sid, values, {"meta": fields["meta"]})


def update_session(session_id: str, fields: dict[str, Any]) -> Write:
    """An update_session write of the fields given."""
    check.ident(session_id, "session_id")
    if not fields:
        raise ValidationError("nothing to update")
    valid = check.session_fields(fields)
    objects = {}
    if "meta" in valid:
        objects["meta"] = valid["meta"]
        valid["meta_json"] = check.encode_json(valid.pop("meta"), "meta")
    return Write("update_session", session_id, valid, objects)


def message(session_id: str, message: Mapping[str, Any] | None, kw: dict[str, Any], *,
            index_search: bool = True) -> Write:
    """Validate one append into a Write (raises ValidationError; nothing is queued)."""
    check.ident(session_id, "session_id")
    if message is not None and not isinstance(message, Mapping):
        raise ValidationError(f"message must be a dict, not {type(message).__name__}")
    payload: dict[str, Any]
    if message is None:
        payload = {k: v for k, v in kw.items() if v is not None}
    else:
        payload = dict(message)
    given = {k: v for k, v in kw.items() if v is not None}
    fields = {**payload, **given} if given else payload  # explicit arguments win over the dict
    mid = fields.get("id")
    mid = check.ident(mid, "message id") if mid is not None else check.new_id()
    mtype = check.message_type(fields.get("type"))
    role = fields.get("role")
    if role is not None and not isinstance(role, str):
        raise ValidationError("role must be a string")
    content = fields.get("content")
    tool_uses = check.structured(fields.get("tool_uses"), "tool_uses")
    usage = check.structured(fields.get("usage"), "usage")
    stamp = check.timestamp(fields.get("timestamp")) or now_text()
    values = {
        "session_id": session_id, "type": mtype, "role": role,
        "content": check.content_text(content),
        "tool_uses_json": check.encode_json(tool_uses, "tool_uses"),
        "usage_json": check.encode_json(usage, "usage"),
        "timestamp": stamp,
        "payload_json": check.encode_json(payload, "message"),
    }
    # what the search index takes, worked out here, in the caller's task: the writer thread,
    # which every write waits for, then only hands it to SQLite
    body = search.indexed(search.text_of(values["content"], tool_uses, payload)) if index_search else ""
    return Write("append_message", mid, values,
                 {"tool_uses": tool_uses, "usage": usage, "payload": payload, "search_body": body})


def update_message(message_id: str, *, content: Any, tool_uses: Any, usage: Any,
                   payload: Mapping[str, Any] | None) -> Write:
    """An update_message write: `...` leaves a field as it is; a payload replaces the whole message."""
    check.ident(message_id, "message_id")
    values: dict[str, Any] = {}
    given = {"content": content, "tool_uses": tool_uses, "usage": usage}
    if payload is not None:
        if not isinstance(payload, Mapping):
            raise ValidationError("payload must be a dict")
        payload = dict(payload)
        values["payload_json"] = check.encode_json(payload, "payload")
        if "type" in payload:
            values["type"] = check.message_type(payload["type"])
        if "role" in payload:
            if payload["role"] is not None and not isinstance(payload["role"], str):
                raise ValidationError("role must be a string")
            values["role"] = payload["role"]
        given = {k: (payload[k] if v is ... and k in payload else v) for k, v in given.items()}
    for key, value in given.items():
        if value is ...:
            continue
        if key != "content":
            check.structured(value, key)
        values[f"{key}_json"] = check.encode_json(value, key)
        if key == "content":
            values["content"] = check.content_text(value)
    if not values:
        raise ValidationError("nothing to update")
    return Write("update_message", message_id, values)

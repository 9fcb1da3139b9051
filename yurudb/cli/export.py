"""Exporting sessions: JSON in the app's snapshot form, or a readable Markdown conversation."""

from __future__ import annotations

import json

from datetime import datetime, timezone
from typing import Any

from ..models import Message, Session

# Transcript bookkeeping lines a reader does not want in a conversation.
HIDDEN_TYPES = frozenset({"progress", "file-history-snapshot", "queue-operation"})


def when(moment: datetime | None) -> str:
    """A UTC timestamp for people, labelled as such."""
    if moment is None:
        return "-"
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def tool_summary(tool: Any, width: int | None = None) -> str:
    """`Name(key=value, ...)` for a tool_use block: every argument whole, or each cut to `width` characters."""
    def cut(text: str) -> str:
        return text if width is None or len(text) <= width else text[:width] + "…"

    if not isinstance(tool, dict):
        return cut(str(tool))
    args: dict[str, Any] = tool["input"] if isinstance(tool.get("input"), dict) else {}
    inner = ", ".join(f"{k}={cut(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))!r}"
                      for k, v in args.items())
    return f"{tool.get('name', 'tool')}({inner})"


def message_text(m: Message) -> str:
    """The readable text of a message (its content projection, or a short description)."""
    if m.content:
        return m.content
    if isinstance(m.payload, dict):
        msg = m.payload.get("message")
        if isinstance(msg, dict) and isinstance(msg.get("content"), list):
            results = [b for b in msg["content"] if isinstance(b, dict) and b.get("type") == "tool_result"]
            if results:
                return f"[{len(results)} tool result(s)]"
    return ""


def to_markdown(session: Session, messages: list[Message], usage: dict[str, Any] | None = None) -> str:
    """The conversation as Markdown."""
    lines = [f"# {session.name}", ""]
    facts = [("Session", session.id), ("Status", session.status),
             ("Working directory", session.working_directory), ("Claude session", session.claude_session_id),
             ("Claude title", session.claude_title), ("Created", when(session.created_at)),
             ("Updated", when(session.updated_at))]
    if usage:
        facts.append(("Tokens", f"{usage.get('tokens', 0):,}"))
        facts.append(("Cost", f"${usage.get('cost_usd', 0.0):.4f}"))
    lines += [f"- **{k}:** {v}" for k, v in facts if v]
    hidden = 0
    for m in messages:
        if m.type in HIDDEN_TYPES:
            hidden += 1
            continue
        lines += ["", f"## {m.role or m.type} · {when(m.timestamp)}", ""]
        text = message_text(m)
        if text:
            lines.append(text)
        for tool in m.tool_uses or []:
            lines.append(f"- tool: `{tool_summary(tool)}`")
    if hidden:
        lines += ["", f"_{hidden} progress/bookkeeping events not shown._"]
    return "\n".join(lines) + "\n"

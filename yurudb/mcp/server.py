"""`yurudb mcp`: a Model Context Protocol server over stdio, so Claude can search its own past.

Built on the official `mcp` SDK (the `mcp` extra). It opens the database read-only and answers four
tools: search_sessions, list_sessions, get_messages and usage_summary. Every answer cites where it
found what it says (session id and transcript line), and every text in it has its secrets replaced by
`[REDACTED:kind]`: whatever reaches a model never carries a key. Bad arguments are an MCP tool error
(the model reads the message), never a crash: the server keeps answering.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import secrets
from ..errors import YurudbError

MAX_CHARS = 20_000  # the text one get_messages answer carries at most (it says when it stopped short)
MAX_HITS = 50
MAX_MESSAGES = 100
INSTRUCTIONS = (
    "yurudb holds this user's past Claude Code sessions (every prompt, reply, tool call and result). "
    "Use search_sessions to find where something was discussed or done, get_messages to read around a hit, "
    "list_sessions for recent work, usage_summary for tokens and cost. Cite the session id and line you use. "
    "Secrets in the history are shown as [REDACTED:kind].")


def cite(session_id: str, line: int | None, seq: int, thread: str | None = None) -> str:
    """Where a message is, as a person (or a model) can say it and find it again."""
    where = f"line {line}" if line is not None else f"message #{seq}"
    return f"session {session_id}, {where}" + (f" of thread {thread}" if thread else "")


def _marked(hit: Any) -> str:
    return hit.marked("**", "**")


def _message(m: Any) -> dict[str, Any]:
    """A message as a model reads it: its text and tool calls (redacted), where it is, and when."""
    from ..search.text import text_of

    m = secrets.redact_message(m)
    tools = []
    payload = m.payload if isinstance(m.payload, dict) else {}
    inner = payload.get("message") if isinstance(payload.get("message"), dict) else {}
    blocks = inner.get("content") if isinstance(inner.get("content"), list) else []
    for block in blocks:
        if isinstance(block, dict) and block.get("type") == "tool_use":
            tools.append({"name": block.get("name"), "input": block.get("input")})
    if not tools and isinstance(m.tool_uses, list):
        tools = [t for t in m.tool_uses if isinstance(t, dict)]
    return {"seq": m.seq, "line": m.line, "thread": m.thread, "type": m.type, "role": m.role,
            "timestamp": m.timestamp.isoformat() if m.timestamp else None,
            "text": text_of(m.content, None, m.payload), "tool_calls": tools,
            "cite": cite(m.session_id, m.line, m.seq, m.thread)}


def build(store: Any) -> Any:
    """The MCP server over an open (read-only) store."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.types import ToolAnnotations

    server = MCPServer("yurudb", instructions=INSTRUCTIONS, log_level="WARNING")
    read_only = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)

    def said(exc: YurudbError) -> ToolError:
        return ToolError(f"{type(exc).__name__}: {exc}")

    @server.tool(annotations=read_only)
    async def search_sessions(query: str, project: str | None = None, types: list[str] | None = None,
                              since: str | None = None, until: str | None = None, limit: int = 10,
                              offset: int = 0) -> dict[str, Any]:
        """Search every past session: plain words (all must appear), "a phrase", prefix*. Filters: project (a
        working directory and the folders under it), types (user, assistant, system, ...), since/until
        (ISO dates). Hits are best first, each with a snippet (matched words in **bold**) and a citation."""
        if not 1 <= limit <= MAX_HITS:
            raise ToolError(f"limit must be 1-{MAX_HITS}")
        try:
            hits = await store.search(query, working_directory=project, types=types, since=since, until=until,
                                      limit=limit, offset=offset, redact=True)
        except YurudbError as exc:
            raise said(exc) from None
        lines = {}
        if hits:
            ids = [h.message_id for h in hits]
            rows = await store.fetch(f"SELECT id, line FROM messages WHERE id IN ({','.join('?' * len(ids))})", ids)
            lines = {r[0]: r[1] for r in rows}
        return {"hits": [{"session_id": h.session_id, "session_name": secrets.redact(h.session_name),
                          "message_id": h.message_id, "seq": h.seq, "line": lines.get(h.message_id),
                          "thread": h.thread, "type": h.type,
                          "timestamp": h.timestamp.isoformat() if h.timestamp else None,
                          "snippet": _marked(h), "cite": cite(h.session_id, lines.get(h.message_id), h.seq, h.thread)}
                         for h in hits],
                "complete": hits.complete, "note": hits.note,
                "next_offset": offset + len(hits) if len(hits) == limit else None}

    @server.tool(annotations=read_only)
    async def list_sessions(project: str | None = None, text: str | None = None, limit: int = 20,
                            offset: int = 0) -> dict[str, Any]:
        """Past sessions, most recently active first: id, name, project folder, messages, cost, last activity.
        Filter by project (a working directory) or by words in the name, id or folder."""
        if not 1 <= limit <= MAX_HITS:
            raise ToolError(f"limit must be 1-{MAX_HITS}")
        try:
            page = await store.browse(project=project, text=text, limit=limit, offset=offset)
        except YurudbError as exc:
            raise said(exc) from None
        return {"total": page.total, "offset": page.offset,
                "sessions": [{"session_id": s.id, "name": secrets.redact(s.name), "project": s.working_directory,
                              "messages": s.messages, "cost_usd": round(s.cost_usd, 6),
                              "last_active": s.updated_at.isoformat(), "secrets_redacted": s.secrets,
                              "cite": f"session {s.id}"} for s in page.sessions]}

    @server.tool(annotations=read_only)
    async def get_messages(session_id: str, around: int | None = None, after: int | None = None,
                           before: int | None = None, limit: int = 20, thread: str | None = None) -> dict[str, Any]:
        """Read a session's messages, oldest first: `around` a message's seq (a search hit's), `after` or
        `before` a seq to page on, or from the start. `thread` reads a subagent's thread. The answer holds at
        most 20,000 characters of text; it says so and gives `next_after` when it stopped short."""
        if not 1 <= limit <= MAX_MESSAGES:
            raise ToolError(f"limit must be 1-{MAX_MESSAGES}")
        if sum(x is not None for x in (around, after, before)) > 1:
            raise ToolError("give at most one of around, after and before")
        try:
            if around is not None:
                got = await store.get_messages(session_id, limit=limit, before=around + limit // 2 + 1,
                                               thread=thread if thread is not None else ...)
            elif before is not None:
                got = await store.get_messages(session_id, limit=limit, before=before, thread=thread)
            else:
                got = await store.get_messages(session_id, limit=limit, after=after if after is not None else 0,
                                               thread=thread)
            session = await store.get_session(session_id)
        except YurudbError as exc:
            raise said(exc) from None
        out, size, truncated = [], 0, False
        for m in got:
            shown = _message(m)
            weight = len(json.dumps(shown, ensure_ascii=False))
            if out and size + weight > MAX_CHARS:
                truncated = True
                break
            if weight > MAX_CHARS:  # one huge message: its text cut to fit, and said
                shown["text"] = shown["text"][:MAX_CHARS // 2] + f"\n[... {len(shown['text']):,} characters in all]"
                truncated = True
            out.append(shown)
            size += weight
        return {"session_id": session.id, "name": secrets.redact(session.name), "project": session.working_directory,
                "messages": out, "cap": {"max_chars": MAX_CHARS, "truncated": truncated},
                "next_after": out[-1]["seq"] if out and (truncated or len(got) == limit) else None}

    @server.tool(annotations=read_only)
    async def usage_summary(by: str = "model", since: str | None = None, until: str | None = None,
                            project: str | None = None) -> dict[str, Any]:
        """Tokens and cost grouped by model, day, session or project, over an optional date range and project."""
        try:
            rows = await store.usage_summary(by=by, since=since, until=until, project=project)  # type: ignore[arg-type]
        except YurudbError as exc:
            raise said(exc) from None
        return {"by": by, "rows": rows, "total_cost_usd": round(sum(r["cost_usd"] for r in rows), 6)}

    return server


async def serve(db: Path) -> None:
    """Open the database read-only and answer MCP over stdin/stdout until the client goes."""
    from ..recovery.coordinator import open as open_store

    store = await open_store(db, read_only=True, daily_backup=False)
    try:
        await build(store).run_stdio_async()
    finally:
        await store.close()


def install_command(db: Path, python: str) -> list[str]:
    """The `claude mcp add` line that gives Claude Code this server (user scope: every project)."""
    return ["claude", "mcp", "add", "--scope", "user", "yurudb", "--", python, "-m", "yurudb", "--db", str(db), "mcp"]

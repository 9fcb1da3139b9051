"""The typed objects reads return, and the value sets they draw from (no SQLAlchemy: cheap to import)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from .validation import MESSAGE_TYPES, SESSION_STATUSES  # noqa: F401 - the value sets, re-exported


class Session(BaseModel):
    """A session as reads return it."""

    model_config = ConfigDict(frozen=True, defer_build=True)  # schemas build on first use: start-up stays fast

    id: str
    name: str
    status: str = "pending"
    working_directory: str | None = None
    claude_session_id: str | None = None
    claude_title: str | None = None
    user_renamed: bool = False
    created_at: datetime
    updated_at: datetime
    meta: dict[str, Any] | None = None


class SessionSummary(BaseModel):
    """A session as a list shows it: its names, project, size, cost and whether Claude Code still has its files."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    id: str
    name: str
    claude_title: str | None = None
    user_renamed: bool = False
    status: str = "pending"
    working_directory: str | None = None
    claude_session_id: str | None = None
    created_at: datetime
    updated_at: datetime
    messages: int = 0
    cost_usd: float = 0.0
    tokens: int = 0
    source_gone: bool = False  # Claude Code deleted its transcript; the archive still has it
    secrets: int = 0  # secrets found in its messages (yurudb secrets scan lists them)


class SessionPage(BaseModel):
    """One page of a filtered session list, and how many sessions the filters match in all."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    total: int
    offset: int
    sessions: list[SessionSummary]


class SecretFinding(BaseModel):
    """A secret found in a message (its session, seq and transcript line) or in a file kept beside the
    transcripts (its path), and its kind; never the value."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    session_id: str | None  # None: a file of a project, not of one session (its memory, history.jsonl)
    session_name: str | None
    message_id: str | None = None
    seq: int | None = None
    thread: str | None = None
    line: int | None = None  # the line of its transcript file (a synced message)
    path: str | None = None  # a kept file: its path under its projects folder
    kind: str
    preview: str  # the value's first characters and its length: enough to recognise it, not to use it


class Message(BaseModel):
    """A message as reads return it; `payload` is the message exactly as the app gave it."""

    model_config = ConfigDict(frozen=True, defer_build=True)  # schemas build on first use: start-up stays fast

    id: str
    session_id: str
    seq: int
    type: str
    role: str | None = None
    content: str | None = None
    tool_uses: Any = None
    usage: Any = None
    timestamp: datetime | None = None
    payload: Any = None
    # a synced transcript line's thread (a subagent file's subpath; None: the main conversation),
    # and which file (transcript_files.id) and line it is
    thread: str | None = None
    file_id: int | None = None
    line: int | None = None


class Usage(BaseModel):
    """One token/cost record as reads return it."""

    model_config = ConfigDict(frozen=True, defer_build=True)  # schemas build on first use: start-up stays fast

    id: int | None = None
    session_id: str | None = None
    tokens_input: int = 0
    tokens_output: int = 0
    tokens_cache: int = 0
    cost_usd: float = 0.0
    model: str | None = None
    timestamp: datetime | None = None
    source_id: str | None = None
    tokens_cache_write: int | None = None  # tokens_cache split by price; None: not known
    tokens_cache_read: int | None = None

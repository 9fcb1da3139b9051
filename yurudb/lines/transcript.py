"""What one Claude Code transcript line means to yurudb: its projection, its id, its usage and cost."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..errors import YurudbError
from ..pricing import Tokens, response_cost
from ..validation import content_text, ident, storable
from ..validation import timestamp as to_text

NAME_LENGTH = 80
MAX_DEPTH = 256  # a line nested deeper keeps its bytes but gets no message: reading it back must not recurse out


def decode(raw: bytes) -> dict[str, Any] | None:
    """A line's JSON object, or None when it is not one (not JSON, not UTF-8, or nested past MAX_DEPTH)."""
    try:
        # strict UTF-8 (json.loads of bytes would let encoded surrogates through)
        decoded = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    if not isinstance(decoded, dict):
        return None
    # counting brackets runs at memchr speed; only a line that could be that deep is walked
    if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH and _depth(decoded) > MAX_DEPTH:
        return None
    if b"\\ud" in raw or b"\\uD" in raw:
        # an escaped lone surrogate is valid JSON but no column can hold it: what is read and indexed
        # gets U+FFFD in its place, while the line's bytes (what export and restore give) stay exact
        decoded = _storable(decoded)
    return decoded


def usable_id(value: Any) -> str | None:
    """A line's sessionId or uuid when the API can name it (as validation.ident takes ids), else None."""
    try:
        return ident(value, "id")
    except YurudbError:
        return None


def _storable(value: Any) -> Any:
    """The value with every lone surrogate in its strings (keys too) replaced by U+FFFD."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, list):
        return [_storable(v) for v in value]
    if isinstance(value, dict):
        return {_storable(k): _storable(v) for k, v in value.items()}
    return value


def _depth(value: Any) -> int:
    """How deep a decoded JSON value nests, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in item)
    return deepest


def stamp(value: Any) -> str | None:
    """A line's timestamp as column text, or None when it has none (or a malformed one)."""
    if type(value) is str and len(value) == 24 and value[23] == "Z" and value[10] == "T" and value[19] == ".":
        # Claude Code's own form, 2026-03-01T10:00:01.000Z: already UTC to the millisecond
        return f"{value[:10]} {value[11:23]}"
    try:
        return to_text(value)
    except YurudbError:
        return None


def derived_id(line: dict[str, Any] | None, where: str, number: int, raw: bytes) -> str:
    """A stable id for a line without a uuid: its file, its number and its bytes (never shared by two lines)."""
    digest = hashlib.sha1(b"%s|%d|" % (where.encode(), number) + raw).hexdigest()
    kind = line.get("type") if isinstance(line, dict) and isinstance(line.get("type"), str) else "line"
    return f"{kind}-{digest[:24]}"


def prompt_text(line: dict[str, Any]) -> str | None:
    """The user's own words on a user line (not a tool result, command or meta line)."""
    if line.get("type") != "user" or line.get("isMeta") or line.get("isSidechain"):
        return None
    content = (line.get("message") or {}).get("content") if isinstance(line.get("message"), dict) else None
    if isinstance(content, list):
        texts = [b.get("text") for b in content if isinstance(b, dict) and b.get("type") == "text"]
        content = "\n".join(t for t in texts if isinstance(t, str)) or None
    if not isinstance(content, str) or not content.strip() or content.lstrip().startswith(("<", "[Request interrupted")):
        return None
    return " ".join(content.split())[:NAME_LENGTH]


def project(line: dict[str, Any]) -> dict[str, Any]:
    """The queryable columns of a line (role, content text, tool uses, usage); its bytes are the payload."""
    message = line.get("message") if isinstance(line.get("message"), dict) else {}
    content = message.get("content") if message else line.get("content", line.get("summary"))
    tool_uses = None
    if isinstance(content, list):
        tool_uses = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_use"] or None
    text: str | None
    if isinstance(content, (dict, int, float)) and not isinstance(content, bool):
        text = json.dumps(content)
    else:
        text = content_text(content) if isinstance(content, (str, list)) else None
    role = message.get("role") if message else None
    return {"role": role if isinstance(role, str) else None, "content": text, "tool_uses": tool_uses,
            "usage": message.get("usage") if message else None}


def role(line: dict[str, Any]) -> str | None:
    """The message role of a line (user, assistant), if it has one."""
    message = line.get("message")
    found = message.get("role") if isinstance(message, dict) else None
    return found if isinstance(found, str) else None


def response_key(line: dict[str, Any]) -> str | None:
    """The response an assistant line with usage belongs to (message.id and requestId), else None."""
    message = line.get("message")
    if line.get("type") != "assistant" or not isinstance(message, dict) or not isinstance(message.get("usage"), dict):
        return None
    return f"{message.get('id')}:{line.get('requestId')}"


def response(line: dict[str, Any]) -> tuple[str, str | None, Tokens, float | None] | None:
    """An assistant line's response: (key, model, tokens, cost); None for other lines.

    One response is written as several streamed lines sharing message.id and requestId; input and
    cache counts repeat and output grows, so the last line's usage is the response's. The cost is
    the line's costUSD, else the price database's (None: no price known).
    """
    key = response_key(line)
    if key is None:
        return None
    message = line["message"]
    model = message.get("model") if isinstance(message.get("model"), str) else None
    tokens = Tokens.from_usage(message["usage"])
    cost = line.get("costUSD")
    if not isinstance(cost, (int, float)) or isinstance(cost, bool):
        cost = response_cost(model, tokens)
    return key, model, tokens, cost

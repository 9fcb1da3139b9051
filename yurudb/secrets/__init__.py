"""Secrets in transcripts: found by `rules` when a message is indexed (`found` keeps the table), and
redacted wherever text leaves the machine or reaches a model (MCP answers, JSON and markdown exports,
the service when asked). The archive's bytes stay exact: restore and jsonl exports are the user's files.
"""

from __future__ import annotations

from typing import Any

from .rules import Finding, entropy, find, redact

__all__ = ["Finding", "entropy", "find", "redact", "redact_message", "redact_value"]


def redact_value(value: Any) -> Any:
    """A JSON value with every string in it redacted (keys kept: they name fields, not secrets)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    return value


def redact_message(message: Any) -> Any:
    """A Message with its content, tool uses and payload redacted (a copy; the stored one is untouched)."""
    return message.model_copy(update={"content": redact(message.content) if message.content else message.content,
                                      "tool_uses": redact_value(message.tool_uses),
                                      "payload": redact_value(message.payload)})

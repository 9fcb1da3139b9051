"""A fake Anthropic Messages API on 127.0.0.1, so the real Claude Code CLI runs offline in tests.

It answers `POST /v1/messages` with Anthropic's SSE events (message_start, content_block_start /
delta / stop, message_delta with usage, message_stop). Replies come from a script: text, or a
tool_use block (the CLI then runs the tool and sends its tool_result in the next request). Any
other request (token counting, telemetry) gets an empty JSON object. Every request body is kept.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer: text, and optionally a tool call."""

    text: str = "Done."
    tool: str | None = None
    tool_input: dict[str, Any] = field(default_factory=dict)
    input_tokens: int = 12
    output_tokens: int = 7
    cache_creation_1h: int = 0
    cache_creation_5m: int = 0
    cache_read: int = 0


@dataclass
class FakeAnthropic:
    """The server's state: what to answer next and what was asked."""

    replies: list[Reply] = field(default_factory=list)
    default: Reply = field(default_factory=Reply)
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def next_reply(self, body: dict[str, Any]) -> Reply:
        self.requests.append(body)
        # Claude Code asks the model for titles and summaries too: only a turn with tools is scripted.
        if self.replies and body.get("tools"):
            return self.replies.pop(0)
        return self.default


def sse(reply: Reply, model: str) -> Iterator[bytes]:
    """The event stream of one reply."""
    def event(name: str, data: dict[str, Any]) -> bytes:
        return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()

    usage = {
        "input_tokens": reply.input_tokens, "output_tokens": 1,
        "cache_creation_input_tokens": reply.cache_creation_1h + reply.cache_creation_5m,
        "cache_read_input_tokens": reply.cache_read,
        "cache_creation": {"ephemeral_1h_input_tokens": reply.cache_creation_1h,
                           "ephemeral_5m_input_tokens": reply.cache_creation_5m},
    }
    message_id = f"msg_{uuid.uuid4().hex[:24]}"
    yield event("message_start", {"type": "message_start", "message": {
        "id": message_id, "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": usage}})
    index = 0
    yield event("content_block_start", {"type": "content_block_start", "index": index,
                                        "content_block": {"type": "text", "text": ""}})
    yield event("content_block_delta", {"type": "content_block_delta", "index": index,
                                        "delta": {"type": "text_delta", "text": reply.text}})
    yield event("content_block_stop", {"type": "content_block_stop", "index": index})
    stop = "end_turn"
    if reply.tool is not None:
        index += 1
        yield event("content_block_start", {"type": "content_block_start", "index": index, "content_block": {
            "type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:24]}", "name": reply.tool, "input": {}}})
        yield event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": {
            "type": "input_json_delta", "partial_json": json.dumps(reply.tool_input)}})
        yield event("content_block_stop", {"type": "content_block_stop", "index": index})
        stop = "tool_use"
    yield event("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                                  "usage": {"output_tokens": reply.output_tokens}})
    yield event("message_stop", {"type": "message_stop"})


def _handler(state: FakeAnthropic) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {}
            if not self.path.startswith("/v1/messages") or self.path.startswith("/v1/messages/count_tokens"):
                self._json({"input_tokens": 10} if "count_tokens" in self.path else {})
                return
            reply = state.next_reply(body)
            if not body.get("stream"):
                self._json({"id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant",
                            "model": body.get("model", "claude"), "content": [{"type": "text", "text": reply.text}],
                            "stop_reason": "end_turn", "stop_sequence": None,
                            "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens}})
                return
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("cache-control", "no-cache")
            self.send_header("connection", "close")
            self.end_headers()
            for chunk in sse(reply, body.get("model", "claude-sonnet-4-5")):
                self.wfile.write(chunk)
            self.wfile.flush()
            self.close_connection = True

        def do_GET(self) -> None:  # noqa: N802
            self._json({})

        def do_HEAD(self) -> None:  # noqa: N802
            self._json({})

        def _json(self, data: dict[str, Any]) -> None:
            payload = json.dumps(data).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@contextmanager
def serving(state: FakeAnthropic | None = None) -> Iterator[FakeAnthropic]:
    """Run the fake on an ephemeral loopback port for the duration of the block."""
    state = state or FakeAnthropic()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()

"""The half of archiving a chunk that needs no database: parse each line, say what it is, compress it.

It runs where there is a free core (a worker process during a large first sync, `serve`, inline
otherwise) while the writer commits the chunk before; `archive/apply.py` applies what it
returns in one transaction. It imports only what a line needs (no store, no SQLite),
so that a worker process starts in a fraction of the time the whole package takes to load.
Sessions here are Claude session ids; the apply maps them to yurudb sessions.
"""

from __future__ import annotations

import json
import os
import pickle
import struct
import sys
import zlib
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..lines import codec
from ..lines import transcript as meaning
from ..search import fulltext
from ..search import text as search_text
from ..secrets import found

PROJECT_MAX_BYTES = 8 * 1024 * 1024  # a longer line keeps its bytes but gets no message (reported)


class PreparedMessage(NamedTuple):
    """A line that makes a message, as the worker understood it (the apply maps its session)."""

    line: int  # its line number in the file
    candidate_id: str  # the message id it asks for (its uuid, or one derived from the line)
    claude_session: str
    type: str
    role: str | None
    timestamp: str | None
    twin_key: str  # finds the same line arriving the other way (apply.Twins)
    body: str  # what the full-text index takes (search.text.indexed)
    secrets: tuple[tuple[str, str], ...] = ()  # (kind, preview) of each secret in it: found here, in the worker
    vector: str | None = None  # its tsvector, for a PostgreSQL store: built here too, off the writer's thread


@dataclass
class Prepared:
    """One chunk's lines, understood and compressed."""

    lines: int = 0
    size: int = 0  # bytes of the lines, newlines included
    runs: list[tuple[int, bytes]] = field(default_factory=list)  # codec.pack of the lines, in order
    dict_id: int = 0  # the dictionary the runs are compressed with (0: none)
    messages: list[PreparedMessage] = field(default_factory=list)  # the lines that make messages
    file_session: str = ""
    # (Claude session, response key) -> (model, input, output, cache write, cache read, cost, timestamp)
    responses: dict[tuple[str, str], tuple[Any, ...]] = field(default_factory=dict)
    unpriced: set[str] = field(default_factory=set)
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)  # Claude session -> what lines say of it
    claude_costs: dict[tuple[str, str], float] = field(default_factory=dict)  # (Claude session, model) -> USD
    not_json: int = 0
    oversized: int = 0


def split_lines(data: bytes) -> list[bytes]:
    """Complete lines (each ending in a newline) as a list, without their newlines."""
    return data.split(b"\n")[:-1]


def prepare(lines: list[bytes], first: int, rel: str, session_hint: str,
            dictionary: tuple[int, bytes] | None, *, compress: bool = True, vectors: bool = False) -> Prepared:
    """Everything about a chunk's lines that their bytes alone tell (compressed too, unless told not to)."""
    if dictionary is not None:
        codec.register(*dictionary)
    dict_id = dictionary[0] if dictionary is not None else 0
    out = Prepared(lines=len(lines), size=sum(len(raw) + 1 for raw in lines), dict_id=dict_id)
    if compress:
        out.runs = codec.pack(lines, dict_id)
    parsed: list[tuple[int, bytes, dict[str, Any]]] = []
    for n, raw in enumerate(lines, start=first):
        if len(raw) > PROJECT_MAX_BYTES:
            out.oversized += 1
            continue
        decoded = meaning.decode(raw)  # None: not JSON, not UTF-8, not an object, or too deep
        if decoded is None or not isinstance(decoded.get("type"), str):
            out.not_json += 1
            continue
        parsed.append((n, raw, decoded))
    out.file_session = next((ln["sessionId"] for _, _, ln in parsed if meaning.usable_id(ln.get("sessionId"))),
                            session_hint)
    finals: dict[tuple[str, str], tuple[dict[str, Any], str | None]] = {}
    for n, raw, line in parsed:
        claude_id = meaning.usable_id(line.get("sessionId")) or out.file_session
        candidate = meaning.usable_id(line.get("uuid")) or meaning.derived_id(line, rel, n, raw)
        when = meaning.stamp(line.get("timestamp"))
        cols = meaning.project(line)
        body = search_text.indexed(search_text.text_of(cols["content"], cols["tool_uses"], line))
        out.messages.append(PreparedMessage(n, candidate, claude_id, line["type"], cols["role"], when, twin_key(line),
                                            body, found.pairs(body), fulltext.vector(body) if vectors else None))
        _learn(out.facts.setdefault(claude_id, {}), line, when)
        key = meaning.response_key(line)
        if key is not None:
            finals[(claude_id, key)] = (line, when)  # later lines of a streamed response: the last is final
        if line["type"] == "cost-state" and isinstance(line.get("modelUsage"), dict):
            for model, used in line["modelUsage"].items():
                if isinstance(used, dict) and isinstance(used.get("costUSD"), (int, float)):
                    out.claude_costs[(claude_id, model)] = float(used["costUSD"])
    for (claude_id, key), (last, when) in finals.items():  # priced once, on the final figures
        _, model, tokens, cost = meaning.response(last)  # type: ignore[misc]
        if cost is None and model and model != "<synthetic>":
            out.unpriced.add(model)
        out.responses[(claude_id, key)] = (model, tokens.input, tokens.output, tokens.cache_write,
                                           tokens.cache_read, cost, when)
    return out


def twin_key(line: dict[str, Any]) -> str:
    """What identifies a line across its two ways in: its uuid, else its whole JSON (keys sorted)."""
    uuid = line.get("uuid")
    if isinstance(uuid, str) and uuid:
        return "uuid:" + uuid
    return "json:" + json.dumps(line, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _learn(known: dict[str, Any], line: dict[str, Any], when: str | None) -> None:
    """Fold what a line says about its session (cwd, title, first prompt, first and last time) in."""
    if when is not None:
        known["first"] = min(known.get("first", when), when)
        known["last"] = max(known.get("last", when), when)
    if "cwd" not in known and isinstance(line.get("cwd"), str):
        known["cwd"] = line["cwd"]
    if line.get("type") == "summary" and isinstance(line.get("summary"), str):
        known["title"] = line["summary"]
    if "prompt" not in known:
        prompt = meaning.prompt_text(line)
        if prompt:
            known["prompt"] = prompt


# ---- the worker process's side (yurudb/archive/worker.py is the parent's) ------------------------
HEADER = struct.Struct("!Q")  # each request and answer: its length, then a pickle


def prepare_range(path: str, start: int, length: int, crc: int, first: int, rel: str, session_hint: str,
                  dictionary: tuple[int, bytes] | None, vectors: bool = False) -> Prepared | None:
    """`prepare` of the lines at bytes [start, start + length) of a file, read here; None when they are
    not the bytes the caller read (CRC-32 `crc`: the file changed or went since), or cannot be read.

    A worker reads its chunk itself, so the lines do not cross a pipe to reach it; the caller, which
    read them to find the lines, keeps its copy and prepares that instead when this says None.
    """
    try:
        with open(path, "rb") as handle:
            data = os.pread(handle.fileno(), length, start)
    except OSError:
        return None
    if len(data) != length or zlib.crc32(data) != crc:
        return None
    return prepare(split_lines(data), first, rel, session_hint, dictionary, vectors=vectors)


def serve() -> None:
    """A worker's loop: prepare_range(*args) for each request on stdin, answers on stdout, until stdin closes."""
    import signal

    # Ctrl-C reaches the terminal's whole process group: the parent stops the sync (and closes this
    # worker's stdin); a worker that died of it would only add a traceback to the screen
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    while True:
        header = source.read(HEADER.size)
        if len(header) < HEADER.size:
            return
        args = pickle.loads(source.read(HEADER.unpack(header)[0]))
        try:
            answer: Any = prepare_range(*args)
        except Exception as exc:  # handed back: the parent's sync reports it
            answer = exc
        data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        sink.write(HEADER.pack(len(data)) + data)
        sink.flush()

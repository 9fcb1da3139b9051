"""Import Claude Code transcripts (`~/.claude/projects/**/*.jsonl`, subagent files included)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..models import MESSAGE_TYPES
from ..errors import ConflictError, NotFoundError, YurudbError
from ..pricing import Tokens, response_cost
from ..store import Store
from ..validation import content_text, timestamp as to_ms

DEFAULT_DIR = Path.home() / ".claude" / "projects"
MAX_LINE_BYTES = 8 * 1024 * 1024  # a line larger than this is reported, not imported
NAME_LENGTH = 80
CHUNK = 500


@dataclass
class Response:
    """One assistant response, possibly written as several streamed lines: the last line's usage is final."""

    key: str
    model: str | None
    tokens: Tokens
    timestamp: str | None
    cost: float | None  # the line's costUSD, else the price database's; None: not priced yet


@dataclass
class Transcript:
    """Everything read for one Claude Code sessionId (main file and subagent files)."""

    session_id: str
    lines: list[dict[str, Any]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    responses: dict[str, Response] = field(default_factory=dict)
    cwd: str | None = None
    first_prompt: str | None = None
    summary: str | None = None
    first_ts: str | None = None  # timestamps as column text: it sorts in time order
    last_ts: str | None = None
    # Claude Code's own cost per model for the whole session (its latest cost-state line)
    claude_costs: dict[str, float] = field(default_factory=dict)


@dataclass
class ImportReport:
    """What an import read, wrote and skipped."""

    files: int = 0
    lines: int = 0
    sessions_created: int = 0
    sessions_updated: int = 0
    messages: int = 0
    messages_new: int = 0
    usage_records: int = 0
    malformed: int = 0
    unknown_types: dict[str, int] = field(default_factory=dict)
    oversized: int = 0
    conflicts: int = 0
    unpriced_models: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        """Lines not imported."""
        return self.malformed + sum(self.unknown_types.values()) + self.oversized + self.conflicts


def transcript_files(root: Path) -> list[Path]:
    """Every transcript under root (a single .jsonl file is allowed too), main files before subagents."""
    if root.is_file():
        return [root]
    return sorted(root.rglob("*.jsonl"), key=lambda p: ("subagents" in p.parts, str(p)))


def _line_id(line: dict[str, Any], session_id: str, path: Path, lineno: int, raw: bytes) -> str:
    """The line's uuid, or a stable id for lines without one (snapshots, queue operations)."""
    if isinstance(line.get("uuid"), str):
        return line["uuid"]
    digest = hashlib.sha1(b"%s|%s|%d|" % (session_id.encode(), path.name.encode(), lineno) + raw).hexdigest()
    return f"{line.get('type', 'line')}-{digest[:24]}"


def _prompt_text(line: dict[str, Any]) -> str | None:
    """The user's own words on a user line (not a tool result, command or meta line)."""
    if line.get("type") != "user" or line.get("isMeta") or line.get("isSidechain"):
        return None
    content = (line.get("message") or {}).get("content")
    if isinstance(content, list):
        texts = [b.get("text") for b in content if isinstance(b, dict) and b.get("type") == "text"]
        content = "\n".join(t for t in texts if isinstance(t, str)) or None
    if not isinstance(content, str) or not content.strip() or content.lstrip().startswith(("<", "[Request interrupted")):
        return None
    return " ".join(content.split())[:NAME_LENGTH]


def read_transcripts(
    files: list[Path], report: ImportReport, max_line_bytes: int = MAX_LINE_BYTES
) -> dict[str, Transcript]:
    """Parse files into one Transcript per sessionId; bad lines are counted, never fatal."""
    out: dict[str, Transcript] = {}
    for path in files:
        report.files += 1
        parsed: list[tuple[int, bytes, dict[str, Any]]] = []
        file_session: str | None = None
        with open(path, "rb") as f:
            for lineno, raw in enumerate(f, start=1):
                if not raw.strip():
                    continue
                report.lines += 1
                if len(raw) > max_line_bytes:
                    report.oversized += 1
                    continue
                try:
                    line = json.loads(raw)
                except ValueError:
                    report.malformed += 1
                    continue
                if not isinstance(line, dict) or not isinstance(line.get("type"), str):
                    report.malformed += 1
                    continue
                if line["type"] == "cost-state" and isinstance(line.get("sessionId"), str):
                    # Claude Code's own figures: the cost of models no price database knows yet
                    costs = out.setdefault(line["sessionId"], Transcript(line["sessionId"])).claude_costs
                    for model, used in (line.get("modelUsage") or {}).items():
                        if isinstance(used, dict) and isinstance(used.get("costUSD"), (int, float)):
                            costs[model] = float(used["costUSD"])
                if line["type"] not in MESSAGE_TYPES:
                    report.unknown_types[line["type"]] = report.unknown_types.get(line["type"], 0) + 1
                    continue
                file_session = file_session or line.get("sessionId")
                parsed.append((lineno, raw.rstrip(b"\n"), line))
        # Lines without a sessionId (file-history-snapshot) belong to the file's session; a file
        # whose lines name no session is named after the file, as Claude Code names its files.
        file_session = file_session or path.stem
        for lineno, raw, line in parsed:
            sid = line.get("sessionId") or file_session
            t = out.setdefault(sid, Transcript(sid))
            _add_line(t, line, _line_id(line, sid, path, lineno, raw), report)
    return out


def _add_line(t: Transcript, line: dict[str, Any], line_id: str, report: ImportReport) -> None:
    t.lines.append(line)
    t.ids.append(line_id)
    t.cwd = t.cwd or line.get("cwd")
    ts = _ms(line.get("timestamp"))
    if ts is not None:
        t.first_ts = ts if t.first_ts is None else min(t.first_ts, ts)
        t.last_ts = ts if t.last_ts is None else max(t.last_ts, ts)
    if line["type"] == "summary" and isinstance(line.get("summary"), str):
        t.summary = line["summary"]
    t.first_prompt = t.first_prompt or _prompt_text(line)
    message = line.get("message") if isinstance(line.get("message"), dict) else None
    if line["type"] == "assistant" and message and isinstance(message.get("usage"), dict):
        key = f"{message.get('id')}:{line.get('requestId')}"
        tokens = Tokens.from_usage(message["usage"])
        cost = line.get("costUSD")
        if not isinstance(cost, (int, float)) or isinstance(cost, bool):
            cost = response_cost(message.get("model"), tokens)
        # Later lines of a streamed response carry the growing output count: the last one wins.
        t.responses[key] = Response(key, message.get("model"), tokens, ts, cost)


def _ms(value: Any) -> str | None:
    try:
        return to_ms(value)
    except YurudbError:
        return None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def project(line: dict[str, Any], line_id: str, fallback_ts: str | None) -> dict[str, Any]:
    """The append_message fields of one transcript line (its full JSON is the payload)."""
    message = line.get("message") if isinstance(line.get("message"), dict) else {}
    content = message.get("content") if message else line.get("content", line.get("summary"))
    tool_uses = None
    if isinstance(content, list):
        tool_uses = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_use"] or None
    return {
        "id": line_id,
        "type": line["type"],
        "role": message.get("role") if message else None,
        "content": content_text(content) if not isinstance(content, (dict, int, float)) else json.dumps(content),
        "tool_uses": tool_uses,
        "usage": message.get("usage") if message else None,
        # summary lines carry no time of their own: they belong where they stand in the file
        "timestamp": _ms(line.get("timestamp")) or fallback_ts,
    }


async def import_transcripts(
    store: Store,
    root: Path,
    *,
    progress: Callable[[int, int], None] | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> ImportReport:
    """Import every transcript under root; safe to run again (ids are stable, usage is keyed per response)."""
    report = ImportReport()
    transcripts = read_transcripts(transcript_files(root), report, max_line_bytes)
    total = sum(len(t.lines) for t in transcripts.values())
    done = 0
    for t in transcripts.values():
        session_id = await _upsert_session(store, t, report)
        before = await store.count_messages(session_id)
        last_ts = t.first_ts
        for chunk_lines, chunk_ids in _chunks(t.lines, t.ids):
            projections = []
            for line, line_id in zip(chunk_lines, chunk_ids, strict=True):
                projections.append(project(line, line_id, last_ts))
                last_ts = projections[-1]["timestamp"]
            results = await store.append_messages(session_id, chunk_lines, projections=projections,
                                                  return_exceptions=True)
            for r in results:
                if isinstance(r, ConflictError):
                    report.conflicts += 1
                elif isinstance(r, BaseException):
                    report.problems.append(str(r))
                else:
                    report.messages += 1
            done += len(chunk_lines)
            if progress is not None:
                progress(done, total)
        _price_from_claude_code(t, report)
        for response in t.responses.values():
            tokens = response.tokens
            await store.record_usage(
                session_id, model=response.model, tokens_input=tokens.input, tokens_output=tokens.output,
                tokens_cache_write=tokens.cache_write, tokens_cache_read=tokens.cache_read,
                cost_usd=response.cost or 0.0, timestamp=response.timestamp, source_id=response.key,
            )
            report.usage_records += 1
        report.messages_new += await store.count_messages(session_id) - before
        if t.last_ts is not None:
            # the sidebar orders by last activity in the conversation, not by when it was imported
            await store.update_session(session_id, updated_at=t.last_ts)
    return report


def _price_from_claude_code(t: Transcript, report: ImportReport) -> None:
    """Responses of a model the price database does not know get Claude Code's own cost for it (from
    its cost-state line, less what lines priced themselves), shared by tokens; else the model is
    reported as unpriced."""
    unpriced: dict[str, list[Response]] = {}
    for r in t.responses.values():
        if r.cost is None and r.model and r.model != "<synthetic>":
            unpriced.setdefault(r.model, []).append(r)
    for model, responses in unpriced.items():
        total = t.claude_costs.get(model)
        if total is None:
            report.unpriced_models.add(model)
            continue
        known = sum(r.cost or 0.0 for r in t.responses.values() if r.model == model and r.cost is not None)
        left = max(0.0, total - known)
        weights = [max(1, r.tokens.input + r.tokens.output + r.tokens.cache_write + r.tokens.cache_read)
                   for r in responses]
        for r, w in zip(responses, weights, strict=True):
            r.cost = left * w / sum(weights)


def _chunks(lines: list[Any], ids: list[str]) -> Iterator[tuple[list[Any], list[str]]]:
    for start in range(0, len(lines), CHUNK):
        yield lines[start : start + CHUNK], ids[start : start + CHUNK]


async def _upsert_session(store: Store, t: Transcript, report: ImportReport) -> str:
    """The yurudb session of a transcript: found by claude_session_id, else created."""
    name = t.summary or t.first_prompt or f"Claude session {t.session_id[:8]}"
    existing = await store.find_session(claude_session_id=t.session_id)
    if existing is None:
        # The transcript's own id when free: `yurudb show <id from the file name>` then just works.
        taken = True
        try:
            await store.get_session(t.session_id)
        except NotFoundError:
            taken = False
        session = await store.create_session(
            name, id=None if taken else t.session_id, status="completed", working_directory=t.cwd, claude_session_id=t.session_id,
            claude_title=t.summary, created_at=t.first_ts, updated_at=t.last_ts or t.first_ts,
        )
        report.sessions_created += 1
        return session.id
    changes: dict[str, Any] = {}
    if t.summary and existing.claude_title != t.summary:
        changes["claude_title"] = t.summary
    if not existing.user_renamed and existing.name != name:
        changes["name"] = name
    if t.cwd and existing.working_directory != t.cwd:
        changes["working_directory"] = t.cwd
    if changes:
        await store.update_session(existing.id, **changes)
    report.sessions_updated += 1
    return existing.id

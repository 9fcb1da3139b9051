"""Syncing Claude Code transcripts into the archive: ours (written for the tests) and the real ones in ../shared."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

import pytest
from helpers import dump
from transcripts import write_project

import yurudb
from yurudb.claude import transcript_files
from yurudb.importers.claude import import_transcripts


def independent_counts(root: Path) -> tuple[dict[str, Counter], dict[str, dict[str, int]]]:
    """Lines by type per sessionId, and token totals per session with one final usage per response."""
    counts: dict[str, Counter] = defaultdict(Counter)
    responses: dict[str, dict[tuple, dict]] = defaultdict(dict)
    for path in sorted(root.rglob("*.jsonl")):
        lines = [json.loads(raw) for raw in path.read_text().splitlines() if raw.strip()]
        file_session = next(line["sessionId"] for line in lines if line.get("sessionId"))
        for line in lines:
            sid = line.get("sessionId") or file_session
            counts[sid][line["type"]] += 1
            message = line.get("message") or {}
            if line["type"] == "assistant" and "usage" in message:
                responses[sid][(message["id"], line.get("requestId"))] = message["usage"]  # the last line wins
    tokens = {}
    for sid, final in responses.items():
        tokens[sid] = {
            "input": sum(u.get("input_tokens", 0) for u in final.values()),
            "output": sum(u.get("output_tokens", 0) for u in final.values()),
            "cache": sum(u.get("cache_creation_input_tokens", 0) + u.get("cache_read_input_tokens", 0)
                         for u in final.values()),
            "responses": len(final),
        }
    return counts, tokens


async def stored_counts(store) -> tuple[dict[str, Counter], dict[str, dict[str, int]]]:
    counts, tokens = {}, {}
    by_session = {r["session"]: r for r in await store.usage_summary(by="session")}
    for s in await store.list_sessions():
        messages = await store.get_messages(s.id, limit=None, thread=...)  # every thread
        counts[s.claude_session_id] = Counter(m.type for m in messages)
        row = by_session.get(s.id, {})
        tokens[s.claude_session_id] = {"input": row.get("tokens_input", 0), "output": row.get("tokens_output", 0),
                                       "cache": row.get("tokens_cache", 0), "responses": row.get("records", 0)}
    return counts, tokens


async def test_every_shared_transcript_imports_with_exact_counts_and_tokens(shared_transcripts: Path,
                                                                            target) -> None:
    expected_counts, expected_tokens = independent_counts(shared_transcripts)
    async with yurudb.open(target, daily_backup=False) as store:
        report = await import_transcripts(store, shared_transcripts)
        assert report.not_json == report.oversized == 0 and report.problems == []
        counts, tokens = await stored_counts(store)
        # and every file comes back byte for byte
        for session in await store.list_sessions():
            for rel, data in (await transcript_files(store, session.id)).items():
                assert data == (shared_transcripts / rel).read_bytes(), rel
    assert counts == expected_counts
    assert tokens == expected_tokens


async def test_reimporting_the_shared_transcripts_changes_nothing(shared_transcripts: Path, target) -> None:
    async with yurudb.open(target, daily_backup=False) as store:
        await import_transcripts(store, shared_transcripts)
    first = dump(target)
    async with yurudb.open(target, daily_backup=False) as store:
        report = await import_transcripts(store, shared_transcripts)
        assert report.messages_new == 0 and report.sessions_created == 0
    assert dump(target) == first


async def test_our_transcripts_import_with_subagents_names_and_final_usage(tmp_path: Path, target) -> None:
    project = write_project(tmp_path / "projects")
    a, b = project["sessions"]
    async with yurudb.open(target, daily_backup=False) as store:
        report = await import_transcripts(store, tmp_path / "projects")
        assert report.files == 3 and report.sessions_created == 2
        first = await store.get_session(a)
        assert first.name == "Fix 500 on empty todo list" and first.claude_title == first.name
        assert first.claude_session_id == a and first.working_directory == "/home/dev/projects/todo-api"
        assert first.status == "completed" and first.updated_at < first.created_at + timedelta(days=1)
        second = await store.get_session(b)
        assert second.name == "the /todos endpoint returns 500 when the list is empty"
        assert second.claude_title is None
        # the subagent's lines belong to its parent's session, in a thread of their own
        main = await store.get_messages(a, limit=None)
        assert len(main) == 14 and all(m.thread is None for m in main)
        [thread] = await store.threads(a)
        assert thread.startswith(f"{a}/subagents/") and len(await store.get_messages(a, thread=thread)) == 5
        assert [m.seq for m in main] == sorted(m.seq for m in main)
        by_session = {r["session"]: r for r in await store.usage_summary(by="session")}
        # streamed responses count once with their final output: 48 + 171 + 35, and 30 + 14 for the subagent
        assert by_session[a]["tokens_output"] == 254 + 44 and by_session[a]["records"] == 5
        assert by_session[b]["tokens_output"] == 254 and by_session[b]["tokens_input"] == 9
        assert by_session[b]["tokens_cache"] == 3 * 21000
        # claude-opus-4-6 lists $5 input, $25 output, $6.25 5-minute cache writes, $0.50 reads per million
        opus = (3 * 5 + 48 * 25 + 1000 * 6.25 + 20000 * 0.5) / 1e6 + (3 * 5 + 171 * 25 + 1000 * 6.25 + 20000 * 0.5) / 1e6
        assert by_session[b]["cost_usd"] == pytest.approx(opus + 0.0123)  # costUSD wins where present
        assert by_session[b]["tokens_cache_write"] == 3 * 1000 and by_session[b]["tokens_cache_read"] == 3 * 20000
        # the summary line is kept like any other line (it titles session a)
        assert [m.type for m in await store.get_messages(a) if m.type == "summary"] == ["summary"]


async def test_every_line_is_kept_whatever_it_is(tmp_path: Path, target) -> None:
    project = write_project(tmp_path / "projects")
    a = project["sessions"][0]
    path = project["project"] / f"{a}.jsonl"
    odd = [b"this is not json", b'{"no": "type"}', b'{"type": "telepathy", "sessionId": "%s"}' % a.encode(),
           b"\xff\xfe not utf-8 \x80", b"   "]
    with open(path, "ab") as f:
        f.write(b"\n".join(odd) + b"\n")
    async with yurudb.open(target, daily_backup=False) as store:
        report = await import_transcripts(store, tmp_path / "projects")
        assert report.not_json == 4 and report.problems == []
        # the unknown type is a message with its type as written; the rest are kept as bytes
        assert [m.type for m in await store.get_messages(a)][-1] == "telepathy"
        [data] = [d for rel, d in (await transcript_files(store, a)).items() if rel.endswith(f"{a}.jsonl")]
    assert data == path.read_bytes()


async def test_a_uuid_another_session_holds_is_archived_under_an_id_of_its_own(tmp_path: Path, target) -> None:
    project = write_project(tmp_path / "projects")
    a = project["sessions"][0]
    uuid_in_a = json.loads((project["project"] / f"{a}.jsonl").read_text().splitlines()[2])["uuid"]
    async with yurudb.open(target, daily_backup=False) as store:
        other = await store.create_session("app session")
        await store.append_message(other.id, id=uuid_in_a, type="user", content="mine")
        await import_transcripts(store, tmp_path / "projects")
        assert [m.content for m in await store.get_messages(other.id)] == ["mine"]
        [copy] = [m for m in await store.get_messages(a) if m.payload.get("uuid") == uuid_in_a]
        assert copy.id != uuid_in_a and copy.id.startswith(uuid_in_a)


async def test_the_bundled_example_imports(target) -> None:
    from importlib import resources

    example = Path(str(resources.files("yurudb.examples") / "projects"))
    async with yurudb.open(target, daily_backup=False) as store:
        report = await import_transcripts(store, example)
        assert report.sessions_created == 1 and report.messages_new == report.lines == 14

"""`yurudb mcp`, driven by the official MCP SDK's own client over stdio, and by the real Claude Code
CLI calling it: answers cite their session and line, carry no planted secret, and bad input is an
MCP error from a server that keeps answering."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import YURUDB
from secrets_planted import PLANTED
from test_secrets import CLEAN, SID, leaked, write_history

mcp = pytest.importorskip("mcp", reason="yurudb mcp needs the mcp extra (pip install -e '.[test,serve,mcp]')")
from mcp import ClientSession  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402

HOSTILE = ['"', "NEAR(a b)", "a OR", "*", "col:term", "((", "-x", "\x00", "a" * 5000, "🙂 ✓", "AND", '"unclosed']


@pytest.fixture()
def db(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Path | str:
    """A synced history: a file of its own, or with --backend postgresql a fresh server database."""
    path = request.getfixturevalue("pg_url") if backend == "postgresql" else tmp_path / "history.db"
    subprocess.run([*YURUDB, "--db", str(path), "sync", str(write_history(tmp_path / "projects"))], check=True,
                   capture_output=True)
    return path


async def session(db: Path, calls: list[tuple[str, dict[str, Any]]]) -> tuple[list[Any], list[Any]]:
    """The server's tools, and each call's result, over one stdio session."""
    params = StdioServerParameters(command=sys.executable, args=["-m", "yurudb", "--db", str(db), "mcp"],
                                   env={**os.environ})
    async with stdio_client(params) as streams, ClientSession(streams[0], streams[1]) as client:
        await client.initialize()
        tools = (await client.list_tools()).tools
        return tools, [await client.call_tool(name, args) for name, args in calls]


def answer(result: Any) -> Any:
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)


async def test_four_read_only_tools_whose_answers_cite_and_never_carry_a_secret(db: Path) -> None:
    calls = [("search_sessions", {"query": "about"}), ("search_sessions", {"query": "about", "limit": 50}),
             ("list_sessions", {}), ("get_messages", {"session_id": SID, "limit": 100}),
             ("get_messages", {"session_id": SID, "around": 15, "limit": 6}), ("usage_summary", {"by": "model"}),
             ("search_sessions", {"query": "AKIA*"}), ("search_sessions", {"query": "key", "project": "/nowhere"})]
    calls += [("search_sessions", {"query": value.split()[0][:30]}) for value, _ in PLANTED.values()]
    tools, results = await session(db, calls)
    assert {t.name for t in tools} == {"search_sessions", "list_sessions", "get_messages", "usage_summary"}
    assert all(t.annotations and t.annotations.read_only_hint for t in tools)
    everything = " ".join(r.content[0].text for r in results)
    assert not leaked(everything), leaked(everything)
    hits = answer(results[1])["hits"]
    assert len(hits) == len(PLANTED)
    assert all(h["session_id"] == SID and h["line"] and h["cite"] == f"session {SID}, line {h['line']}" for h in hits)
    assert {f"[REDACTED:{k}]" for k in PLANTED} <= {part for h in hits for part in _marks(h["snippet"])}
    listed = answer(results[2])["sessions"]
    assert {s["session_id"] for s in listed} == {SID, CLEAN} and "[REDACTED:" in listed[-1]["name"] + listed[0]["name"]
    read = answer(results[3])
    assert [m["seq"] for m in read["messages"]] == sorted(m["seq"] for m in read["messages"])
    assert all(m["cite"].startswith(f"session {SID}, line ") for m in read["messages"])
    assert read["cap"] == {"max_chars": 20_000, "truncated": False}
    around = answer(results[4])["messages"]
    assert 15 in [m["seq"] for m in around] and len(around) <= 6
    assert answer(results[5])["total_cost_usd"] > 0
    assert answer(results[7])["hits"] == []


def _marks(snippet: str) -> set[str]:
    import re

    return set(re.findall(r"\[REDACTED:[a-z-]+\]", snippet))


async def test_a_long_session_is_given_in_pieces_each_under_the_cap_and_saying_so(tmp_path: Path) -> None:
    import yurudb

    path = tmp_path / "long.db"
    async with yurudb.open(path) as store:
        s = await store.create_session("long one")
        await store.append_messages(s.id, [{"type": "user", "content": f"part {n} " + "word " * 3000} for n in range(12)])
        await store.append_message(s.id, {"type": "assistant", "content": "x " * 40_000})
    _, results = await session(path, [("get_messages", {"session_id": s.id, "limit": 100}),
                                      ("get_messages", {"session_id": s.id, "after": 12, "limit": 100})])
    first, last = answer(results[0]), answer(results[1])
    assert first["cap"]["truncated"] and first["next_after"] == first["messages"][-1]["seq"]
    assert len(results[0].content[0].text) < 2 * 20_000 + 4_000
    assert last["cap"]["truncated"] and "characters in all" in last["messages"][-1]["text"]


async def test_bad_input_is_an_mcp_error_and_the_server_keeps_answering(db: Path) -> None:
    calls: list[tuple[str, dict[str, Any]]] = [
        ("search_sessions", {"query": 5}), ("search_sessions", {"query": "x", "limit": 0}),
        ("search_sessions", {"query": "x", "since": "yesterday"}), ("get_messages", {"session_id": "nope"}),
        ("get_messages", {"session_id": SID, "around": 3, "after": 1}), ("usage_summary", {"by": "hour"}),
        ("list_sessions", {"limit": 10_000}), ("no_such_tool", {}), ("get_messages", {"session_id": ""}),
    ]
    calls += [("search_sessions", {"query": q}) for q in HOSTILE]
    calls.append(("search_sessions", {"query": "about"}))
    _, results = await session(db, calls)
    assert all(r.is_error for r in results[:9])
    assert all("Traceback" not in r.content[0].text for r in results)
    for r in results[9:-1]:  # a person's query is never FTS5 syntax: hostile text finds, or finds nothing
        assert not r.is_error, r.content[0].text
    assert len(answer(results[-1])["hits"]) == 10  # still answering after all that


def test_install_prints_the_claude_mcp_add_line(db: Path, tmp_path: Path) -> None:
    out = subprocess.run([*YURUDB, "--db", str(db), "mcp", "--install"], capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stdout.startswith("claude mcp add --scope user yurudb -- ") and out.stdout.rstrip().endswith(
        f"--db {db} mcp")
    assert subprocess.run([*YURUDB, "--db", str(db), "mcp", "--yes"], capture_output=True).returncode == 2
    missing = subprocess.run([*YURUDB, "--db", str(tmp_path / "none.db"), "mcp"], capture_output=True, text=True)
    assert missing.returncode == 2 and not (tmp_path / "none.db").exists()


def test_the_real_claude_code_calls_the_tool_and_gets_a_redacted_cited_answer(db: Path, tmp_path: Path) -> None:
    from fake_anthropic import FakeAnthropic, Reply, serving
    from test_real_claude import run_claude

    config = {"mcpServers": {"yurudb": {"command": sys.executable, "args": ["-m", "yurudb", "--db", str(db), "mcp"]}}}
    home = tmp_path / "home"
    home.mkdir()
    fake = FakeAnthropic(replies=[Reply(text="Let me look in your history.", tool="mcp__yurudb__search_sessions",
                                        tool_input={"query": "DATABASE_PASSWORD"}),
                                  Reply(text="Found it in an earlier session.")])
    with serving(fake):
        # ENABLE_TOOL_SEARCH=false: this CLI otherwise defers MCP tools behind its ToolSearch tool, and
        # the scripted model would have to search for the tool before calling it
        run_claude(home, fake, "where did I set the database password?", "--mcp-config", json.dumps(config),
                   "--allowedTools", "mcp__yurudb__search_sessions", env={"ENABLE_TOOL_SEARCH": "false"})
    offered = [t["name"] for r in fake.requests for t in r.get("tools") or []]
    assert "mcp__yurudb__search_sessions" in offered
    results = [block for r in fake.requests for m in r.get("messages", []) if isinstance(m.get("content"), list)
               for block in m["content"] if isinstance(block, dict) and block.get("type") == "tool_result"]
    assert results, "the next request carries no tool result"
    text = json.dumps(results)
    assert f"session {SID}, line " in text and "[REDACTED:env-secret]" in text
    assert not leaked(text)

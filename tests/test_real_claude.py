"""The real Claude Code CLI (bundled in claude-agent-sdk, a test dependency), run offline against
tests/fake_anthropic.py on loopback: what it writes, yurudb imports, and prices as Claude Code does."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from fake_anthropic import FakeAnthropic, Reply, serving

import yurudb
from yurudb.importers.claude import import_transcripts
from yurudb.search import index as search

sdk = pytest.importorskip("claude_agent_sdk", reason="the real CLI ships in claude-agent-sdk (pip install -e '.[test]')")
CLAUDE = Path(sdk.__file__).parent / "_bundled" / "claude"


def run_claude(home: Path, fake: FakeAnthropic, prompt: str, *extra: str, cwd: Path | None = None,
               env: dict[str, str] | None = None) -> list[dict]:
    """One `claude -p` run in `cwd` (default `home`/repo), with `env` added; its stream-json events."""
    if not CLAUDE.exists():
        pytest.skip("this claude-agent-sdk wheel has no bundled CLI")
    repo = cwd or home / "repo"
    repo.mkdir(exist_ok=True)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "ANTHROPIC_BASE_URL": fake.url,
           "ANTHROPIC_API_KEY": "sk-test-not-a-key", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
           "IS_SANDBOX": "1", **(env or {})}
    done = subprocess.run([str(CLAUDE), "-p", prompt, "--output-format", "stream-json", "--verbose",
                           "--allowedTools", "Bash", *extra], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def transcript_lines(home: Path) -> list[dict]:
    return [json.loads(line) for f in sorted((home / ".claude" / "projects").rglob("*.jsonl"))
            for line in f.read_text().splitlines() if line.strip()]


async def test_a_real_tool_use_session_imports_with_its_messages_and_claude_codes_cost(
    tmp_path: Path, db_path: Path
) -> None:
    state = FakeAnthropic(replies=[
        Reply(text="Let me run it.", tool="Bash", tool_input={"command": "echo hello-from-the-tool",
                                                               "description": "print a greeting"},
              input_tokens=1200, output_tokens=40, cache_creation_1h=30_000, cache_read=5_000),
        Reply(text="The command printed hello-from-the-tool.", input_tokens=1500, output_tokens=25,
              cache_creation_5m=2_000, cache_read=31_000),
    ])
    home = tmp_path / "home"
    home.mkdir()
    with serving(state) as fake:
        events = run_claude(home, fake, "run echo for me")
    result = [e for e in events if e.get("type") == "result"][-1]
    assert result["subtype"] == "success" and "hello-from-the-tool" in result["result"]
    lines = transcript_lines(home)
    tool_results = [b for line in lines if line.get("type") == "user"
                    for b in ((line.get("message") or {}).get("content") or []) if isinstance(b, dict)
                    and b.get("type") == "tool_result"]
    assert tool_results and "hello-from-the-tool" in json.dumps(tool_results)  # the CLI really ran the tool
    claude_cost = [line for line in lines if line.get("type") == "cost-state"][-1]["totalCostUSD"]

    async with yurudb.open(db_path, daily_backup=False) as store:
        report = await import_transcripts(store, home / ".claude" / "projects")
        [session] = await store.list_sessions()
        messages = await store.get_messages(session.id)
        usage = await store.usage_summary(by="session")
    assert report.sessions_created == 1 and session.claude_session_id == lines[-1]["sessionId"]
    # every user and assistant line is a message whose payload is the line exactly
    conversation = [line for line in lines if line.get("type") in ("user", "assistant")]
    payloads = [m.payload for m in messages if m.type in ("user", "assistant")]
    assert payloads == conversation
    # two responses, each counted once, priced like Claude Code prices them (1-hour writes at 2x)
    [row] = usage
    assert row["records"] == 2 and row["tokens_cache_write"] == 32_000 and row["tokens_cache_read"] == 36_000
    assert row["cost_usd"] == pytest.approx(claude_cost, rel=1e-6)


async def test_sync_archives_real_sessions_byte_exact_and_resume_works_after_claude_code_deleted_them(
    tmp_path: Path, db_path: Path
) -> None:
    from yurudb.claude import restore_files, sync, transcript_files

    home = tmp_path / "home"
    home.mkdir()
    projects = home / ".claude" / "projects"
    state = FakeAnthropic(replies=[
        Reply(text="Checking.", tool="Bash", tool_input={"command": "echo first-turn", "description": "echo"}),
        Reply(text="First turn done."),
    ])
    with serving(state) as fake:
        first = run_claude(home, fake, "first task")  # a tool use
        session_id = [e for e in first if e.get("type") == "result"][-1]["session_id"]
        state.default = Reply(text="Second turn, plain.")
        run_claude(home, fake, "second task", "--resume", session_id)  # several turns, --resume
        async with yurudb.open(db_path, daily_backup=False) as store:
            report = await sync(store, projects)
            assert report.problems == [] and report.not_json == 0
            # what a person remembers of the real sessions is found: a prompt, a reply, a command, its output
            for query in ("first task", "Second turn", "echo first-turn", "first-turn"):
                assert await store.search(query), query
            assert {h.type for h in await store.search("first-turn")} >= {"assistant", "user"}  # the call, its result
            archived: dict[str, bytes] = {}
            for s in await store.list_sessions():
                archived.update(await transcript_files(store, s.id))
        on_disk = {p.relative_to(projects).as_posix(): p.read_bytes() for p in projects.rglob("*.jsonl")}
        assert archived == on_disk  # every line of every file, byte for byte

        # Claude Code deletes old transcripts (cleanupPeriodDays): all of them are gone...
        for p in projects.rglob("*.jsonl"):
            p.unlink()
        async with yurudb.open(db_path, daily_backup=False) as store:
            assert (await sync(store, projects)).files_gone == len(on_disk)
            restored = {}
            for s in await store.list_sessions():
                restored.update(await transcript_files(store, s.id))
        assert restore_files(restored, projects).written  # ...and come back from yurudb
        state.default = Reply(text="Third turn, after the restore.")
        state.requests.clear()
        third = run_claude(home, fake, "what did we do?", "--resume", session_id)
    assert [e for e in third if e.get("type") == "result"][-1]["subtype"] == "success"
    # the CLI resumed the restored conversation: the earlier turns went back to the model
    sent = json.dumps(state.requests[-1]["messages"])
    assert "first task" in sent and "second task" in sent and "first-turn" in sent


@pytest.mark.parametrize("flush", ["batched", "eager"])
async def test_the_sdk_mirrors_a_real_session_into_yurudb_and_resumes_it_from_yurudb(
    tmp_path: Path, db_path: Path, flush: str
) -> None:
    from claude_agent_sdk import (
        ClaudeAgentOptions,
        fork_session_via_store,
        get_session_messages_from_store,
        list_sessions_from_store,
        query,
    )

    from yurudb.claude import SessionStore

    home = tmp_path / "home"
    repo = home / "repo"
    repo.mkdir(parents=True)
    state = FakeAnthropic(replies=[
        Reply(text="Running it.", tool="Bash", tool_input={"command": "echo mirrored-turn", "description": "echo"}),
        Reply(text="Mirrored turn done."),
    ])

    def options(config: Path, **extra: object) -> ClaudeAgentOptions:
        env = {"HOME": str(home), "CLAUDE_CONFIG_DIR": str(config), "ANTHROPIC_BASE_URL": fake.url,
               "ANTHROPIC_API_KEY": "sk-test-not-a-key", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
               "IS_SANDBOX": "1"}
        return ClaudeAgentOptions(cwd=str(repo), cli_path=str(CLAUDE), env=env, allowed_tools=["Bash"],
                                  session_store=adapter, session_store_flush=flush, **extra)  # type: ignore[arg-type]

    async with yurudb.open(db_path, daily_backup=False) as store:
        adapter = SessionStore(store)
        with serving(state) as fake:
            events = [m async for m in query(prompt="run echo", options=options(tmp_path / "config-1"))]
            session_id = next(m.session_id for m in events if type(m).__name__ == "ResultMessage")
            [session] = await store.list_sessions()
            assert session.claude_session_id == session_id
            mirrored = await store.get_messages(session.id)
            assert any("mirrored-turn" in json.dumps(m.payload) for m in mirrored)  # the tool's output
            # usage: each response once, with its final figures, priced as Claude Code prices it
            result = next(m for m in events if type(m).__name__ == "ResultMessage")
            [row] = await store.usage_summary(by="session")
            assert row["records"] == 2 and row["cost_usd"] == pytest.approx(result.total_cost_usd, rel=1e-6)
            # the local transcripts are gone (a fresh config dir): the conversation comes from yurudb
            state.default = Reply(text="Resumed from yurudb.")
            state.requests.clear()
            resumed = [m async for m in query(prompt="what did we run?",
                                              options=options(tmp_path / "config-2", resume=session_id))]
            assert any(type(m).__name__ == "ResultMessage" for m in resumed)
            sent = json.dumps(state.requests[-1]["messages"])
            assert "run echo" in sent and "mirrored-turn" in sent
            infos = list_sessions_from_store(adapter, directory=str(repo))
            infos = await infos if hasattr(infos, "__await__") else infos
            assert session_id in [i.session_id for i in infos]
            messages = get_session_messages_from_store(adapter, session_id, directory=str(repo))
            messages = await messages if hasattr(messages, "__await__") else messages
            assert len(messages) >= 4
            forked = fork_session_via_store(adapter, session_id, directory=str(repo), title="a fork")
            forked = await forked if hasattr(forked, "__await__") else forked
            assert forked.session_id != session_id
            assert len(await store.list_sessions()) == 2


async def test_one_archive_two_ways_in_each_line_once(tmp_path: Path, db_path: Path) -> None:
    from claude_agent_sdk import ClaudeAgentOptions, query

    from yurudb.claude import SessionStore, sync, transcript_files

    home = tmp_path / "home"
    repo = home / "repo"
    repo.mkdir(parents=True)
    config = tmp_path / "config"
    state = FakeAnthropic(replies=[
        Reply(text="Running.", tool="Bash", tool_input={"command": "echo two-ways", "description": "echo"}),
        Reply(text="Done."),
    ])
    async with yurudb.open(db_path, daily_backup=False) as store:
        adapter = SessionStore(store)
        with serving(state) as fake:
            env = {"HOME": str(home), "CLAUDE_CONFIG_DIR": str(config), "ANTHROPIC_BASE_URL": fake.url,
                   "ANTHROPIC_API_KEY": "sk-test-not-a-key", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
                   "IS_SANDBOX": "1"}
            options = ClaudeAgentOptions(cwd=str(repo), cli_path=str(CLAUDE), env=env, allowed_tools=["Bash"],
                                         session_store=adapter)
            [m async for m in query(prompt="run echo", options=options)]
        [session] = await store.list_sessions()
        mirrored = await store.get_messages(session.id, thread=...)
        await sync(store, config / "projects")  # the same session's file, the other way in
        assert [s.id for s in await store.list_sessions()] == [session.id]
        synced = await store.get_messages(session.id, thread=...)
        ids = [m.id for m in synced]
        assert len(ids) == len(set(ids))  # each line once
        uuids = [m.payload.get("uuid") for m in synced if m.payload.get("uuid")]
        assert len(uuids) == len(set(uuids))
        # lines the SDK does not mirror (request shapes, cost state) came in from the file
        assert len(synced) > len(mirrored)
        assert {m.id for m in mirrored} <= set(ids)
        on_disk = {p.relative_to(config / "projects").as_posix(): p.read_bytes()
                   for p in (config / "projects").rglob("*.jsonl")}
        assert await transcript_files(store, session.id) == on_disk  # and the file still rebuilds byte for byte
        # a line that came both ways is one message, and one search hit
        hits = await store.search("two-ways", limit=100)
        assert hits and len({h.message_id for h in hits}) == len(hits)
        assert {h.message_id for h in hits} <= set(ids)
    conn = sqlite3.connect(db_path)
    assert search.health(conn) == (0, 0)  # no document left behind by either way in
    conn.close()


def session_of(events: list[dict]) -> str:
    return [e for e in events if e.get("type") == "result"][-1]["session_id"]


async def test_a_saved_tool_output_is_archived_and_read_back_by_a_resumed_session_after_a_restore(
    tmp_path: Path, db_path: Path
) -> None:
    """Claude Code saves a large tool output beside the transcript, which keeps only a pointer and a
    preview: without the file, a resumed session has lost the output."""
    import shutil

    from yurudb.claude import restore_files, sync, transcript_files

    home = tmp_path / "home"
    home.mkdir()
    projects = home / ".claude" / "projects"
    rows = "import sys; sys.stdout.write(''.join(f'row {i} of the saved output\\n' for i in range(4000)))"
    state = FakeAnthropic(replies=[
        Reply(text="Running it.", tool="Bash", tool_input={"command": f'python3 -c "{rows}"', "description": "rows"}),
        Reply(text="It printed 4000 rows."),
    ])
    with serving(state) as fake:
        sid = session_of(run_claude(home, fake, "print the rows"))
        saved = sorted(projects.glob(f"*/{sid}/tool-results/*"))
        assert len(saved) == 1, "Claude Code did not save the large output beside the transcript"
        output = saved[0].read_bytes()
        assert b"row 1500 of the saved output" in output
        line = next(ln for ln in transcript_lines(home) if "toolUseResult" in ln and isinstance(ln["toolUseResult"], dict)
                    and ln["toolUseResult"].get("persistedOutputPath"))
        assert line["toolUseResult"]["persistedOutputPath"] == str(saved[0])
        assert "row 1500 of" not in json.dumps(line)  # the transcript holds a preview, not the output

        async with yurudb.open(db_path, daily_backup=False) as store:
            report = await sync(store, projects)
            assert report.footprint.new >= 1 and not report.problems
            shutil.rmtree(saved[0].parent.parent.parent)  # the clean-up takes the project folder whole
            assert (await sync(store, projects)).footprint.gone >= 1
            files = await transcript_files(store, sid)
        rel = saved[0].relative_to(projects).as_posix()
        assert files[rel] == output
        restore_files(files, projects)

        state.replies = [Reply(text="Reading the saved output.", tool="Read", tool_input={"file_path": str(saved[0])}),
                         Reply(text="Row 1500 is there.")]
        state.requests.clear()
        run_claude(home, fake, "read the saved output again", "--resume", sid, "--allowedTools", "Read")
    sent = json.dumps(state.requests[-1]["messages"])
    assert "print the rows" in sent  # the earlier turn came back
    assert "row 1500 of the saved output" in sent  # and the output it saved, read from the restored file


def test_a_session_restored_where_the_project_lives_now_resumes_there(tmp_path: Path, db_path: Path) -> None:
    import shutil

    from typer.testing import CliRunner

    from yurudb.archive.restore import project_folder
    from yurudb.cli import app

    runner = CliRunner()
    home = tmp_path / "home"
    home.mkdir()
    projects = home / ".claude" / "projects"
    state = FakeAnthropic(replies=[
        Reply(text="Checking.", tool="Bash", tool_input={"command": "echo before-the-move", "description": "echo"}),
        Reply(text="Done before the move."),
    ])
    with serving(state) as fake:
        sid = session_of(run_claude(home, fake, "work in the old folder"))
        assert runner.invoke(app, ["--db", str(db_path), "sync", str(projects)]).exit_code == 0
        shutil.rmtree(projects)  # a new machine: nothing of Claude Code's
        moved = home / "work" / "repo-moved"
        moved.mkdir(parents=True)
        restored = runner.invoke(app, ["--db", str(db_path), "restore-claude", sid, "--cwd", str(moved),
                                       "--into", str(projects)])
        assert restored.exit_code == 0, restored.output
        assert "lines rewritten" in restored.output
        folder = projects / project_folder(str(moved))
        lines = [json.loads(ln) for ln in (folder / f"{sid}.jsonl").read_text().splitlines()]
        assert {ln["cwd"] for ln in lines if "cwd" in ln} == {str(moved)}
        state.default = Reply(text="Continuing where the project lives now.")
        state.requests.clear()
        again = run_claude(home, fake, "what did we do?", "--resume", sid, cwd=moved)
    assert [e for e in again if e.get("type") == "result"][-1]["subtype"] == "success"
    sent = json.dumps(state.requests[-1]["messages"])
    assert "work in the old folder" in sent and "before-the-move" in sent

"""What the web page reads through the library: a filtered, paged session list, projects, messages
after a seq, usage by project and split by a second key. The command's `usage` gives the same figures."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import transcripts
from helpers import YURUDB

import yurudb
from yurudb.errors import ValidationError


async def _fill(store: yurudb.Store) -> list[str]:
    """Three projects' sessions, each with usage on two days and two models."""
    ids = []
    for n, (folder, day) in enumerate([("/w/alpha", "2026-05-01"), ("/w/alpha", "2026-05-02"), ("/w/beta", "2026-05-02"),
                                       ("/w/gamma", "2026-05-03"), (None, "2026-05-03")]):
        s = await store.create_session(name=f"session {n} about {'widgets' if n % 2 else 'gadgets'}",
                                       working_directory=folder)
        ids.append(s.id)
        for m in range(n + 1):
            await store.append_message(s.id, {"type": "user", "content": f"message {m}"})
        for model, cost in (("claude-opus-4-6", 0.5 * (n + 1)), ("claude-sonnet-4-5", 0.25)):
            await store.record_usage(s.id, model=model, tokens_input=10, tokens_output=n, cost_usd=cost,
                                     timestamp=f"{day}T10:00:00+00:00", source_id=f"{s.id}:{model}")
        # updated_at moves with every write: set it back to the day the test says
        await store.update_session(s.id, updated_at=f"{day}T12:{n:02d}:00+00:00")  # no two alike: a stable order
    return ids


async def test_browse_filters_pages_and_counts_each_row(store: yurudb.Store) -> None:
    ids = await _fill(store)
    page = await store.browse(limit=2)
    assert page.total == 5 and [s.id for s in page.sessions] == [ids[4], ids[3]]
    assert page.sessions[1].messages == 4 and page.sessions[1].cost_usd == pytest.approx(2.25)
    assert page.sessions[1].tokens == 2 * (10 + 3)
    rest = await store.browse(limit=2, offset=4)
    assert rest.total == 5 and [s.id for s in rest.sessions] == [ids[0]]
    alpha = await store.browse(project="/w/alpha")
    assert alpha.total == 2 and {s.id for s in alpha.sessions} == {ids[0], ids[1]}
    assert [s.id for s in (await store.browse(text="WIDGETS")).sessions] == [ids[3], ids[1]]
    assert (await store.browse(text="%")).total == 0  # words, never LIKE patterns
    assert (await store.browse(text="w/be")).total == 1  # the folder is searched too
    day = await store.browse(since="2026-05-02T00:00:00+00:00", until="2026-05-03T00:00:00+00:00")
    assert {s.id for s in day.sessions} == {ids[1], ids[2]}
    for bad in ({"limit": 0}, {"offset": -1}, {"since": "yesterday"}, {"project": 3}, {"text": ["a"]}):
        with pytest.raises(ValidationError):
            await store.browse(**bad)  # type: ignore[arg-type]


async def test_projects_count_sessions_most_recent_first(store: yurudb.Store) -> None:
    await _fill(store)
    got = [(p["project"], p["sessions"]) for p in await store.projects()]
    assert got[:2] in ([("/w/gamma", 1), (None, 1)], [(None, 1), ("/w/gamma", 1)])
    assert got[2:] == [("/w/beta", 1), ("/w/alpha", 2)] or got[2:] == [("/w/alpha", 2), ("/w/beta", 1)]


async def test_messages_after_a_seq_are_the_oldest_past_it(store: yurudb.Store) -> None:
    s = await store.create_session(name="paging forward")
    await store.append_messages(s.id, [{"type": "user", "content": f"m{n}"} for n in range(10)])
    assert [m.content for m in await store.get_messages(s.id, after=0, limit=3)] == ["m0", "m1", "m2"]
    assert [m.content for m in await store.get_messages(s.id, after=8, limit=3)] == ["m8", "m9"]
    assert [m.content for m in await store.get_messages(s.id, after=7, limit=None)] == ["m7", "m8", "m9"]
    with pytest.raises(ValidationError):
        await store.get_messages(s.id, after=2, before=5)
    with pytest.raises(ValidationError):
        await store.get_messages(s.id, after=-1)


async def test_usage_by_project_split_by_model_adds_up_to_the_totals(store: yurudb.Store) -> None:
    await _fill(store)
    by_project = await store.usage_summary(by="project")
    assert [r["project"] for r in by_project] == ["/w/alpha", "/w/beta", "/w/gamma", None]
    assert by_project[0]["cost_usd"] == pytest.approx(0.5 + 1.0 + 0.25 * 2)
    split = await store.usage_summary(by="day", split="model")
    assert [(r["day"], r["model"]) for r in split][:2] == [("2026-05-01", "claude-opus-4-6"),
                                                           ("2026-05-01", "claude-sonnet-4-5")]
    assert sum(r["cost_usd"] for r in split) == pytest.approx(sum(r["cost_usd"] for r in by_project))
    alpha = await store.usage_summary(by="model", project="/w/alpha")
    assert sum(r["records"] for r in alpha) == 4
    for bad in ({"by": "day", "split": "day"}, {"split": "hour"}, {"by": "project", "project": 7}):
        with pytest.raises(ValidationError):
            await store.usage_summary(**bad)  # type: ignore[arg-type]


@pytest.mark.sqlite_only
def test_the_usage_command_gives_the_same_figures_with_the_same_filters(db_path: Path) -> None:
    import asyncio

    async def fill() -> list[dict]:
        async with yurudb.open(db_path) as store:
            await _fill(store)
            return await store.usage_summary(by="day", split="project", project="/w/alpha",
                                             since="2026-05-02T00:00:00+00:00", until="2026-05-03T00:00:00+00:00")

    want = asyncio.run(fill())
    out = subprocess.run([*YURUDB, "--db", str(db_path), "usage", "--by", "day", "--split", "project", "--project",
                          "/w/alpha", "--since", "2026-05-02", "--until", "2026-05-03", "--json"],
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == want and len(want) == 1
    table = subprocess.run([*YURUDB, "--db", str(db_path), "usage", "--by", "project"], capture_output=True, text=True,
                           check=True).stdout
    assert "/w/alpha" in table and "/w/gamma" in table
    for bad in (["--split", "hour"], ["--until", "soon"], ["--by", "day", "--split", "day"]):
        refused = subprocess.run([*YURUDB, "--db", str(db_path), "usage", *bad], capture_output=True, text=True)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr


async def test_a_synced_session_lists_as_source_gone_once_claude_code_deletes_it(store: yurudb.Store,
                                                                                 tmp_path: Path) -> None:
    from yurudb.claude import sync

    made = transcripts.write_project(tmp_path / "projects")
    await sync(store, tmp_path / "projects")
    (made["project"] / f"{made['sessions'][1]}.jsonl").unlink()
    await sync(store, tmp_path / "projects")
    flags = {s.id: s.source_gone for s in (await store.browse()).sessions}
    assert flags == {made["sessions"][0]: False, made["sessions"][1]: True}

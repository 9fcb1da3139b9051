"""Full-text search: what it finds, that it stays exact under every kind of write, and its edges."""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from helpers import dump
from transcripts import Writer, write_project

import yurudb
from yurudb.claude import sync
from yurudb.errors import ValidationError
from yurudb.recovery import migrations
from yurudb.search import index as search
from yurudb.search import query as search_query
from yurudb.search import text as search_text

VOCAB = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
         "quebec romeo sierra tango uniform victor whiskey xray yankee zulu").split()


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(VOCAB) for _ in range(n))


def tokens(text: str) -> list[str]:
    return [t.lower() for t in search_text._WORD.findall(search.indexed(text))]


def brute_matches(text: str, query: str) -> bool:
    """Does `text` hold every term of `query` (phrases in order, `x*` as a prefix)? A scan, no index."""
    have = tokens(text)
    for term in search_query.terms(query):
        want = [t.lower() for t in term]
        prefix = want[-1].endswith("*")
        want[-1] = want[-1].rstrip("*")
        found = False
        for i in range(len(have) - len(want) + 1):
            head, last = have[i:i + len(want) - 1], have[i + len(want) - 1]
            if head == want[:-1] and (last.startswith(want[-1]) if prefix else last == want[-1]):
                found = True
                break
        if not found:
            return False
    return True


async def brute(store: yurudb.Store, query: str) -> set[str]:
    out = set()
    for s in await store.list_sessions(limit=None):
        for m in await store.get_messages(s.id, limit=None, thread=...):
            if brute_matches(search.text_of(m.content, m.tool_uses, m.payload), query):
                out.add(m.id)
    return out


async def found(store: yurudb.Store, query: str, **kw: Any) -> set[str]:
    return {h.message_id for h in await store.search(query, limit=10_000, **kw)}


# ---- what a person types is what they find ----------------------------------------------------
CASES = {
    "a word": ("the build is flaky on ci", "flaky"),
    "a path fragment": ("please run tests/test_salvage.py again", "salvage"),
    "a whole path": ("please run tests/test_salvage.py again", "tests/test_salvage.py"),
    "inside snake_case": ("call max_messages_per_session here", "messages"),
    "snake_case whole": ("call max_messages_per_session here", "max_messages_per_session"),
    "inside camelCase": ("const user = getUserName(id)", "UserName"),
    "camelCase part": ("const user = getUserName(id)", "name"),
    "camelCase whole": ("const user = getUserName(id)", "getUserName"),
    "an acronym inside camelCase": ("const r = new XMLHttpRequest()", "XML"),
    "the word after an acronym": ("const r = new XMLHttpRequest()", "Http"),
    "an acronym before a word": ("start the HTTPServer now", "HTTP"),
    "CJK word": ("日本語のテキストを検索する", "テキスト"),
    "CJK two characters": ("日本語のテキストを検索する", "検索"),
    "CJK one character": ("日本語のテキストを検索する", "語"),
    "Korean": ("데이터베이스 복구 테스트", "복구"),
    "case and accents": ("Café CRÈME", "cafe creme"),
    "a prefix": ("the salvage report", "salv*"),
    "a quoted phrase": ("an empty list raises IndexError", '"empty list"'),
    "an error message": ("sqlite3.OperationalError: database is locked", "database is locked"),
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_a_person_finds_what_they_remember(store: yurudb.Store, case: str) -> None:
    text, query = CASES[case]
    s = await store.create_session("s")
    await store.append_message(s.id, {"id": "hit", "type": "user", "content": text})
    await store.append_message(s.id, {"id": "miss", "type": "user", "content": "nothing to see here"})
    hits = await store.search(query)
    assert [h.message_id for h in hits] == ["hit"]
    assert hits[0].marks, hits[0].snippet  # the matched words are marked in the snippet


async def test_what_is_not_there_is_not_found(store: yurudb.Store) -> None:
    s = await store.create_session("s")
    await store.append_message(s.id, {"id": "m", "type": "user", "content": "tests/test_salvage.py getUserName 日本語"})
    for query in ("alvag", '"salvage tests"', "username", "本日", "tests AND nothing"):
        assert await store.search(query) == [], query


async def test_tool_inputs_and_results_are_searched_and_blobs_are_not(store: yurudb.Store) -> None:
    s = await store.create_session("s")
    image = "iVBORw0KGgo" + "A" * 4000
    await store.append_message(s.id, {"id": "use", "type": "assistant", "content": "checking", "tool_uses": [
        {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "grep -rn flushPending src/"}}]})
    await store.append_message(s.id, {"id": "result", "type": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "src/writer.py:88: def flush_pending"},
        {"type": "image", "source": {"type": "base64", "data": image}}]})
    assert await found(store, "grep flushPending") == {"use"}
    assert await found(store, "Pending") == {"use", "result"}
    assert await found(store, "writer.py") == {"result"}
    assert await found(store, "toolu_1") == set()  # ids are not what people remember
    assert await found(store, image[:40]) == set()


@pytest.mark.parametrize(("query", "expected"), [
    ("foo AND (", {"m"}), ('"unbalanced', {"n"}), ("-x", {"m", "n"}), ("NEAR(", {"m"}), ("AND", {"m"}),
    ("OR NOT", {"n"}), ("a:b", {"n"}), ("^start", {"m"}), ("col:x", {"n"}), ("foo*", {"m"}),
    # characters joined by punctuation are a phrase: "start-b" is "start b", in m; "near foo" is nowhere
    ("start-b", {"m"}), ("x:near", {"m"}), ("NEAR(foo b)", set()),
    ("*", set()), ("", set()), ("   ", set()), ("(((", set()), ("'", set()), ("\\", set()), ("\x00", set()),
])
async def test_a_persons_query_is_never_fts5_syntax(store: yurudb.Store, query: str, expected: set[str]) -> None:
    """Every character is taken literally: each query finds what its words find, never an SQLite error."""
    s = await store.create_session("s")
    await store.append_message(s.id, {"id": "m", "type": "user", "content": "foo and x near start b"})
    await store.append_message(s.id, {"id": "n", "type": "user", "content": "a:b col:x (((unbalanced or not"})
    assert await found(store, query) == expected


async def test_plain_words_match_all_terms_and_quotes_match_a_phrase(store: yurudb.Store) -> None:
    s = await store.create_session("s")
    await store.append_message(s.id, {"id": "a", "type": "user", "content": "flaky test in the writer"})
    await store.append_message(s.id, {"id": "b", "type": "user", "content": "the test is not flaky"})
    assert await found(store, "flaky test") == {"a", "b"}
    assert await found(store, '"flaky test"') == {"a"}
    assert await found(store, "flaky writer") == {"a"}


@pytest.mark.sqlite_only  # raw FTS5 syntax, lone surrogates in JSON: SQLite's (docs/postgres.md)
async def test_raw_queries_pass_fts5_syntax_and_bad_syntax_is_a_validation_error(store: yurudb.Store) -> None:
    s = await store.create_session("s")
    await store.append_message(s.id, {"id": "a", "type": "user", "content": "flaky test"})
    await store.append_message(s.id, {"id": "b", "type": "user", "content": "solid test"})
    assert {h.message_id for h in await store.search("test NOT flaky", raw=True)} == {"b"}
    assert {h.message_id for h in await store.search("flaky OR solid", raw=True)} == {"a", "b"}
    for bad in ("foo AND (", '"unbalanced', "NEAR(", "*"):
        with pytest.raises(ValidationError):
            await store.search(bad, raw=True)


async def test_filters_and_stable_paging(store: yurudb.Store) -> None:
    one = await store.create_session("one", working_directory="/home/dev/api")
    two = await store.create_session("two", working_directory="/home/dev/api-old")
    for i in range(30):
        await store.append_message(one.id, {"id": f"o{i}", "type": "user" if i % 2 else "assistant",
                                            "content": "deploy " * (1 + i % 5), "timestamp": 1_700_000_000_000 + i * 1000})
        await store.append_message(two.id, {"id": f"t{i}", "type": "user", "content": "deploy now",
                                            "timestamp": 1_700_000_000_000 + i * 1000})
    assert await found(store, "deploy", session_id=two.id) == {f"t{i}" for i in range(30)}
    assert await found(store, "deploy", working_directory="/home/dev/api") == {f"o{i}" for i in range(30)}
    assert await found(store, "deploy", working_directory="/home/dev") == {f"o{i}" for i in range(30)} | {
        f"t{i}" for i in range(30)}
    assert await found(store, "deploy", types=["assistant"]) == {f"o{i}" for i in range(0, 30, 2)}
    assert await found(store, "deploy", session_id=one.id, since=1_700_000_010_000,
                       until="2023-11-14T22:13:40+00:00") == {f"o{i}" for i in range(10, 20)}
    every = [h.message_id for h in await store.search("deploy", limit=1000)]
    pages = []
    for offset in range(0, 60, 7):
        pages += [h.message_id for h in await store.search("deploy", limit=7, offset=offset)]
    assert pages == every and len(every) == 60
    ranks = [h.rank for h in await store.search("deploy", limit=1000)]
    assert ranks == sorted(ranks)  # best first
    hit = (await store.search("deploy", session_id=one.id, limit=1))[0]
    assert hit.session_name == "one" and hit.session_id == one.id and hit.seq >= 1
    for bad in ({"limit": 0}, {"offset": -1}, {"types": []}, {"since": "yesterday"}, {"session_id": ""}):
        with pytest.raises(ValidationError):
            await store.search("deploy", **bad)


# ---- exact at all times --------------------------------------------------------------------------
QUERIES = ["alpha", "bravo charlie", '"delta echo"', "golf*", "zulu xray", "tango", '"kilo lima mike"', "ind*",
           "sierra", "victor whiskey"]


@pytest.mark.sqlite_only
async def test_the_index_equals_a_brute_force_scan_after_a_random_mix_of_writes(db_path: Path, tmp_path: Path) -> None:
    rng = random.Random(11)
    root = tmp_path / "projects"
    project = root / "-home-dev-mix"
    files: dict[str, Writer] = {}
    async with yurudb.open(db_path, daily_backup=False) as store:
        sessions = [(await store.create_session(f"s{i}")).id for i in range(3)]
        own: list[str] = []  # messages the app wrote (the synced ones are Claude Code's)
        n = 0
        for step in range(120):
            op = rng.choice(["append", "append", "batch", "update", "stream", "reappend", "delete", "sync"])
            if op == "append" and sessions:
                n += 1
                await store.append_message(rng.choice(sessions), {"id": f"m{n}", "type": "user",
                                                                  "content": words(rng, rng.randint(0, 12))})
                own.append(f"m{n}")
            elif op == "batch" and sessions:
                batch = []
                for _ in range(5):
                    n += 1
                    batch.append({"id": f"m{n}", "type": "assistant", "content": words(rng, 6), "tool_uses": [
                        {"type": "tool_use", "id": f"t{n}", "name": "Bash", "input": {"command": words(rng, 3)}}]})
                    own.append(f"m{n}")
                await store.append_messages(rng.choice(sessions), batch)
            elif op == "update" and own:
                try:
                    await store.update_message(rng.choice(own), content=words(rng, 8))
                except yurudb.NotFoundError:
                    pass  # its session was deleted
            elif op == "stream" and own:
                # streamed updates of one message, submitted together: coalesced into one batch
                target = rng.choice(own)
                text = ""
                updates = []
                for _ in range(6):
                    text += " " + rng.choice(VOCAB)
                    updates.append(store.update_message(target, content=text))
                await asyncio.gather(*updates, return_exceptions=True)
            elif op == "reappend" and own:
                target = rng.choice(own)
                owners = await store.message_owners([target])
                if target in owners:
                    await store.append_message(owners[target], {"id": target, "type": "user", "content": words(rng, 5)})
            elif op == "delete" and len(sessions) > 1 and rng.random() < 0.3:
                await store.delete_session(sessions.pop(rng.randrange(len(sessions))))
                sessions.append((await store.create_session(f"s{step}")).id)
            elif op == "sync":
                name = rng.choice(["a", "b", "c"])
                sid = {"a": "aaaaaaaa-0000-4000-8000-000000000001", "b": "bbbbbbbb-0000-4000-8000-000000000002",
                       "c": "cccccccc-0000-4000-8000-000000000003"}[name]
                w = files.setdefault(sid, Writer(sid))
                for _ in range(rng.randint(1, 4)):
                    if rng.random() < 0.5:
                        w.user(words(rng, 7))
                    else:
                        w.response([{"type": "text", "text": words(rng, 5)},
                                    {"type": "tool_use", "id": f"toolu_{len(w.lines)}", "name": "Grep",
                                     "input": {"pattern": words(rng, 2)}}], [5, 9])
                w.write(project / f"{sid}.jsonl")
                await sync(store, root)
            if step % 20 == 19:
                for q in QUERIES:
                    assert await found(store, q) == await brute(store, q), (step, q)
        for q in QUERIES:
            assert await found(store, q) == await brute(store, q), q
        assert await found(store, "alpha") and await found(store, "golf*")  # the mix did find things
    # the index is well-formed (FTS5's own check of its structure)
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO search_index (search_index, rank) VALUES ('integrity-check', 0)")
    orphans = conn.execute("SELECT COUNT(*) FROM search_index_docsize WHERE id NOT IN "
                           "(SELECT search_doc FROM messages WHERE search_doc IS NOT NULL)").fetchone()[0]
    conn.close()
    assert orphans == 0  # every write path took its messages out with it: no garbage left


@pytest.mark.sqlite_only
async def test_synced_transcripts_are_searched_and_deleting_their_session_removes_them(
        db_path: Path, tmp_path: Path) -> None:
    ids = write_project(tmp_path / "projects")
    async with yurudb.open(db_path, daily_backup=False) as store:
        await sync(store, tmp_path / "projects")
        hits = await store.search("IndexError")
        assert {h.session_id for h in hits} == {
            (await store.find_session(claude_session_id=c)).id for c in ids["sessions"]}  # type: ignore[union-attr]
        sub = await store.search("caller list_todos")
        assert sub and sub[0].thread is not None  # a subagent's line, in its thread
        assert await found(store, "todos") == await brute(store, "todos")
        gone = (await store.find_session(claude_session_id=ids["sessions"][0])).id  # type: ignore[union-attr]
        await store.delete_session(gone)
        assert all(h.session_id != gone for h in await store.search("IndexError"))
        assert await found(store, "todos") == await brute(store, "todos")


@pytest.mark.sqlite_only
async def test_a_populated_0004_archive_upgrades_to_an_index_of_everything(db_path: Path, tmp_path: Path) -> None:
    write_project(tmp_path / "projects")
    async with yurudb.open(db_path, daily_backup=False) as store:
        await sync(store, tmp_path / "projects")
        s = await store.create_session("app", id="app")
        await store.append_messages("app", [{"id": f"a{i}", "type": "user", "content": f"deploy {VOCAB[i]}"}
                                            for i in range(20)])
        before = {q: await found(store, q) for q in ("todos", "deploy", "IndexError", "alpha", "app.py")}
    assert await migrations.run(db_path, "downgrade", "0004_archive") == "0004_archive"
    assert "search_doc" not in [r[1] for r in sqlite3.connect(db_path).execute("PRAGMA table_info(messages)")]
    seen: list[tuple[int, int]] = []
    assert await migrations.run(db_path, progress=lambda done, total: seen.append((done, total))) == \
        migrations.head_revision()
    assert seen and seen[-1][0] == seen[-1][1] > 20
    async with yurudb.open(db_path, daily_backup=False) as store:
        assert {q: await found(store, q) for q in before} == before
        assert before["deploy"] == {f"a{i}" for i in range(20)} and before["IndexError"]
        assert s.id == "app"


def test_the_byte_scan_for_camel_case_words_finds_each_word_that_holds_a_step() -> None:
    rng = random.Random(5)
    # ASCII letters, digits, gaps, and characters beyond ASCII: letters (Latin-1 and wider), a dash,
    # an emoji, CJK, U+0080 (the byte wider characters become), a question mark (Latin-1's replacement)
    alphabet = "aAbBzZ09_ -./\n\tXyQ" + "éÉßДд日—😀\x80?ǅ"
    cases = ["getUserName", "HTTPServer", "XMLHttpRequest2Go", "abc1D", "x9Y", "fooBAR", "ABCdef", "a_bC", "", "A",
             "toolUseResult.stdout and parentUuid", "ends withCamel", "CamelCase", "déjàVu", "naïveBayesClassifier",
             "x—getUser", "日本getUser語", "😀fooBar😀"]
    cases += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(40_000)]
    for text in cases:
        # the definition: each word (a run of letters and digits) that holds a camelCase step
        expected = [w for w in search_text._WORD.findall(text) if search_text._CAMEL.search(w)]
        assert search_text._camel_words(text) == expected, text
    assert search_text._camel_words("x = getUserName() or HTTPServer") == ["getUserName", "HTTPServer"]


@pytest.mark.sqlite_only
async def test_0006_sets_a_populated_index_to_merge_16_segments_at_a_time_and_back(db_path: Path) -> None:
    config = "SELECT v FROM search_index_config WHERE k = 'automerge'"
    async with yurudb.open(db_path, daily_backup=False) as store:
        s = await store.create_session("app")
        await store.append_messages(s.id, [{"id": f"a{i}", "type": "user", "content": f"merge {VOCAB[i % len(VOCAB)]}"}
                                           for i in range(30)])
    assert await migrations.run(db_path, "downgrade", "0005_search") == "0005_search"
    assert sqlite3.connect(db_path).execute(config).fetchall() == [(4,)]
    before = dump(db_path)
    assert await migrations.run(db_path, "upgrade", "0006_search_merge") == "0006_search_merge"
    assert sqlite3.connect(db_path).execute(config).fetchall() == [(16,)]
    assert dump(db_path) == before  # a setting: no message, session or document changes
    async with yurudb.open(db_path, daily_backup=False) as store:
        for i in range(30, 60):  # commits of their own: new segments, merged at 16
            await store.append_message(s.id, {"id": f"a{i}", "type": "user", "content": f"merge {VOCAB[i % len(VOCAB)]}"})
        assert await found(store, "merge") == {f"a{i}" for i in range(60)}
        assert await store.check() == ["ok"]


@pytest.mark.sqlite_only
async def test_writes_held_in_memory_while_degraded_are_searched(db_path: Path) -> None:
    async with yurudb.open(db_path, daily_backup=False) as store:
        s = await store.create_session("s")
        await store.append_message(s.id, {"id": "old", "type": "user", "content": "original wording kept"})
        await store.append_message(s.id, {"id": "edit", "type": "user", "content": "before the edit"})
        doomed = await store.create_session("doomed")
        await store.append_message(doomed.id, {"id": "d", "type": "user", "content": "original doomed"})
        quiet = await store.create_session("quiet")
        await store.append_message(quiet.id, {"id": "solo", "type": "user", "content": "the newest of its session"})
        await store.set_max_size(db_path.stat().st_size)  # the disk is full from here on
        n = 0
        while store.state != "degraded":
            n += 1
            await store.append_message(s.id, {"id": f"f{n}", "type": "user", "content": "filler " + "x" * 3000})
            assert n < 500
        await store.append_message(s.id, {"id": "new", "type": "user", "content": "held in memory original"})
        await store.update_message("edit", content="after the edit, original")
        await store.delete_session(doomed.id)
        # memory copies "solo" from the file (the newest message, for the next seq) and leaves it as it was
        await store.append_message(quiet.id, {"id": "next", "type": "user", "content": "appended while degraded"})
        assert await found(store, "newest") == {"solo"} and await found(store, "appended") == {"next"}
        hits = await store.search("original")
        assert {h.message_id for h in hits} == {"old", "new", "edit"} and hits.complete
        assert await found(store, "before") == set()  # the file's old text of an edited message is not a hit
        assert len(await found(store, "filler")) == n
        await store.set_max_size(None)
        for _ in range(100):
            if store.state == "ready":
                break
            await asyncio.sleep(0.05)
        assert store.state == "ready"
        assert await found(store, "original") == {"old", "new", "edit"}
        assert await found(store, "before") == set()


# ---- the command -----------------------------------------------------------------------------------
def test_the_command_shows_marked_snippets_and_how_to_open_each(target, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from yurudb.cli import app

    runner = CliRunner()
    write_project(tmp_path / "projects")
    assert runner.invoke(app, ["sync", str(tmp_path / "projects")]).exit_code == 0
    result = runner.invoke(app, ["search", "IndexError", "--limit", "1"])
    assert result.exit_code == 0, result.output
    assert "IndexError" in result.output and "--around" in result.output
    command = next(line.strip() for line in result.output.splitlines() if line.strip().startswith("yurudb show"))
    shown = runner.invoke(app, command.split()[1:])
    assert shown.exit_code == 0, shown.output
    pointed = [line for line in shown.output.splitlines() if line.startswith("▶")]
    seq = command.split()[-1]
    assert pointed and pointed[0].startswith(f"▶ #{seq} ")
    got = json.loads(runner.invoke(app, ["search", "todos", "--json", "--type", "user"]).output)
    assert got["complete"] and got["hits"] and {h["type"] for h in got["hits"]} == {"user"}
    hit = got["hits"][0]
    assert hit["snippet"][hit["marks"][0][0]:hit["marks"][0][1]].lower() == "todos"
    folder = runner.invoke(app, ["search", "todos", "--json", "--project", "/home/dev/elsewhere"])
    assert json.loads(folder.output)["hits"] == []
    assert runner.invoke(app, ["show", hit["session_id"], "--around", "9999"]).exit_code == 2


async def test_past_the_rank_window_the_newest_matches_are_ranked_and_filters_still_reach_old_ones(
        store: yurudb.Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_query, "RANK_WINDOW", 10)
    old = await store.create_session("old")
    new = await store.create_session("new")
    await store.append_messages(old.id, [{"id": f"o{i}", "type": "user", "content": "common word"} for i in range(5)])
    await store.append_messages(new.id, [{"id": f"n{i}", "type": "user", "content": "common word"} for i in range(30)])
    hits = await store.search("common", limit=100)
    assert hits.ranked_newest and hits.note and len(hits) == 10
    assert {h.message_id for h in hits} == {f"n{i}" for i in range(20, 30)}  # the newest ten
    assert await found(store, "common", session_id=old.id) == {f"o{i}" for i in range(5)}
    few = await store.search("common", session_id=old.id)
    assert not few.ranked_newest and few.note is None


@pytest.mark.sqlite_only
async def test_one_batch_that_appends_a_message_twice_and_updates_another_indexes_each_once(db_path: Path) -> None:
    async with yurudb.open(db_path, daily_backup=False) as store:
        s = await store.create_session("s")
        await store.append_message(s.id, {"id": "u", "type": "user", "content": "first words"})
        # submitted together: one batch
        await asyncio.gather(
            store.append_message(s.id, {"id": "twice", "type": "user", "content": "early text"}),
            store.append_message(s.id, {"id": "twice", "type": "user", "content": "final text"}),
            store.update_message("u", content="second words"),
            store.append_message(s.id, {"id": "fresh", "type": "user", "content": "fresh then edited"}),
            store.update_message("fresh", content="fresh edited"),
        )
        assert await found(store, "text") == {"twice"} and await found(store, "early") == set()
        assert await found(store, "words") == {"u"} and await found(store, "first") == set()
        assert await found(store, "fresh") == {"fresh"} and await found(store, "then") == set()
    conn = sqlite3.connect(db_path)
    docs = [r[0] for r in conn.execute("SELECT id FROM search_index_docsize")]
    assert sorted(docs) == sorted(r[0] for r in conn.execute("SELECT search_doc FROM messages"))


def planted(length: int, words: tuple[str, str, str]) -> str:
    """Prose of about `length` characters with one word at its start, one in its middle, one at its end."""
    filler = " ".join(f"line{i} of the log" for i in range(length // 18))
    half = len(filler) // 2
    return f"{words[0]} {filler[:half]} {words[1]} {filler[half:]} {words[2]}"


async def test_every_word_of_a_long_prompt_and_a_long_tool_result_is_found(store: yurudb.Store) -> None:
    s = await store.create_session("s")
    prompt = planted(50_000, ("openingword", "enforcing", "closingword"))
    result = planted(200_000, ("firstresult", "middleresult", "lastresult"))
    assert len(prompt) >= 50_000 and len(result) >= 200_000
    await store.append_message(s.id, {"id": "prompt", "type": "user", "content": prompt})
    await store.append_message(s.id, {"id": "tool", "type": "assistant", "content": "reading",
                                      "tool_uses": [{"type": "tool_use", "id": "t1", "name": "Read",
                                                     "input": {"file_path": "/var/log/big.log"}}]})
    await store.append_message(s.id, {"id": "result", "type": "user", "content": [
        {"type": "tool_result", "tool_use_id": "t1", "content": result}]})
    for word in ("openingword", "enforcing", "closingword"):
        assert await found(store, word) == {"prompt"}, word
    for word in ("firstresult", "middleresult", "lastresult"):
        assert await found(store, word) == {"result"}, word
    hit = (await store.search("middleresult"))[0]
    assert hit.marked("[", "]").count("[middleresult]") == 1  # the snippet is cut around the match
    # a streamed update moves the whole text, and the old words leave with it
    await store.update_message("prompt", content=planted(50_000, ("openingword", "replacedword", "closingword")))
    assert await found(store, "enforcing") == set() and await found(store, "replacedword") == {"prompt"}
    assert (await store.get_messages(s.id))[0].content.count("line") > 2_000  # the message is whole


@pytest.mark.sqlite_only
def test_check_finds_an_index_changed_outside_yurudb_and_reindex_rebuilds_it(db_path: Path) -> None:
    from typer.testing import CliRunner

    from yurudb.cli import app

    async def fill() -> None:
        async with yurudb.open(db_path, daily_backup=False) as store:
            s = await store.create_session("s")
            await store.append_messages(s.id, [{"id": f"m{i}", "type": "user", "content": f"needle {i}"}
                                               for i in range(5)])
    asyncio.run(fill())
    runner = CliRunner()
    assert runner.invoke(app, ["check"]).exit_code == 0
    conn = sqlite3.connect(db_path)
    conn.execute("DELETE FROM messages WHERE id = 'm0'")  # another program: its document stays behind
    conn.execute("UPDATE messages SET search_doc = 999 WHERE id = 'm1'")  # points at nothing
    conn.commit()
    conn.close()
    checked = runner.invoke(app, ["check"])
    assert checked.exit_code == 1 and "1 messages point at search documents" in checked.output
    fixed = runner.invoke(app, ["reindex"])
    assert fixed.exit_code == 0 and "4 messages indexed" in fixed.output, fixed.output
    assert runner.invoke(app, ["check"]).exit_code == 0

    async def look() -> set[str]:
        async with yurudb.open(db_path, daily_backup=False) as store:
            return await found(store, "needle")
    assert asyncio.run(look()) == {"m1", "m2", "m3", "m4"}
    conn = sqlite3.connect(db_path)
    assert search.health(conn) == (0, 0)


async def test_a_long_tool_result_is_searched_whole(store: yurudb.Store) -> None:
    s = await store.create_session("s")
    output = "collected 900 items " + " ".join(f"case{i} PASSED" for i in range(900)) + " 1 failed, 899 passed"
    await store.append_message(s.id, {"id": "r", "type": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": output}]})
    assert await found(store, "collected") == {"r"} and await found(store, "899 passed") == {"r"}
    assert await found(store, "case450") == {"r"}  # its middle too
    assert (await store.get_messages(s.id))[0].content == output  # the message is whole


@pytest.mark.sqlite_only  # raw FTS5 syntax, lone surrogates in JSON: SQLite's (docs/postgres.md)
async def test_text_sqlite_cannot_take_is_indexed_as_the_content_column_shows_it(store: yurudb.Store) -> None:
    s = await store.create_session("s")
    await store.append_message(s.id, {"id": "a", "type": "assistant", "content": "half \ud83d pair", "tool_uses": [
        {"type": "tool_use", "id": "t", "name": "Bash", "input": {"command": "echo \udc00 lone"}}]})
    await store.append_message(s.id, {"id": "b", "type": "user", "content": [
        {"type": "text", "text": "see \ud800 this"},
        {"type": "tool_result", "tool_use_id": "t", "content": "result \udfff text"}]})
    assert await found(store, "pair") == {"a"} and await found(store, "lone") == {"a"}
    assert await found(store, "see this") == {"b"} and await found(store, "result") == {"b"}


@pytest.mark.sqlite_only
async def test_an_app_opening_an_older_database_hears_how_far_indexing_got(db_path: Path) -> None:
    from yurudb.events import RecoveryProgress

    async with yurudb.open(db_path, daily_backup=False) as store:
        s = await store.create_session("s")
        await store.append_messages(s.id, [{"id": f"m{i}", "type": "user", "content": f"old words {i}"}
                                           for i in range(12_000)])
    await migrations.run(db_path, "downgrade", "0004_archive")
    heard: list[RecoveryProgress] = []
    async with yurudb.open(db_path, daily_backup=False,
                           on_event=lambda e: heard.append(e) if isinstance(e, RecoveryProgress) else None) as store:
        assert store.recovery.migrated_from == "0004_archive"
        assert await found(store, '"words 5"') == {"m5"} and await found(store, "11999") == {"m11999"}
    indexing = [e.detail for e in heard if e.step == "migrate" and "indexing" in e.detail]
    assert indexing[-1] == "indexing for search: 12,000 of 12,000 messages" and len(indexing) >= 3
    assert heard[-1].done == heard[-1].total == 12_000 or any(e.done == e.total == 12_000 for e in heard)

"""The web page (`yurudb ui`), in a real browser: Debian's chromium driven by Playwright, against a real
`yurudb serve --watch` over synced transcripts. Each page is photographed into build/screenshots/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import transcripts
from helpers import YURUDB, call, serving

pytest.importorskip("starlette", reason="the page is served by yurudb serve (the serve extra)")
playwright = pytest.importorskip("playwright.sync_api", reason="the browser tests drive chromium with Playwright "
                                                                 "(pip install -e '.[test,serve,mcp]')")
expect = playwright.expect

CHROMIUM = os.environ.get("YURUDB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)",
                allow_module_level=True)
SHOTS = Path(os.environ.get("YURUDB_SCREENSHOTS", Path(__file__).resolve().parent.parent / "build" / "screenshots"))
DOCS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
HOSTILE = "33333333-cccc-4ccc-8ccc-333333333333"
LIVE = "44444444-dddd-4ddd-8ddd-444444444444"
PROJECT = "-home-dev-projects-todo-api"
MANY = 56
ATTACKS = [
    "<script>window.__pwned = 'script'</script>",
    '<img src="x" onerror="window.__pwned = \'img\'">',
    "[click me](javascript:window.__pwned='link')",
    '<svg onload="window.__pwned = \'svg\'"><circle r="4"/></svg>',
    '<iframe srcdoc="<script>parent.__pwned = \'iframe\'</script>"></iframe>',
    '<a href="#" onclick="window.__pwned = \'onclick\'">plain link</a>',
    "```html\n<script>window.__pwned = 'code'</script>\n```",
]


def shoot(page: Any, name: str) -> None:
    """A screenshot for CI's artefacts (build/screenshots/); YURUDB_DOCS_SCREENSHOTS=1 also refreshes docs/'s."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    if os.environ.get("YURUDB_DOCS_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS / f"{name}.png"))


def write_home(home: Path) -> Path:
    """Claude Code's folder: the two test sessions with a subagent, a hostile one and one that grows."""
    projects = home / ".claude" / "projects"
    transcripts.write_project(projects)
    hostile = transcripts.Writer(HOSTILE, start_second=6000)
    for attack in ATTACKS:
        hostile.user(f"look at this: {attack}")
        hostile.response([{"type": "text", "text": f"Here it is again: {attack}"}], [5])
    hostile.response([{"type": "tool_use", "id": "toolu_x", "name": "Bash", "input": {"command": "cat evil.html"}}], [4])
    hostile.tool_result("toolu_x", "\n".join(ATTACKS))
    hostile.response([{"type": "text", "text": "long " * 15_000 + "THE END"}], [9])  # 75,000 characters
    hostile.summary("<img src=x onerror=\"window.__pwned='title'\"> hostile title")
    hostile.write(projects / PROJECT / f"{HOSTILE}.jsonl")
    live = transcripts.Writer(LIVE, start_second=9000, cwd="/home/dev/projects/live")
    live.user("a session Claude Code is still writing")
    live.write(projects / "-home-dev-projects-live" / f"{LIVE}.jsonl")
    for n in range(MANY):  # enough for the list and the hits to need a second page
        many = transcripts.Writer(f"55555555-eeee-4eee-8eee-{n:012d}", start_second=100 + n, cwd="/home/dev/many")
        many.user(f"pagination check number {n}")
        many.write(projects / "-home-dev-many" / f"{many.session_id}.jsonl")
    return projects


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A synced database served with --watch, and the environment its commands run in."""
    root = tmp_path_factory.mktemp("web")
    home = root / "home"
    projects = write_home(home)
    db = root / "yurudb.db"
    env = {**os.environ, "HOME": str(home)}
    for name in ("CLAUDE_CONFIG_DIR", "XDG_CONFIG_HOME", "YURUDB_URL"):
        env.pop(name, None)
    subprocess.run([*YURUDB, "--db", str(db), "sync", str(projects)], check=True, capture_output=True, env=env)
    with serving(db, "--watch", env=env) as (info, _):
        yield {**info, "home": home, "projects": projects, "db": db, "env": env}


@pytest.fixture(scope="module")
def browser(site: dict[str, Any]) -> Iterator[Any]:
    with playwright.sync_playwright() as p:
        try:
            launched = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"])
        except Exception as exc:  # noqa: BLE001 - a chromium that cannot start here is a skip with its reason
            pytest.skip(f"chromium at {CHROMIUM} did not start: {str(exc).splitlines()[0]}")
        yield launched
        launched.close()


@pytest.fixture()
def page(browser: Any, site: dict[str, Any]) -> Iterator[Any]:
    """A fresh tab, opened the way `yurudb ui` opens it; page errors and CSP reports fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    tab.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
    tab.goto(f"{site['url']}/#token={site['token']}")
    tab.wait_for_selector("tr.row")
    tab.problems = problems
    yield tab
    context.close()
    unexpected = [p for p in problems if "Content Security Policy" in p or p.startswith("page error")]
    assert not unexpected, unexpected


def api(site: dict[str, Any], path: str) -> Any:
    status, answer = call(site, "GET", f"/api/v1{path}")
    assert status == 200, answer
    return answer


def cli_json(site: dict[str, Any], *args: str) -> Any:
    out = subprocess.run([*YURUDB, "--db", str(site["db"]), *args, "--json"], capture_output=True, text=True,
                         env=site["env"], check=True)
    return json.loads(out.stdout)


def test_the_page_takes_its_token_from_the_fragment_and_says_how_to_get_one_without(browser: Any,
                                                                                    site: dict[str, Any]) -> None:
    context = browser.new_context()
    tab = context.new_page()
    answer = tab.goto(f"{site['url']}/")
    assert answer is not None and "script-src 'self'" in answer.headers["content-security-policy"]
    tab.wait_for_selector(".notice")
    assert "yurudb ui" in tab.inner_text(".notice")
    shoot(tab, "no-token")
    tab.goto(f"{site['url']}/#token={site['token']}")
    tab.wait_for_selector("tr.row")
    assert "token" not in tab.url  # out of the address bar (and history) at once
    assert tab.evaluate("sessionStorage.getItem('yurudb-token')") == site["token"]
    tab.goto(f"{site['url']}/#token=wrong")
    tab.wait_for_selector(".notice")  # a wrong token is refused and forgotten
    assert tab.evaluate("sessionStorage.getItem('yurudb-token')") is None
    context.close()


def test_the_session_list_shows_the_synced_sessions_and_filters_them(page: Any, site: dict[str, Any]) -> None:
    listed = api(site, "/browse?limit=50")
    rows = page.locator("tr.row")
    assert listed["total"] == 4 + MANY and rows.count() == 50  # a page, not every row
    assert [rows.nth(i).get_attribute("data-session") for i in range(50)] == [s["id"] for s in listed["sessions"]]
    text = page.inner_text("table.sessions")
    assert "Fix 500 on empty todo list" in text and "/home/dev/projects/todo-api" in text
    assert f"1–50 of {4 + MANY}" in page.inner_text(".pager")
    shoot(page, "sessions")
    page.click("text=older →")
    expect(page.locator("tr.row")).to_have_count(4 + MANY - 50)
    expect(page.locator(".pager")).to_contain_text(f"51–{4 + MANY} of {4 + MANY}")
    assert "offset=50" in page.url  # the page is in the address: back and reload keep it
    page.click("text=← newer")
    expect(page.locator("tr.row")).to_have_count(50)
    page.fill("input[aria-label='filter sessions']", "fix 500")
    expect(page.locator("tr.row")).to_have_count(1)
    assert "Fix 500 on empty todo list" in page.inner_text("tr.row")
    page.fill("input[aria-label='filter sessions']", "")
    page.select_option("select[aria-label='project']", "/home/dev/projects/live")
    expect(page.locator("tr.row")).to_have_count(1)
    expect(page.locator("tr.row")).to_have_attribute("data-session", LIVE)


def test_clicking_a_session_shows_its_turns_tools_threads_cost_and_resume(page: Any, site: dict[str, Any]) -> None:
    sid = "11111111-aaaa-4aaa-8aaa-111111111111"
    page.click(f"tr.row[data-session='{sid}']")
    page.wait_for_selector("article.turn")
    main_thread = api(site, f"/sessions/{sid}/messages?limit=all")
    assert page.locator("article.turn").count() == len(main_thread)
    assert page.inner_text("article.turn.user >> nth=0").endswith("the /todos endpoint returns 500 when the list is empty")
    read = page.locator("details.tool", has_text="Read").first
    assert "/home/dev/projects/todo-api/app.py" in read.inner_text() and read.get_attribute("open") is None
    # per-turn tokens and cost: the response's usage record, shown once on its last line
    keys = {f"{m['payload']['message']['id']}:{m['payload']['requestId']}" for m in main_thread if m["usage"]}
    records = [r for r in api(site, f"/sessions/{sid}/usage") if r["source_id"] in keys]
    shown = page.locator(".tokens").all_inner_texts()
    assert len(shown) == len(records) == 3  # the subagent's two responses are on its own thread
    assert sorted(t.rsplit("· ", 1)[1] for t in shown) == sorted(f"${r['cost_usd']:.4f}" for r in records)
    assert f"claude --resume {sid}" in page.inner_text("code.resume")
    shoot(page, "conversation")
    page.click(".threads a:not(.active)")
    expect(page.locator(".turns")).to_contain_text("Only app.py")
    thread = api(site, f"/sessions/{sid}/threads")[0]
    assert page.locator("article.turn").count() == len(api(site, f"/sessions/{sid}/messages?limit=all&thread={thread}"))


def test_the_restore_button_puts_a_deleted_transcript_back_byte_exact(page: Any, site: dict[str, Any]) -> None:
    sid = "22222222-bbbb-4bbb-8bbb-222222222222"
    transcript = site["projects"] / PROJECT / f"{sid}.jsonl"
    kept = transcript.read_bytes()
    transcript.unlink()
    page.goto(f"{site['url']}/#/session/{sid}")
    page.wait_for_selector("article.turn")
    page.click("button.restore")
    expect(page.locator(".hint")).to_contain_text("restored into")
    assert "1 written" in page.inner_text(".hint")
    assert transcript.read_bytes() == kept


def test_search_as_you_type_marks_the_words_and_opens_the_message(page: Any, site: dict[str, Any]) -> None:
    page.click("nav a[data-nav='search']")
    page.type("input[aria-label='search']", "IndexError", delay=30)
    page.wait_for_selector(".hit mark")
    hits = api(site, "/search?q=IndexError&limit=20")["hits"]
    assert page.locator(".hit").count() == len(hits) >= 2
    assert {m.lower() for m in page.locator(".hit mark").all_inner_texts()} == {"indexerror"}
    shoot(page, "search")
    page.select_option("select[aria-label='type']", "user")
    expect(page.locator(".hits")).to_contain_text("no message matches")  # Claude said IndexError, the user did not
    assert api(site, "/search?q=IndexError&types=user")["hits"] == []
    page.select_option("select[aria-label='type']", "")
    page.wait_for_selector(".hit mark")
    # paging: 20 hits a page
    page.fill("input[aria-label='search']", "pagination")
    expect(page.locator(".hit")).to_have_count(20)
    page.click("text=more →")
    expect(page.locator(".pager")).to_contain_text("hits 21–40")
    seen = set(page.locator(".hit").evaluate_all("hs => hs.map(h => h.dataset.session)"))
    page.click("text=more →")
    expect(page.locator(".hit")).to_have_count(MANY - 40)
    assert seen.isdisjoint(page.locator(".hit").evaluate_all("hs => hs.map(h => h.dataset.session)"))
    page.select_option("select[aria-label='project']", "/home/dev/projects/todo-api")
    expect(page.locator(".hits")).to_contain_text("no message matches")
    page.select_option("select[aria-label='project']", "")
    page.fill("input[aria-label='search']", "IndexError")
    page.wait_for_selector(".hit mark")
    first = page.locator(".hit").first
    seq, session = first.get_attribute("data-seq"), first.get_attribute("data-session")
    first.click()
    page.wait_for_selector("article.turn.at")
    assert page.locator("article.turn.at").get_attribute("data-seq") == seq
    assert session in page.url and "IndexError" in page.inner_text("article.turn.at")


def test_the_usage_chart_and_tables_total_what_the_command_says(page: Any, site: dict[str, Any]) -> None:
    page.click("nav a[data-nav='usage']")
    page.wait_for_selector(".uplot")
    by_model = cli_json(site, "usage", "--by", "model")
    assert page.inner_text("[data-total='cost_usd']") == f"${sum(r['cost_usd'] for r in by_model):.4f}"
    assert page.inner_text("[data-total='records']") == str(sum(r["records"] for r in by_model))
    for r in by_model:
        cell = page.locator(f"table.usage-model tr[data-key='{r['model']}'] td[data-cost]")
        assert float(cell.get_attribute("data-cost")) == pytest.approx(r["cost_usd"])
    by_day = cli_json(site, "usage", "--by", "day", "--split", "model")
    assert float(page.get_attribute(".chart", "data-sum")) == pytest.approx(sum(r["cost_usd"] for r in by_day))
    shoot(page, "usage")
    # the same filters on both sides: one project, one day (the page's "to" is inclusive)
    page.select_option("select[aria-label='project']", "/home/dev/projects/todo-api")
    page.fill("input[aria-label='from']", "2026-03-01")
    page.fill("input[aria-label='to']", "2026-03-01")
    page.dispatch_event("input[aria-label='to']", "change")
    filtered = cli_json(site, "usage", "--project", "/home/dev/projects/todo-api", "--since", "2026-03-01",
                        "--until", "2026-03-02")
    want = f"${sum(r['cost_usd'] for r in filtered):.4f}"
    expect(page.locator("[data-total='cost_usd']")).to_have_text(want)
    assert sum(r["records"] for r in filtered) > 0


def test_a_line_appended_to_a_watched_transcript_appears_without_a_reload(page: Any, site: dict[str, Any]) -> None:
    page.goto(f"{site['url']}/#/session/{LIVE}")
    page.wait_for_selector("article.turn")
    page.evaluate("window.__same_page = true")
    before = page.locator("article.turn").count()
    line = {"type": "assistant", "sessionId": LIVE, "uuid": "live-1", "parentUuid": None, "cwd": "/home/dev/projects/live",
            "timestamp": "2026-03-01T12:00:00.000Z", "message": {"role": "assistant", "content": [
                {"type": "text", "text": "a line **written just now**"}]}}
    with open(site["projects"] / "-home-dev-projects-live" / f"{LIVE}.jsonl", "a") as f:
        f.write(json.dumps(line) + "\n")
    expect(page.locator(".turns")).to_contain_text("written just now", timeout=30_000)
    assert page.locator("article.turn").count() == before + 1
    assert page.evaluate("window.__same_page") is True  # grown in place: no reload
    assert page.inner_text("article.turn >> nth=-1 >> strong") == "written just now"  # as markdown


def test_a_transcript_holding_script_and_event_handlers_runs_nothing(page: Any, site: dict[str, Any]) -> None:
    page.goto(f"{site['url']}/#/session/{HOSTILE}")
    page.wait_for_selector("article.turn")
    for d in page.locator("details.tool").all():
        d.evaluate("d => d.open = true")
    page.click(".md a >> text=click me")  # a javascript: link is sanitised away: clicking it does nothing
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None
    turns = page.locator(".turns")
    assert turns.locator("script, iframe, svg, [onerror], [onload], [onclick]").count() == 0
    assert all(not (a.get_attribute("href") or "").lower().startswith("javascript")
               for a in turns.locator("a").all())
    # the attacks are shown, as text, in the tool result and code block
    assert "<script>window.__pwned = 'script'</script>" in page.inner_text(".turns")
    shoot(page, "hostile")
    # a text too long to render as markdown is shown as text, all of it on request, never cut silently
    long = page.locator(".md:has(button)").element_handle()  # a handle: the box stays the box once its button goes
    assert "characters: show all" in long.query_selector("button").inner_text()
    assert "THE END" not in long.query_selector("pre").text_content()
    long.query_selector("button").click()
    assert long.query_selector("pre").text_content().endswith("THE END") and long.query_selector("button") is None
    page.goto(f"{site['url']}/#/sessions")
    page.wait_for_selector("tr.row")
    assert "hostile title" in page.inner_text("table.sessions") and page.evaluate("window.__pwned") is None


def test_yurudb_ui_starts_a_server_when_none_runs_and_reuses_a_running_one(site: dict[str, Any],
                                                                           tmp_path: Path) -> None:
    env = {**site["env"], "BROWSER": "true"}  # webbrowser runs `true`: no browser window in a test
    out = subprocess.run([*YURUDB, "--db", str(site["db"]), "ui"], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"{site['url']}/#token={site['token']}"  # the running server: reused
    db = tmp_path / "other.db"
    started = subprocess.run([*YURUDB, "--db", str(db), "ui", "--no-browser"], capture_output=True, text=True,
                             env=env, timeout=60)
    assert started.returncode == 0, started.stderr
    served = json.loads((tmp_path / "serve.json").read_text())
    try:
        assert started.stdout.strip() == f"{served['url']}/#token={served['token']}"
        assert "started yurudb serve" in started.stderr
        status, _ = call(served, "GET", "/api/v1/health")
        assert status == 200
    finally:
        os.kill(served["pid"], 15)
    for _ in range(200):
        if not (tmp_path / "serve.json").exists():
            break
        import time

        time.sleep(0.05)
    assert not (tmp_path / "serve.json").exists()


def test_the_pages_files_are_all_that_loads_without_the_token(site: dict[str, Any]) -> None:
    """/ and /ui/ hold no data: a path that climbs out of /ui/ reaches nothing, and the API still wants the token."""
    import http.client
    from urllib.parse import urlparse

    where = urlparse(site["url"])
    for path, want in [("/", 200), ("/ui/app.js", 200), ("/ui/../api/v1/sessions", 404), ("/ui/%2e%2e/api/v1/sessions", 404),
                       ("/ui/../../../../etc/passwd", 404), ("/api/v1/sessions", 401), ("/ui/nothing.js", 404)]:
        conn = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
        conn.request("GET", path)
        answer = conn.getresponse()
        body = answer.read()
        conn.close()
        assert answer.status == want, (path, answer.status)
        assert b'"working_directory"' not in body and b"root:" not in body  # no data, no file from elsewhere

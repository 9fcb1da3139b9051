"""W12: the web page in a real browser (Debian's chromium, driven by Playwright) over 10,000 sessions
and 1,000,000 messages: first paint of the session list, and a search's time from the last keystroke
to its hits on screen. Beside the same work done raw in the same run: a static page of the same 50
rows (no script) painted by the same browser, and the same query run on raw sqlite3 FTS5."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from html import escape
from pathlib import Path
from typing import Any

import fulltext

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("YURUDB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def _usage(path: Path, sessions: int) -> None:
    """Ten priced responses per session, so the cost column and the usage page have figures."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO analytics (session_id, tokens_input, tokens_output, tokens_cache, cost_usd, model, "
                     "timestamp, source_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     [(f"s{i}", 10, 200 + k, 20_000, 0.01 * (1 + k % 3), ("claude-opus-4-6", "claude-sonnet-4-5")[k % 2],
                       f"2026-{1 + i % 9:02d}-{1 + i % 28:02d} 10:00:00.000", f"r{i}:{k}")
                      for i in range(sessions) for k in range(10)])
    conn.execute("COMMIT")
    conn.close()


def _static_page(path: Path) -> bytes:
    """The raw baseline: the first 50 rows of the same list as plain HTML, queried with raw sqlite3."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    rows = conn.execute("SELECT s.id, s.name, s.working_directory, s.updated_at, "
                        "(SELECT COUNT(*) FROM messages AS m WHERE m.session_id = s.id), "
                        "(SELECT TOTAL(cost_usd) FROM analytics AS a WHERE a.session_id = s.id) "
                        "FROM sessions AS s ORDER BY s.updated_at DESC, s.id LIMIT 50").fetchall()
    conn.close()
    body = "".join(f"<tr><td>{escape(r[1])}<div>{escape(r[2] or '')}</div></td><td>{r[4]}</td><td>${r[5]:.4f}</td>"
                   f"<td>{escape(str(r[3]))}</td></tr>" for r in rows)
    return f"<!doctype html><meta charset=utf-8><title>raw</title><table>{body}</table>".encode()


def _serve_static(page: bytes) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def _paint(browser: Any, url: str, ready: str | None) -> tuple[float, float]:
    """(first contentful paint, the page's own mark when it has one) in ms from navigation, in a new tab."""
    context = browser.new_context()
    tab = context.new_page()
    tab.goto(url)
    if ready:
        tab.wait_for_selector(ready)
    for _ in range(200):
        fcp = tab.evaluate("performance.getEntriesByName('first-contentful-paint').map(e => e.startTime)")
        if fcp:
            break
        time.sleep(0.01)
    mark = tab.evaluate("performance.getEntriesByName('yurudb:sessions-rendered').map(e => e.startTime)")
    context.close()
    return fcp[0], (mark[0] if mark else fcp[0])


def _search_times(browser: Any, url: str, queries: list[str]) -> list[float]:
    """Each query put in the search box at once: ms from its input event to its hits rendered."""
    context = browser.new_context()
    tab = context.new_page()
    tab.goto(url)
    tab.wait_for_selector("tr.row")
    tab.click("nav a[data-nav='search']")
    box = tab.wait_for_selector("input[aria-label='search']")
    times = []
    for q in queries:
        tab.evaluate("performance.clearMarks()")
        box.fill(q)  # one input event: the debounce (60 ms) is counted in what is measured
        for _ in range(3000):
            got = tab.evaluate("[performance.getEntriesByName('yurudb:search-typed').map(e => e.startTime).at(-1), "
                               "performance.getEntriesByName('yurudb:hits-rendered').map(e => e.startTime).at(-1)]")
            if got[0] is not None and got[1] is not None and got[1] > got[0]:
                times.append(got[1] - got[0])
                break
            time.sleep(0.002)
    context.close()
    return times


def _raw_search(path: Path, queries: list[str]) -> list[float]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    out = []
    for q in queries:
        expr = " ".join(f'"{w}"' for w in q.split())
        t0 = time.perf_counter()
        conn.execute("SELECT rowid FROM search_index WHERE search_index MATCH ? ORDER BY rank LIMIT 20", (expr,)).fetchall()
        out.append((time.perf_counter() - t0) * 1000)
    conn.close()
    return out


def w12(tmp: Path, res: Any, quick: bool, Row: Any) -> None:  # noqa: N803 - the table's row type
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("W12 skipped: playwright is not installed (the test extra)", file=sys.stderr)
        return
    if not Path(CHROMIUM).exists():
        print(f"W12 skipped: no chromium at {CHROMIUM} (apt-get install chromium)", file=sys.stderr)
        return
    sessions = 10_000
    n = int(os.environ.get("YURUDB_BENCH_WEB_MESSAGES", 100_000 if quick else 1_000_000))
    words, texts = fulltext.real_text()
    path = tmp / "w12.db"
    fulltext.build(path, n, words, texts, sessions=sessions)
    _usage(path, sessions)
    queries = fulltext.queries(words, 30 if quick else 60, seed=12)
    # today's backup first, as on any day but a database's first: else the server's start-up copies
    # the whole file in the background while the page is measured (it doubled the list's time)
    subprocess.run([sys.executable, "-m", "yurudb", "--db", str(path), "backup"], check=True, capture_output=True, cwd=REPO)
    proc = subprocess.Popen([sys.executable, "-m", "yurudb", "--db", str(path), "serve"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, cwd=REPO)
    static, static_url = _serve_static(_static_page(path))
    try:
        info = json.loads(proc.stdout.readline())  # type: ignore[union-attr]
        page_url = f"{info['url']}/#token={info['token']}"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            _paint(browser, page_url, "tr.row")  # warm: the server's first reads, the browser's caches
            ours = [_paint(browser, page_url, "tr.row") for _ in range(7)]
            raw = [_paint(browser, static_url, "tr") for _ in range(7)]
            times = _search_times(browser, page_url, queries)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        static.shutdown()
    raw_search = _raw_search(path, queries)
    label = f"W12 web page ({sessions:,} sessions, {n:,} messages, Debian chromium headless)"
    res.rows.append(Row(label, "first paint of the session list (median of 7)", statistics.median(o[0] for o in ours),
                        statistics.median(r[0] for r in raw), "ms", False, "< 1 s",
                        "first-contentful-paint; raw: a static page of the same 50 rows (no script) in the same browser"))
    res.rows.append(Row(label, "session rows on screen (median of 7)", statistics.median(o[1] for o in ours),
                        statistics.median(r[0] for r in raw), "ms", False, "< 1 s",
                        "the page's own mark once its 50 rows are in the DOM (two API calls: projects and the page)"))
    ordered = sorted(times)
    res.rows.append(Row(label, f"search: last keystroke to hits on screen, p50 of {len(times)}",
                        statistics.median(times), statistics.median(raw_search), "ms", False, "< 200 ms",
                        f"p90 {ordered[int(0.9 * (len(ordered) - 1))]:.0f} ms; includes the page's 60 ms debounce; "
                        "raw: the same words as an FTS5 MATCH on raw sqlite3 (20 rowids, no snippets)"))

// yurudb's web page: sessions, a conversation, search and usage, over the served API (/api/v1).
// Everything a transcript holds is put on the page as text nodes, or as markdown that DOMPurify has
// sanitised; the page's Content-Security-Policy forbids any script but these files besides.

const TOKEN_KEY = "yurudb-token";
const PAGE = 50;          // sessions per page: 10,000 sessions are 200 pages, never 10,000 rows
const WINDOW = 200;       // messages fetched at a time
const HITS = 20;          // search hits per page
const MAX_MARKDOWN = 60_000;  // longer texts show as plain text until asked (rendering them is slow)
const main = document.getElementById("main");

// ---- the token: from the #fragment (never sent to a server), then kept for this tab only -------
function takeToken() {
  if (location.hash.startsWith("#token=")) {
    const token = new URLSearchParams(location.hash.slice(1)).get("token");
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    history.replaceState(null, "", location.pathname + "#/sessions");
  }
  return sessionStorage.getItem(TOKEN_KEY);
}
const token = takeToken();

class ApiError extends Error {
  constructor(status, kind, message) { super(message); this.status = status; this.kind = kind; }
}

async function api(path, params = {}, init = {}) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") query.set(k, v);
  const url = `/api/v1${path}${query.size ? "?" + query : ""}`;
  const answer = await fetch(url, { ...init, headers: { Authorization: `Bearer ${token}`, ...(init.body ? { "Content-Type": "application/json" } : {}) } });
  const body = answer.status === 204 ? null : await answer.json();
  if (!answer.ok) {
    if (answer.status === 401) { sessionStorage.removeItem(TOKEN_KEY); noToken(); }
    throw new ApiError(answer.status, body?.error?.type, body?.error?.message || answer.statusText);
  }
  return body;
}

// ---- DOM helpers: text is always a text node --------------------------------------------------
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) if (child !== null && child !== undefined && child !== false) node.append(child);
  return node;
}
const fmt = new Intl.NumberFormat("en-US");
const money = (n) => `$${(n || 0).toFixed(n >= 100 ? 2 : 4)}`;
const when = (iso) => (iso ? new Date(iso).toISOString().slice(0, 16).replace("T", " ") : "");
const dayStart = (d) => (d ? `${d}T00:00:00+00:00` : undefined);
function dayAfter(d) {  // the page's "to" date is inclusive: the API's until is the next midnight
  if (!d) return undefined;
  const t = new Date(`${d}T00:00:00Z`); t.setUTCDate(t.getUTCDate() + 1);
  return t.toISOString().slice(0, 10) + "T00:00:00+00:00";
}
function debounce(fn, ms) { let t; return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); }; }
function route() {
  const [path, query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  return { parts: path.split("/").map(decodeURIComponent), params: new URLSearchParams(query) };
}
function go(hash) { location.hash = hash; }
function failed(err) {
  if (err.status === 401) return;  // the notice saying how to get a token is shown instead
  main.replaceChildren(el("p", { class: "bad" }, `${err.kind || "Error"}: ${err.message}`));
}

// ---- markdown: marked to HTML, DOMPurify to safe HTML, highlight.js on its code ------------------
const PURIFY = { USE_PROFILES: { html: true }, FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select"],
                 FORBID_ATTR: ["style"], ALLOW_DATA_ATTR: false };
const escapeHtml = (t) => t.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
let markedReady = false;
function markdown(text) {
  if (!markedReady) {  // HTML written inside markdown is shown as the text it is, never made into elements
    marked.use({ renderer: { html: (token) => escapeHtml(token.text ?? token.raw ?? "") } });
    markedReady = true;
  }
  const box = el("div", { class: "md" });
  if (text.length > MAX_MARKDOWN) {
    // shown as text: the first part, then all of it on request (never cut silently)
    const shown = el("pre", { class: "out" }, text.slice(0, MAX_MARKDOWN));
    const more = el("button", { onclick: () => { shown.textContent = text; more.remove(); } },
      `${fmt.format(text.length)} characters: show all`);
    box.append(shown, more);
    return box;
  }
  box.innerHTML = DOMPurify.sanitize(marked.parse(text, { async: false, gfm: true, breaks: false }), PURIFY);
  for (const a of box.querySelectorAll("a")) { a.setAttribute("rel", "noopener noreferrer"); a.setAttribute("target", "_blank"); }
  for (const code of box.querySelectorAll("pre code")) if (code.textContent.length < 20_000) hljs.highlightElement(code);
  return box;
}

// ---- the shell: navigation, state, events --------------------------------------------------------
let socket = null;
const listeners = new Set();
function events() {
  if (socket) return;
  socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/events`);
  socket.onopen = () => socket.send(JSON.stringify({ token }));
  socket.onmessage = (m) => {
    const event = JSON.parse(m.data);
    if (event.type === "Hello" || event.type === "Degraded" || event.type === "Recovered") showState(event.state || (event.type === "Degraded" ? "degraded" : "ready"));
    for (const listen of listeners) listen(event);
  };
  socket.onclose = () => { socket = null; setTimeout(events, 2000); };  // the server restarted: try again
}
function showState(state) {
  const node = document.getElementById("state");
  node.textContent = state === "degraded" ? "degraded: saves are held in the journal" : `store ${state}`;
  node.className = `state ${state}`;
}

function noToken() {
  document.querySelector("header nav").replaceChildren();
  main.replaceChildren(el("div", { class: "notice" },
    el("h1", {}, "This page needs its token"),
    el("p", {}, "Run ", el("code", {}, "yurudb ui"), " in a terminal: it starts the server if none runs and opens this page with its token."),
    el("p", {}, "The token is also in ", el("code", {}, "serve.json"), " beside the database; open ",
      el("code", {}, `${location.origin}/#token=…`), " with it. It stays in this tab only.")));
}

async function render() {
  const { parts, params } = route();
  const view = parts[0] || "sessions";
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.nav === (view === "session" ? "sessions" : view));
  listeners.clear();
  try {
    if (view === "session" && parts[1]) await conversation(parts[1], params);
    else if (view === "search") await searchView(params);
    else if (view === "usage") await usageView(params);
    else await sessionsView(params);
  } catch (err) { failed(err); }
}

// ---- sessions ------------------------------------------------------------------------------
let projectsCache = null;
async function projectOptions(selected) {
  projectsCache ??= await api("/projects");
  return [el("option", { value: "" }, "every project"),
    ...projectsCache.map((p) => el("option", { value: p.project ?? "", selected: p.project === selected }, `${p.project ?? "(none)"} (${p.sessions})`))];
}

async function sessionsView(params) {
  const state = { project: params.get("project") || "", text: params.get("text") || "", from: params.get("from") || "",
                  to: params.get("to") || "", offset: Number(params.get("offset") || 0) };
  const text = el("input", { type: "search", placeholder: "filter by name, id or folder", value: state.text, "aria-label": "filter sessions" });
  const project = el("select", { "aria-label": "project" }, await projectOptions(state.project));
  const from = el("input", { type: "date", value: state.from, "aria-label": "active from" });
  const to = el("input", { type: "date", value: state.to, "aria-label": "active to" });
  const body = el("tbody");
  const pager = el("div", { class: "pager" });
  main.replaceChildren(el("div", { class: "filters" }, text, project, el("span", { class: "dim" }, "active"), from, "–", to),
    el("table", { class: "sessions" }, el("thead", {}, el("tr", {},
      el("th", {}, "session"), el("th", { class: "num" }, "messages"), el("th", { class: "num" }, "cost"), el("th", { class: "num" }, "last active"))), body), pager);

  async function load() {
    const page = await api("/browse", { project: state.project, text: state.text, since: dayStart(state.from), until: dayAfter(state.to),
                                        limit: PAGE, offset: state.offset });
    body.replaceChildren(...page.sessions.map((s) => el("tr", { class: "row", dataset: { session: s.id }, onclick: () => go(`#/session/${encodeURIComponent(s.id)}`) },
      el("td", {}, el("a", { href: `#/session/${encodeURIComponent(s.id)}` }, s.name),
        s.user_renamed && s.claude_title ? el("span", { class: "dim" }, ` (${s.claude_title})`) : null,
        s.source_gone ? el("span", { class: "badge", title: "Claude Code deleted its files; the archive keeps them" }, "source gone") : null,
        s.secrets ? el("span", { class: "badge secrets", title: "secrets found in it: yurudb secrets scan lists them" }, `${s.secrets} secrets`) : null,
        el("div", { class: "project" }, s.working_directory || "")),
      el("td", { class: "num" }, fmt.format(s.messages)), el("td", { class: "num" }, money(s.cost_usd)), el("td", { class: "num" }, when(s.updated_at)))));
    if (!page.sessions.length) body.append(el("tr", {}, el("td", { colspan: 4, class: "dim" }, "no session matches")));
    const last = Math.min(page.total, state.offset + page.sessions.length);
    pager.replaceChildren(
      el("button", { disabled: state.offset === 0, onclick: () => { state.offset = Math.max(0, state.offset - PAGE); keep(); } }, "← newer"),
      el("span", { class: "dim" }, page.total ? `${fmt.format(state.offset + 1)}–${fmt.format(last)} of ${fmt.format(page.total)}` : "0 sessions"),
      el("button", { disabled: last >= page.total, onclick: () => { state.offset += PAGE; keep(); } }, "older →"));
    performance.mark("yurudb:sessions-rendered");
  }
  function keep() {  // the filters live in the address, so back and reload keep them
    const q = new URLSearchParams(Object.entries(state).filter(([, v]) => v !== "" && v !== 0));
    history.replaceState(null, "", `#/sessions${q.size ? "?" + q : ""}`);
    load().catch(failed);
  }
  const refilter = debounce(() => { state.offset = 0; keep(); }, 120);
  text.addEventListener("input", () => { state.text = text.value; refilter(); });
  for (const [input, key] of [[project, "project"], [from, "from"], [to, "to"]]) input.addEventListener("change", () => { state[key] = input.value; refilter(); });
  listeners.add((e) => { if (e.type === "LinesArchived" && state.offset === 0) { projectsCache = null; load().catch(() => {}); } });
  await load();
}

// ---- a conversation --------------------------------------------------------------------------
function blocksOf(m) {
  const inner = m.payload && typeof m.payload === "object" ? m.payload.message : null;
  if (inner && Array.isArray(inner.content)) return inner.content;
  if (inner && typeof inner.content === "string") return [{ type: "text", text: inner.content }];
  return m.content ? [{ type: "text", text: m.content }] : [];
}
function toolLabel(input) {  // the command or path a tool call works on, shown while it is collapsed
  if (!input || typeof input !== "object") return "";
  for (const key of ["command", "file_path", "path", "pattern", "url", "description", "prompt", "query"]) if (typeof input[key] === "string") return input[key];
  const first = Object.values(input).find((v) => typeof v === "string");
  return first || "";
}
function resultText(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((b) => (b && b.type === "text" ? b.text : JSON.stringify(b))).join("\n");
  return JSON.stringify(content, null, 2);
}
function blockNode(b, plain) {
  if (!b || typeof b !== "object") return el("pre", { class: "out" }, String(b));
  if (b.type === "text") return plain ? el("div", { class: "said" }, String(b.text ?? "")) : markdown(String(b.text ?? ""));
  if (b.type === "tool_use") {
    const label = toolLabel(b.input);
    return el("details", { class: "tool" }, el("summary", {}, "tool ", el("b", {}, String(b.name)), label ? [" · ", el("code", {}, label.slice(0, 160))] : null),
      el("pre", { class: "out" }, JSON.stringify(b.input, null, 2)));
  }
  if (b.type === "tool_result") {
    const text = resultText(b.content);
    return el("details", { class: "tool" }, el("summary", {}, b.is_error ? el("span", { class: "bad" }, "error result") : "result", ` · ${fmt.format(text.split("\n").length)} lines`),
      el("pre", { class: "out" }, text));
  }
  if (b.type === "thinking") return el("details", { class: "tool" }, el("summary", {}, "thinking"), el("pre", { class: "out" }, String(b.thinking ?? "")));
  return el("details", { class: "tool" }, el("summary", {}, String(b.type)), el("pre", { class: "out" }, JSON.stringify(b, null, 2)));
}
function usageLine(m, costs, lastOfResponse) {
  const usage = m.usage && typeof m.usage === "object" ? m.usage : null;
  if (!usage) return null;
  const key = m.payload?.message?.id && m.payload?.requestId ? `${m.payload.message.id}:${m.payload.requestId}` : null;
  if (key && lastOfResponse.get(key) !== m.seq) return null;  // one response streams as several lines: shown once
  const cache = (usage.cache_creation_input_tokens || 0) + (usage.cache_read_input_tokens || 0);
  const cost = key ? costs.get(key) : undefined;
  return el("span", { class: "tokens" }, `in ${fmt.format(usage.input_tokens || 0)} · out ${fmt.format(usage.output_tokens || 0)} · cache ${fmt.format(cache)}`,
    cost !== undefined ? ` · ${money(cost)}` : "");
}
function turnNode(m, costs, lastOfResponse, at) {
  const blocks = blocksOf(m);
  const onlyResults = blocks.length > 0 && blocks.every((b) => b && b.type === "tool_result");
  const reader = m.type === "user" || m.type === "assistant";
  const kind = m.type === "user" && !onlyResults ? "user" : reader ? "assistant" : "meta";
  const who = el("div", { class: "who" }, el("b", {}, onlyResults ? "tool result" : m.type), el("span", {}, when(m.timestamp)),
    m.payload?.message?.model ? el("span", {}, m.payload.message.model) : null, usageLine(m, costs, lastOfResponse),
    el("span", { class: "dim" }, `#${m.seq}${m.line !== null && m.line !== undefined ? ` · line ${m.line}` : ""}`));
  const node = el("article", { class: `turn ${kind}${at ? " at" : ""}`, id: `m${m.seq}`, dataset: { seq: m.seq, type: m.type } }, who);
  // what a person typed is shown as typed; Claude's replies are markdown
  if (reader) node.append(...blocks.map((b) => blockNode(b, m.type === "user")));
  else node.append(el("details", { class: "tool" }, el("summary", {}, m.content ? m.content.slice(0, 160) : "details"),
    el("pre", { class: "out" }, JSON.stringify(m.payload ?? m.content, null, 2))));
  return node;
}

async function conversation(sid, params) {
  const thread = params.get("thread") || null;
  const at = params.has("at") ? Number(params.get("at")) : null;
  const [session, threads, records] = await Promise.all([api(`/sessions/${encodeURIComponent(sid)}`),
    api(`/sessions/${encodeURIComponent(sid)}/threads`), api(`/sessions/${encodeURIComponent(sid)}/usage`)]);
  const costs = new Map(records.filter((r) => r.source_id).map((r) => [r.source_id, r.cost_usd]));
  const total = records.reduce((a, r) => a + r.cost_usd, 0);
  const list = el("div", { class: "turns" });
  const earlier = el("button", { hidden: true }, "earlier messages");
  const later = el("button", { hidden: true }, "later messages");
  const restoreOut = el("span", { class: "dim" });
  const resumeId = session.claude_session_id || session.id;
  const resume = `${session.working_directory ? `cd ${JSON.stringify(session.working_directory)} && ` : ""}claude --resume ${resumeId}`;
  const base = `#/session/${encodeURIComponent(sid)}`;
  main.replaceChildren(el("div", { class: "conversation" },
    el("div", { class: "session-head" }, el("h1", {}, session.name),
      el("div", { class: "meta" }, [session.working_directory || "", `id ${session.id}`, `${session.status}`, `updated ${when(session.updated_at)}`, `cost ${money(total)}`].filter(Boolean).join(" · "),
        session.meta?.source_gone ? el("span", { class: "badge" }, "source gone") : null)),
    el("div", { class: "hint" }, "resume:", el("code", { class: "resume" }, resume),
      el("button", { onclick: () => navigator.clipboard?.writeText(resume) }, "copy"),
      el("button", { class: "restore", title: "put its transcript files back where Claude Code looks (never over a differing file)", onclick: restore }, "restore files"), restoreOut),
    threads.length ? el("div", { class: "threads" }, el("a", { href: base, class: thread ? "" : "active" }, "main"),
      threads.map((t) => el("a", { href: `${base}?thread=${encodeURIComponent(t)}`, class: t === thread ? "active" : "" }, t.split("/").pop().replace(/\.jsonl$/, "")))) : null,
    earlier, list, later));

  let first = null, last = null, atEnd = false;
  const lastOfResponse = new Map();
  function add(messages, where) {
    for (const m of messages) {
      const key = m.payload?.message?.id && m.payload?.requestId ? `${m.payload.message.id}:${m.payload.requestId}` : null;
      if (key && (lastOfResponse.get(key) ?? -1) < m.seq) lastOfResponse.set(key, m.seq);
    }
    const nodes = messages.map((m) => turnNode(m, costs, lastOfResponse, m.seq === at));
    if (where === "start") list.prepend(...nodes); else list.append(...nodes);
    if (messages.length) {
      first = first === null ? messages[0].seq : Math.min(first, messages[0].seq);
      last = last === null ? messages.at(-1).seq : Math.max(last, messages.at(-1).seq);
    }
  }
  const ask = { thread: thread ?? undefined, limit: WINDOW };
  const path = `/sessions/${encodeURIComponent(sid)}/messages`;
  if (at !== null) {
    add(await api(path, { ...ask, thread: thread ?? "all", around: at, limit: 100 }), "end");
    earlier.hidden = false; later.hidden = false;
  } else {
    const got = await api(path, { ...ask, after: 0 });
    add(got, "end");
    atEnd = got.length < WINDOW;
    later.hidden = atEnd;
  }
  earlier.onclick = async () => {
    const got = await api(path, { ...ask, thread: at !== null ? thread ?? "all" : ask.thread, before: first });
    add(got, "start");
    earlier.hidden = got.length < WINDOW;
  };
  later.onclick = async () => {
    const got = await api(path, { ...ask, thread: at !== null ? thread ?? "all" : ask.thread, after: last });
    add(got, "end");
    atEnd = got.length < WINDOW;
    later.hidden = atEnd;
  };
  async function restore() {
    restoreOut.textContent = "restoring…";
    try {
      const r = await api(`/sessions/${encodeURIComponent(sid)}/restore`, {}, { method: "POST", body: "{}" });
      restoreOut.textContent = `restored into ${r.into}: ${r.written.length} written, ${r.identical.length} already there` +
        (r.differing.length ? `, ${r.differing.length} left alone (they differ)` : "");
    } catch (err) { restoreOut.textContent = `${err.kind}: ${err.message}`; }
  }
  // live: the session grows on screen as `serve --watch` archives its lines
  const grow = async () => {
    if (!atEnd) return;
    const got = await api(path, { ...ask, after: last ?? 0 });
    add(got, "end");
    if (got.length) list.lastElementChild.scrollIntoView({ block: "nearest" });
  };
  listeners.add((e) => { if (e.type === "LinesArchived") grow().catch(() => {}); });
  if (at !== null) document.getElementById(`m${at}`)?.scrollIntoView({ block: "center" });
  performance.mark("yurudb:conversation-rendered");
}

// ---- search ------------------------------------------------------------------------------------
const TYPES = ["user", "assistant", "system", "summary", "tool"];
async function searchView(params) {
  const state = { q: params.get("q") || "", project: params.get("project") || "", type: params.get("type") || "",
                  from: params.get("from") || "", to: params.get("to") || "", offset: Number(params.get("offset") || 0) };
  const q = el("input", { type: "search", placeholder: 'words, "a phrase", prefix*', value: state.q, autofocus: true, "aria-label": "search" });
  const project = el("select", { "aria-label": "project" }, await projectOptions(state.project));
  const type = el("select", { "aria-label": "type" }, el("option", { value: "" }, "every type"), TYPES.map((t) => el("option", { value: t, selected: t === state.type }, t)));
  const from = el("input", { type: "date", value: state.from, "aria-label": "from" });
  const to = el("input", { type: "date", value: state.to, "aria-label": "to" });
  const out = el("div", { class: "hits" });
  const pager = el("div", { class: "pager" });
  main.replaceChildren(el("div", { class: "filters" }, q, project, type, from, "–", to), out, pager);
  let current = null;
  async function load() {
    const mine = (current = new AbortController());
    if (!state.q.trim()) { out.replaceChildren(el("p", { class: "dim" }, "Type to search every message.")); pager.replaceChildren(); return; }
    const started = performance.now();
    let found;
    try {
      found = await api("/search", { q: state.q, working_directory: state.project, types: state.type, since: dayStart(state.from),
                                     until: dayAfter(state.to), limit: HITS, offset: state.offset }, { signal: mine.signal });
    } catch (err) { if (err.name === "AbortError") return; throw err; }
    if (mine !== current) return;  // a newer query is on its way: its answer wins
    out.replaceChildren(...found.hits.map(hitNode));
    if (!found.hits.length) out.append(el("p", { class: "dim" }, "no message matches"));
    if (!found.complete && found.note) out.prepend(el("p", { class: "bad" }, found.note));
    pager.replaceChildren(
      el("button", { disabled: state.offset === 0, onclick: () => { state.offset = Math.max(0, state.offset - HITS); keep(); } }, "← better"),
      el("span", { class: "dim" }, found.hits.length ? `hits ${state.offset + 1}–${state.offset + found.hits.length} · ${Math.round(performance.now() - started)} ms` : ""),
      el("button", { disabled: found.hits.length < HITS, onclick: () => { state.offset += HITS; keep(); } }, "more →"));
    performance.mark("yurudb:hits-rendered");
  }
  function hitNode(h) {
    const snippet = el("div", { class: "snippet" });
    let at = 0;
    for (const [a, b] of h.marks) { snippet.append(h.snippet.slice(at, a), el("mark", {}, h.snippet.slice(a, b))); at = b; }
    snippet.append(h.snippet.slice(at));
    const target = `#/session/${encodeURIComponent(h.session_id)}?at=${h.seq}${h.thread ? `&thread=${encodeURIComponent(h.thread)}` : ""}`;
    return el("div", { class: "hit", dataset: { session: h.session_id, seq: h.seq }, onclick: () => go(target) },
      el("div", { class: "where" }, el("a", { href: target }, h.session_name), ` · ${h.type} · ${when(h.timestamp)} · #${h.seq}`), snippet);
  }
  function keep() {
    const p = new URLSearchParams(Object.entries(state).filter(([, v]) => v !== "" && v !== 0));
    history.replaceState(null, "", `#/search${p.size ? "?" + p : ""}`);
    load().catch(failed);
  }
  const refind = debounce(() => { state.offset = 0; keep(); }, 60);
  q.addEventListener("input", () => { state.q = q.value; performance.mark("yurudb:search-typed"); refind(); });
  for (const [input, key] of [[project, "project"], [type, "type"], [from, "from"], [to, "to"]]) input.addEventListener("change", () => { state[key] = input.value; refind(); });
  await load();
  q.focus();
}

// ---- usage -------------------------------------------------------------------------------------
const COLORS = ["#0969da", "#bf3989", "#1a7f37", "#9a6700", "#8250df", "#cf222e", "#0550ae", "#6e7781"];
async function usageView(params) {
  const state = { from: params.get("from") || "", to: params.get("to") || "", project: params.get("project") || "",
                  split: params.get("split") || "model", metric: params.get("metric") || "cost_usd" };
  const project = el("select", { "aria-label": "project" }, await projectOptions(state.project));
  const from = el("input", { type: "date", value: state.from, "aria-label": "from" });
  const to = el("input", { type: "date", value: state.to, "aria-label": "to" });
  const split = el("select", { "aria-label": "split" }, ["model", "project"].map((s) => el("option", { value: s, selected: s === state.split }, `by ${s}`)));
  const metric = el("select", { "aria-label": "metric" }, [["cost_usd", "cost"], ["tokens", "tokens"]].map(([v, t]) => el("option", { value: v, selected: v === state.metric }, t)));
  const totals = el("div", { class: "totals" });
  const chart = el("div", { class: "chart" });
  const tables = el("div", { class: "cols" });
  main.replaceChildren(el("div", { class: "filters" }, project, from, "–", to, split, metric), totals, chart, tables);
  const tokens = (r) => r.tokens_input + r.tokens_output + r.tokens_cache;
  const value = (r) => (state.metric === "cost_usd" ? r.cost_usd : tokens(r));
  async function load() {
    const filters = { since: dayStart(state.from), until: dayAfter(state.to), project: state.project };
    const [daily, byModel, byProject] = await Promise.all([api("/usage", { ...filters, by: "day", split: state.split }),
      api("/usage", { ...filters, by: "model" }), api("/usage", { ...filters, by: "project" })]);
    const sum = (rows, f) => rows.reduce((a, r) => a + f(r), 0);
    totals.replaceChildren(
      el("div", {}, el("b", { dataset: { total: "cost_usd" } }, money(sum(byModel, (r) => r.cost_usd))), "cost"),
      el("div", {}, el("b", { dataset: { total: "tokens" } }, fmt.format(sum(byModel, tokens))), "tokens"),
      el("div", {}, el("b", { dataset: { total: "records" } }, fmt.format(sum(byModel, (r) => r.records))), "responses"));
    drawChart(daily);
    tables.replaceChildren(table("by model", "model", byModel), table("by project", "project", byProject));
    performance.mark("yurudb:usage-rendered");
  }
  function table(title, key, rows) {
    return el("div", {}, el("h3", {}, title), el("table", { class: `usage-${key}` },
      el("thead", {}, el("tr", {}, el("th", {}, key), el("th", { class: "num" }, "responses"), el("th", { class: "num" }, "tokens"), el("th", { class: "num" }, "cost"))),
      el("tbody", {}, rows.map((r) => el("tr", { dataset: { key: r[key] ?? "" } }, el("td", {}, r[key] ?? "(none)"), el("td", { class: "num" }, fmt.format(r.records)),
        el("td", { class: "num" }, fmt.format(tokens(r))), el("td", { class: "num", dataset: { cost: r.cost_usd } }, money(r.cost_usd)))))));
  }
  function drawChart(daily) {
    const days = [...new Set(daily.map((r) => r.day))].filter(Boolean).sort();
    const keys = [...new Set(daily.map((r) => r[state.split] ?? "(none)"))];
    if (!days.length) { chart.replaceChildren(el("p", { class: "dim" }, "no usage recorded for these filters")); return; }
    const per = keys.map((k) => days.map((d) => daily.filter((r) => r.day === d && (r[state.split] ?? "(none)") === k).reduce((a, r) => a + value(r), 0)));
    const ordered = keys.map((k, i) => i).sort((a, b) => per[b].reduce((x, y) => x + y, 0) - per[a].reduce((x, y) => x + y, 0));
    // stacked bars: each series is drawn as the running total, the largest first, so every part shows
    const stacked = [];
    let running = days.map(() => 0);
    for (const i of ordered) { running = running.map((v, d) => v + per[i][d]); stacked.push(running); }
    const xs = days.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
    const bars = uPlot.paths.bars({ size: [0.7, 60] });
    const series = [{}, ...ordered.map((i, n) => ({ label: keys[i], stroke: COLORS[n % COLORS.length], fill: COLORS[n % COLORS.length] + "cc",
      paths: bars, points: { show: false }, value: (u, v, s, idx) => (idx === null ? "" : state.metric === "cost_usd" ? money(per[i][idx]) : fmt.format(per[i][idx])) }))];
    const data = [xs, ...stacked].map((a) => a);
    const width = Math.max(320, main.clientWidth - 8);
    const opts = { width, height: 280, series: [series[0], ...series.slice(1).reverse()], scales: { x: { time: true, range: (u, min, max) => [min - 43200, max + 43200] },
                                                             y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [{}, { values: (u, vals) => vals.map((v) => (state.metric === "cost_usd" ? `$${v}` : fmt.format(v))), size: 70 }] };
    chart.replaceChildren();
    chart.dataset.days = JSON.stringify(days);
    chart.dataset.sum = String(per.flat().reduce((a, v) => a + v, 0));
    new uPlot(opts, [data[0], ...data.slice(1).reverse()], chart);
  }
  function keep() {
    const p = new URLSearchParams(Object.entries(state).filter(([k, v]) => v !== "" && !(k === "split" && v === "model") && !(k === "metric" && v === "cost_usd")));
    history.replaceState(null, "", `#/usage${p.size ? "?" + p : ""}`);
    load().catch(failed);
  }
  for (const [input, key] of [[project, "project"], [from, "from"], [to, "to"], [split, "split"], [metric, "metric"]]) input.addEventListener("change", () => { state[key] = input.value; keep(); });
  listeners.add((e) => { if (e.type === "LinesArchived") load().catch(() => {}); });
  await load();
}

// ---- start ---------------------------------------------------------------------------------------
// a new #token= (another `yurudb ui`, a restarted server) replaces the old one: start again with it
window.addEventListener("hashchange", () => { if (location.hash.startsWith("#token=")) { takeToken(); location.reload(); } });
if (!token) noToken();
else {
  window.addEventListener("hashchange", () => { if (!location.hash.startsWith("#token=")) render(); });
  events();
  api("/health").then((h) => showState(h.state)).catch(() => {});
  render();
}

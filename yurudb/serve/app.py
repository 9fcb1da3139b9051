"""The ASGI app: the library's API one to one under /api/v1, JSON in and out, guarded for loopback.

Every request needs `Authorization: Bearer <token>`; a WebSocket gives the token as `?token=` or as
its first message. The Host header must name the server's own loopback address and an Origin, when
sent, must be the server's own: a page on another origin (DNS rebinding included) can neither read
nor write. Answers are the library's pydantic models; every `yurudb.errors` error is one status and
`{"error": {"type", "message"}}`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pydantic
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from .. import errors
from ..models import Message, SecretFinding, Session, SessionPage, Usage
from ..store.store import Store

log = logging.getLogger(__name__)
MAX_BODY = 16 * 1024 * 1024  # a request body past this is refused (413) before it is read whole
STATUS: list[tuple[type[BaseException], int]] = [
    (errors.ValidationError, 422), (errors.NotFoundError, 404), (errors.ConflictError, 409),
    (errors.ReadOnlyError, 403), (errors.StoreClosedError, 503), (errors.DatabaseError, 503),
    (errors.YurudbError, 500),
]


class Refused(Exception):
    """A request refused before the store saw it: its status, error type and message."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind = status, kind


def refusal(status: int, kind: str, message: str) -> JSONResponse:
    """The one shape of every error answer."""
    return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status)


def jsonable(value: Any) -> Any:
    """An answer as JSON: models dumped as the library defines them, dataclasses (reports) as dicts."""
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in (sorted(value) if isinstance(value, (set, frozenset)) else value)]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


# ---- request bodies: validated here, then by the library itself ---------------------------------
class _Body(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")


class CreateSession(_Body):
    """POST /sessions."""

    name: str
    id: str | None = None
    status: str = "pending"
    working_directory: str | None = None
    claude_session_id: str | None = None
    claude_title: str | None = None
    user_renamed: bool = False
    meta: dict[str, Any] | None = None
    created_at: int | str | None = None
    updated_at: int | str | None = None


class UpdateSession(pydantic.BaseModel):
    """PATCH /sessions/{id}: the fields to change (as update_session takes them)."""

    model_config = pydantic.ConfigDict(extra="allow")


class Rename(_Body):
    """POST /sessions/{id}/rename."""

    name: str


class Append(_Body):
    """POST /sessions/{id}/messages: one message, or several in order (one transaction when they fit)."""

    message: dict[str, Any] | None = None
    messages: list[dict[str, Any]] | None = None


class UpdateMessage(_Body):
    """PATCH /messages/{id}: streaming updates; a field left out stays as it is."""

    content: Any = None
    tool_uses: list[Any] | dict[str, Any] | None = None
    usage: dict[str, Any] | None = None
    payload: dict[str, Any] | None = None


class RecordUsage(_Body):
    """POST /sessions/{id}/usage (without cost_usd the price database prices it)."""

    model: str | None = None
    tokens_input: int = 0
    tokens_output: int = 0
    tokens_cache: int = 0
    cost_usd: float | None = None
    timestamp: int | str | None = None
    source_id: str | None = None
    tokens_cache_write: int | None = None
    tokens_cache_read: int | None = None


class SyncArchive(_Body):
    """POST /archive/sync: one projects folder, or every place Claude Code keeps them."""

    root: str | None = None


class Restore(_Body):
    """POST /sessions/{id}/restore: put its files back (never over a differing file)."""

    into: str | None = None
    cwd: str | None = None


async def body(request: Request, model: type[pydantic.BaseModel]) -> Any:
    """The request's JSON, checked against `model` (400 not JSON, 413 too big, 422 the wrong shape)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise Refused(413, "TooLarge", f"a request body is at most {MAX_BODY:,} bytes")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_BODY:
            raise Refused(413, "TooLarge", f"a request body is at most {MAX_BODY:,} bytes")
    try:
        decoded = json.loads(bytes(data) or b"{}")
    except (ValueError, RecursionError):
        raise Refused(400, "NotJSON", "the request body is not JSON") from None
    try:
        return model.model_validate(decoded)
    except pydantic.ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())
        raise Refused(422, "ValidationError", problems) from None


def number(request: Request, name: str) -> int | None:
    """An integer query parameter (422 when it is not one)."""
    value = request.query_params.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise Refused(422, "ValidationError", f"{name} must be an integer, not {value!r}") from None


def flag(request: Request, name: str) -> bool | None:
    """A true/false query parameter (None when not given; 422 when it is neither)."""
    value = request.query_params.get(name)
    if value is None:
        return None
    if value not in ("true", "false"):
        raise Refused(422, "ValidationError", f"{name} must be true or false, not {value!r}")
    return value == "true"


Handler = Callable[[Store, Request], Awaitable[Any]]


def endpoint(store: Store, handler: Handler, status: int = 200) -> Callable[[Request], Awaitable[Response]]:
    """A route: the handler's answer as JSON, its errors as the one error shape."""
    async def route(request: Request) -> Response:
        try:
            answer = await handler(store, request)
        except Refused as exc:
            return refusal(exc.status, exc.kind, str(exc))
        except errors.YurudbError as exc:
            code = next(code for kind, code in STATUS if isinstance(exc, kind))
            return refusal(code, type(exc).__name__, str(exc))
        if isinstance(answer, Response):
            return answer
        code = status
        if status in (200, 201) and request.method != "GET" and store.state == "degraded":
            code = 202  # accepted, held in the spill journal: durable, not yet in the database file
        return JSONResponse(jsonable(answer), status_code=code,
                            headers={"X-Yurudb-Held": "journal"} if code == 202 else None)
    return route


# ---- the handlers: one per library call ----------------------------------------------------------
async def health(store: Store, request: Request) -> Any:
    report = store.recovery
    return {"state": store.state, "recovery": jsonable(report), "total_ms": report.total_ms}


async def list_sessions(store: Store, request: Request) -> Any:
    return await store.list_sessions(limit=number(request, "limit"), offset=number(request, "offset") or 0,
                                     status=request.query_params.get("status"))


async def create_session(store: Store, request: Request) -> Any:
    b = await body(request, CreateSession)
    return await store.create_session(**b.model_dump())


async def get_session(store: Store, request: Request) -> Any:
    return await store.get_session(request.path_params["session"])


async def update_session(store: Store, request: Request) -> Any:
    b = await body(request, UpdateSession)
    return await store.update_session(request.path_params["session"], **(b.model_extra or {}))


async def rename_session(store: Store, request: Request) -> Any:
    b = await body(request, Rename)
    return await store.rename_session(request.path_params["session"], b.name)


async def delete_session(store: Store, request: Request) -> Any:
    await store.delete_session(request.path_params["session"])
    return Response(status_code=204)


async def get_messages(store: Store, request: Request) -> Any:
    got = await _window(store, request)
    if flag(request, "redact"):  # the same window, each message's secrets replaced by [REDACTED:kind]
        from ..secrets import redact_message

        return [redact_message(m) for m in got]
    return got


async def _window(store: Store, request: Request) -> Any:
    thread = request.query_params.get("thread")
    limit: Any = None if request.query_params.get("limit") == "all" else number(request, "limit")
    if limit is None and request.query_params.get("limit") != "all":
        limit = ...  # the store's window
    around, before, after = number(request, "around"), number(request, "before"), number(request, "after")
    sid = request.path_params["session"]
    if around is None:
        return await store.get_messages(sid, limit=limit, before=before, after=after,
                                        thread=... if thread == "all" else thread)
    if before is not None or after is not None:
        raise Refused(422, "ValidationError", "around and before (or after) both say where to look: give one")
    # a search hit's neighbours: `limit` messages with it in the middle, every thread unless one is named
    width = 50 if not isinstance(limit, int) else limit
    got = await store.get_messages(sid, limit=width, before=around + width // 2 + 1,
                                   thread=... if thread in (None, "all") else thread)
    if not any(m.seq == around for m in got):
        raise errors.NotFoundError(f"session {sid} has no message #{around}")
    return got


async def append_messages(store: Store, request: Request) -> Any:
    b = await body(request, Append)
    sid = request.path_params["session"]
    if (b.message is None) == (b.messages is None):
        raise Refused(422, "ValidationError", "give message (one) or messages (several), not both")
    if b.message is not None:
        return await store.append_message(sid, b.message)
    return await store.append_messages(sid, b.messages or [])


async def update_message(store: Store, request: Request) -> Any:
    b = await body(request, UpdateMessage)
    given = {k: getattr(b, k) for k in b.model_fields_set}
    if not given:
        raise Refused(422, "ValidationError", "nothing to update")
    return await store.update_message(request.path_params["message"], **given)


async def record_usage(store: Store, request: Request) -> Any:
    b = await body(request, RecordUsage)
    return await store.record_usage(request.path_params["session"], **b.model_dump())


async def usage_summary(store: Store, request: Request) -> Any:
    q = request.query_params
    return await store.usage_summary(by=q.get("by", "model"), since=q.get("since"), until=q.get("until"),  # type: ignore[arg-type]
                                     session_id=q.get("session_id"), project=q.get("project"),
                                     split=q.get("split"))  # type: ignore[arg-type]


async def usage_records(store: Store, request: Request) -> Any:
    return await store.usage_records(request.path_params["session"])


async def browse(store: Store, request: Request) -> Any:
    q = request.query_params
    return await store.browse(project=q.get("project"), text=q.get("text"), since=q.get("since") or None,
                              until=q.get("until") or None, limit=number(request, "limit") or 50,
                              offset=number(request, "offset") or 0)


async def secrets(store: Store, request: Request) -> Any:
    return await store.secrets(request.query_params.get("session_id"))


async def projects(store: Store, request: Request) -> Any:
    return await store.projects()


async def threads(store: Store, request: Request) -> Any:
    sid = request.path_params["session"]
    await store.get_session(sid)  # an unknown session is a 404, not an empty list
    return await store.threads(sid)


async def search(store: Store, request: Request) -> Any:
    q = request.query_params
    hits = await store.search(q.get("q", ""), session_id=q.get("session_id"),
                              working_directory=q.get("working_directory"),
                              types=q.get("types").split(",") if q.get("types") else None,
                              since=q.get("since"), until=q.get("until"), limit=number(request, "limit") or 20,
                              offset=number(request, "offset") or 0, raw=q.get("raw") == "true",
                              secrets=flag(request, "secrets"), redact=bool(flag(request, "redact")))
    from ..search import query as searching

    return {"hits": [searching.dumps_hit(h) for h in hits], "complete": hits.complete, "note": hits.note}


async def sync_archive(store: Store, request: Request) -> Any:
    from pathlib import Path

    from ..claude import places, sync

    b = await body(request, SyncArchive)
    roots = [Path(b.root)] if b.root else [p for p in places() if p.is_dir()]
    return {"reports": [{"root": str(r), **jsonable(await sync(store, r))} for r in roots]}


async def transcript_files(store: Store, request: Request) -> Any:
    from ..claude import transcript_files as files

    found = await files(store, request.path_params["session"], earlier=request.query_params.get("earlier") == "true")
    return {"files": [{"path": path, "bytes": len(data)} for path, data in sorted(found.items())]}


async def restore(store: Store, request: Request) -> Any:
    from pathlib import Path

    from ..archive.restore import relocated
    from ..claude import restore_files, restore_target
    from ..claude import transcript_files as files

    b = await body(request, Restore)
    sid = request.path_params["session"]
    dest = Path(b.into) if b.into else restore_target()
    found = await files(store, sid)
    rewritten = 0
    if b.cwd:
        found, rewritten = await relocated(store, sid, found, b.cwd, dest.absolute())
    report = restore_files(found, dest)
    return {**jsonable(report), "into": str(dest), "lines_rewritten": rewritten}


async def openapi(store: Store, request: Request) -> Any:
    return OPENAPI


# method, path, handler, success status, request body, answer schema (a model, or a list of one), summary
ROUTES: list[tuple[str, str, Handler, int, type[pydantic.BaseModel] | None, Any, str]] = [
    ("GET", "/health", health, 200, None, None, "state, and what start-up did (steps and times)"),
    ("GET", "/sessions", list_sessions, 200, None, [Session], "sessions, most recently updated first"),
    ("POST", "/sessions", create_session, 201, CreateSession, Session, "create a session"),
    ("GET", "/browse", browse, 200, None, SessionPage,
     "a page of sessions as a list shows them (project, text, since, until, limit, offset)"),
    ("GET", "/projects", projects, 200, None, None, "every project with its session count"),
    ("GET", "/secrets", secrets, 200, None, [SecretFinding],
     "the secrets found (kind, line, a redacted preview; never the value); session_id: one session's"),
    ("GET", "/sessions/{session}", get_session, 200, None, Session, "one session"),
    ("GET", "/sessions/{session}/threads", threads, 200, None, None, "a synced session's subagent threads"),
    ("GET", "/sessions/{session}/usage", usage_records, 200, None, [Usage], "a session's usage records"),
    ("PATCH", "/sessions/{session}", update_session, 200, UpdateSession, Session, "update a session's fields"),
    ("POST", "/sessions/{session}/rename", rename_session, 200, Rename, Session, "rename (sets user_renamed)"),
    ("DELETE", "/sessions/{session}", delete_session, 204, None, None, "delete a session"),
    ("GET", "/sessions/{session}/messages", get_messages, 200, None, [Message],
     ("messages, oldest first (limit, before, after or around: paging; thread: a subagent, or all; "
      "redact=true: secrets as [REDACTED:kind])")),
    ("POST", "/sessions/{session}/messages", append_messages, 201, Append, Message,
     "append one message or several; answered once durable (202: held in the degraded journal)"),
    ("PATCH", "/messages/{message}", update_message, 200, UpdateMessage, Message, "update a message (streaming)"),
    ("POST", "/sessions/{session}/usage", record_usage, 201, RecordUsage, Usage, "record tokens and cost"),
    ("GET", "/usage", usage_summary, 200, None, None,
     "totals by model, day, session or project (split: then by another; since, until, project, session_id)"),
    ("GET", "/search", search, 200, None, None,
     "search every message (q, filters, paging; secrets=true|false: sessions with or without; redact=true)"),
    ("POST", "/archive/sync", sync_archive, 200, SyncArchive, None, "archive Claude Code's files"),
    ("GET", "/sessions/{session}/files", transcript_files, 200, None, None, "a session's archived files"),
    ("POST", "/sessions/{session}/restore", restore, 200, Restore, None, "put a session's files back"),
    ("GET", "/openapi.json", openapi, 200, None, None, "this document"),
]


def _schema(answer: Any) -> dict[str, Any]:
    if isinstance(answer, list):
        return {"type": "array", "items": {"$ref": f"#/components/schemas/{answer[0].__name__}"}}
    if answer is None:
        return {"type": "object"}
    return {"$ref": f"#/components/schemas/{answer.__name__}"}


def _openapi() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for model in (Session, SessionPage, Message, Usage, SecretFinding):
        schemas[model.__name__] = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for method, path, handler, status, request_model, answer, summary in ROUTES:
        op: dict[str, Any] = {"operationId": handler.__name__, "summary": summary,
                              "security": [{"bearer": []}],
                              "responses": {str(status): {"description": "ok", "content": {
                                  "application/json": {"schema": _schema(answer)}}} if status != 204 else
                                  {"description": "done"},
                                  "default": {"description": "an error",
                                              "content": {"application/json": {"schema": {
                                                  "$ref": "#/components/schemas/Error"}}}}}}
        if request_model is not None:
            schemas[request_model.__name__] = request_model.model_json_schema(
                ref_template="#/components/schemas/{model}")
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": {
                "$ref": f"#/components/schemas/{request_model.__name__}"}}}}
        params = [part[1:-1] for part in path.split("/") if part.startswith("{")]
        if params:
            op["parameters"] = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                                for p in params]
        paths.setdefault(f"/api/v1{path}", {})[method.lower()] = op
    schemas["Error"] = {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["type", "message"],
        "properties": {"type": {"type": "string"}, "message": {"type": "string"}}}}}
    for name, schema in list(schemas.items()):  # pydantic puts nested models under $defs: lift them up
        for inner, definition in schema.pop("$defs", {}).items():
            schemas.setdefault(inner, definition)
    return {"openapi": "3.1.0", "info": {"title": "yurudb serve", "version": "1"}, "paths": paths,
            "components": {"schemas": schemas,
                           "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}}


OPENAPI = _openapi()


WEB = Path(__file__).with_name("web")  # the page: plain files, no build step, nothing from a CDN
# The page's own scripts and styles only: a transcript's <script>, onerror= or javascript: link cannot
# run even if it got past the sanitiser, and nothing (a remote image in markdown) is fetched elsewhere.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
PAGE_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


def public(scope: Scope) -> bool:
    """Whether a request is for the page itself (its files hold no data: no token needed to load them)."""
    path = scope.get("path", "")
    return scope["type"] == "http" and scope.get("method") in ("GET", "HEAD") and (
        path == "/" or path.startswith("/ui/"))


async def page(request: Request) -> Response:
    """The web page (`yurudb ui`): it reads the token from its #fragment and asks the API for everything."""
    return FileResponse(WEB / "index.html", headers=PAGE_HEADERS)


class Guard:
    """Loopback only, the token always: Host and Origin checked before anything else runs."""

    def __init__(self, app: ASGIApp, token: str, hosts: set[str], origins: set[str]) -> None:
        self.app, self.token, self.hosts, self.origins = app, token, hosts, origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        refused = None
        if headers.get("host", "").lower() not in self.hosts:
            refused = refusal(403, "ForbiddenHost", "this server answers only to its own loopback address")
        elif "origin" in headers and headers["origin"].lower() not in self.origins:
            refused = refusal(403, "ForbiddenOrigin", "requests from other origins are refused")
        elif scope["type"] == "http" and not public(scope) and not self.authorized(headers.get("authorization", "")):
            refused = refusal(401, "Unauthorized", "send Authorization: Bearer <token> (serve.json has it)")
        if refused is None:
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await refused(scope, receive, send)

    def authorized(self, header: str) -> bool:
        """Whether an Authorization header carries the token (compared in constant time)."""
        scheme, _, given = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.token.encode())


class _Files(StaticFiles):
    """The page's files, with the page's headers (nosniff, the policy)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(PAGE_HEADERS)
        return response


async def _events(store: Store, token: str, websocket: WebSocket) -> None:
    """The store's events as JSON: the token first (query or first message), then one object per event."""
    await websocket.accept()
    given = websocket.query_params.get("token")
    if given is None:
        try:
            first = await websocket.receive_json()
        except (WebSocketDisconnect, ValueError):
            return
        given = first.get("token") if isinstance(first, dict) else None
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), token.encode()):
        await websocket.send_json({"type": "Unauthorized", "message": "the first message must be {\"token\": ...}"})
        await websocket.close(code=1008)
        return
    await websocket.send_json({"type": "Hello", "state": store.state})

    async def pump() -> None:
        async for event in store.events():
            await websocket.send_json({"type": type(event).__name__, **jsonable(event)})

    async def listen() -> None:  # a client that goes (or a server stopping) ends the stream at once
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass

    import asyncio

    tasks = [asyncio.ensure_future(pump()), asyncio.ensure_future(listen())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await task


def create_app(store: Store, token: str, *, port: int, host: str = "127.0.0.1") -> ASGIApp:
    """The served app over an open store."""
    routes: list[Any] = [Route(f"/api/v1{path}", endpoint(store, handler, status), methods=[method])
                         for method, path, handler, status, *_ in ROUTES]

    async def events(websocket: WebSocket) -> None:
        await _events(store, token, websocket)

    routes.append(WebSocketRoute("/api/v1/events", events))
    routes += [Route("/", page, methods=["GET", "HEAD"]),
               Mount("/ui", app=_Files(directory=WEB, follow_symlink=False), name="ui")]
    names = {host, "127.0.0.1", "localhost", "[::1]"} if host in ("127.0.0.1", "localhost", "::1") else {host}
    hosts = {f"{name}:{port}" for name in names} | {f"[{host}]:{port}"} if ":" in host else \
        {f"{name}:{port}" for name in names}
    origins = {f"http://{h}" for h in hosts}
    async def http_error(request: Request, exc: Exception) -> Response:
        code = getattr(exc, "status_code", 500)
        kind = {404: "NotFound", 405: "MethodNotAllowed"}.get(code, "HTTPError")
        return refusal(code, kind, str(getattr(exc, "detail", "")) or kind)

    async def crashed(request: Request, exc: Exception) -> Response:  # a bug: said in one line, logged
        log.error("yurudb serve: %s %s failed: %r", request.method, request.url.path, exc)
        return refusal(500, type(exc).__name__, "the server failed on this request (see its log)")

    from starlette.exceptions import HTTPException

    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error, Exception: crashed})
    return Guard(app, token, {h.lower() for h in hosts}, {o.lower() for o in origins})

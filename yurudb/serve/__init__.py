"""`yurudb serve`: the store over HTTP + WebSocket on loopback, for the desktop app's TypeScript front end.

One process opens the store once (`yurudb.open`, as every app does) and serves the library's API one to
one under `/api/v1` (`app.py`), with a bearer token and loopback-only Host and Origin checks. The
discovery file, the socket and the lifecycle (drain on SIGTERM or Ctrl-C, one server per database)
are in `run.py`. Needs the `serve` extra: `pip install 'yurudb[serve]'` (starlette, uvicorn).
"""

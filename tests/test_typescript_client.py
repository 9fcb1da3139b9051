"""The TypeScript client (clients/typescript): its types are the OpenAPI document's, and real Node runs an
app's life with it against a real `yurudb serve` (a restart in the middle, nothing lost)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CLIENT = Path(__file__).resolve().parents[1] / "clients" / "typescript"
pytest.importorskip("uvicorn", reason="yurudb serve needs the serve extra (pip install -e '.[test,serve,mcp]')")


def test_the_clients_types_are_generated_from_the_servers_openapi_document() -> None:
    sys.path.insert(0, str(CLIENT))
    try:
        import generate
    finally:
        sys.path.remove(str(CLIENT))
    from yurudb.serve.app import OPENAPI

    assert (CLIENT / "src" / "types.ts").read_text() == generate.render(OPENAPI), \
        "clients/typescript/src/types.ts is stale: run python clients/typescript/generate.py"


def test_the_typescript_client_lives_an_apps_life_against_a_real_server(tmp_path: Path) -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("Node.js and npm are not installed (Debian: apt-get install nodejs)")
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < 20:
        pytest.skip(f"Node {version}: the client needs Node 20 or later (fetch, WebSocket)")
    work = tmp_path / "client"
    shutil.copytree(CLIENT, work, ignore=shutil.ignore_patterns("node_modules", "dist"))
    installed = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=work,
                               capture_output=True, text=True, timeout=300)
    if installed.returncode != 0:
        pytest.skip(f"npm install failed (no registry?): {installed.stderr.strip()[-300:]}")
    built = subprocess.run([npm, "run", "--silent", "build"], cwd=work, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, f"the client does not type-check: {built.stdout}{built.stderr}"
    db = tmp_path / "app" / "y.db"
    db.parent.mkdir()
    env = {**os.environ, "YURUDB_PYTHON": sys.executable, "YURUDB_DB": str(db)}
    ran = subprocess.run([node, "--experimental-websocket", "test/app.test.mjs"], cwd=work, env=env,
                         capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "nothing lost" in ran.stdout
    assert not db.with_name("serve.json").exists()  # both servers stopped cleanly

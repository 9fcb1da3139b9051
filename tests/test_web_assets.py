"""The page's files as shipped: the vendored libraries are the registry's bytes, and the page loads
nothing that is not in the package (no CDN, no build step)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "yurudb" / "serve" / "web"
MANIFEST = json.loads((WEB / "vendor" / "vendor.json").read_text())


def test_every_vendored_file_is_the_one_recorded_with_its_licence() -> None:
    recorded = MANIFEST["sha256"]
    named = {name for pkg in MANIFEST["packages"] for name in pkg["files"].values()}
    assert set(recorded) == named
    for name, digest in recorded.items():
        assert hashlib.sha256((WEB / "vendor" / name).read_bytes()).hexdigest() == digest, name
    for pkg in MANIFEST["packages"]:
        assert any(n.endswith(".LICENSE") for n in pkg["files"].values()), f"{pkg['name']} ships without its licence"
    on_disk = {p.name for p in (WEB / "vendor").iterdir()} - {"vendor.json"}
    assert on_disk == named  # nothing unrecorded lies beside them


def test_the_page_loads_only_its_own_files() -> None:
    html = (WEB / "index.html").read_text()
    script = (WEB / "app.js").read_text()
    wanted = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert wanted and all(w.startswith("/ui/") or w.startswith("#") or w == "data:," for w in wanted), wanted
    for w in wanted:
        if w.startswith("/ui/"):
            assert (WEB / w.removeprefix("/ui/")).is_file(), w
    assert not re.search(r"https?://(?!127\.0\.0\.1)", html + script), "the page must work offline: no remote address"


def test_the_vendored_files_match_the_registrys_tarballs() -> None:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: the registry's tarballs cannot be fetched to compare")
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "vendor_web.py"), "--check"], capture_output=True,
                         text=True, timeout=300)
    if out.returncode != 0 and "differs" not in out.stdout:
        pytest.skip(f"the npm registry could not be reached: {(out.stderr or out.stdout).strip().splitlines()[-1:]}")
    assert out.returncode == 0, out.stdout

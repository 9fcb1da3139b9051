"""Vendor the web page's libraries from the npm registry, exactly the versions in vendor.json.

    python scripts/vendor_web.py          # fetch with `npm pack`, copy the files, record their SHA-256
    python scripts/vendor_web.py --check  # fetch again and compare with what is committed (exit 1: differs)

The page ships these files as they are (no build step, no CDN): tests/test_web_assets.py checks the
committed bytes against the recorded hashes, and against the registry's tarballs when npm can reach it.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "yurudb" / "serve" / "web" / "vendor"
MANIFEST = VENDOR / "vendor.json"


def packed(name: str, version: str, into: Path) -> tarfile.TarFile:
    """The registry's tarball of one package version (`npm pack`, which checks its integrity)."""
    out = subprocess.run(["npm", "pack", f"{name}@{version}", "--json", "--pack-destination", str(into)],
                         capture_output=True, text=True, check=True, cwd=into)
    return tarfile.open(into / json.loads(out.stdout)[0]["filename"])


def fetched() -> dict[str, bytes]:
    """Every vendored file's bytes, from the registry, by its name in vendor/."""
    manifest = json.loads(MANIFEST.read_text())
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for pkg in manifest["packages"]:
            with packed(pkg["name"], pkg["version"], Path(tmp)) as tar:
                for inside, name in pkg["files"].items():
                    member = tar.extractfile(f"package/{inside}")
                    assert member is not None, f"{pkg['name']}@{pkg['version']} has no {inside}"
                    files[name] = member.read()
    return files


def main() -> int:
    manifest = json.loads(MANIFEST.read_text())
    files = fetched()
    if "--check" in sys.argv:
        differing = [name for name, data in files.items() if (VENDOR / name).read_bytes() != data]
        print("\n".join(f"differs from the registry: {name}" for name in differing) or "vendored files match the registry")
        return 1 if differing else 0
    for name, data in files.items():
        (VENDOR / name).write_bytes(data)
    manifest["sha256"] = {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())}
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"vendored {len(files)} files into {VENDOR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

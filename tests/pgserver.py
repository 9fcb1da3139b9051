"""A throwaway PostgreSQL server from Debian's packages: initdb into a temp folder, a free loopback port.

The tests' PostgreSQL (`YURUDB_TEST_PG` names one already running, as `.ci/run` starts it with this
file) and the durability tests' own servers, which they stop and start mid-write. initdb and pg_ctl
refuse to run as root, so as root they run as the `postgres` user.

    python tests/pgserver.py start   # prints `export YURUDB_TEST_PG=... YURUDB_TEST_PG_DATA=...`
    python tests/pgserver.py stop    # stops the server YURUDB_TEST_PG_DATA names
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path


def bin_dir() -> Path | None:
    """The newest installed PostgreSQL's programs (None: PostgreSQL is not installed)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One PostgreSQL cluster in a folder of its own, on 127.0.0.1."""

    def __init__(self, folder: Path | None = None, port: int | None = None) -> None:
        pg = bin_dir()
        if pg is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install -y postgresql)")
        self.bin = pg
        self.folder = folder or Path(tempfile.mkdtemp(prefix="yurudb-pg-"))
        self.data = self.folder / "pg"
        self.port = port or free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            import shlex

            command = ["su", "postgres", "-c", " ".join(shlex.quote(c) for c in command)]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=120)

    def init(self) -> Server:
        """initdb (trust on loopback: a throwaway cluster with nothing in it but tests)."""
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        return self

    def start(self) -> Server:
        """Start it and wait until it answers."""
        opts = f"-k {self.folder} -c listen_addresses=127.0.0.1 -p {self.port} -c fsync=on -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "pg.log"), "-w", "-o", opts, "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop it (`immediate`: as a crash would, no shutdown checkpoint)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def remove(self) -> None:
        """Stop it and delete its folder."""
        self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


def main(argv: list[str]) -> int:
    if argv[:1] == ["start"]:
        server = Server().init().start()
        print(f"export YURUDB_TEST_PG={server.url} YURUDB_TEST_PG_DATA={server.folder}")
        return 0
    if argv[:1] == ["stop"]:
        folder = os.environ.get("YURUDB_TEST_PG_DATA")
        if folder:
            Server(Path(folder), port=1).remove()
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

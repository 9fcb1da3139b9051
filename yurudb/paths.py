"""Where the database lives, and creating its folder and file with private modes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs
import platformdirs.windows

from .errors import DatabaseError

APP_NAME = "yurucode"
DB_FILENAME = "yurucode.db"
ENV_VAR = "YURUDB_PATH"
DIR_MODE = 0o700
FILE_MODE = 0o600


def default_db_path(platform: str | None = None) -> Path:
    """`YURUDB_PATH`, else ~/.yurucode/yurucode.db (POSIX) or %APPDATA%/yurucode/yurucode.db (Windows)."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser()
    # Windows: roaming=True is %APPDATA%, so the history follows a roaming profile like the app's
    # settings do (the Windows class by name, so the result does not depend on the platform we run on)
    return _home_folder(platform) / DB_FILENAME


MACHINE_VAR = "YURUDB_MACHINE"
MACHINE_FILE = "machine-id"
SHARED_MACHINE = ""  # the machine of what every machine shares (the Agent SDK's mirrored keys)


def machine_id(*, create: bool = True) -> str:
    """This machine's name in the archive's file rows: `YURUDB_MACHINE`, else the one kept in
    ~/.yurucode/machine-id (made on first need: the host's name and a random suffix, so two
    machines of one name, or two homes of one machine, stay apart). Without `create`, '' when none is kept."""
    override = os.environ.get(MACHINE_VAR, "").strip()
    if override:
        return override
    folder = _home_folder(roaming=False)  # a roaming profile would give every machine the one id
    path = folder / MACHINE_FILE
    try:
        kept = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        kept = ""
    except OSError as exc:
        raise DatabaseError(f"cannot read this machine's id from {path}: {exc.strerror or exc}") from exc
    if kept or not create:
        return kept
    import re
    import secrets
    import socket

    name = re.sub(r"[^A-Za-z0-9._-]+", "-", socket.gethostname()).strip("-.") or "machine"
    made = f"{name[:40]}-{secrets.token_hex(4)}"
    try:
        folder.mkdir(parents=True, mode=DIR_MODE, exist_ok=True)
        # O_EXCL: two first syncs at once keep one id, the first one written
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(made + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        return made
    except FileExistsError:
        return machine_id(create=False) or made
    except OSError as exc:
        raise DatabaseError(f"cannot keep this machine's id in {path}: {exc.strerror or exc}") from exc


def _home_folder(platform: str | None = None, *, roaming: bool = True) -> Path:
    """yurudb's own folder in the user's home (where the default database lives unless YURUDB_PATH moves it)."""
    platform = platform or sys.platform
    if platform.startswith("win"):
        return Path(platformdirs.windows.Windows(APP_NAME, appauthor=False, roaming=roaming).user_data_dir)
    return Path.home() / f".{APP_NAME}"


def is_server(target: object) -> bool:
    """Whether a database argument names a PostgreSQL server (`postgresql://...`), not a file."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def server_folder(url: str) -> Path:
    """The local folder of a PostgreSQL store (its spill journal): one per server and database."""
    import hashlib
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    # the user, host, port and database name, never the password
    key = f"{parts.username or ''}@{parts.hostname or ''}:{parts.port or ''}{parts.path}?{parts.query}"
    return default_db_path().parent / "servers" / hashlib.sha256(key.encode()).hexdigest()[:16]


def local_path(target: str | Path) -> Path:
    """Where the files beside a database live: a file's own path, or a server's local stand-in
    (`server_folder(url)/postgres`: its journal, serve.json and serve.log beside it)."""
    if is_server(target):
        return server_folder(str(target)) / "postgres"
    return Path(target)


def display_url(url: str) -> str:
    """A server URL fit to print: its password replaced by ***."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def resolve(path: str | os.PathLike[str] | None) -> Path:
    """The path argument if given, else the default location."""
    return Path(path).expanduser() if path is not None else default_db_path()


def prepare(path: Path) -> Path:
    """Create the folder (0700) and the file (0600) if missing; tighten modes we created."""
    folder = path.parent
    try:
        if not folder.exists():
            folder.mkdir(parents=True, mode=DIR_MODE)
            if os.name == "posix":
                os.chmod(folder, DIR_MODE)  # mkdir's mode is filtered by the umask
        if not path.exists():
            # O_EXCL so a file created by someone else in between keeps its own modes.
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
            os.close(fd)
            if os.name == "posix":
                os.chmod(path, FILE_MODE)
    except FileExistsError:
        pass
    except OSError as exc:
        raise DatabaseError(f"cannot create database at {path}: {exc.strerror or exc}") from exc
    return path

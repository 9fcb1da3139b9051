"""Rebuilding Claude Code's transcript files from the archive, byte for byte, and putting them back."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import NotFoundError
from ..lines import runs as archive_lines
from ..paths import machine_id
from ..store.store import Store
from ..writes.batch import BatchEffects
from . import footprint


@dataclass
class RestoreReport:
    """What putting files back did: written, already there identical, and refused (a differing file)."""

    written: list[str] = field(default_factory=list)
    identical: list[str] = field(default_factory=list)
    differing: list[str] = field(default_factory=list)


async def transcript_files(store: Store, session_id: str, *, earlier: bool = False) -> dict[str, bytes]:
    """A session's files as Claude Code wrote them: {path under the projects folder: bytes}.

    Each transcript is its archived lines 1..n in order, each with its newline: exactly the bytes
    the sync consumed. A line missing from the archive (lost to a damaged page) is an error, not a
    gap. The rest of the footprint comes along: the files in the session's own folder (tool
    outputs, subagent sidecars) and its project's (memory, sessions-index.json). With `earlier`,
    also the copies a file had before it was rewritten (truncated, edited, replaced), each under
    `earlier_name` of its path. A file of the same name from another machine (the session resumed
    there) comes too, under `machine_name` of its path; this machine's own copy keeps the name.
    """
    session = await store.get_session(session_id)  # NotFoundError for an unknown session
    files = await store.fetch(
        # A transcript both synced and mirrored by the Agent SDK: the synced copy (Claude Code's own
        # bytes) wins over the mirror's (the entries as JSON); a mirrored-only one comes from the mirror.
        # An earlier copy of a rewritten file (`<path>#replaced-<time>`) is not what Claude Code has.
        "SELECT id, path, lines, root, machine FROM transcript_files WHERE session_id = ? "
        "AND (? OR instr(path, ?) = 0) ORDER BY root = 'claude-agent-sdk' DESC, machine != ?, machine, "
        "thread IS NOT NULL, path",
        (session_id, earlier, archive_lines.RETIRED, machine_id(create=False)))
    if not files:
        if (session.meta or {}).get("rebuilt_from"):
            raise NotFoundError(f"session {session_id} was rebuilt from {session.meta['rebuilt_from']}: its prompts "
                                "only, never a transcript to restore")
        raise NotFoundError(f"session {session_id} has no archived transcript (it was not synced from Claude Code)")
    await store.load_dictionaries()
    out: dict[str, bytes] = {}
    projects: dict[tuple[str, str], set[str]] = {}
    named: dict[str, str] = {}  # a synced file's name -> the machine whose copy has it
    for file_id, path, count, root, machine in files:
        if root != "claude-agent-sdk" and "/" in path:
            projects.setdefault((machine, root), set()).add(path.split("/", 1)[0])
        lines = archive_lines.lines_of(await store.fetch(archive_lines.FILE_RUNS, (file_id,)))
        missing = [n for n in range(1, count + 1) if n not in lines]
        if missing:
            raise NotFoundError(f"{path}: {len(missing)} archived lines are missing or damaged (first: line "
                                f"{missing[0]}); `yurudb check` lists them")
        name = earlier_name(path)
        if root != "claude-agent-sdk":
            name = named.setdefault(name, machine) == machine and name or machine_name(name, machine)
        out[name] = b"".join(lines[n] + b"\n" for n in range(1, count + 1))
    for machine, path, data in await footprint.files_of(store, session_id, projects, earlier=earlier):
        name = earlier_name(path)
        name = named.setdefault(name, machine) == machine and name or machine_name(name, machine)
        out.setdefault(name, data)
    return out


def machine_name(path: str, machine: str) -> str:
    """Another machine's copy of a file on disk: `<name>.from-<machine>.jsonl` beside this machine's."""
    folder, _, name = path.rpartition("/")
    stem, dot, suffix = name.rpartition(".")
    stem, suffix = (stem, dot + suffix) if stem else (name, "")
    tag = re.sub(r"[^A-Za-z0-9._-]", "-", machine) or "unknown"
    return f"{folder + '/' if folder else ''}{stem}.from-{tag}{suffix}"


def earlier_name(path: str) -> str:
    """A file's name on disk: the path itself, or for an earlier copy (`<name>.jsonl#replaced-<time>`)
    `<name>.replaced-<time as digits>.jsonl` (no '#', ':' or space, which not every file system takes)."""
    base, retired, when = path.partition(archive_lines.RETIRED)
    if not retired:
        return path
    folder, _, name = base.rpartition("/")
    stem, dot, suffix = name.rpartition(".")
    stem, suffix = (stem, dot + suffix) if stem else (name, "")
    return f"{folder + '/' if folder else ''}{stem}.replaced-{re.sub(r'[^0-9]', '', when)}{suffix}"


def restore_files(files: dict[str, bytes], dest: Path, *, overwrite: bool = False) -> RestoreReport:
    """Write files under dest; a file already there with other bytes is never overwritten (reported)."""
    report = RestoreReport()
    for rel, data in files.items():
        target = dest / rel
        if target.exists():
            if target.read_bytes() == data:
                report.identical.append(rel)
                continue
            if not overwrite:
                report.differing.append(rel)
                continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.yurudb-restore")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        report.written.append(rel)
    return report


async def repair_archive(store: Store) -> tuple[list[tuple[int, str, str]], int]:
    """Check every archived run (archive_lines.verify) and have the next sync read again, from
    Claude Code's folder, each file with damaged or missing lines: (the problems, files marked)."""
    def work(tx: Any) -> tuple[BatchEffects, tuple[list[tuple[int, str, str]], int]]:
        return BatchEffects(), archive_lines.reread_damaged(tx)

    return await store.transaction(work)


PROJECT_NAME_MAX = 200  # Claude Code cuts a project folder's name here and adds a hash of the whole path
_CWD = re.compile(rb'"cwd":("(?:[^"\\]|\\.)*")')


def project_folder(cwd: str) -> str:
    """The folder under the projects folder that Claude Code keeps a working directory's sessions in:
    every character but ASCII letters and digits becomes '-' (a longer name is cut, then hashed, as
    Claude Code does)."""
    name = re.sub(r"[^a-zA-Z0-9]", "-", cwd)
    if len(name) <= PROJECT_NAME_MAX:
        return name
    h = 0
    for unit in cwd.encode("utf-16-le")[::2]:  # JavaScript's string hash over UTF-16 code units
        h = (h * 31 + unit) & 0xFFFFFFFF
    h = h - 2**32 if h >= 2**31 else h
    return f"{name[:PROJECT_NAME_MAX]}-{_base36(abs(h))}"


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


async def relocated(store: Store, session_id: str, files: dict[str, bytes], cwd: str,
                    dest: Path) -> tuple[dict[str, bytes], int]:
    """A session's files moved to the project folder Claude Code uses for `cwd`: each line's `cwd` (and
    each path into the old project folder, such as a saved tool output's) rewritten. Returns the files
    and how many lines changed. The archive itself is never changed."""
    session = await store.get_session(session_id)
    sources = await store.fetch(
        "SELECT DISTINCT root, substr(path, 1, instr(path, '/') - 1) FROM transcript_files "
        "WHERE session_id = ? AND root != 'claude-agent-sdk' AND instr(path, '/') > 0", (session_id,))
    folders = {folder for _, folder in sources}
    old = session.working_directory or _first_cwd(files)
    new_folder = project_folder(cwd)
    # a path into the old project folder, as Claude Code wrote it (toolUseResult.persistedOutputPath)
    moves = [(f"{root}/{folder}/".encode(), f"{dest}/{new_folder}/".encode()) for root, folder in sources]
    out: dict[str, bytes] = {}
    changed = 0
    for rel, data in files.items():
        head, _, rest = rel.partition("/")
        target = f"{new_folder}/{rest}" if head in folders and rest else rel
        if rel.endswith(".jsonl"):
            lines = data.split(b"\n")
            for i, line in enumerate(lines):
                fixed = _rewrite(line, old, cwd, moves)
                if fixed != line:
                    lines[i] = fixed
                    changed += 1
            data = b"\n".join(lines)
        out[target] = data
    return out, changed


def _rewrite(line: bytes, old: str | None, new: str, moves: list[tuple[bytes, bytes]]) -> bytes:
    def cwd(match: re.Match[bytes]) -> bytes:
        try:
            value = json.loads(match.group(1))
        except ValueError:
            return match.group(0)
        if old is None or not isinstance(value, str) or not (value == old or value.startswith(old.rstrip("/") + "/")):
            return match.group(0)
        return b'"cwd":' + json.dumps(new + value[len(old):], ensure_ascii=False).encode()

    if b'"cwd":' in line:
        line = _CWD.sub(cwd, line)
    for before, after in moves:
        if before in line:
            line = line.replace(before, after)
    return line


def _first_cwd(files: dict[str, bytes]) -> str | None:
    for rel, data in files.items():
        if rel.endswith(".jsonl"):
            for match in _CWD.finditer(data):
                try:
                    value = json.loads(match.group(1))
                except ValueError:
                    continue
                if isinstance(value, str):
                    return value
    return None

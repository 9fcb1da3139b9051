"""Rebuilding Claude Code's transcript files from the archive, byte for byte, and putting them back."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import NotFoundError
from ..lines import runs as archive_lines
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
    `earlier_name` of its path.
    """
    await store.get_session(session_id)  # NotFoundError for an unknown session
    files = await store.fetch(
        # A transcript both synced and mirrored by the Agent SDK: the synced copy (Claude Code's own
        # bytes) wins over the mirror's (the entries as JSON); a mirrored-only one comes from the mirror.
        # An earlier copy of a rewritten file (`<path>#replaced-<time>`) is not what Claude Code has.
        "SELECT id, path, lines, root FROM transcript_files WHERE session_id = ? AND (? OR instr(path, ?) = 0) "
        "ORDER BY root = 'claude-agent-sdk' DESC, thread IS NOT NULL, path",
        (session_id, earlier, archive_lines.RETIRED))
    if not files:
        raise NotFoundError(f"session {session_id} has no archived transcript (it was not synced from Claude Code)")
    await store.load_dictionaries()
    out: dict[str, bytes] = {}
    projects: dict[str, set[str]] = {}
    for file_id, path, count, root in files:
        if root != "claude-agent-sdk" and "/" in path:
            projects.setdefault(root, set()).add(path.split("/", 1)[0])
        lines = archive_lines.lines_of(await store.fetch(archive_lines.FILE_RUNS, (file_id,)))
        missing = [n for n in range(1, count + 1) if n not in lines]
        if missing:
            raise NotFoundError(f"{path}: {len(missing)} archived lines are missing or damaged (first: line "
                                f"{missing[0]}); `yurudb check` lists them")
        out[earlier_name(path)] = b"".join(lines[n] + b"\n" for n in range(1, count + 1))
    for path, data in (await footprint.files_of(store, session_id, projects, earlier=earlier)).items():
        out.setdefault(earlier_name(path), data)
    return out


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

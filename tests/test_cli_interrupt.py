"""Ctrl-C: a real SIGINT to the command's whole process group (what a terminal sends), at random
moments of a sync big enough for worker processes. One line, exit 130, no traceback from any
process, and the next sync goes on from what was committed.

YURUDB_INTERRUPT_ROUNDS sets how many interruptions (a modest default for CI)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import yurudb
from yurudb.claude import transcript_files

ROUNDS = int(os.environ.get("YURUDB_INTERRUPT_ROUNDS", "3"))
YURUDB = [sys.executable, "-c", "from yurudb.cli import main; main()"]


def history(root: Path, megabytes: int) -> dict[str, bytes]:
    """Transcripts enough for a sync's worker processes (over 32 MB), each line different."""
    rng = random.Random(5)
    files: dict[str, bytes] = {}
    words = "the test fails because parse returns None when the list is empty so we guard it".split()
    per_file = megabytes * 1_000_000 // 40
    for f in range(40):
        sid = f"5e550000-0000-4000-8000-{f:012x}"
        lines, size, n = [], 0, 0
        while size < per_file:
            n += 1
            line = json.dumps({"type": "user" if n % 2 else "assistant", "sessionId": sid, "uuid": f"{sid}-{n}",
                               "message": {"content": " ".join(rng.choices(words, k=150))}}).encode() + b"\n"
            lines.append(line)
            size += len(line)
        rel = f"-p{f % 4}/{sid}.jsonl"
        files[rel] = b"".join(lines)
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(files[rel])
    return files


def as_on_a_terminal() -> None:
    """The child's SIGINT as a terminal's program has it: a shell that started this run in the background
    (`cmd &`) left it ignored, which the child would inherit."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupted(db: Path, root: Path, after: float) -> subprocess.CompletedProcess[str]:
    """A sync, and Ctrl-C `after` seconds into its reading (the command has started: it said so)."""
    child = subprocess.Popen([*YURUDB, "--db", str(db), "sync", str(root)], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True,
                             preexec_fn=as_on_a_terminal)
    assert child.stdout is not None
    first = child.stdout.readline()
    assert first.startswith("reading"), first
    time.sleep(after)
    os.killpg(child.pid, signal.SIGINT)
    out, _ = child.communicate(timeout=120)
    return subprocess.CompletedProcess(child.args, child.returncode, first + out, "")


def test_ctrl_c_during_a_sync_is_one_line_and_exit_130_and_the_next_sync_goes_on(tmp_path: Path) -> None:
    root, db = tmp_path / "projects", tmp_path / "y.db"
    files = history(root, 36)
    rng = random.Random(130)
    stopped = 0
    for _ in range(ROUNDS):
        done = interrupted(db, root, rng.uniform(0.0, 0.8))
        assert "Traceback" not in done.stdout and "never retrieved" not in done.stdout, done.stdout
        if done.returncode == 0 or " responses counted in " in done.stdout:
            continue  # the sync finished (and said so) before the signal came
        stopped += 1
        assert done.returncode == 130, done.stdout
        said = [line for line in done.stdout.splitlines() if line.startswith("interrupted")]
        assert len(said) == 1 and "lines committed, the next sync goes on from there" in said[0], done.stdout
    if stopped == 0:
        pytest.skip("every sync finished before its signal: this machine is too fast for the sizes here")
    final = subprocess.run([*YURUDB, "--db", str(db), "sync", str(root)], capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr

    import asyncio

    async def archived() -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        async with yurudb.open(db, daily_backup=False) as store:
            for s in await store.list_sessions():
                out.update(await transcript_files(store, s.id))
        return out

    assert asyncio.run(archived()) == files  # every line once, byte-exact, across the interruptions


def test_ctrl_c_during_an_export_writes_nothing_and_says_so(tmp_path: Path) -> None:
    root, db = tmp_path / "projects", tmp_path / "y.db"
    history(root, 36)
    assert subprocess.run([*YURUDB, "--db", str(db), "sync", str(root)], capture_output=True, timeout=300).returncode == 0
    rng = random.Random(131)
    out = tmp_path / "all.json"
    stopped = 0
    for _ in range(ROUNDS):
        child = subprocess.Popen([*YURUDB, "--db", str(db), "export", "--all", "-o", str(out)],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
                             preexec_fn=as_on_a_terminal)
        time.sleep(rng.uniform(0.3, 1.5))
        os.killpg(child.pid, signal.SIGINT)
        said, _ = child.communicate(timeout=120)
        assert "Traceback" not in said, said
        if child.returncode == 130:
            stopped += 1
            # a Ctrl-C while the interpreter is still starting (before the command's handler) says nothing;
            # either way nothing may be written
            assert not said.strip() or said.strip().splitlines()[-1] == "interrupted: nothing was written", said
            assert not out.exists() and not list(tmp_path.glob(".all.json*")), "an interrupted export left a file"
        elif " responses counted" not in said and "wrote " not in said:
            raise AssertionError(f"exit {child.returncode}: {said}")
        else:  # it finished first: the file is whole
            assert len(json.loads(out.read_text())) == 40
            out.unlink()
    if not stopped:
        pytest.skip("every export finished before its signal: this machine is too fast for the sizes here")

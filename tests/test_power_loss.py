"""Power cuts: a store writing on a file system that loses every unsynced write (tests/powercut.py).

SIGKILL cannot lose what the OS page cache holds; a power cut does. Each round mounts the FUSE layer,
runs a writer (tests/child.py power-loop: appends, updates, usage records, syncs of a growing
transcript, idle moments for the background checkpoint), stops it at a random moment, cuts the
power, and opens what the "disk" kept, without the layer.

With durability="full" every acknowledged write is there and the file opens clean (or start-up
repairs it). With "normal" the test reports what was lost. YURUDB_POWER_CUTS sets the rounds
(a modest default for CI); YURUDB_POWER_SEED the seed. The layer needs root (or fuse group
rights), /dev/fuse, fusermount3 (Debian fuse3) and mfusepy: without them the tests skip and say why.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

import yurudb
from yurudb.errors import NotFoundError

CUTS = int(os.environ.get("YURUDB_POWER_CUTS", "6"))
SEED = int(os.environ.get("YURUDB_POWER_SEED", "27"))
HERE = Path(__file__).parent


def _unavailable() -> str | None:
    """Why the layer cannot run here (None: it can)."""
    if shutil.which("fusermount3") is None:
        return "fusermount3 is not installed (Debian: apt-get install fuse3)"
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse does not exist on this machine"
    probe = subprocess.run([sys.executable, "-c", "import mfusepy"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"mfusepy cannot load: {probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else '?'}"
    return None


pytestmark = pytest.mark.skipif(_unavailable() is not None, reason=f"no power-cut layer: {_unavailable()}")


@contextmanager
def powered(root: Path) -> Iterator[tuple[Path, Path, subprocess.Popen]]:
    """The layer mounted at root/mnt over root/disk: (mount, disk, the file system's process)."""
    disk, mount = root / "disk", root / "mnt"
    disk.mkdir(parents=True)
    mount.mkdir()
    fs = subprocess.Popen([sys.executable, str(HERE / "powercut.py"), str(disk), str(mount)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        while not os.path.ismount(mount):
            if fs.poll() is not None or time.monotonic() > deadline:
                fs.kill()
                pytest.skip(f"the FUSE layer could not be mounted here: {fs.communicate()[1].strip()[-300:]}")
            time.sleep(0.02)
        yield mount, disk, fs
    finally:
        if fs.poll() is None:
            fs.kill()
        fs.wait()
        subprocess.run(["fusermount3", "-u", "-z", str(mount)], capture_output=True)


def cut(mount: Path, fs: subprocess.Popen) -> None:
    """The power goes: whatever was not fsynced is gone, and the file system with it."""
    try:
        fd = os.open(mount / ".powercut", os.O_WRONLY)
        try:
            os.write(fd, b"now")
        finally:
            os.close(fd)
    except OSError:
        pass  # the file system is gone before it could answer: that is the cut
    fs.wait(timeout=10)


@dataclass
class Round:
    """What one round acknowledged, and what of it the disk kept."""

    seed: int
    acked: int = 0
    lost: list[str] = field(default_factory=list)
    repaired: bool = False
    checkpoints: int = 0  # WAL checkpoints the writer saw finish before the cut


def acknowledged(path: Path) -> list[list[str]]:
    """The writer's complete output lines (a line cut short by the stop was never acknowledged)."""
    data = path.read_text() if path.exists() else ""
    return [line.split() for line in data[: data.rfind("\n") + 1].splitlines()]


async def kept(db: Path, acks: list[list[str]], seed: int, durability: str) -> Round:
    """Open what the disk kept (with start-up's checks and repair) and find every acknowledged write."""
    out = Round(seed)
    session = next((a[1] for a in acks if a[0] == "session"), None)
    if session is None:
        return out  # cut before the first write was acknowledged
    async with yurudb.open(db, daily_backup=False) as store:
        out.repaired = bool(store.recovery.quarantined)
        assert store.state == "ready", f"seed {seed}: the store opened {store.state} after the cut"
        assert await store.check() == ["ok"], f"seed {seed}: the file is damaged after start-up"
        try:
            messages = {m.id: m for m in await store.get_messages(session, limit=None)}
            usage = {u.source_id for u in await store.usage_records(session)}
        except NotFoundError:  # the session itself was lost (durability="normal" can lose it)
            assert durability == "normal", f"seed {seed}: the acknowledged session is gone"
            messages, usage = {}, set()
        archived = await store.fetch_one("SELECT MAX(lines) FROM transcript_files") or 0
    for kind, *rest in acks:
        if kind == "ckpt":
            out.checkpoints = int(rest[0])
        if kind in ("session", "ckpt"):
            continue
        out.acked += 1
        if kind == "msg" and rest[0] not in messages:
            out.lost.append(f"message {rest[0]}")
        elif kind == "upd":
            content = messages[rest[0]].content if rest[0] in messages else None
            if content is None or not content.startswith("updated ") or int(content.split()[1]) < int(rest[1]):
                out.lost.append(f"update {rest[1]} of {rest[0]} (reads {content!r})")
        elif kind == "use" and rest[0] not in usage:
            out.lost.append(f"usage {rest[0]}")
        elif kind == "sync" and archived < int(rest[0]):
            out.lost.append(f"sync of {rest[0]} lines (archive holds {archived})")
    return out


def power_round(tmp_path: Path, durability: str, seed: int) -> Round:
    """Write, stop at a random moment, cut the power, and see what the disk kept."""
    rng = random.Random(seed)
    root = tmp_path / f"round-{seed}"
    acks = root / "acks.txt"
    with powered(root) as (mount, disk, fs):
        with open(acks, "w") as out:
            writer = subprocess.Popen([sys.executable, str(HERE / "child.py"), "power-loop", str(mount / "y.db"),
                                       durability, str(root / "projects"), str(seed)],
                                      stdout=out, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while not acks.read_text().startswith("session"):
                assert writer.poll() is None, writer.communicate()[1]
                assert time.monotonic() < deadline, "the writer never started"
                time.sleep(0.01)
            time.sleep(rng.uniform(0.05, 2.0))
            writer.send_signal(signal.SIGSTOP)  # everything stops at once: no answer after the cut
            cut(mount, fs)
        finally:
            writer.kill()
            writer.wait()
    return asyncio.run(kept(disk / "y.db", acknowledged(acks), seed, durability))


def seeds(kind: str, count: int) -> list[int]:
    return [random.Random(f"{SEED}-{kind}").randrange(2**31) + i for i in range(count)]


def test_with_full_durability_a_power_cut_loses_no_acknowledged_write(tmp_path: Path, capsys) -> None:
    rounds = [power_round(tmp_path, "full", seed) for seed in seeds("full", CUTS)]
    lost = [(r.seed, r.lost[:3]) for r in rounds if r.lost]
    assert sum(r.acked for r in rounds) > 0, "no write was acknowledged before any cut: the test proved nothing"
    assert not lost, f"acknowledged writes lost at a power cut (YURUDB_POWER_SEED={SEED}): {lost}"
    with capsys.disabled():
        print(f"\npower cuts, durability=full: {len(rounds)} cuts, {sum(r.acked for r in rounds)} acknowledged "
              f"writes, 0 lost, {sum(r.repaired for r in rounds)} opened by repair, "
              f"{sum(1 for r in rounds if r.checkpoints)} cut after a checkpoint")


def test_with_normal_durability_what_a_power_cut_loses_is_reported(tmp_path: Path, capsys) -> None:
    """synchronous=NORMAL fsyncs the WAL only at checkpoints: a cut may lose the last commits, never the file."""
    rounds = [power_round(tmp_path, "normal", seed) for seed in seeds("normal", max(2, CUTS // 2))]
    acked, lost = sum(r.acked for r in rounds), sum(len(r.lost) for r in rounds)
    with capsys.disabled():
        print(f"\npower cuts, durability=normal: {len(rounds)} cuts, {acked} acknowledged writes, {lost} lost "
              f"({sum(1 for r in rounds if r.lost)} cuts lost some), {sum(r.repaired for r in rounds)} opened by repair")

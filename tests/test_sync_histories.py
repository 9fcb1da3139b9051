"""Random file histories against `sync`: whatever happens to the transcripts between passes (appends,
half-written lines, truncation, edits in place, replacement, deletion, a move to another project
folder), every complete line a pass saw is still in the archive, and each file's current copy is its
bytes exactly.

A history is a seeded sequence of steps, so a failure names the seed that reproduces it. How many
histories run comes from YURUDB_SYNC_HISTORIES (a modest default for CI).
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from helpers import connect

import yurudb
from yurudb.claude import sync, transcript_files
from yurudb.lines import codec
from yurudb.lines import runs as archive_lines

HISTORIES = int(os.environ.get("YURUDB_SYNC_HISTORIES", "20"))
STEPS = 45
SESSIONS = [f"5e550000-0000-4000-8000-00000000{n:04x}" for n in range(3)]
# where files live: main transcripts in two projects, and a subagent of the first session
PLACES = [f"-p{n % 2}/{sid}.jsonl" for n, sid in enumerate(SESSIONS)] + [f"-p0/{SESSIONS[0]}/subagents/agent-a1.jsonl"]


class History:
    """The transcripts on disk, and every complete line a sync pass could have seen in each.

    A file is known by its place (its first path, in PLACES); a move gives it another path.
    """

    def __init__(self, root: Path, rng: random.Random) -> None:
        self.root, self.rng = root, rng
        self.where = {place: place for place in PLACES}  # place -> its path now
        self.names: dict[str, set[str]] = {place: {place} for place in PLACES}  # every path it has had
        self.seen: dict[str, set[bytes]] = {place: set() for place in PLACES}
        self.uuids: list[str] = []
        self.counter = 0
        self.vacated: list[str] = []  # paths a move left (a watch hears of both ends)

    def path(self, place: str) -> Path:
        return self.root / self.where[place]

    def data(self, place: str) -> bytes:
        p = self.path(place)
        return p.read_bytes() if p.exists() else b""

    def line(self, place: str) -> bytes:
        """A line as Claude Code might write it, or one it never would (not JSON, not UTF-8, empty)."""
        rng = self.rng
        self.counter += 1
        sid = SESSIONS[PLACES.index(place) % len(SESSIONS)]
        kind = rng.random()
        pad = "x" * rng.choice([0, 40, 400, 1500])  # long lines take files past the rewrite check's first 4 KB
        if kind < 0.08:
            return rng.choice([b"", b"not json at all", b"\xff\xfe not utf-8", b"[1, 2, 3]"])
        if kind < 0.18:  # no uuid: kept, never merged with another line, even an identical one
            return json.dumps({"type": "last-prompt", "sessionId": sid, "lastPrompt": f"again{pad}"}).encode()
        if kind < 0.28 and self.uuids:  # a resumed session replays a line another file holds
            uuid = rng.choice(self.uuids)
        else:
            uuid = f"u-{self.counter}"
            self.uuids.append(uuid)
        body = {"type": rng.choice(["user", "assistant", "attachment"]), "sessionId": sid, "uuid": uuid,
                "timestamp": f"2026-03-01T10:{self.counter // 60 % 60:02d}:{self.counter % 60:02d}.000Z",
                "message": {"role": "user", "content": f"step {self.counter} {pad}"}}
        return json.dumps(body).encode()

    def lines(self, place: str, low: int = 1, high: int = 6) -> bytes:
        return b"".join(self.line(place) + b"\n" for _ in range(self.rng.randint(low, high)))

    def write(self, place: str, data: bytes, mode: str = "ab") -> None:
        p = self.path(place)
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, mode) as f:
            f.write(data)

    def step(self) -> str:
        """One change to one file; what it was, for the failure message."""
        rng, place = self.rng, self.rng.choice(PLACES)
        data = self.data(place)
        ends = [0] + [i + 1 for i, b in enumerate(data) if b == 0x0A]  # the line boundaries
        kind = rng.choices(["append", "half", "finish", "truncate", "edit", "replace", "delete", "move"],
                           [10, 2, 2, 1, 2, 1, 1, 1])[0]
        if kind == "half" and not data.endswith(b"\n") and data:
            kind = "finish"
        if kind == "append" or not data and kind != "delete":
            # after a half-written line: the line is finished first, as Claude Code's next write does
            self.write(place, (b"\n" if data and not data.endswith(b"\n") else b"") + self.lines(place))
            return f"append {self.where[place]}"
        if kind == "half":
            self.write(place, self.line(place)[: rng.randint(1, 30)])
        elif kind == "finish":
            self.write(place, (self.line(place) if data.endswith(b"\n") else b"") + b"\n")
        elif kind == "truncate":
            with open(self.path(place), "r+b") as f:
                f.truncate(rng.choice(ends))
        elif kind == "edit":  # in place, same file: from a line boundary on, other lines (longer or shorter)
            at = rng.choice(ends)
            with open(self.path(place), "r+b") as f:
                f.seek(at)
                f.write(self.lines(place, 1, 3))
                f.truncate()
        elif kind == "replace":  # a new file under the name (an editor's save, a tool's rewrite)
            fresh = self.path(place).with_name("replacement.tmp")
            fresh.write_bytes(self.lines(place, 1, 8))
            os.replace(fresh, self.path(place))
        elif kind == "delete":
            self.path(place).unlink(missing_ok=True)
        elif kind == "move":  # to the other project folder (a folder renamed, a history reorganised)
            old = self.where[place]
            project, rest = old.split("/", 1)
            new = f"{'-p1' if project == '-p0' else '-p0'}/{rest}"
            (self.root / new).parent.mkdir(parents=True, exist_ok=True)
            os.rename(self.root / old, self.root / new)
            self.where[place] = new
            self.names[place].add(new)
            self.vacated.append(old)
            return f"move {old} -> {new}"
        return f"{kind} {self.where[place]}"

    def saw(self, paths: list[str] | None) -> list[str]:
        """A pass read these paths (None: all): each complete line in them is one the archive must keep.
        The places it read, as they are now."""
        places = [p for p in PLACES if paths is None or self.where[p] in paths]
        for place in places:
            data = self.data(place)
            self.seen[place].update(data[: data.rfind(b"\n") + 1].split(b"\n")[:-1])
        return places


def archive(db: Path) -> dict[str, list[tuple[bool, list[bytes] | None]]]:
    """path -> [(current, lines 1..n)] for every copy the archive holds of it (earlier copies of a
    rewritten file included); lines None where one is missing."""
    conn = connect(db)
    try:
        for dict_id, data in conn.execute("SELECT id, data FROM archive_dicts"):
            codec.register(dict_id, data)
        out: dict[str, list[tuple[bool, list[bytes] | None]]] = {}
        for file_id, path, count, gone in conn.execute("SELECT id, path, lines, gone_at FROM transcript_files"):
            held = archive_lines.lines_of(conn.execute(archive_lines.FILE_RUNS, (file_id,)).fetchall())
            lines = [held[n] for n in range(1, count + 1)] if all(n in held for n in range(1, count + 1)) else None
            base = path.split("#replaced-")[0]
            out.setdefault(base, []).append((base == path and gone is None, lines))
        return out
    finally:
        conn.close()


@pytest.mark.parametrize("seed", range(HISTORIES))
async def test_a_random_history_of_changes_never_loses_a_line_a_sync_saw(tmp_path: Path, target,
                                                                         seed: int) -> None:
    rng = random.Random(seed)
    root = tmp_path / "projects"
    root.mkdir()
    history = History(root, rng)
    done: list[str] = []
    async with yurudb.open(target, daily_backup=False) as store:
        for _ in range(STEPS):
            done.append(history.step())
            if rng.random() < 0.5:
                continue
            # a full pass, or only some files (what a watch saw change: both ends of a move)
            paths = sorted({history.where[p] for p in PLACES} | set(history.vacated))
            only = None if rng.random() < 0.6 else rng.sample(paths, rng.randint(1, 3))
            report = await sync(store, root, only=only)
            done.append(f"sync {'all' if only is None else only}")
            assert not report.problems, (seed, done, report.problems)
            looked = history.saw(only)
            held = archive(target)
            for place in PLACES:
                copies = [copy for name in history.names[place] for copy in held.get(name, [])]
                kept = {line for _, lines in copies for line in lines or []}
                assert all(lines is not None for _, lines in copies), (seed, done, place, "a copy lacks lines")
                lost = history.seen[place] - kept
                assert not lost, (f"seed {seed}: {place} lost {len(lost)} lines, e.g. {sorted(lost)[0][:80]!r}, "
                                  f"after {done}")
                if place in looked and history.path(place).exists():
                    data = history.data(place)
                    current = [lines for is_current, lines in held.get(history.where[place], []) if is_current]
                    expected = data[: data.rfind(b"\n") + 1].split(b"\n")[:-1]
                    assert current == [expected] or (not expected and current in ([], [[]])), (seed, done, place)
        # and through the restore API: each session's files as they are on disk, up to the last newline
        await sync(store, root)
        for sid in {s.id for s in await store.list_sessions()}:
            for rel, data in (await transcript_files(store, sid)).items():
                if (root / rel).exists():
                    on_disk = (root / rel).read_bytes()
                    assert data == on_disk[: on_disk.rfind(b"\n") + 1], (seed, done, rel)

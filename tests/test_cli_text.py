"""Text from transcripts is data: shown exactly as written, never read as rich markup, and never
able to drive the terminal (colours, titles, hidden text, hyperlinks). Checked on a pseudo-terminal
and piped, for every command that prints a transcript's text."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

SID = "5e550000-0000-4000-8000-00000000b7ac"
BRACKETS = "[WIP] fix arr[i] off-by-one in [tool.pytest.ini_options] [/] [bold]not bold[/bold]"
COMMAND = "python -c 'a=[1,2]; print(a[i])' && sed -n '/[tool]/p' x [/]"
HOSTILE = ("plain \x1b[1mbold\x1b[0m, a title \x1b]0;pwned\x07, a link \x1b]8;;http://evil.example\x1b\\click"
           "\x1b]8;;\x1b\\, C1 \x9b31m red, a bell \x07 and a backspace \x08")
# what each control character is shown as
SHOWN = ("plain \\x1b[1mbold\\x1b[0m, a title \\x1b]0;pwned\\x07, a link \\x1b]8;;http://evil.example\\x1b\\click"
         "\\x1b]8;;\\x1b\\, C1 \\x9b31m red, a bell \\x07 and a backspace \\x08")


def transcript(root: Path) -> None:
    lines = [
        {"type": "summary", "summary": BRACKETS, "leafUuid": "a2"},
        {"type": "user", "sessionId": SID, "uuid": "u1", "cwd": "/repo[1]", "message": {"role": "user", "content": BRACKETS}},
        {"type": "assistant", "sessionId": SID, "uuid": "a1", "message": {
            "role": "assistant", "model": "claude-sonnet-4-5", "content": [
                {"type": "text", "text": "running it"},
                {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": COMMAND}}]}},
        {"type": "user", "sessionId": SID, "uuid": "u2", "message": {"role": "user", "content": HOSTILE}},
    ]
    path = root / "-repo-1-" / f"{SID}.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


YURUDB = [sys.executable, "-c", "from yurudb.cli import main; main()"]


def yurudb(db: Path, *args: str, tty: bool) -> str:
    """The command's output, piped or on a pseudo-terminal (rich's own colours taken out)."""
    argv = [*YURUDB, "--db", str(db), *args]
    env = {**os.environ, "COLUMNS": "400", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    if not tty:
        done = subprocess.run(argv, capture_output=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr.decode()
        return (done.stdout + done.stderr).decode()
    master, slave = pty.openpty()
    child = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert child.wait(timeout=60) == 0, out.decode(errors="replace")
    text = out.decode().replace("\r\n", "\n")
    return re.sub(r"\x1b\[[0-9;]*m", "", text)  # rich's styling: the only escapes allowed through


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("text") / "projects"
    transcript(root)
    db = root.parent / "y.db"
    subprocess.run([*YURUDB, "--db", str(db), "sync", str(root)], check=True,
                   capture_output=True, timeout=60)
    return db


@pytest.mark.parametrize("tty", [False, True], ids=["piped", "terminal"])
@pytest.mark.parametrize("args, expected", [
    (["sessions"], [BRACKETS]),
    (["show", SID], [BRACKETS, COMMAND, SHOWN]),
    (["show", SID, "--around", "2"], [BRACKETS, COMMAND]),
    (["search", "WIP"], [BRACKETS]),
    (["search", "pwned"], ["\\x1b"]),
    (["export", SID, "--format", "markdown"], [BRACKETS, COMMAND, SHOWN]),
])
def test_every_string_is_shown_exactly_and_no_control_code_reaches_the_terminal(
        db: Path, args: list[str], expected: list[str], tty: bool) -> None:
    out = yurudb(db, *args, tty=tty)
    for text in expected:
        assert text in out, f"{args}: {text!r} is not shown as written in {out!r}"
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out and "\x08" not in out, \
        f"{args}: a control code from the transcript reached the output: {out!r}"
    assert "Traceback" not in out


def test_markup_in_an_error_message_is_shown_not_read(db: Path) -> None:
    out = subprocess.run([*YURUDB, "--db", str(db), "show", "[/]x[bold]"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "[/]x[bold]" in out.stderr and "Traceback" not in out.stderr

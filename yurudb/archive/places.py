"""Where Claude Code keeps its projects: every folder a sync reads when none is named."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def places(env: Mapping[str, str] | None = None) -> list[Path]:
    """Each projects folder Claude Code may write, whether or not it exists now, in this order:

    every folder of CLAUDE_CONFIG_DIR (a GUI app moves the config there; it may list several,
    separated by commas), `~/.claude/projects`, and `$XDG_CONFIG_HOME/claude/projects`
    (`~/.config/claude/projects`, which ccusage reads too). The same folder twice counts once.
    """
    env = os.environ if env is None else env
    home = Path(env.get("HOME") or Path.home())
    found = [Path(part.strip()).expanduser() / "projects"
             for part in env.get("CLAUDE_CONFIG_DIR", "").split(",") if part.strip()]
    found.append(home / ".claude" / "projects")
    found.append(Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "claude" / "projects")
    out: list[Path] = []
    seen: set[Path] = set()
    for place in found:
        key = place.resolve() if place.exists() else place.absolute()
        if key not in seen:
            seen.add(key)
            out.append(place)
    return out


def restore_target(env: Mapping[str, str] | None = None) -> Path:
    """Where Claude Code looks for transcripts now: the first CLAUDE_CONFIG_DIR's, else ~/.claude's."""
    return places(env)[0]

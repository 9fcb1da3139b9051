"""The Claude Code archive: sync, watch, restore of `~/.claude/projects`, and the Agent SDK's SessionStore."""

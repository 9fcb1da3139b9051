"""A transcript written for yurudb (Claude Code format): imported when ~/.claude/projects is missing."""

"""yurudb and Claude Code: the archive of `~/.claude/projects` (sync, restore)."""

from .restore import restore_files, transcript_files
from .sync import DEFAULT_ROOT, SyncReport, sync

__all__ = ["DEFAULT_ROOT", "SyncReport", "restore_files", "sync", "transcript_files"]

"""yurudb and Claude Code: the archive of `~/.claude/projects` (sync, restore)."""

from .restore import restore_files, transcript_files
from .session_store import SessionStore
from .sync import DEFAULT_ROOT, SyncReport, sync
from .watch import WatchStatus, watch

__all__ = ["DEFAULT_ROOT", "SessionStore", "SyncReport", "WatchStatus", "restore_files", "sync", "transcript_files",
           "watch"]

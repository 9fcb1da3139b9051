"""The public face of the Claude Code archive (`yurudb.archive`): sync, watch, restore and the SDK SessionStore."""

from ..archive.places import places, restore_target
from ..archive.restore import restore_files, transcript_files
from ..archive.session_store import SessionStore
from ..archive.sync import DEFAULT_ROOT, SyncReport, sync
from ..archive.watch import WatchStatus, watch

__all__ = ["DEFAULT_ROOT", "SessionStore", "SyncReport", "WatchStatus", "places", "restore_files", "restore_target",
           "sync", "transcript_files", "watch"]

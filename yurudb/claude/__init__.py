"""The public face of the Claude Code archive (`yurudb.archive`): sync, watch, restore, push/pull and the SDK
SessionStore."""

from ..archive.places import places, restore_target
from ..archive.restore import restore_files, transcript_files
from ..archive.session_store import SessionStore
from ..archive.sync import DEFAULT_ROOT, SyncReport, sync
from ..archive.transfer import TransferReport, transfer
from ..archive.watch import WatchStatus, watch

__all__ = ["DEFAULT_ROOT", "SessionStore", "SyncReport", "TransferReport", "WatchStatus", "places", "restore_files",
           "restore_target", "sync", "transcript_files", "transfer", "watch"]

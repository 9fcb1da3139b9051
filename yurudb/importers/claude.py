"""`import claude`, the archive's older name: importing Claude Code transcripts is syncing them."""

from __future__ import annotations

from ..archive.sync import DEFAULT_ROOT, SyncReport, sync

DEFAULT_DIR = DEFAULT_ROOT
ImportReport = SyncReport
import_transcripts = sync

__all__ = ["DEFAULT_DIR", "ImportReport", "import_transcripts"]

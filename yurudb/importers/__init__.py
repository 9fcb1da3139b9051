"""Importers: Claude Code transcripts and the app's in-memory snapshots."""

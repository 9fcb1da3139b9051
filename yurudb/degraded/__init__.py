"""Degraded mode: the in-memory twin and the spill journal that hold writes while the database fails."""

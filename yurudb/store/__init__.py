"""The public Store: validation, the single writer with group commit, reads, the session cache, usage."""

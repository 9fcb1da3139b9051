"""Start-up: the recovery coordinator behind `yurudb.open`, its report, salvage and migrations."""

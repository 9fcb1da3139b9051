"""`yurudb mcp`: Claude searches its own past (the `mcp` extra)."""

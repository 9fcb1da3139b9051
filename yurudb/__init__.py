"""yurudb."""

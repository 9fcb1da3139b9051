"""Full-text search: what a message's text is (text), the index kept in step with writes (index), queries (query)."""

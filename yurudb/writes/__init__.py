"""What a write is (ops) and how one batch of writes is applied in one transaction (batch)."""

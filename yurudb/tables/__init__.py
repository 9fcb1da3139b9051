"""The schema as Python: table definitions (Alembic's models) and the column lists and rows reads turn into models."""

"""PostgreSQL behind the backend seam (the `postgres` extra: psycopg 3): for several machines and teams."""

"""SQLite, the embedded backend: connections and pragmas, the writer's transaction, schema, files and backups."""

"""Where the database engine is assumed: the backend seam the store and the archive talk to."""

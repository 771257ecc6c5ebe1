"""Read stores: the balance tables in SQLite (default) or PostgreSQL, applied exactly once."""

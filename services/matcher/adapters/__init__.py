"""The matcher's tables, every SQL statement on them, and the unit of work that owns the
transaction."""

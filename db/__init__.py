"""Storage only: connections by URL, the schema and its upgrades, ids, loads and queries (docs/database.md)."""

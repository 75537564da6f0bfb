"""Database layer: connections by URL, the SPEC §5 schema, ids and bulk loads."""

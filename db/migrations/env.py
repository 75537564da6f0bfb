"""Alembic's entry point: runs the revisions on the connection lurge hands it (db/migrate.py)."""

from alembic import context

from db.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite runs the whole upgrade in lurge's one transaction; MySQL commits each DDL statement.
    transactional_ddl=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()

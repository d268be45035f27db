"""Alembic environment for the adapter's outbox (run through cpbridge.db.migrate)."""

from alembic import context

from cpbridge.adapter.tables import Base

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=config.attributes.get("version_table", "alembic_version_adapter"),
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()

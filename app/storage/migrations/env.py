"""Alembic's environment: runs on the connection `app.storage.revision.upgrade` hands it."""

from __future__ import annotations

from alembic import context

from app.storage.tables import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite alters a table by copying it; batch mode does that for every ALTER.
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()

"""Alembic migrations of the database (see `app/storage/revision.py`, docs/architecture.md)."""

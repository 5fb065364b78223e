"""Alembic migrations of torchdash's database (see `app/storage/revision.py` and docs/architecture.md)."""

"""Alembic migrations of torchdash's database (see `app/schema.py` and the README)."""

"""Which databases the suite runs on: every test that takes the `settings` fixture runs once on a
SQLite file and once on a fresh PostgreSQL database (tests/conftest.py parametrizes it)."""

from __future__ import annotations

import os

import pytest

# TORCHDASH_TEST_DATABASES: the backends to run the database tests on, comma-separated
# (`make test` names both; `make test-fast` SQLite alone). Unset: both, with the PostgreSQL ones
# skipped where its server programs are missing. Named: PostgreSQL is required, not skipped.
_NAMED = os.environ.get("TORCHDASH_TEST_DATABASES")
BACKENDS = tuple(name.strip() for name in (_NAMED or "sqlite,postgresql").split(",") if name)
POSTGRESQL_REQUIRED = _NAMED is not None and "postgresql" in BACKENDS


def sqlite_only(reason: str) -> pytest.MarkDecorator:
    """Run a database test on SQLite alone, saying why it concerns SQLite alone."""
    return pytest.mark.sqlite_only(reason=f"SQLite only: {reason}")


def backends_for(definition: pytest.Function | pytest.Item) -> list[str]:
    """The backends one test runs on: all of them, or SQLite alone where it is marked so."""
    if definition.get_closest_marker("sqlite_only") is not None:
        return [name for name in BACKENDS if name == "sqlite"]
    return list(BACKENDS)

"""Which database the suite runs on: SQLite files by default, PostgreSQL on `make test`'s pass."""

from __future__ import annotations

import os

import pytest

# TORCHDASH_TEST_DATABASE=postgresql: the `settings` fixture gives each test a fresh PostgreSQL
# database (on one server started for the session) instead of the SQLite file in its home.
ON_POSTGRESQL = os.environ.get("TORCHDASH_TEST_DATABASE") == "postgresql"


def sqlite_only(reason: str) -> pytest.MarkDecorator:
    """Skip a test on the PostgreSQL pass, saying why it concerns SQLite alone."""
    return pytest.mark.skipif(ON_POSTGRESQL, reason=f"SQLite only: {reason}")

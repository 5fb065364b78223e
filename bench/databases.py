"""The databases a bench compares side by side: SQLite (a file) and PostgreSQL (a real server the
bench starts with the tests' helper, tests/support/postgres_server.py; skipped with a line when it
is not installed)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.postgres_server import PostgresServer, unavailable_reason

_numbers = itertools.count(1)


@contextmanager
def postgres() -> Iterator[PostgresServer | None]:
    """A PostgreSQL server for one bench, stopped after it; None (said so) when unavailable."""
    reason = unavailable_reason()
    if reason is not None:
        print(f"  PostgreSQL skipped: {reason}", flush=True)
        yield None
        return
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


def new_database(server: PostgresServer) -> str:
    """The URL of a new, empty database on `server` (torchdash migrates it on first use)."""
    return server.create_database(f"bench_{next(_numbers)}")

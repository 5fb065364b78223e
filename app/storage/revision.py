"""The database schema's version: Alembic migrations up to the newest revision, at start-up.

A database made by an older torchdash keeps working: `upgrade` brings it to the schema of
`app/storage/tables.py`. One made before migrations existed (tables, no `alembic_version`) is first
stamped with the first revision, whose schema it has.

A database already at the newest revision, which is every start but the first after an upgrade,
is recognised with one query and Alembic is not even imported: importing it took about a third
of a second, a quarter of the server's start (bench/server_light.py measures the start).
"""

from __future__ import annotations

import time
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import OperationalError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
FIRST_REVISION = "0001"
# The newest file in app/storage/migrations/versions. A new revision changes it too; a test
# checks the two agree (tests/api/test_storage.py).
HEAD_REVISION = "0016"
# How long an upgrade on PostgreSQL tries to take every table at one moment before it waits for
# them in turn (see `_take_every_table`).
LOCK_RETRY_SECONDS = 120.0
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE for a NOWAIT lock that was held


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to `revision` (the newest by default)."""
    if revision == "head" and current_revision(engine) == HEAD_REVISION:
        return
    from alembic import command

    config = alembic_config(engine)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite alters a table by copying it and dropping the old one; with foreign keys on,
            # that drop would cascade and delete every metric row of every run. (A PRAGMA must
            # come before the transaction begins: inside one, SQLite ignores it.)
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        try:
            config.attributes["connection"] = connection
            tables = set(inspect(connection).get_table_names())
            _take_every_table(connection, tables)
            if "runs" in tables and "alembic_version" not in tables:
                command.stamp(config, FIRST_REVISION)
            command.upgrade(config, revision)
            connection.commit()
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")


def _take_every_table(connection: Connection, tables: Collection[str]) -> None:
    """On PostgreSQL, lock every table for the upgrade's transaction before its first ALTER, all
    or none at once.

    A worker of the torchdash being upgraded may still be writing (the new server adopts it). A
    migration that waited for one table while holding another could close a cycle with that
    worker's write, and PostgreSQL would then abort one of the two, perhaps the worker's, failing
    its run. With NOWAIT the upgrade never waits while holding a lock, so it is never in a
    cycle: it retries until no one holds any of the tables, which between a worker's short
    writes is soon. After LOCK_RETRY_SECONDS of a busy database it waits for them in turn."""
    if connection.dialect.name != "postgresql" or not tables:
        return
    quote = connection.dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in sorted(tables))
    deadline = time.monotonic() + LOCK_RETRY_SECONDS
    while time.monotonic() < deadline:
        try:
            connection.exec_driver_sql(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE NOWAIT")
            return
        except OperationalError as error:
            if getattr(error.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
            connection.rollback()  # lets go of what the statement took before it failed
            time.sleep(0.05)
    connection.exec_driver_sql(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE")


def current_revision(engine: Engine) -> str | None:
    """The revision the database records; None for a new database or one made before Alembic."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()

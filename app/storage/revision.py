"""The database schema's version: Alembic migrations up to the newest revision, at start-up.

A database made by an older torchdash keeps working: `upgrade` brings it to the schema of
`app/storage/tables.py`. One made before migrations existed (tables, no `alembic_version`) is first
stamped with the first revision, whose schema it has.

A database already at the newest revision, which is every start but the first after an upgrade,
is recognised with one query and Alembic is not even imported: importing it took about a third
of a second, a quarter of the server's start (bench/server_light.py measures the start).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
FIRST_REVISION = "0001"
# The newest file in app/storage/migrations/versions. A new revision changes it too; a test
# checks the two agree (tests/api/test_storage.py).
HEAD_REVISION = "0016"


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
            if "runs" in tables and "alembic_version" not in tables:
                command.stamp(config, FIRST_REVISION)
            command.upgrade(config, revision)
            connection.commit()
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")


def current_revision(engine: Engine) -> str | None:
    """The revision the database records; None for a new database or one made before Alembic."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()

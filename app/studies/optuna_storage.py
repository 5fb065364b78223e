"""Where Optuna keeps its studies and trials: the same database as torchdash's, apart from it.

Optuna's own tables (`studies`, `trials`, `alembic_version`, `version_info`, ...) would collide
with torchdash's (`alembic_version` first of all), so:

- PostgreSQL: the schema `optuna` of the same database (created when first needed); Optuna's
  connections find their tables through `search_path`.
- SQLite: a second file beside the database, `<database>.optuna.sqlite` (Optuna's storage opens
  its own engine on a URL, so an ATTACHed schema of the same file is out of reach). Back up the
  two files together.

One storage per process and URL: building one checks Optuna's schema, which costs a query or
more, and the scheduler and every worker epoch would pay it again.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from optuna.storages import RDBStorage

OPTUNA_SCHEMA = "optuna"
SQLITE_SUFFIX = ".optuna.sqlite"
SQLITE_TIMEOUT_SECONDS = 30

_storages: dict[str, RDBStorage] = {}
_lock = threading.Lock()


def optuna_url(database_url: str) -> str:
    """The URL Optuna's storage opens for torchdash's database `database_url`."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            raise ValueError("studies need a database file, not an in-memory SQLite database")
        return url.set(database=url.database + SQLITE_SUFFIX).render_as_string(hide_password=False)
    return database_url


def optuna_storage(database_url: str) -> RDBStorage:
    """Optuna's storage for torchdash's database at `database_url`, built once per process."""
    with _lock:
        storage = _storages.get(database_url)
        if storage is None:
            storage = _build(database_url)
            _storages[database_url] = storage
        return storage


def _build(database_url: str) -> RDBStorage:
    import optuna
    from optuna.storages import RDBStorage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = optuna_url(database_url)
    engine_kwargs: dict[str, Any]
    if make_url(url).get_backend_name() == "sqlite":
        engine_kwargs = {"connect_args": {"timeout": SQLITE_TIMEOUT_SECONDS}}
    else:
        _create_schema(url)
        engine_kwargs = {
            "connect_args": {"options": f"-csearch_path={OPTUNA_SCHEMA}"},
            "pool_pre_ping": True,
        }
    return RDBStorage(url, engine_kwargs=engine_kwargs)


def _create_schema(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {OPTUNA_SCHEMA}"))
    finally:
        engine.dispose()

"""Fixtures of every level: a fresh home (database, runs, data) per test, an API client, a live
server, a PostgreSQL server for the session, and a headless Chromium.

The helpers tests import live in tests/support; a level's own fixtures in its conftest.py."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.storage.engine import create_tables, make_engine
from app.storage.tables import RunStatus
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, chromium_missing
from tests.support.database import POSTGRESQL_REQUIRED, backends_for
from tests.support.postgres_server import PostgresServer, unavailable_reason
from tests.support.runs import claim, post_run
from tests.support.servers import serving

if TYPE_CHECKING:  # Playwright is imported by the tests that drive a browser
    from playwright.sync_api import Browser, Page


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that takes the database (the `settings` fixture, or `database` itself) runs on
    each backend: `test_x[sqlite]` and `test_x[postgresql]`. Module-wide, so a module's shared
    server (`module_database_url`) is made once per backend and its tests grouped by backend."""
    if "database" in metafunc.fixturenames:
        backends = [
            pytest.param(name, marks=pytest.mark.postgresql) if name == "postgresql" else name
            for name in backends_for(metafunc.definition)
        ]
        metafunc.parametrize("database", backends, scope="module")


@pytest.fixture
def database() -> str:
    """The backend of this test's database; pytest_generate_tests gives it its values."""
    raise AssertionError("parametrized by pytest_generate_tests")


@pytest.fixture
def settings(
    tmp_path: Path, database: str, request: pytest.FixtureRequest, monkeypatch
) -> Settings:
    home = tmp_path / "home"
    (home / "data").mkdir(parents=True)
    if database == "postgresql":
        # Every Settings made in the test, and every process it starts, reads this database.
        monkeypatch.setenv("TORCHDASH_DATABASE_URL", request.getfixturevalue("postgres_url"))
    # Dispatchers built in a test's own process start cold workers: a warm worker's environment
    # is fixed when it is spawned, before a test can set a fault to inject. Servers spawned by
    # `spawn_server` read their own settings and keep the default warm worker.
    return Settings(home=home, data_roots=[home / "data"], warm_workers=0)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The API with no dispatcher: runs stay queued until a test claims and executes them."""
    with TestClient(
        create_app(settings, dispatch=False), base_url="http://127.0.0.1"
    ) as test_client:
        yield test_client


@pytest.fixture
def make_run(client: TestClient) -> Callable[..., dict[str, Any]]:
    """POST a run config (TINY_CONFIG with `changes` merged in) and return the created run."""

    return partial(post_run, client)


@pytest.fixture
def execute(settings: Settings) -> Callable[[int], RunStatus]:
    """Claim a queued run and train it synchronously in this process, as a worker would."""
    from app.worker.execute import execute_run

    def run(run_id: int) -> RunStatus:
        claim(settings, run_id)
        return execute_run(run_id, settings)

    return run


@pytest.fixture
def live_server(settings: Settings) -> Iterator[str]:
    """A real server process on loopback, with its dispatcher spawning real workers."""
    with serving(settings) as base:
        yield base


@pytest.fixture
def sampling_server(settings: Settings) -> Iterator[str]:
    """A real server whose workers sample every 0.2 s."""
    with serving(settings, TORCHDASH_SYSTEM_SAMPLE_SECONDS="0.2") as base:
        yield base


# A real headless Chromium (tests/support/browser.py); a test that asks for it is skipped where
# Debian's Chromium is not installed (an error in CI, where `make test` installs it).
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    reason = chromium_missing()
    if reason is not None:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    # A JS error on any page is a failed test, not a silently broken chart.
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


# PostgreSQL (docs/postgresql.md): one real server for the session, a fresh database per test.
POSTGRES_TEMPLATE = "torchdash_template"
_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server on a free port for the whole session, with a template database at the
    newest schema (a CREATE DATABASE from it takes a fraction of running the migrations)."""
    reason = unavailable_reason()
    if reason is not None:
        if POSTGRESQL_REQUIRED:  # `make test` must not pass by skipping PostgreSQL
            pytest.fail(reason)
        pytest.skip(reason)
    server = PostgresServer().start()
    try:
        engine = make_engine(server.create_database(POSTGRES_TEMPLATE))
        create_tables(engine)
        engine.dispose()
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a fresh database, migrated to the newest revision, on the session's server."""
    name = f"test_{next(_database_numbers)}"
    return postgres_server.create_database(name, template=POSTGRES_TEMPLATE)


@pytest.fixture(scope="module")
def module_database_url(database: str, request: pytest.FixtureRequest) -> str | None:
    """The database of a server a whole module shares: None on SQLite (the file in its home),
    else a fresh PostgreSQL database on the session's server."""
    if database == "sqlite":
        return None
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database(f"module_{next(_database_numbers)}", template=POSTGRES_TEMPLATE)

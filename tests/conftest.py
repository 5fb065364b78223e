"""Shared fixtures: a fresh home (database, runs, data) per test, an API client, a live server."""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.main import create_app
from app.runs.state_machine import transition
from app.settings import Settings
from app.storage.engine import create_tables, make_engine, make_session_factory, session_scope
from app.storage.tables import Run, RunStatus
from tests.postgres_server import PostgresServer, unavailable_reason

ROOT = Path(__file__).resolve().parent.parent

# TORCHDASH_TEST_DATABASE=postgresql: the `settings` fixture gives each test a fresh PostgreSQL
# database (on one server started for the session) instead of the SQLite file in its home.
ON_POSTGRESQL = os.environ.get("TORCHDASH_TEST_DATABASE") == "postgresql"


def sqlite_only(reason: str) -> pytest.MarkDecorator:
    """Skip a test on the PostgreSQL pass, saying why it concerns SQLite alone."""
    return pytest.mark.skipif(ON_POSTGRESQL, reason=f"SQLite only: {reason}")


# A run small enough to train in about a second on a CPU: digits, a narrow MLP.
TINY_CONFIG: dict[str, Any] = {
    "name": "tiny",
    "data": {"kind": "digits"},
    "model": {"kind": "mlp", "hidden_sizes": [32]},
    "loss": {"kind": "cross_entropy"},
    "optimizer": {"kind": "adam", "lr": 0.003},
    "batch_size": 64,
    "max_epochs": 3,
    "device": "cpu",
    "seed": 0,
}


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest, monkeypatch) -> Settings:
    home = tmp_path / "home"
    (home / "data").mkdir(parents=True)
    if ON_POSTGRESQL:
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

    def make(**changes: Any) -> dict[str, Any]:
        response = client.post("/api/runs", json={**TINY_CONFIG, **changes})
        assert response.status_code == 201, response.text
        return response.json()

    return make


@pytest.fixture
def execute(settings: Settings) -> Callable[[int], RunStatus]:
    """Claim a queued run and train it synchronously in this process, as a worker would."""
    from app.worker.execute import execute_run

    def run(run_id: int) -> RunStatus:
        engine = make_engine(settings.sqlalchemy_url)
        with session_scope(make_session_factory(engine)) as session:
            transition(session, run_id, RunStatus.RUNNING)
        engine.dispose()
        return execute_run(run_id, settings)

    return run


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spawn_server(
    settings: Settings, port: int, log_name: str = "server.log", cwd: Path = ROOT, **env: str
) -> subprocess.Popen[bytes]:
    """Start `python -m app serve` on loopback for `settings`' home; `env` adds variables.

    `cwd` is where `app` is imported from (another checkout of torchdash, say)."""
    full_env = {
        **os.environ,
        "TORCHDASH_HOME": str(settings.home_dir),
        "TORCHDASH_DATA_ROOTS": ",".join(map(str, settings.allowed_data_roots)),
        "TORCHDASH_PORT": str(port),
        "TORCHDASH_DISPATCH_INTERVAL": "0.1",
        **env,
    }
    with open(settings.home_dir / log_name, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "app", "serve"], cwd=cwd, env=full_env, stdout=log, stderr=log
        )


def wait_for_server(base: str) -> None:
    wait_until(lambda: _answers(base), timeout=30, what="the server to answer /healthz")


@contextmanager
def serving(settings: Settings, timeout: float = 30, **env: str) -> Iterator[str]:
    """A real server process on loopback for `settings` (`env` adds variables), answering
    within `timeout` seconds; stopped with its workers afterwards."""
    port = free_port()
    server = spawn_server(settings, port, **env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(base), timeout=timeout, what="the server to answer /healthz")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=15)
        stop_workers(settings)


@pytest.fixture
def live_server(settings: Settings) -> Iterator[str]:
    """A real server process on loopback, with its dispatcher spawning real workers."""
    with serving(settings) as base:
        yield base


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def stop_workers(settings: Settings) -> None:
    """Workers outlive the server on purpose; a test must not leave them behind."""
    engine = make_engine(settings.sqlalchemy_url)
    with session_scope(make_session_factory(engine)) as session:
        handles = session.scalars(
            select(Run.worker_handle).where(Run.worker_handle.is_not(None))
        ).all()
    engine.dispose()
    # The local executor's handle is the worker's pid (a Ray job's name is Ray's to stop).
    for pid in (int(handle) for handle in handles if handle.isdigit()):
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `condition` until it returns something truthy; fail naming `what` on time-out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# PostgreSQL (README "PostgreSQL"): one real server for the session, a fresh database per test.
POSTGRES_TEMPLATE = "torchdash_template"
_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server on a free port for the whole session, with a template database at the
    newest schema (a CREATE DATABASE from it takes a fraction of running the migrations)."""
    reason = unavailable_reason()
    if reason is not None:
        if ON_POSTGRESQL:  # the PostgreSQL pass must not pass by skipping everything
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

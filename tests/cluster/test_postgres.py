"""PostgreSQL as torchdash's database, on a real server the tests start
(tests/support/postgres_server.py).

The migrations, the copy of a SQLite home, LISTEN/NOTIFY wake-ups, a server restart while a run
trains, and the connections 100 watchers take. (Every test that takes the `settings` fixture runs on
PostgreSQL too: tests/support/database.py.) Skipped when PostgreSQL is not
installed; `make test` installs it.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.main import create_app
from app.runs.state_machine import transition
from app.settings import Settings
from app.storage.engine import make_engine, make_session_factory, session_scope
from app.storage.notifications import RunListener, notify_run
from app.storage.revision import FIRST_REVISION, HEAD_REVISION, current_revision, upgrade
from app.storage.tables import Base, RunStatus
from tests.support.paths import ROOT
from tests.support.postgres_server import PostgresServer
from tests.support.runs import TINY_CONFIG, read_events
from tests.support.servers import free_port, spawn_server, stop_workers, wait_for_server
from tests.support.waiting import wait_for_status, wait_until

_numbers = iter(range(1, 10_000))


@pytest.fixture
def empty_url(postgres_server: PostgresServer) -> str:
    """A new, empty database (no tables at all) on the session's PostgreSQL server."""
    return postgres_server.create_database(f"empty_{next(_numbers)}")


def pg_settings(tmp_path: Path, url: str, **values) -> Settings:
    home = tmp_path / "home"
    (home / "data").mkdir(parents=True, exist_ok=True)
    return Settings(
        home=home, data_roots=[home / "data"], database_url=url, warm_workers=0, **values
    )


def test_the_migrations_run_from_the_first_revision_to_head_on_an_empty_database(
    empty_url: str,
) -> None:
    engine = make_engine(empty_url)
    upgrade(engine, FIRST_REVISION)
    assert current_revision(engine) == FIRST_REVISION
    upgrade(engine)  # every later revision, one by one, on a database that has the first
    assert current_revision(engine) == HEAD_REVISION
    engine.dispose()


def test_the_migrations_build_exactly_the_tables_of_the_models_on_postgresql(
    empty_url: str,
) -> None:
    """Fails when a model and the migrations disagree on PostgreSQL (types, defaults, indexes)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(empty_url)
    upgrade(engine)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    engine.dispose()


def _sqlite_home_with_runs(tmp_path: Path) -> Settings:
    """A SQLite home as a user has it: a trained run with checkpoints, a fork, a queued run."""
    from app.worker.execute import execute_run

    home = tmp_path / "sqlite-home"
    (home / "data").mkdir(parents=True)
    settings = Settings(
        home=home,
        data_roots=[home / "data"],
        database_url=f"sqlite:///{home / 'torchdash.db'}",
        warm_workers=0,
    )
    with TestClient(create_app(settings, dispatch=False), base_url="http://127.0.0.1") as client:
        trained = client.post("/api/runs", json={**TINY_CONFIG, "max_epochs": 2}).json()
        engine = make_engine(settings.sqlalchemy_url)
        with session_scope(make_session_factory(engine)) as session:
            transition(session, trained["id"], RunStatus.RUNNING)
        engine.dispose()
        assert execute_run(trained["id"], settings) == RunStatus.SUCCEEDED
        fork = client.post(f"/api/runs/{trained['id']}/fork", json={"epoch": 1})
        assert fork.status_code == 201, fork.text
        assert client.post("/api/runs", json={**TINY_CONFIG, "name": "queued"}).status_code == 201
    return settings


def _rows(url: str) -> dict[str, list[tuple]]:
    """Every row of every table of the models, in primary-key order, and which values are NULL
    (a JSON null and a SQL NULL read back alike)."""
    engine = make_engine(url)
    tables = {}
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            order = table.primary_key.columns
            rows = connection.execute(select(table).order_by(*order)).all()
            nulls = connection.execute(
                select(*(c.is_(None) for c in table.columns)).order_by(*order)
            ).all()
            tables[table.name] = [(*row, *null) for row, null in zip(rows, nulls, strict=True)]
    engine.dispose()
    return tables


def test_copy_database_moves_a_sqlite_home_into_postgresql_row_for_row(
    tmp_path: Path, empty_url: str
) -> None:
    source = _sqlite_home_with_runs(tmp_path)
    command = [sys.executable, "-m", "app", "copy-database"]
    copied = subprocess.run(
        [*command, "--from", source.sqlalchemy_url, "--to", empty_url],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert copied.returncode == 0, copied.stderr

    before, after = _rows(source.sqlalchemy_url), _rows(empty_url)
    assert set(before) == {table.name for table in Base.metadata.sorted_tables}
    for name in before:
        assert after[name] == before[name], name
    assert before["step_metrics"] and before["checkpoints"] and len(before["runs"]) == 3

    again = subprocess.run(
        [*command, "--from", source.sqlalchemy_url, "--to", empty_url],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert again.returncode == 1 and "not empty" in again.stderr
    assert _rows(empty_url) == after  # refused: nothing written twice

    # The copied home serves on PostgreSQL, and a new run gets the next id (sequences moved on).
    target = Settings(
        home=source.home, data_roots=source.data_roots, database_url=empty_url, warm_workers=0
    )
    with TestClient(create_app(target, dispatch=False), base_url="http://127.0.0.1") as client:
        runs = client.get("/api/runs").json()
        assert sorted(run["id"] for run in runs["runs"]) == [1, 2, 3]
        new = client.post("/api/runs", json=TINY_CONFIG)
        assert new.status_code == 201 and new.json()["id"] == 4
        assert client.get("/api/runs/1/metrics").json()["steps"][0]["step"] == 1


def test_a_notification_wakes_the_listener_after_commit_and_after_a_server_restart(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    engine = make_engine(postgres_url)
    factory = make_session_factory(engine)
    heard: list[int] = []
    reconnects: list[bool] = []
    listener = RunListener(engine, on_run=heard.append, on_reconnect=lambda: reconnects.append(1))
    listener.start()
    try:
        assert listener.listening.wait(10)
        with pytest.raises(RuntimeError):
            with session_scope(factory) as session:
                notify_run(session, 7)
                raise RuntimeError("rolled back: no notification")
        with session_scope(factory) as session:
            notify_run(session, 8)
        wait_until(lambda: heard == [8], 10, "the notification of run 8 alone")

        postgres_server.restart()
        wait_until(lambda: reconnects and listener.listening.is_set(), 30, "the listener back")
        with session_scope(make_session_factory(engine)) as session:  # pre-ping: a new connection
            notify_run(session, 9)
        wait_until(lambda: heard == [8, 9], 10, "the notification of run 9 after the restart")
    finally:
        listener.stop()
        engine.dispose()


def test_event_streams_are_woken_by_notify_alone(tmp_path: Path, postgres_url: str) -> None:
    """With the fallback poll an hour apart, every row and the run's end still arrive: the
    worker's NOTIFY, through the server's one listener, wakes the run's poller."""
    settings = pg_settings(tmp_path, postgres_url)
    port = free_port()
    server = spawn_server(
        settings, port, TORCHDASH_DATABASE_URL=postgres_url,
        TORCHDASH_NOTIFIED_POLL_INTERVAL="3600",
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(base)
        run = httpx.post(f"{base}/api/runs", json={**TINY_CONFIG, "max_epochs": 2}).json()
        seen = read_events(base, run["id"], 2 * 23)
        assert [row["epoch"] for row in seen["epoch"]] == [1, 2]
        assert [row["step"] for batch in seen["steps"] for row in batch] == list(range(1, 47))
        assert seen["run"][-1]["status"] == "succeeded"
    finally:
        server.terminate()
        server.wait(timeout=15)
        stop_workers(settings)


def test_a_database_restart_while_a_run_trains_loses_and_doubles_no_row(
    tmp_path: Path, postgres_server: PostgresServer, postgres_url: str
) -> None:
    settings = pg_settings(tmp_path, postgres_url)
    port = free_port()
    server = spawn_server(settings, port, TORCHDASH_DATABASE_URL=postgres_url)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(base)
        epochs = 12
        run = httpx.post(f"{base}/api/runs", json={**TINY_CONFIG, "max_epochs": epochs}).json()
        last_step = epochs * 23
        watched: dict[str, list] = {}
        watcher = threading.Thread(
            target=lambda: watched.update(read_events(base, run["id"], last_step)), daemon=True
        )
        watcher.start()

        def steps_written() -> int:
            return len(httpx.get(f"{base}/api/runs/{run['id']}/metrics").json()["steps"])

        wait_until(lambda: steps_written() >= 23, 120, "the run to write its first epoch")
        postgres_server.restart()  # every connection of the server and the worker is cut
        assert steps_written() < last_step, "the run ended before the restart: lengthen it"

        finished = wait_for_status(base, run["id"], "succeeded", 180)
        assert finished["epoch"] == epochs
        steps = httpx.get(f"{base}/api/runs/{run['id']}/metrics").json()["steps"]
        assert [row["step"] for row in steps] == list(range(1, last_step + 1))
        watcher.join(timeout=60)
        streamed = [row["step"] for batch in watched["steps"] for row in batch]
        assert streamed == list(range(1, last_step + 1))  # the stream lived on, no duplicate
    finally:
        server.terminate()
        server.wait(timeout=15)
        stop_workers(settings)


def test_a_hundred_watchers_and_a_worker_stay_within_the_documented_pool(
    tmp_path: Path, postgres_server: PostgresServer, postgres_url: str
) -> None:
    """docs/postgresql.md: the server takes at most db_pool_size + db_max_overflow connections
    plus its one listener, whatever the number of streams; a worker at most two."""
    settings = pg_settings(tmp_path, postgres_url, db_pool_size=3, db_max_overflow=2)
    database = postgres_url.rsplit("/", 1)[1]
    port = free_port()
    server = spawn_server(
        settings, port, TORCHDASH_DATABASE_URL=postgres_url,
        TORCHDASH_DB_POOL_SIZE="3", TORCHDASH_DB_MAX_OVERFLOW="2", TORCHDASH_WARM_WORKERS="0",
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    peak = 0
    try:
        wait_for_server(base)
        run = httpx.post(f"{base}/api/runs", json={**TINY_CONFIG, "max_epochs": 6}).json()
        idle = httpx.post(f"{base}/api/runs", json={**TINY_CONFIG, "name": "idle"}).json()

        async def watch_all(stop: asyncio.Event) -> int:
            async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=200)) as c:
                streams = []
                for n in range(100):
                    run_id = run["id"] if n % 2 else idle["id"]
                    stream = c.stream("GET", f"{base}/api/runs/{run_id}/events")
                    streams.append(await stream.__aenter__())
                opened = sum(response.status_code == 200 for response in streams)
                await stop.wait()
                for response in streams:
                    await response.aclose()
                return opened

        stop = asyncio.Event()
        loop = asyncio.new_event_loop()
        opened: list[int] = []
        thread = threading.Thread(
            target=lambda: opened.append(loop.run_until_complete(watch_all(stop))), daemon=True
        )
        thread.start()
        deadline = time.monotonic() + 180
        while get_status(base, run["id"]) != "succeeded" and time.monotonic() < deadline:
            peak = max(peak, postgres_server.connection_count(database))
            assert httpx.get(f"{base}/api/runs", timeout=30).status_code == 200
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=60)
        assert opened == [100]
        assert get_status(base, run["id"]) == "succeeded"
        # The server: its pool (3 + 2) and its listener; the worker: two; this test's reads: none.
        assert 2 <= peak <= 3 + 2 + 1 + 2, peak
    finally:
        server.terminate()
        server.wait(timeout=15)
        stop_workers(settings)


def get_status(base: str, run_id: int) -> str:
    return httpx.get(f"{base}/api/runs/{run_id}", timeout=30).json()["status"]


def test_rollup_upserts_run_in_postgresqls_dialect(postgres_url: str) -> None:
    """rollups.py's INSERT ... ON CONFLICT in PostgreSQL's words keeps each bucket's extremes."""
    from app.runs.lifecycle import create_run
    from app.storage import metrics
    from app.storage.tables import StepRollup
    from trainer.config import RunConfig

    engine = make_engine(postgres_url)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        run_id = create_run(session, RunConfig()).id
    losses = [3.0, 1.0, 2.0, 0.5, 4.0, 2.5]
    for start in range(0, len(losses), 2):  # three flushes into the same buckets
        with session_scope(factory) as session:
            rows = [{"step": s + 1, "epoch": 1, "loss": losses[s]} for s in range(start, start + 2)]
            metrics.write_steps(session, run_id, rows)
    with session_scope(factory) as session:
        assert session.get_bind().dialect.name == "postgresql"
        bucket = session.execute(
            select(StepRollup.min_step, StepRollup.min_loss, StepRollup.max_step,
                   StepRollup.max_loss).where(StepRollup.width == 16)
        ).one()  # fmt: skip
        count = session.scalar(select(func.count()).select_from(StepRollup))
    assert tuple(bucket) == (4, 0.5, 5, 4.0) and count == 3  # one bucket per width
    engine.dispose()

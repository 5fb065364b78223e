"""The database under load and over time: contention, checkpoint retention, schema migrations."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, Table, create_engine, inspect, text

from app.exports.bundle import EPOCH_COLUMNS
from app.main import create_app
from app.settings import Settings
from app.storage.engine import make_engine, make_session_factory, session_scope
from app.storage.metrics import write_epoch
from app.storage.revision import HEAD_REVISION, alembic_config, current_revision, upgrade
from app.storage.tables import RunStatus
from tests.support.database import sqlite_only
from tests.support.paths import ROOT
from tests.support.runs import TINY_CONFIG
from trainer.checkpoints.store import list_checkpoints, load_checkpoint

WRITERS, ROWS = 8, 1000


def test_eight_writers_and_a_reader_lose_no_row_and_never_see_a_lock(
    client: TestClient, make_run, settings: Settings
) -> None:
    run_ids = [make_run(name=f"writer {n}")["id"] for n in range(WRITERS)]
    writers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.step_writer",
                settings.sqlalchemy_url,
                str(run_id),
                str(ROWS),
                "10",
            ],
            cwd=ROOT,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        for run_id in run_ids
    ]
    reads = 0
    while any(writer.poll() is None for writer in writers):
        for run_id in run_ids:  # the API reads while they write
            assert client.get(f"/api/runs/{run_id}/metrics").status_code == 200
            reads += 1
    errors = [writer.stderr.read().decode() for writer in writers if writer.stderr]
    assert [writer.returncode for writer in writers] == [0] * WRITERS, errors
    assert not any("database is locked" in error for error in errors)
    for run_id in run_ids:
        steps = client.get(f"/api/runs/{run_id}/metrics").json()["steps"]
        assert [row["step"] for row in steps] == list(range(1, ROWS + 1))
    assert reads > 0


def test_retention_keeps_the_last_k_and_the_best_checkpoint(
    make_run, client: TestClient, settings: Settings
) -> None:
    from app.runs.state_machine import transition
    from app.worker.execute import execute_run

    run = make_run(max_epochs=4)
    keeping_one = Settings(
        home=settings.home, data_roots=settings.data_roots, keep_last_checkpoints=1
    )
    engine = make_engine(keeping_one.sqlalchemy_url)
    with session_scope(make_session_factory(engine)) as session:
        transition(session, run["id"], RunStatus.RUNNING)
    engine.dispose()
    assert execute_run(run["id"], keeping_one) == RunStatus.SUCCEEDED

    rows = client.get(f"/api/runs/{run['id']}/metrics").json()["epochs"]
    best = max(reversed(rows), key=lambda row: row["val_accuracy"])["epoch"]
    kept = {best, 4}
    listed = client.get(f"/api/runs/{run['id']}/checkpoints").json()
    assert {row["epoch"] for row in listed} == kept
    folders = list_checkpoints(keeping_one.checkpoint_dir(run["id"]))
    assert {ref.epoch for ref in folders} == kept
    for ref in folders:
        assert load_checkpoint(ref.path)


# The first revision's schema, as torchdash 0.1.0 created it (before migrations existed).
FIRST_SCHEMA = """
CREATE TABLE runs (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(200) NOT NULL,
  status VARCHAR(16) NOT NULL, config JSON NOT NULL, epoch INTEGER NOT NULL,
  max_epochs INTEGER NOT NULL, error TEXT, created_at DATETIME NOT NULL, started_at DATETIME,
  finished_at DATETIME, updated_at DATETIME NOT NULL, best_val_accuracy DOUBLE,
  stop_requested BOOLEAN NOT NULL, worker_pid INTEGER, progress_batch INTEGER NOT NULL,
  progress_batches INTEGER NOT NULL, device VARCHAR(32), class_names JSON, model_summary TEXT,
  parameter_count INTEGER, parent_run_id INTEGER REFERENCES runs (id) ON DELETE SET NULL,
  fork_epoch INTEGER);
CREATE TABLE epoch_metrics (id INTEGER NOT NULL PRIMARY KEY, run_id INTEGER NOT NULL
  REFERENCES runs (id) ON DELETE CASCADE, epoch INTEGER NOT NULL, train_loss DOUBLE NOT NULL,
  train_accuracy DOUBLE NOT NULL, val_loss DOUBLE NOT NULL, val_accuracy DOUBLE NOT NULL,
  lr DOUBLE NOT NULL, seconds DOUBLE NOT NULL, UNIQUE (run_id, epoch));
CREATE TABLE step_metrics (run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  step INTEGER NOT NULL, epoch INTEGER NOT NULL, loss DOUBLE NOT NULL, PRIMARY KEY (run_id, step));
CREATE TABLE checkpoints (id INTEGER NOT NULL PRIMARY KEY, run_id INTEGER NOT NULL
  REFERENCES runs (id) ON DELETE CASCADE, epoch INTEGER NOT NULL, complete BOOLEAN NOT NULL,
  batches_done INTEGER NOT NULL, path TEXT NOT NULL, size_bytes INTEGER NOT NULL,
  val_loss DOUBLE, val_accuracy DOUBLE, created_at DATETIME NOT NULL, UNIQUE (run_id, epoch));
INSERT INTO runs VALUES (1, 'old run', 'succeeded', :config, 3, 3, NULL,
  '2024-01-01 00:00:00', NULL, NULL, '2024-01-01 00:00:00', 0.9, 0, NULL, 0, 0, 'cpu', NULL,
  NULL, NULL, NULL, NULL);
INSERT INTO step_metrics VALUES (1, 1, 1, 2.5);
"""


@sqlite_only("torchdash 0.1.0, before migrations, made SQLite files only")
def test_a_database_of_the_first_schema_is_migrated_and_keeps_working(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "data").mkdir(parents=True)
    old = create_engine(f"sqlite:///{home / 'torchdash.db'}")
    with old.begin() as connection:
        for statement in FIRST_SCHEMA.split(";"):
            if statement.strip():
                connection.execute(text(statement), {"config": json.dumps(TINY_CONFIG)})
    old.dispose()

    settings = Settings(home=home, data_roots=[home / "data"])
    with TestClient(create_app(settings, dispatch=False), base_url="http://127.0.0.1") as client:
        assert client.get("/api/runs/1").json()["name"] == "old run"
        assert client.get("/api/runs/1/metrics").json()["steps"][0]["loss"] == 2.5
        assert client.post("/api/runs", json=TINY_CONFIG).status_code == 201
        resumed = client.post("/api/runs/1/resume", json={"max_epochs": 5, "fallback": True})
        assert resumed.status_code == 200 and resumed.json()["status"] == "queued"
    engine = make_engine(settings.sqlalchemy_url)
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    assert current_revision(engine) == head == HEAD_REVISION  # the start-up fast path knows it
    assert "resume_fallback" in {c["name"] for c in inspect(engine).get_columns("runs")}
    upgrade(engine)  # a second start changes nothing
    engine.dispose()


@sqlite_only("the PostgreSQL check is in tests/cluster/test_postgres.py")
def test_the_migrations_build_exactly_the_tables_of_the_models(tmp_path: Path) -> None:
    """Fails when a model changes without a revision: add one (see docs/architecture.md)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from app.storage.tables import Base

    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    upgrade(engine)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    engine.dispose()


def _database_before_named_metrics(
    request: pytest.FixtureRequest, home: Path, database: str
) -> Settings:
    """Settings of a new, empty database (a file in `home`, or on PostgreSQL a database of the
    session's server), which the test brings to revision 0011 itself."""
    if database == "postgresql":
        server = request.getfixturevalue("postgres_server")
        url = server.create_database(f"before_named_metrics_{home.parent.name[-12:].lower()}")
        request.getfixturevalue("monkeypatch").setenv("TORCHDASH_DATABASE_URL", url)
    (home / "data").mkdir(parents=True)
    return Settings(home=home, data_roots=[home / "data"])


def test_runs_stored_before_named_metrics_read_back_with_them_after_the_upgrade(
    tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    settings = _database_before_named_metrics(request, tmp_path / "home", database)
    engine = make_engine(settings.sqlalchemy_url)
    upgrade(engine, "0011")
    when = datetime(2024, 1, 1)
    with engine.begin() as connection:
        tables = MetaData()
        runs, epochs, checkpoints = (
            Table(name, tables, autoload_with=connection)
            for name in ("runs", "epoch_metrics", "checkpoints")
        )
        run = {"status": "succeeded", "config": TINY_CONFIG, "max_epochs": 3, "epoch": 3}
        run |= {"created_at": when, "updated_at": when, "stop_requested": False}
        run |= {"progress_batch": 0, "progress_batches": 23, "best_val_accuracy": 0.8}
        connection.execute(
            runs.insert(),
            [
                {**run, "id": 1, "name": "judged by accuracy", "best_epoch": None},
                {**run, "id": 2, "name": "stopped early", "best_epoch": 1},
            ],
        )
        for run_id in (1, 2):
            for epoch, accuracy in enumerate([0.5, 0.8, 0.7], start=1):
                values = {"run_id": run_id, "epoch": epoch, "val_accuracy": accuracy}
                values |= {"train_loss": 1.0, "train_accuracy": 0.6, "val_loss": 2.0 - accuracy}
                connection.execute(epochs.insert(), {**values, "lr": 0.1, "seconds": 1.0})
                connection.execute(
                    checkpoints.insert(),
                    {"run_id": run_id, "epoch": epoch, "complete": True, "batches_done": 23}
                    | {"path": f"/gone/{run_id}/{epoch}", "size_bytes": 1, "created_at": when}
                    | {"val_loss": 2.0 - accuracy, "val_accuracy": accuracy},
                )
    engine.dispose()

    with TestClient(create_app(settings, dispatch=False), base_url="http://127.0.0.1") as client:
        judged = client.get("/api/runs/1").json()
        assert (judged["task"], judged["monitor"], judged["monitor_mode"]) == (
            "classification",
            "val_accuracy",
            "max",
        )
        assert judged["best_metric"] == 0.8 and judged["best_epoch"] == 2
        assert client.get("/api/runs/2").json()["best_epoch"] == 1  # early stopping's, kept
        rows = client.get("/api/runs/1/metrics").json()["epochs"]
        assert rows[1]["metrics"] == {
            "train_loss": 1.0,
            "train_accuracy": 0.6,
            "val_loss": 1.2,
            "val_accuracy": 0.8,
        }
        marked = client.get("/api/runs/1/checkpoints").json()
        assert [(c["epoch"], c["best"], c["metrics"]) for c in marked] == [
            (1, False, None),
            (2, True, None),
            (3, False, None),
        ]
        header = client.get("/api/runs/1/metrics.csv").text.splitlines()[0]
        assert header == ",".join(EPOCH_COLUMNS)  # no named metric beyond the old columns
        listed = client.get("/api/runs", params={"sort": "best_metric"}).json()["runs"]
        assert [r["best_metric"] for r in listed] == [0.8, 0.8]

    # A run without accuracy (regression, multi-label) can now store its epochs.
    engine = make_engine(settings.sqlalchemy_url)
    with session_scope(make_session_factory(engine)) as session:
        row = {"epoch": 4, "train_loss": 1.0, "train_accuracy": None, "val_loss": 0.5}
        row |= {"val_accuracy": None, "lr": 0.1, "seconds": 1.0, "metrics": {"val_r2": 0.3}}
        write_epoch(session, 1, row)
    assert current_revision(engine) == HEAD_REVISION
    engine.dispose()


def test_losses_become_nullable_keeping_every_row_and_go_back_on_a_downgrade(
    tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    from alembic import command

    settings = _database_before_named_metrics(request, tmp_path / "home", database)
    engine = make_engine(settings.sqlalchemy_url)
    upgrade(engine, "0014")
    when = datetime(2024, 1, 1)
    with engine.begin() as connection:
        tables = MetaData()
        runs, epochs, steps = (
            Table(name, tables, autoload_with=connection)
            for name in ("runs", "epoch_metrics", "step_metrics")
        )
        run = {"id": 1, "name": "before", "status": "succeeded", "config": TINY_CONFIG}
        run |= {"max_epochs": 1, "epoch": 1, "created_at": when, "updated_at": when}
        run |= {"stop_requested": False, "progress_batch": 0, "progress_batches": 2}
        connection.execute(runs.insert(), run)
        connection.execute(
            epochs.insert(),
            {"run_id": 1, "epoch": 1, "train_loss": 1.5, "val_loss": 1.25, "lr": 0.1}
            | {"seconds": 1.0, "metrics": {"train_loss": 1.5, "val_loss": 1.25}},
        )
        connection.execute(
            steps.insert(), [{"run_id": 1, "step": s, "epoch": 1, "loss": 2.0 / s} for s in (1, 2)]
        )
    upgrade(engine)
    assert current_revision(engine) == HEAD_REVISION
    with session_scope(make_session_factory(engine)) as session:
        from app.storage.metrics import read_step_points, write_steps

        # A diverged step and an epoch reporting no loss nor learning rate: null, not dropped.
        write_steps(session, 1, [{"step": 3, "epoch": 2, "loss": None}])
        row = {"epoch": 2, "train_loss": None, "train_accuracy": None, "val_loss": None}
        write_epoch(session, 1, row | {"val_accuracy": None, "lr": None, "seconds": 1.0})
        assert read_step_points(session, 1) == [(1, 2.0, 1), (2, 1.0, 1), (3, None, 2)]
    with TestClient(create_app(settings, dispatch=False), base_url="http://127.0.0.1") as client:
        rows = client.get("/api/runs/1/metrics").json()
        assert [(e["train_loss"], e["val_loss"], e["lr"]) for e in rows["epochs"]] == [
            (1.5, 1.25, 0.1),
            (None, None, None),
        ]
        assert [s["loss"] for s in rows["steps"]] == [2.0, 1.0, None]

    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":  # as `upgrade` does: the copy deletes no row
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        command.downgrade(config, "0014")
        connection.commit()
        kept = connection.execute(text("SELECT step FROM step_metrics ORDER BY step")).all()
        assert [step for (step,) in kept] == [1, 2]  # the null-loss step had no place before
        zeroed = connection.execute(
            text("SELECT train_loss, val_loss, lr FROM epoch_metrics ORDER BY epoch")
        ).all()
        assert [tuple(values) for values in zeroed] == [(1.5, 1.25, 0.1), (0.0, 0.0, 0.0)]
    upgrade(engine)
    engine.dispose()

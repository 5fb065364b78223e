"""The database under load and over time: contention, checkpoint retention, schema migrations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect, text

from app.main import create_app
from app.settings import Settings
from app.storage.engine import make_engine, make_session_factory, session_scope
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

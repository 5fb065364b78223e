"""Named metrics and the monitored metric over REST: a classification run trained by a real
worker keeps its old fields beside the new ones; a regression run (its epochs reported through
the worker's reporter, as its trainer would) is judged by val_loss, lowest first."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from app.exports.bundle import EPOCH_COLUMNS
from app.settings import Settings
from app.storage.engine import make_engine, make_session_factory, session_scope
from app.storage.tables import RunStatus
from app.web.event_stream import Cursor, events_for, read_batch
from app.web.shapes import EpochPublic
from app.worker.reporter import DatabaseReporter
from tests.support.plugins import copy_example_plugins
from tests.support.runs import TINY_CONFIG, claim
from trainer.callbacks import CheckpointReport, EpochReport, FitStart

CLASSIFICATION_METRICS = [
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "val_f1_macro",
]
REGRESSION_METRICS = ["train_loss", "val_loss", "val_mae", "val_rmse", "val_r2"]

REGRESSION_CONFIG: dict[str, Any] = {
    **TINY_CONFIG,
    "name": "diabetes",
    "task": "regression",
    "data": {"kind": "plugin", "name": "Diabetes"},
    "loss": {"kind": "mse"},
    "metrics": [{"kind": "plugin", "name": "WithinTolerance", "mode": "max"}],
}
# Val losses by epoch: epoch 2 is the best (lowest), epoch 3 worse again.
VAL_LOSSES = [0.9, 0.4, 0.6]


def test_a_classification_run_records_every_metric_by_name_and_keeps_its_old_fields(
    client: TestClient, make_run: Callable[..., dict], execute: Callable[[int], RunStatus]
) -> None:
    queued = make_run()
    # Known at submit, from the config: the runs list shows them before the worker starts.
    assert queued["task"] == "classification"
    assert (queued["monitor"], queued["monitor_mode"]) == ("val_accuracy", "max")
    assert queued["metric_names"] == CLASSIFICATION_METRICS
    assert queued["best_metric"] is None

    assert execute(queued["id"]) == RunStatus.SUCCEEDED
    run = client.get(f"/api/runs/{queued['id']}").json()
    epochs = client.get(f"/api/runs/{run['id']}/metrics").json()["epochs"]
    assert [list(row["metrics"]) for row in epochs] == [CLASSIFICATION_METRICS] * 3
    for row in epochs:  # the old fields, as before, equal to their named metric
        for name in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
            assert row[name] == row["metrics"][name]
        assert 0.0 <= row["metrics"]["val_f1_macro"] <= 1.0

    best = max(epochs, key=lambda row: (row["val_accuracy"], -row["epoch"]))
    assert run["best_metric"] == run["best_val_accuracy"] == best["val_accuracy"]
    assert run["best_epoch"] == best["epoch"]

    checkpoints = client.get(f"/api/runs/{run['id']}/checkpoints").json()
    assert [c["epoch"] for c in checkpoints if c["best"]] == [best["epoch"]]
    assert all(list(c["metrics"]) == CLASSIFICATION_METRICS for c in checkpoints)

    rows = list(csv.DictReader(io.StringIO(client.get(f"/api/runs/{run['id']}/metrics.csv").text)))
    assert list(rows[0]) == [*EPOCH_COLUMNS, "val_f1_macro"]
    assert [float(r["val_f1_macro"]) for r in rows] == [
        e["metrics"]["val_f1_macro"] for e in epochs
    ]


def _report_regression_epochs(
    settings: Settings, run_id: int, folder: Path, val_losses: list[float]
) -> None:
    """What a regression run's trainer reports, handed to the worker's reporter."""
    engine = make_engine(settings.sqlalchemy_url)
    reporter = DatabaseReporter(make_session_factory(engine), run_id)
    reporter.on_fit_start(
        FitStart(
            device="cpu",
            class_names=["target"],
            model_summary="Sequential()",
            parameter_count=10,
            batches_per_epoch=1,
            start_epoch=0,
            start_batch=0,
            start_step=0,
            task="regression",
            monitor="val_loss",
            monitor_mode="min",
            metric_names=[*REGRESSION_METRICS, "val_WithinTolerance"],
        )
    )
    for epoch, val_loss in enumerate(val_losses, start=1):
        named = {
            "train_loss": 1.0 / epoch,
            "val_loss": val_loss,
            "val_mae": val_loss / 2,
            "val_rmse": val_loss**0.5,
            "val_r2": 1.0 - val_loss,
            "val_WithinTolerance": 0.1 * epoch,
        }
        reporter.on_epoch_end(
            EpochReport(
                epoch=epoch,
                train_loss=named["train_loss"],
                train_accuracy=None,
                val_loss=val_loss,
                val_accuracy=None,
                lr=0.003,
                seconds=0.1,
                metrics=named,
                monitor="val_loss",
                monitor_value=val_loss,
            )
        )
        path = folder / f"epoch-{epoch}"
        reporter.on_checkpoint(CheckpointReport(epoch, True, 1, path, 100, val_loss, None, named))
    reporter.flush()
    reporter.close()
    engine.dispose()


def test_a_regression_run_is_judged_by_its_monitored_metric_lowest_first(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    copy_example_plugins(settings.plugins_path)
    created = client.post("/api/runs", json=REGRESSION_CONFIG)
    assert created.status_code == 201, created.text
    queued = created.json()
    assert (queued["task"], queued["monitor"], queued["monitor_mode"]) == (
        "regression",
        "val_loss",
        "min",
    )
    assert queued["metric_names"] == [*REGRESSION_METRICS, "val_WithinTolerance"]
    classification = client.post("/api/runs", json=TINY_CONFIG).json()
    better = client.post("/api/runs", json=REGRESSION_CONFIG).json()

    claim(settings, queued["id"])
    _report_regression_epochs(settings, queued["id"], tmp_path / "a", VAL_LOSSES)
    claim(settings, better["id"])
    _report_regression_epochs(settings, better["id"], tmp_path / "b", [0.3, 0.2, 0.25])

    run = client.get(f"/api/runs/{queued['id']}").json()
    assert run["best_metric"] == 0.4 and run["best_epoch"] == 2  # the lowest val loss
    assert run["best_val_accuracy"] is None and run["epoch"] == 3
    epochs = client.get(f"/api/runs/{run['id']}/metrics").json()["epochs"]
    assert [row["train_accuracy"] for row in epochs] == [None, None, None]
    assert [row["val_accuracy"] for row in epochs] == [None, None, None]
    assert [row["metrics"]["val_loss"] for row in epochs] == VAL_LOSSES
    assert list(epochs[0]["metrics"]) == [*REGRESSION_METRICS, "val_WithinTolerance"]

    checkpoints = client.get(f"/api/runs/{run['id']}/checkpoints").json()
    assert [(c["epoch"], c["best"]) for c in checkpoints] == [(1, False), (2, True), (3, False)]
    assert checkpoints[1]["metrics"]["val_mae"] == 0.2

    header = client.get(f"/api/runs/{run['id']}/metrics.csv").text.splitlines()[0]
    assert header.split(",") == [
        *EPOCH_COLUMNS,
        "val_mae",
        "val_rmse",
        "val_r2",
        "val_WithinTolerance",
    ]

    # The SSE epoch events carry the same named metrics as the REST rows.
    with session_scope(make_session_factory(make_engine(settings.sqlalchemy_url))) as session:
        batch = read_batch(session, run["id"], Cursor())
    events = events_for(batch, Cursor())
    epoch_events = [
        EpochPublic.model_validate_json(e["data"]) for e in events if e["event"] == "epoch"
    ]
    assert [e.metrics for e in epoch_events] == [row["metrics"] for row in epochs]

    # Sorting by the monitored metric's best value: 0.2, then 0.4; the queued classification run
    # has none yet (the databases place a null at opposite ends: neither order is promised).
    ascending = client.get("/api/runs", params={"sort": "best_metric", "order": "asc"}).json()
    descending = client.get("/api/runs", params={"sort": "best_metric", "order": "desc"}).json()
    ids = [r["id"] for r in ascending["runs"]]
    assert [i for i in ids if i != classification["id"]] == [better["id"], run["id"]]
    assert [r["id"] for r in descending["runs"]] == ids[::-1]
    bad = client.get("/api/runs", params={"sort": "best_score"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "sort"]


def test_a_monitor_the_run_does_not_record_is_refused_naming_the_field(
    client: TestClient,
) -> None:
    response = client.post("/api/runs", json={**TINY_CONFIG, "monitor": "val_r2"})
    assert response.status_code == 422
    assert any(error["loc"][-1] == "monitor" for error in response.json()["detail"])
    assert client.get("/api/runs").json()["count"] == 0


def test_a_real_regression_run_on_a_plugin_dataset_records_its_metrics_by_name(
    client: TestClient, settings: Settings, execute: Callable[[int], RunStatus]
) -> None:
    copy_example_plugins(settings.plugins_path)
    created = client.post("/api/runs", json=REGRESSION_CONFIG)
    assert created.status_code == 201, created.text
    assert execute(created.json()["id"]) == RunStatus.SUCCEEDED
    run = client.get(f"/api/runs/{created.json()['id']}").json()
    epochs = client.get(f"/api/runs/{run['id']}/metrics").json()["epochs"]
    names = [*REGRESSION_METRICS, "val_WithinTolerance"]
    assert [list(row["metrics"]) for row in epochs] == [names] * 3
    best = min(epochs, key=lambda row: (row["val_loss"], row["epoch"]))
    assert run["best_metric"] == best["val_loss"] and run["best_epoch"] == best["epoch"]
    assert run["best_val_accuracy"] is None
    assert all(row["val_accuracy"] is None and row["train_accuracy"] is None for row in epochs)
    checkpoints = client.get(f"/api/runs/{run['id']}/checkpoints").json()
    assert [c["epoch"] for c in checkpoints if c["best"]] == [best["epoch"]]

"""The routes behind the dashboard: downsampling, delete, log, bundle, evaluation, sweeps, list."""

from __future__ import annotations

import ast
import csv
import io
import json
import zipfile

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import insert

from app.settings import Settings
from app.storage.downsample import lttb
from app.storage.engine import make_engine, make_session_factory, session_scope
from app.storage.tables import RunStatus, StepMetric
from app.web.shapes import EpochPublic
from tests.support.runs import TINY_CONFIG


def test_lttb_keeps_ends_and_peaks() -> None:
    points = [(float(x), 0.0) for x in range(1000)]
    points[500] = (500.0, 10.0)  # a lone spike that striding would likely drop
    kept = lttb(points, 50)
    assert len(kept) == 50
    assert kept[0] == points[0] and kept[-1] == points[-1]
    assert (500.0, 10.0) in kept
    assert [x for x, _ in kept] == sorted(x for x, _ in kept)


def test_metrics_downsampled_from_100000_steps(
    client: TestClient, make_run, settings: Settings
) -> None:
    run = make_run()
    engine = make_engine(settings.sqlalchemy_url)
    rows = [
        {"run_id": run["id"], "step": step, "epoch": 1 + step // 10_000, "loss": 1 / step}
        for step in range(1, 100_001)
    ]
    with session_scope(make_session_factory(engine)) as session:
        session.execute(insert(StepMetric), rows)
    engine.dispose()

    full = client.get(f"/api/runs/{run['id']}/metrics").json()["steps"]
    assert len(full) == 100_000
    small = client.get(f"/api/runs/{run['id']}/metrics", params={"max_points": 1000}).json()
    steps = small["steps"]
    assert len(steps) == 1000
    assert steps[0] == {"step": 1, "epoch": 1, "loss": 1.0}
    assert steps[-1]["step"] == 100_000
    newer = client.get(
        f"/api/runs/{run['id']}/metrics", params={"max_points": 1000, "since_step": 99_990}
    ).json()["steps"]
    assert [row["step"] for row in newer] == list(range(99_991, 100_001))
    bad = client.get(f"/api/runs/{run['id']}/metrics", params={"max_points": 1})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "max_points"]


def test_delete_refuses_a_queued_run_then_removes_rows_and_files(
    client: TestClient, make_run, execute, settings: Settings
) -> None:
    run = make_run(max_epochs=1)
    assert client.delete(f"/api/runs/{run['id']}").status_code == 409
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    assert settings.checkpoint_dir(run["id"]).is_dir()
    assert client.delete(f"/api/runs/{run['id']}").status_code == 204
    assert client.get(f"/api/runs/{run['id']}").status_code == 404
    assert not settings.run_dir(run["id"]).exists()
    assert client.delete(f"/api/runs/{run['id']}").status_code == 404


def test_bundle_evaluation_and_metrics_csv_of_a_finished_run(
    client: TestClient, make_run, execute
) -> None:
    run = make_run(max_epochs=2)
    assert execute(run["id"]) == RunStatus.SUCCEEDED

    response = client.get(f"/api/runs/{run['id']}/bundle")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = set(archive.namelist())
    assert {"config.json", "metrics.csv", "train.py", "README.txt"} <= names
    assert {"checkpoints/last/model.pt", "checkpoints/best/optimizer.pt"} <= names
    assert json.loads(archive.read("config.json")) == run["config"]
    rows = list(csv.DictReader(io.StringIO(archive.read("metrics.csv").decode())))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(ast.parse(archive.read("train.py")))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    # train.py runs the trainer shipped beside it, never the server's code.
    assert "trainer" in imported and not imported & {"app", "torchdash"}
    assert {"trainer/loop.py", "trainer/config/run.py", "requirements.txt"} <= names

    evaluation = client.get(f"/api/runs/{run['id']}/evaluation").json()
    assert evaluation["class_names"] == [str(d) for d in range(10)]
    confusion = evaluation["confusion"]
    assert sum(map(sum, confusion)) == 359  # every validation digit, once
    best = max(
        r["val_accuracy"] for r in client.get(f"/api/runs/{run['id']}/metrics").json()["epochs"]
    )
    assert abs(sum(confusion[i][i] for i in range(10)) / 359 - best) < 1e-9
    assert len(evaluation["per_class_accuracy"]) == 10
    example = evaluation["misclassified"][0]
    assert example["true"] != example["predicted"]
    thumbnail = client.get(example["thumbnail_url"])
    assert thumbnail.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(thumbnail.content)).size == (96, 96)  # 8 x 8, scaled 12 times

    csv_text = client.get(f"/api/runs/{run['id']}/metrics.csv").text
    assert csv_text.splitlines()[0].startswith("epoch,train_loss")
    # Both CSVs hold the API's epoch rows: its columns, then a column per named metric they do
    # not hold already, its values.
    columns = [name for name in EpochPublic.model_fields if name != "metrics"]
    assert csv_text.splitlines()[0].split(",") == [*columns, "val_f1_macro"]
    api_epochs = client.get(f"/api/runs/{run['id']}/metrics").json()["epochs"]
    assert [float(row["val_loss"]) for row in rows] == [row["val_loss"] for row in api_epochs]

    log = client.get(f"/api/runs/{run['id']}/log")
    assert log.status_code == 200 and log.json() == {"text": "", "offset": 0}  # no log in-process


def test_log_chunks_follow_byte_offsets(client: TestClient, make_run, settings: Settings) -> None:
    run = make_run()
    path = settings.worker_log(run["id"])
    path.parent.mkdir(parents=True)
    path.write_text("first line\n")
    first = client.get(f"/api/runs/{run['id']}/log").json()
    assert first == {"text": "first line\n", "offset": 11}
    with open(path, "a") as handle:
        handle.write("second line\n")
    second = client.get(f"/api/runs/{run['id']}/log", params={"offset": first["offset"]}).json()
    assert second == {"text": "second line\n", "offset": 23}


def test_sweep_queues_the_grid_in_one_group(client: TestClient) -> None:
    grid = {"optimizer.kind": ["sgd", "adam"], "optimizer.lr": [0.01, 0.001, 0.0001]}
    response = client.post("/api/sweeps", json={"config": TINY_CONFIG, "grid": grid})
    assert response.status_code == 201, response.text
    sweep = response.json()
    assert len(sweep["runs"]) == 6
    assert {run["group_name"] for run in sweep["runs"]} == {sweep["group_name"]}
    pairs = {
        (r["config"]["optimizer"]["kind"], r["config"]["optimizer"]["lr"]) for r in sweep["runs"]
    }
    assert pairs == {(k, lr) for k in ("sgd", "adam") for lr in (0.01, 0.001, 0.0001)}
    assert all(r["config"]["model"]["hidden_sizes"] == [32] for r in sweep["runs"])

    listed = client.get("/api/runs", params={"q": sweep["group_name"]}).json()
    assert listed["count"] == 6
    assert client.get("/api/runs", params={"q": "kind=sgd"}).json()["count"] == 3

    bad = client.post("/api/sweeps", json={"config": TINY_CONFIG, "grid": {"optimizer.lr": [-1]}})
    assert bad.status_code == 422
    assert any("lr" in error["loc"] for error in bad.json()["detail"])
    assert client.get("/api/runs").json()["count"] == 6  # nothing stored from the bad sweep


def test_runs_list_carries_val_loss_summaries(client: TestClient, make_run, execute) -> None:
    run = make_run(max_epochs=2)
    execute(run["id"])
    summary = client.get("/api/runs").json()["summaries"][str(run["id"])]
    assert len(summary["val_loss"]) == 2 and summary["epoch_seconds"] > 0


def test_a_fork_trains_with_its_own_optimizer_settings(
    client: TestClient, make_run, execute
) -> None:
    source = make_run(max_epochs=2)
    execute(source["id"])
    fork = client.post(
        f"/api/runs/{source['id']}/fork",
        json={"epoch": 1, "overrides": {"optimizer": {"lr": 0.01}}},
    ).json()
    assert execute(fork["id"]) == RunStatus.SUCCEEDED
    source_rows = client.get(f"/api/runs/{source['id']}/metrics").json()["epochs"]
    fork_rows = client.get(f"/api/runs/{fork['id']}/metrics").json()["epochs"]
    assert [row["epoch"] for row in fork_rows] == [2]
    # Not the lr saved in the source's optimizer state: the fork's own.
    assert fork_rows[0]["lr"] == 0.01 and source_rows[1]["lr"] == 0.003
    assert fork_rows[0]["train_loss"] != source_rows[1]["train_loss"]


def test_a_fork_to_another_optimizer_and_scheduler_starts_their_state_fresh(
    client: TestClient, make_run, execute, capfd
) -> None:
    source = make_run(
        max_epochs=2,
        optimizer={"kind": "sgd", "lr": 0.05, "momentum": 0.9},
        scheduler={"kind": "step", "step_size": 1},
    )
    execute(source["id"])
    overrides = {
        "optimizer": {"kind": "adam", "lr": 0.002},
        "scheduler": {"kind": "cosine"},
        "max_epochs": 3,
    }
    fork = client.post(
        f"/api/runs/{source['id']}/fork", json={"epoch": 1, "overrides": overrides}
    ).json()
    capfd.readouterr()
    # SGD's saved state is not Adam's: Adam's load_state_dict failed on it (KeyError: 'step').
    assert execute(fork["id"]) == RunStatus.SUCCEEDED
    log = capfd.readouterr().out
    assert "fork: the optimizer differs from the checkpoint's: its state starts fresh" in log
    assert "fork: the scheduler differs from the checkpoint's" in log
    rows = client.get(f"/api/runs/{fork['id']}/metrics").json()["epochs"]
    assert [row["epoch"] for row in rows] == [2, 3] and rows[0]["lr"] == 0.002

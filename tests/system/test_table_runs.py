"""Tables as a run's data, for real: CSV and Parquet files written into the data root, trained
by real workers for every task (and by two DDP ranks), resumed and evaluated with the statistics
the run fitted, and refused — with the field, or with the columns and the rows — when they
cannot be trained on."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import httpx
import pandas as pd
import pytest
import torch
from fastapi.testclient import TestClient

from app.settings import Settings
from app.storage.tables import RunStatus
from tests.support.paths import ROOT
from tests.support.tables import (
    IRIS_FEATURES,
    MULTILABEL_TARGET,
    iris_frame,
    table_run,
    write_diabetes,
    write_iris,
    write_iris_labels,
)
from tests.support.waiting import wait_for_status
from trainer.checkpoints.store import load_checkpoint


def data_state(settings: Settings, run_id: int, epoch: int) -> dict:
    folder = settings.checkpoint_dir(run_id) / f"epoch-{epoch:04d}"
    return load_checkpoint(folder)["state"]["data_state"]


def test_every_task_trains_on_a_table_in_a_real_worker_and_is_evaluated(
    live_server: str, settings: Settings
) -> None:
    root = settings.allowed_data_roots[0]
    configs = {
        "classification": table_run(write_iris(root), "species", "classification"),
        "regression": table_run(write_diabetes(root), "target", "regression"),
        "multilabel": table_run(
            write_iris_labels(root), MULTILABEL_TARGET, "multilabel",
            data={"features": IRIS_FEATURES, "categorical": ["garden"]},
        ),
    }  # fmt: skip
    runs = {}
    for task, config in configs.items():
        if task == "multilabel":  # from the command line, as docs/cli.md shows
            (root / "run.json").write_text(json.dumps(config))
            submitted = subprocess.run(
                [sys.executable, "-m", "app", "submit", str(root / "run.json"), "--json",
                 "--set", "max_epochs=2", "--url", live_server],
                cwd=ROOT, capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            assert submitted.returncode == 0, submitted.stderr
            runs[task] = json.loads(submitted.stdout)
            continue
        response = httpx.post(f"{live_server}/api/runs", json=config)
        assert response.status_code == 201, response.text
        runs[task] = response.json()
    for task, run in runs.items():
        done = wait_for_status(live_server, run["id"], "succeeded", timeout=300)
        assert done["epoch"] == 2, task
        log = settings.worker_log(run["id"]).read_text()
        # Encoded once when read; batches come from those tensors, not from pandas.
        assert "cache: train split already in tensors" in log, task

    evaluation = httpx.get(f"{live_server}/api/runs/{runs['classification']['id']}/evaluation")
    assert evaluation.status_code == 200, evaluation.text
    assert evaluation.json()["class_names"] == ["setosa", "versicolor", "virginica"]
    confusion = evaluation.json()["confusion"]
    assert sum(map(sum, confusion)) == 30  # the validation fifth of 150 rows
    # The classification table's inputs: four standardized measures, then one-hot gardens.
    state = data_state(settings, runs["classification"]["id"], 2)
    assert [(f["name"], f["kind"]) for f in state["features"]] == [
        ("sepal_length", "numeric"), ("sepal_width", "numeric"), ("petal_length", "numeric"),
        ("petal_width", "numeric"), ("garden", "categorical"),
    ]  # fmt: skip
    assert state["features"][-1]["categories"] == ["east", "north", "south"]
    assert state["classes"] == ["setosa", "versicolor", "virginica"]

    regression = httpx.get(f"{live_server}/api/runs/{runs['regression']['id']}/evaluation").json()
    assert [t["name"] for t in regression["targets"]] == ["target"]
    assert regression["targets"][0]["count"] == 40  # a fifth of the 200 rows written
    multilabel = httpx.get(f"{live_server}/api/runs/{runs['multilabel']['id']}/evaluation").json()
    assert [label["name"] for label in multilabel["labels"]] == MULTILABEL_TARGET
    assert multilabel["averages"]["micro"]["f1"] > 0.5


def test_a_resumed_table_run_keeps_the_statistics_it_fitted(
    client: TestClient, make_run, execute: Callable[[int], RunStatus], settings: Settings
) -> None:
    root = settings.allowed_data_roots[0]
    path = write_iris(root)
    run = make_run(**table_run(path, "species", "classification", max_epochs=1))
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    fitted = data_state(settings, run["id"], 1)

    # The file changes under the run: its statistics would change if fitted again.
    frame = iris_frame()
    frame["sepal_length"] *= 10
    frame.to_csv(path, index=False)
    resumed = client.post(f"/api/runs/{run['id']}/resume", json={"max_epochs": 2})
    assert resumed.status_code == 200, resumed.text
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    assert data_state(settings, run["id"], 2) == fitted
    assert fitted["features"][0]["mean"] == pytest.approx(frame["sepal_length"].mean() / 10, 0.05)


def test_two_ranks_train_a_table_run(
    client: TestClient, make_run, execute: Callable[[int], RunStatus], settings: Settings
) -> None:
    root = settings.allowed_data_roots[0]
    val = root / "val.csv"
    write_diabetes(root, "train.csv", rows=300)
    pd.read_csv(root / "train.csv").tail(100).to_csv(val, index=False)
    config = table_run(root / "train.csv", ["target", "bmi"], "regression", processes=2)
    config["data"] = {**config["data"], "val_path": str(val), "features": ["age", "sex", "bp"]}
    run = make_run(**config)
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    epochs = client.get(f"/api/runs/{run['id']}/metrics").json()["epochs"]
    assert [row["epoch"] for row in epochs] == [1, 2]
    state = data_state(settings, run["id"], 2)
    assert state["targets"] == ["target", "bmi"]  # two regression outputs
    model = load_checkpoint(settings.checkpoint_dir(run["id"]) / "epoch-0002")["model"]
    assert not any(key.startswith("module.") for key in model)  # the plain model, rank 0's
    assert [tuple(v.shape) for k, v in model.items() if k.endswith("weight")] == [(16, 3), (2, 16)]
    assert all(torch.isfinite(value).all() for value in model.values())


@pytest.mark.parametrize(
    ("changes", "loc", "words"),
    [
        ({"data": {"path": "/etc/passwd"}}, ["body", "data", "path"], "not inside"),
        ({"data": {"target": "colour"}}, ["body", "data", "target"], "column 'colour' is not"),
        (
            {"data": {"features": ["sepal_length", "nope"]}},
            ["body", "data", "features", 1],
            "column 'nope' is not in path 'iris.csv'",
        ),
        (
            {"data": {"features": ["sepal_length", "species"]}},
            ["body", "data", "features", 1],
            "column 'species' is the target",
        ),
        (
            {"data": {"target": ["species", "garden"]}},
            ["body", "data", "target"],
            "classification takes one target column",
        ),
    ],
)
def test_what_the_config_and_the_header_show_is_a_422_naming_the_field(
    client: TestClient, settings: Settings, changes: dict, loc: list, words: str
) -> None:
    path = write_iris(settings.allowed_data_roots[0])
    config = table_run(path, "species", "classification", **changes)
    response = client.post("/api/runs", json=config)
    assert response.status_code == 422, response.text
    (error,) = [e for e in response.json()["detail"] if e["loc"] == loc]
    assert words in error["msg"]
    assert client.get("/api/runs").json()["count"] == 0


def test_bad_rows_fail_the_run_naming_every_column_and_row_and_store_nothing(
    client: TestClient, make_run, execute: Callable[[int], RunStatus], settings: Settings
) -> None:
    root = settings.allowed_data_roots[0]
    frame = iris_frame()
    frame.loc[[3, 40], "sepal_width"] = None
    frame.loc[7, "garden"] = None
    frame.to_csv(root / "holes.csv", index=False)
    prices = iris_frame()
    prices["price"] = [f"{i}.5" for i in range(150)]
    prices.loc[[10, 99], "price"] = ["about 3", "call us"]
    prices.to_csv(root / "prices.csv", index=False)

    holes = make_run(**table_run(root / "holes.csv", "species", "classification"))
    assert execute(holes["id"]) == RunStatus.FAILED
    error = client.get(f"/api/runs/{holes['id']}").json()["error"]
    # CSV lines as an editor shows them: the header is line 1, row 3 is line 5.
    assert "column 'sepal_width': empty at lines 5, 42" in error
    assert "column 'garden': empty at line 9" in error

    price = make_run(**table_run(root / "prices.csv", "price", "regression"))
    assert execute(price["id"]) == RunStatus.FAILED
    error = client.get(f"/api/runs/{price['id']}").json()["error"]
    assert "column 'price': not a number at lines 12, 101 ('about 3', 'call us')" in error

    for run in (holes, price):
        assert client.get(f"/api/runs/{run['id']}/metrics").json()["epochs"] == []
        assert client.get(f"/api/runs/{run['id']}/checkpoints").json() == []


def test_the_check_reports_the_tables_columns_roles_and_classes(
    client: TestClient, settings: Settings
) -> None:
    settings.preflight_seconds = 600  # a cold worker on a loaded machine imports torch slowly
    root = settings.allowed_data_roots[0]
    frame = iris_frame()
    frame["notes"] = None  # an empty column the run does not use: reported, not refused
    frame.to_csv(root / "iris.csv", index=False)
    config = table_run(
        root / "iris.csv", "species", "classification",
        data={"features": ["sepal_length", "sepal_width", "garden"]},
    )  # fmt: skip
    response = client.post("/api/preflight", json=config)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["input_shape"] == [32, 5]  # two standardized measures, three gardens
    report = answer["data_report"]
    assert report["kind"] == "table" and report["rows"] == {"train": 120, "val": 30}
    assert report["classes"] == ["setosa", "versicolor", "virginica"]
    assert report["target_range"] is None and report["vocabulary_size"] is None
    roles = {c["name"]: (c["role"], c["missing"]) for c in report["columns"]}
    assert roles["species"] == ("target", 0) and roles["garden"] == ("feature", 0)
    assert roles["petal_length"] == ("ignored", 0) and roles["notes"] == ("ignored", 150)

    # A regression target's range; the Parquet file's dtypes.
    path = write_diabetes(root)
    answer = client.post("/api/preflight", json=table_run(path, "target", "regression")).json()
    report = answer["data_report"]
    expected = pd.read_parquet(path)
    assert report["target_range"]["max"] <= expected["target"].max()
    assert {c["dtype"] for c in report["columns"]} == {"float64"}

    # What only the rows show is a 422 naming the rows, at the data's path.
    frame.loc[4, "sepal_width"] = None
    frame.to_csv(root / "iris.csv", index=False)
    response = client.post("/api/preflight", json=config)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "data", "path"] and "empty at line 6" in error["msg"]


def test_the_bundle_rebuilds_a_table_run_with_pandas_in_its_requirements(
    client: TestClient, make_run, execute: Callable[[int], RunStatus], settings: Settings,
    tmp_path: Path,
) -> None:  # fmt: skip
    path = write_iris(settings.allowed_data_roots[0])
    run = make_run(**table_run(path, "species", "classification", max_epochs=2))
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    stored = client.get(f"/api/runs/{run['id']}/metrics").json()["epochs"]
    response = client.get(f"/api/runs/{run['id']}/bundle")
    assert response.status_code == 200, response.text
    bundle = tmp_path / "bundle"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        archive.extractall(bundle)
    required = {line.split("==")[0] for line in (bundle / "requirements.txt").read_text().split()}
    assert {"pandas", "numpy", "torch"} <= required and "pyarrow" not in required  # a CSV

    # A fresh Python, outside this checkout: the bundle's own trainer reads the table.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "TORCHDASH_"))}
    result = subprocess.run(
        [sys.executable, "train.py", "--epochs", "1", "--device", "cpu"],
        cwd=bundle, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (first,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert first["train_loss"] == pytest.approx(stored[0]["train_loss"], abs=1e-6)
    assert first["val_loss"] == pytest.approx(stored[0]["val_loss"], abs=1e-6)

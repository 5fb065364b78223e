"""Text runs end to end: a CSV of texts the test writes, every task, both sequence models, through
the REST API and real workers; the evaluation shows texts, a resumed run and the bundle reuse the
saved vocabulary, and a bad file fails the run naming its columns and rows."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app.settings import Settings
from app.storage.tables import RunStatus
from tests.support.runs import TINY_CONFIG
from tests.support.text_files import TEXT_DATA, sentences, write_corpus, write_rows
from tests.support.waiting import wait_for_status
from trainer.checkpoints.store import latest_checkpoint, saved_data_state

# Each task's label column(s), loss and the metric that says it learned, with its bar.
TASKS = {
    "classification": ("label", "cross_entropy", "val_accuracy", 0.9),
    "multilabel": (["positive", "negative"], "bce_with_logits", "val_f1_macro", 0.9),
    "regression": ("score", "mse", "val_r2", 0.8),
}
MODELS = ({"kind": "bag_of_embeddings", "embedding_dim": 16}, {"kind": "text_transformer",
          "d_model": 16, "nhead": 2, "num_layers": 1, "dim_feedforward": 32})  # fmt: skip


def text_config(root: Path, task: str, model: dict, **changes: object) -> dict:
    train, val = root / "texts" / "train.csv", root / "texts" / "val.csv"
    label, loss, _, _ = TASKS[task]
    return {
        **TINY_CONFIG,
        "name": f"text-{task}-{model['kind']}",
        "task": task,
        "data": {**TEXT_DATA, "path": str(train), "val_path": str(val), "label_column": label},
        "model": model,
        "loss": {"kind": loss},
        "optimizer": {"kind": "adam", "lr": 0.02},
        "batch_size": 16,
        "max_epochs": 4,
        **changes,
    }


def test_text_classification_trains_with_both_sequence_models_through_real_workers(
    live_server: str, settings: Settings
) -> None:
    root = settings.allowed_data_roots[0]
    write_corpus(root / "texts")
    runs = []
    for model in MODELS:
        config = text_config(root, "classification", model)
        response = httpx.post(f"{live_server}/api/runs", json=config, timeout=30)
        assert response.status_code == 201, response.text
        runs.append(response.json()["id"])
    for run_id in runs:
        wait_for_status(live_server, run_id, "succeeded", timeout=600)
        epochs = httpx.get(f"{live_server}/api/runs/{run_id}/metrics").json()["epochs"]
        assert epochs[-1]["metrics"]["val_accuracy"] >= 0.9, (run_id, epochs[-1])


@pytest.mark.parametrize("task", ["multilabel", "regression"])
def test_multilabel_and_regression_train_on_text_with_both_sequence_models(
    client: TestClient, settings: Settings, execute, task: str
) -> None:
    root = settings.allowed_data_roots[0]
    write_corpus(root / "texts")
    _, _, metric, bar = TASKS[task]
    for model in MODELS:
        response = client.post("/api/runs", json=text_config(root, task, model))
        assert response.status_code == 201, response.text
        run_id = response.json()["id"]
        assert execute(run_id) == RunStatus.SUCCEEDED
        epochs = client.get(f"/api/runs/{run_id}/metrics").json()["epochs"]
        assert epochs[-1]["metrics"][metric] >= bar, (task, model["kind"], epochs[-1])
        evaluation = client.get(f"/api/runs/{run_id}/evaluation").json()
        names = [entry["name"] for entry in evaluation["labels" if task == "multilabel"
                                                      else "targets"]]  # fmt: skip
        assert names == TASKS[task][0] if task == "multilabel" else names == ["score"]


def test_the_evaluation_shows_misclassified_texts_and_resume_keeps_the_vocabulary(
    client: TestClient, settings: Settings, execute
) -> None:
    root = settings.allowed_data_roots[0]
    train, val = write_corpus(root / "texts")
    # Three validation sentences carry the opposite label: a model that learned the words
    # misclassifies these, and the evaluation shows their texts.
    rows = sentences(40, seed=1)
    flipped = [0, 5, 9]
    for index in flipped:
        rows[index]["label"] = "neg" if rows[index]["label"] == "pos" else "pos"
    write_rows(val, rows)
    config = text_config(root, "classification", MODELS[0], max_epochs=4)
    run = client.post("/api/runs", json=config).json()
    assert execute(run["id"]) == RunStatus.SUCCEEDED

    evaluation = client.get(f"/api/runs/{run['id']}/evaluation").json()
    assert evaluation["class_names"] == ["neg", "pos"]
    shown = {m["index"]: m for m in evaluation["misclassified"]}
    assert set(flipped) <= set(shown)
    for index, sample in shown.items():
        assert sample["text"] == rows[index]["text"] and sample["thumbnail_url"] is None
    assert "misclassified-texts" in client.get(f"/runs/{run['id']}").text

    checkpoints = settings.checkpoint_dir(run["id"])
    checkpoint = latest_checkpoint(checkpoints)
    assert checkpoint is not None
    saved = saved_data_state(checkpoint.path)
    assert saved is not None and saved["kind"] == "text" and saved["classes"] == ["neg", "pos"]
    # New words in the training file would give a new vocabulary (and a model of another size):
    # the resumed run tokenizes with the one its weights were trained on.
    write_rows(train, [{**row, "text": row["text"] + " zebra" * i} for i, row in
                       enumerate(sentences(160, seed=0))])  # fmt: skip
    resumed = client.post(f"/api/runs/{run['id']}/resume", json={"max_epochs": 5})
    assert resumed.status_code == 200, resumed.text
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    last = latest_checkpoint(checkpoints)
    assert last is not None and last.epoch == 5
    assert saved_data_state(last.path) == saved
    assert "zebra" not in saved["tokens"]


def test_the_bundle_rebuilds_a_text_run(
    client: TestClient, settings: Settings, execute, tmp_path: Path
) -> None:
    root = settings.allowed_data_roots[0]
    write_corpus(root / "texts")
    config = text_config(root, "multilabel", MODELS[1], max_epochs=1)
    run = client.post("/api/runs", json=config).json()
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    stored = client.get(f"/api/runs/{run['id']}/metrics").json()["epochs"][0]

    response = client.get(f"/api/runs/{run['id']}/bundle")
    assert response.status_code == 200, response.text
    bundle = tmp_path / "bundle"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        archive.extractall(bundle)
    assert "pandas" in (bundle / "requirements.txt").read_text()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "TORCHDASH_"))}
    result = subprocess.run(
        [sys.executable, "train.py", "--epochs", "1", "--device", "cpu"],
        cwd=bundle, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (rebuilt,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert rebuilt["train_loss"] == pytest.approx(stored["metrics"]["train_loss"], abs=1e-6)
    assert rebuilt["val_loss"] == pytest.approx(stored["metrics"]["val_loss"], abs=1e-6)
    # The rebuilt run's checkpoint carries the same vocabulary as the run's own.
    own = latest_checkpoint(settings.checkpoint_dir(run["id"]))
    assert own is not None
    rebuilt_state = saved_data_state(bundle / "output" / "epoch-0001")
    assert rebuilt_state == saved_data_state(own.path)


def test_a_bad_text_file_fails_the_run_naming_the_columns_and_every_bad_row(
    client: TestClient, settings: Settings, execute
) -> None:
    root = settings.allowed_data_roots[0]
    train, val = write_corpus(root / "texts")
    rows = sentences(160, seed=0)
    for index in (2, 7, 150):
        rows[index]["text"] = "  "
    rows[40]["label"] = ""
    write_rows(train, rows)
    run = client.post("/api/runs", json=text_config(root, "classification", MODELS[0])).json()
    assert execute(run["id"]) == RunStatus.FAILED
    error = client.get(f"/api/runs/{run['id']}").json()["error"]
    assert "column 'text' has missing values at rows 3, 8, 151" in error
    assert "column 'label' has missing values at row 41" in error
    assert client.get(f"/api/runs/{run['id']}/checkpoints").json() == []

    # A label the training split never saw, in the validation file: named, with its row.
    write_corpus(root / "texts")
    rows = sentences(40, seed=1)
    rows[6]["label"] = "neutral"
    write_rows(val, rows)
    run = client.post("/api/runs", json=text_config(root, "classification", MODELS[0])).json()
    assert execute(run["id"]) == RunStatus.FAILED
    error = client.get(f"/api/runs/{run['id']}").json()["error"]
    assert "'neutral'" in error and "row 7" in error and "['neg', 'pos']" in error

    # A regression target that is not a number.
    config = text_config(root, "regression", MODELS[0])
    config["data"] = {**config["data"], "label_column": "label"}
    run = client.post("/api/runs", json=config).json()
    assert execute(run["id"]) == RunStatus.FAILED
    error = client.get(f"/api/runs/{run['id']}").json()["error"]
    assert "column 'label' is not a finite number at rows 1, 2, 3" in error

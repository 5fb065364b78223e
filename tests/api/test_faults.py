"""Faults met by a worker run in this process: a NaN loss, a full disk, a bad checkpoint. Out of
memory in a worker process the dispatcher started is in tests/system/test_worker_faults.py.

A full disk cannot be produced on demand here: `trainer/faults.py` raises the very exception the
OS would raise, at the point where it would raise it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.settings import Settings
from app.storage.tables import RunStatus
from trainer.checkpoints.store import list_checkpoints, load_checkpoint
from trainer.faults import FAULT_ENV, reset_fault_counts


@pytest.fixture(autouse=True)
def _fresh_fault_counts() -> Iterator[None]:
    reset_fault_counts()
    yield
    reset_fault_counts()


def test_a_non_finite_loss_fails_the_run_within_one_step(
    client: TestClient, make_run, execute, settings: Settings
) -> None:
    # SGD with lr 10 and momentum diverges to NaN within a dozen steps: a real NaN, not injected.
    diverging = {"kind": "sgd", "lr": 10.0, "momentum": 0.9}
    run = make_run(
        model={"kind": "mlp", "hidden_sizes": [256, 256, 256]},
        optimizer=diverging,
        report_every_steps=1,
    )
    assert execute(run["id"]) == RunStatus.FAILED
    failed = client.get(f"/api/runs/{run['id']}").json()
    assert failed["error"].startswith("non-finite loss: non-finite loss nan at step ")
    bad_step = int(failed["error"].rsplit(" ", 1)[1])
    steps = client.get(f"/api/runs/{run['id']}/metrics").json()["steps"]
    # Every reported step is finite and before the bad one: it stopped at that very step.
    assert [row["step"] for row in steps] == list(range(1, bad_step))
    assert failed["best_val_accuracy"] is None
    assert client.get(f"/api/runs/{run['id']}/checkpoints").json() == []
    assert list_checkpoints(settings.checkpoint_dir(run["id"])) == []


def test_a_full_disk_while_saving_fails_the_run_and_keeps_the_previous_checkpoint(
    client: TestClient, make_run, execute, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = make_run(max_epochs=3)
    monkeypatch.setenv(FAULT_ENV, "enospc@save:2")
    assert execute(run["id"]) == RunStatus.FAILED
    failed = client.get(f"/api/runs/{run['id']}").json()
    assert failed["error"].startswith("disk full: OSError: [Errno 28] No space left on device")
    folder = settings.checkpoint_dir(run["id"])
    assert [ref.path.name for ref in list_checkpoints(folder)] == ["epoch-0001"]
    assert load_checkpoint(folder / "epoch-0001")["state"]["progress"]["epoch"] == 1
    assert not [p for p in folder.iterdir() if p.name.startswith(".tmp-")]
    listed = client.get(f"/api/runs/{run['id']}/checkpoints").json()
    assert [row["epoch"] for row in listed] == [1]


def test_a_corrupt_checkpoint_fails_resume_naming_the_file_and_fallback_uses_a_valid_one(
    client: TestClient, make_run, execute, settings: Settings
) -> None:
    run = make_run(max_epochs=2)
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    model_file = settings.checkpoint_dir(run["id"]) / "epoch-0002" / "model.pt"
    model_file.write_bytes(model_file.read_bytes()[:100])  # truncated, as by a crash mid-copy

    client.post(f"/api/runs/{run['id']}/resume", json={"max_epochs": 3})
    assert execute(run["id"]) == RunStatus.FAILED
    failed = client.get(f"/api/runs/{run['id']}").json()
    assert f"checkpoint file '{model_file}' cannot be read" in failed["error"]
    assert client.get("/healthz").status_code == 200  # the server never reads it

    resumed = client.post(f"/api/runs/{run['id']}/resume", json={"fallback": True})
    assert resumed.status_code == 200, resumed.text
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    finished = client.get(f"/api/runs/{run['id']}").json()
    assert finished["epoch"] == 3
    epochs = client.get(f"/api/runs/{run['id']}/metrics").json()["epochs"]
    assert [row["epoch"] for row in epochs] == [1, 2, 3]  # epoch 2 trained again, once


def _image_tree(root: Path, classes: list[str], per_class: int = 6) -> None:
    for index, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(per_class):
            Image.new("L", (8, 8), color=(index * 60 + n) % 256).save(folder / f"{n}.png")


def test_resume_with_another_class_count_fails_clearly_before_training(
    client: TestClient, make_run, execute, settings: Settings
) -> None:
    tree = settings.allowed_data_roots[0] / "shapes"
    _image_tree(tree, ["a", "b", "c"])
    data = {"kind": "imagefolder", "train_dir": "shapes", "grayscale": True}
    run = make_run(data=data, max_epochs=1, batch_size=4)
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    steps_before = len(client.get(f"/api/runs/{run['id']}/metrics").json()["steps"])

    _image_tree(tree, ["d"])  # a fourth class appears
    client.post(f"/api/runs/{run['id']}/resume", json={"max_epochs": 2})
    assert execute(run["id"]) == RunStatus.FAILED
    error = client.get(f"/api/runs/{run['id']}").json()["error"]
    assert "does not fit the model built for this data" in error and "size mismatch" in error
    assert len(client.get(f"/api/runs/{run['id']}/metrics").json()["steps"]) == steps_before

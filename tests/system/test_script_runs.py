"""Script runs, for real: the user's own training scripts started by a real worker, their JSON
lines captured as rows, the tracking module's checkpoints listed, downloaded and resumed from,
a script that ignores Cancel stopped with its whole process group, a crash's stderr as the
reason, and two torchrun processes of which only rank 0 reports."""

from __future__ import annotations

import io
import math
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import torch
from fastapi.testclient import TestClient

from app.settings import Settings
from app.storage.tables import RunStatus
from tests.support.paths import ROOT
from tests.support.scripts import DISTRIBUTED, JSON_LINES, STUBBORN, TRACKED, write_script
from tests.support.servers import process_gone, serving
from tests.support.waiting import wait_until


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # A short grace: the script that ignores Cancel is signalled after 1 s, killed after 2.
    return settings.model_copy(update={"script_stop_grace_seconds": 1.0})


def _scripts(settings: Settings) -> Path:
    return settings.home_dir / "scripts"


def _start(client: TestClient, path: str, **fields: object) -> dict:
    response = client.post(
        "/api/runs", json={"name": "script", "script": {"path": path, **fields}, "device": "cpu"}
    )
    assert response.status_code == 201, response.text
    return response.json()


def _start_with(client: TestClient, body: dict) -> dict:
    response = client.post("/api/runs", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_json_lines_become_epoch_and_step_rows(
    client: TestClient,
    settings: Settings,
    execute: Callable[[int], RunStatus],
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_script(_scripts(settings), "digits/train.py", JSON_LINES)
    run = _start(client, path, args=["--epochs", "3", "--lr", "0.4"])
    assert run["kind"] == "script" and run["status"] == "queued"
    assert run["script"] == {"path": path, "args": ["--epochs", "3", "--lr", "0.4"], "env": {}}

    assert execute(run["id"]) == RunStatus.SUCCEEDED

    done = client.get(f"/api/runs/{run['id']}").json()
    assert done["metric_names"] == ["train_loss", "val_loss", "val_accuracy", "grad_norm"]
    assert (done["monitor"], done["monitor_mode"]) == ("val_loss", "min")
    rows = client.get(f"/api/runs/{run['id']}/metrics").json()
    epochs = rows["epochs"]
    assert [row["epoch"] for row in epochs] == [1, 2, 3]  # the text-only lines made no row
    val_losses = [row["metrics"]["val_loss"] for row in epochs]
    assert done["best_metric"] == min(val_losses)
    assert done["best_epoch"] == val_losses.index(min(val_losses)) + 1
    assert done["epoch"] == 3
    assert epochs[1]["metrics"]["grad_norm"] is None  # NaN: stored as a gap
    assert epochs[0]["lr"] == 0.4 and epochs[0]["metrics"]["val_accuracy"] > 0.5
    assert epochs[2]["lr"] is None  # not reported
    assert [step["step"] for step in rows["steps"]] == list(range(1, 23))  # 7 steps an epoch
    assert rows["steps"][-1]["loss"] is None  # the infinite loss: a gap
    log = capsys.readouterr().out  # the worker's output: what its log holds
    assert "starting, lr 0.4 in" in log and str(settings.run_dir(run["id"]) / "work") in log
    assert '"phase": "not a number"' in log
    assert "captured 3 epoch rows, 22 step rows and 0 checkpoints" in log


def test_tracked_script_checkpoints_crash_and_resume(
    client: TestClient,
    settings: Settings,
    execute: Callable[[int], RunStatus],
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_script(_scripts(settings), "tracked.py", TRACKED)
    run = _start(client, path, args=["--epochs", "4", "--crash-at", "3"])

    assert execute(run["id"]) == RunStatus.FAILED
    failed = client.get(f"/api/runs/{run['id']}").json()
    assert failed["error"].startswith("the script exited with 1; its last stderr lines:")
    assert "about to fail" in failed["error"]
    assert "RuntimeError: deliberate crash at epoch 3" in failed["error"]
    listed = client.get(f"/api/runs/{run['id']}/checkpoints").json()
    assert [checkpoint["epoch"] for checkpoint in listed] == [1, 2]

    resumed = client.post(f"/api/runs/{run['id']}/resume")
    assert resumed.status_code == 200, resumed.text
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    log = capsys.readouterr().out  # the worker's output: what its log holds
    assert "resumed from epoch 2" in log
    rows = client.get(f"/api/runs/{run['id']}/metrics").json()
    assert [row["epoch"] for row in rows["epochs"]] == [1, 2, 3, 4]
    assert [step["step"] for step in rows["steps"]] == list(range(1, 29))
    listed = client.get(f"/api/runs/{run['id']}/checkpoints").json()
    assert [checkpoint["epoch"] for checkpoint in listed] == [1, 2, 3, 4]
    model = client.get(f"/api/runs/{run['id']}/checkpoints/4/model")
    assert model.status_code == 200
    weights = torch.load(io.BytesIO(model.content), weights_only=True)
    assert set(weights) == {"weight", "bias"} and weights["weight"].shape == (10, 64)
    optimizer = client.get(f"/api/runs/{run['id']}/checkpoints/4/optimizer")
    assert "param_groups" in torch.load(io.BytesIO(optimizer.content), weights_only=True)


def test_cancel_stops_a_script_that_ignores_it(
    client: TestClient,
    settings: Settings,
    execute: Callable[[int], RunStatus],
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_script(_scripts(settings), "stubborn.py", STUBBORN)
    run = _start(client, path)
    ended: list[RunStatus] = []
    worker = threading.Thread(target=lambda: ended.append(execute(run["id"])))
    worker.start()
    pids_file = settings.run_dir(run["id"]) / "work" / "pids"
    wait_until(
        lambda: client.get(f"/api/runs/{run['id']}").json()["epoch"] >= 1 and pids_file.exists(),
        60,
        "the script's first epoch",
    )
    pids = [int(pid) for pid in pids_file.read_text().split()]
    assert client.post(f"/api/runs/{run['id']}/cancel").status_code == 200
    worker.join(60)
    assert ended == [RunStatus.CANCELLED]
    assert client.get(f"/api/runs/{run['id']}").json()["status"] == "cancelled"
    assert (settings.run_dir(run["id"]) / "stop-requested").exists()
    assert all(process_gone(pid) for pid in pids), "a process of the script outlived its run"
    log = capsys.readouterr().out  # the worker's output: what its log holds
    assert "SIGTERM to it" in log and "SIGKILL to it" in log


def test_torchrun_with_two_processes_counts_rank_zero(
    client: TestClient,
    settings: Settings,
    execute: Callable[[int], RunStatus],
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_script(_scripts(settings), "ddp.py", DISTRIBUTED)
    run = _start_with(
        client,
        {"name": "ddp", "script": {"path": path}, "device": "cpu", "processes": 2},
    )
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    epochs = client.get(f"/api/runs/{run['id']}/metrics").json()["epochs"]
    assert [row["epoch"] for row in epochs] == [1, 2]
    assert all(row["metrics"]["rank"] == 0 and row["metrics"]["world"] == 2 for row in epochs)
    assert all(math.isfinite(row["metrics"]["train_loss"]) for row in epochs)
    log = capsys.readouterr().out  # the worker's output: what its log holds
    assert "[default1]:" in log  # rank 1's lines are in the log, not in the rows


def test_the_cli_starts_a_script_run_on_a_real_server(settings: Settings) -> None:
    """`torchdash script PATH ARGS` against a real server, whose dispatcher places the run and
    whose local executor starts its worker (a warm one, as by default)."""
    write_script(_scripts(settings), "train.py", JSON_LINES)
    with serving(settings, timeout=120) as base:
        done = subprocess.run(
            [sys.executable, "-m", "app", "script", "--url", base, "--device", "cpu", "--watch"]
            + ["train.py", "--", "--epochs", "1", "--lr", "0.3"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        (run,) = httpx.get(f"{base}/api/runs").json()["runs"]
        assert run["status"] == "succeeded" and run["script"]["args"] == [
            "--epochs",
            "1",
            "--lr",
            "0.3",
        ]
        assert run["metric_names"] == ["train_loss", "val_loss", "val_accuracy"]
        epochs = httpx.get(f"{base}/api/runs/{run['id']}/metrics").json()["epochs"]
        assert [row["epoch"] for row in epochs] == [1]
        log = httpx.get(f"{base}/api/runs/{run['id']}/log").json()["text"]
        assert "captured 1 epoch rows, 8 step rows and 0 checkpoints" in log
        assert "more bytes of this line not logged" in log  # the 10 MB line, cut in the log

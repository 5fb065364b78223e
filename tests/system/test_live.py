"""A real server on loopback with real worker processes: SSE, cancel and resume, a killed worker."""

from __future__ import annotations

import contextlib
import json
import os
import signal

import httpx

from app.settings import Settings
from tests.support.runs import TINY_CONFIG, get_run, read_events
from tests.support.waiting import wait_for_status, wait_until
from trainer.checkpoints.store import latest_checkpoint, load_checkpoint


def test_sse_pushes_epoch_rows_as_they_are_written(live_server: str) -> None:
    run = httpx.post(f"{live_server}/api/runs", json={**TINY_CONFIG, "max_epochs": 2}).json()
    seen: dict[str, list] = {"run": [], "epoch": [], "steps": [], "system": []}
    url = f"{live_server}/api/runs/{run['id']}/events"
    with httpx.stream("GET", url, timeout=60) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        event = None
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event:
                seen[event].append(json.loads(line.split(":", 1)[1]))
            steps_seen = sum(len(batch) for batch in seen["steps"])
            finished = seen["run"] and seen["run"][-1]["status"] == "succeeded"
            if len(seen["epoch"]) == 2 and finished and steps_seen == 2 * 23:
                break
    assert [row["epoch"] for row in seen["epoch"]] == [1, 2]
    # Each epoch event carries every named metric, and the old fields beside them.
    names = ["train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_f1_macro"]
    assert all(list(row["metrics"]) == names for row in seen["epoch"])
    assert all(row["metrics"]["val_loss"] == row["val_loss"] for row in seen["epoch"])
    assert seen["run"][-1]["monitor"] == "val_accuracy" and seen["run"][-1]["best_metric"] > 0
    statuses = [r["status"] for r in seen["run"]]
    assert statuses[0] in ("queued", "running") and statuses[-1] == "succeeded"
    steps = [row["step"] for batch in seen["steps"] for row in batch]
    assert steps == list(range(1, len(steps) + 1)) and len(steps) == 2 * 23

    # A client reconnecting with its last event id gets nothing twice.
    with httpx.stream("GET", url, headers={"Last-Event-ID": "2:46"}, timeout=10) as response:
        for line in response.iter_lines():
            assert not line.startswith("event: epoch") and not line.startswith("event: steps")
            if line.startswith("event: run"):
                break


def test_cancel_saves_a_checkpoint_and_resume_continues_the_same_run(live_server: str) -> None:
    slow = {**TINY_CONFIG, "max_epochs": 6, "batch_size": 1, "report_every_steps": 1}
    run = httpx.post(f"{live_server}/api/runs", json=slow).json()
    wait_until(
        lambda: get_run(live_server, run["id"])["progress"]["batch"] >= 20,
        60,
        "the first steps to be reported",
    )
    cancel = httpx.post(f"{live_server}/api/runs/{run['id']}/cancel").json()
    assert cancel["status"] == "running" and cancel["stop_requested"]
    cancelled = wait_for_status(live_server, run["id"], "cancelled", 30)
    checkpoints = httpx.get(f"{live_server}/api/runs/{run['id']}/checkpoints").json()
    assert checkpoints[-1]["complete"] is False and checkpoints[-1]["batches_done"] > 0
    assert checkpoints[-1]["epoch"] == cancelled["epoch"] + 1

    short = httpx.post(f"{live_server}/api/runs/{run['id']}/resume", json={"max_epochs": 2})
    assert short.status_code == 200 and short.json()["status"] == "queued"
    finished = wait_for_status(live_server, run["id"], "succeeded", 120)
    assert finished["epoch"] == 2 and finished["error"] is None
    metrics = httpx.get(f"{live_server}/api/runs/{run['id']}/metrics").json()
    assert [row["epoch"] for row in metrics["epochs"]] == [1, 2]
    steps = [row["step"] for row in metrics["steps"]]
    assert steps == list(range(1, 2 * 1438 + 1))  # continued, no step twice, none missing
    again = httpx.post(f"{live_server}/api/runs/{run['id']}/resume", json={})
    assert again.status_code == 409 and "larger max_epochs" in again.json()["detail"]


def test_a_killed_worker_leaves_the_run_interrupted_and_resumable(
    live_server: str, settings: Settings
) -> None:
    slow = {**TINY_CONFIG, "max_epochs": 3, "batch_size": 4}  # 360 steps an epoch
    run = httpx.post(f"{live_server}/api/runs", json=slow).json()
    wait_until(lambda: get_run(live_server, run["id"])["epoch"] >= 1, 60, "a finished epoch")
    os.kill(int(get_run(live_server, run["id"])["worker_handle"] or 0), signal.SIGKILL)
    interrupted = wait_for_status(live_server, run["id"], "interrupted", 15)
    assert interrupted["error"] == "worker killed by signal SIGKILL"
    # The newest checkpoint on disk loads whole: the kill could not leave a half-written one.
    newest = latest_checkpoint(settings.checkpoint_dir(run["id"]))
    assert newest is not None and load_checkpoint(newest.path)["state"]["progress"]["epoch"] >= 1
    httpx.post(f"{live_server}/api/runs/{run['id']}/resume", json={})
    finished = wait_for_status(live_server, run["id"], "succeeded", 120)
    epochs = httpx.get(f"{live_server}/api/runs/{run['id']}/metrics").json()["epochs"]
    assert [row["epoch"] for row in epochs] == [1, 2, 3] and finished["epoch"] == 3
    steps = [
        row["step"]
        for row in httpx.get(f"{live_server}/api/runs/{run['id']}/metrics").json()["steps"]
    ]
    assert steps == list(range(1, 3 * 360 + 1))  # no step twice, none missing across the kill


def test_many_watchers_and_a_late_one_each_see_every_row_once(live_server: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    run = httpx.post(f"{live_server}/api/runs", json={**TINY_CONFIG, "max_epochs": 3}).json()
    with ThreadPoolExecutor(5) as pool:
        watchers = [pool.submit(read_events, live_server, run["id"], 69) for _ in range(5)]
        results = [w.result(timeout=90) for w in watchers]
    late = read_events(live_server, run["id"], 69)  # joins after the end: catches up alone
    middle = read_events(live_server, run["id"], 69, since="?since_epoch=2&since_step=50")
    for seen in [*results, late]:
        assert [row["epoch"] for row in seen["epoch"]] == [1, 2, 3]
        steps = [row["step"] for batch in seen["steps"] for row in batch]
        assert steps == list(range(1, 3 * 23 + 1))
    assert [row["epoch"] for row in middle["epoch"]] == [3]
    assert [row["step"] for batch in middle["steps"] for row in batch][0] == 51


def test_open_event_streams_hold_no_database_connection(live_server: str) -> None:
    """More streams than the connection pool holds (15), and the API still answers."""
    run = httpx.post(f"{live_server}/api/runs", json={**TINY_CONFIG, "max_epochs": 1}).json()
    with contextlib.ExitStack() as stack:
        client = stack.enter_context(httpx.Client(timeout=20))
        for _ in range(25):
            stack.enter_context(client.stream("GET", f"{live_server}/api/runs/{run['id']}/events"))
        for _ in range(3):
            assert client.get(f"{live_server}/api/runs").status_code == 200

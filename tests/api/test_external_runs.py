"""Runs trained elsewhere, over REST in this process: reports kept once each, NaN kept as a gap,
the size limit, refusals (an ended run, a loop run, a pickle torch would not load), Cancel read
back, and such a run left alone by resume and the queue."""

from __future__ import annotations

import io
import json
from typing import Any

import torch
from fastapi.testclient import TestClient

REPORT = {
    "epochs": [{"epoch": 1, "metrics": {"train_loss": 0.9, "val_loss": 0.8, "val_accuracy": 0.5}}],
    "steps": [{"step": step, "loss": 1.0 / step} for step in range(1, 11)],
    "notes": ["first epoch done"],
    "config": {"lr": 0.01},
}


def create(client: TestClient, **fields: Any) -> dict[str, Any]:
    body = {"name": "elsewhere", "config": {"lr": 0.1, "layers": [64, 32]}, **fields}
    response = client.post("/api/runs/external", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def saved(obj: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def test_a_report_sent_twice_is_kept_once_and_moves_the_run(client: TestClient) -> None:
    run = create(client, monitor="val_loss", tags=["remote"])
    assert (run["kind"], run["status"], run["monitor_mode"]) == ("external", "running", "min")
    assert run["started_at"] is not None
    for _ in range(2):  # a client that got no answer sends the same batch again
        answer = client.post(f"/api/runs/{run['id']}/report", json=REPORT)
        assert answer.status_code == 200, answer.text
    assert answer.json()["steps_skipped"] == 10
    metrics = client.get(f"/api/runs/{run['id']}/metrics").json()
    assert [row["epoch"] for row in metrics["epochs"]] == [1]
    assert [row["step"] for row in metrics["steps"]] == list(range(1, 11))
    assert metrics["epochs"][0]["metrics"]["val_accuracy"] == 0.5
    updated = client.get(f"/api/runs/{run['id']}").json()
    assert (updated["epoch"], updated["best_metric"], updated["best_epoch"]) == (1, 0.8, 1)
    assert updated["notes"] == "first epoch done"
    assert updated["config"] == {"lr": 0.01, "layers": [64, 32]}
    listed = client.get("/api/runs").json()["runs"]
    assert [r["kind"] for r in listed if r["id"] == run["id"]] == ["external"]
    # Nothing of it is queued; resume and fork have no config of torchdash's to start from.
    assert client.post(f"/api/runs/{run['id']}/resume").status_code == 409


def test_non_finite_values_are_stored_as_gaps_never_a_500(client: TestClient) -> None:
    run = create(client)
    report = {
        "epochs": [{"epoch": 1, "metrics": {"train_loss": "NaN", "val_loss": "Infinity"}}],
        "steps": [{"step": 1, "loss": 0.5}, {"step": 2, "loss": "NaN"}],
    }
    answer = client.post(f"/api/runs/{run['id']}/report", json=report)
    assert answer.status_code == 200, answer.text
    assert answer.json()["steps_written"] == 2
    metrics = client.get(f"/api/runs/{run['id']}/metrics")
    assert metrics.status_code == 200
    epoch = metrics.json()["epochs"][0]
    assert epoch["metrics"] == {"train_loss": None, "val_loss": None}
    # The older columns hold null, not a made-up 0, where no finite value was reported.
    assert (epoch["train_loss"], epoch["val_loss"], epoch["lr"]) == (None, None, None)
    steps = metrics.json()["steps"]
    assert [(row["step"], row["loss"]) for row in steps] == [(1, 0.5), (2, None)]  # a gap
    downsampled = client.get(f"/api/runs/{run['id']}/metrics", params={"max_points": 3})
    assert [row["loss"] for row in downsampled.json()["steps"]] == [0.5, None]
    summary = client.get("/api/runs").json()["summaries"][str(run["id"])]
    assert summary["val_loss"] == [None]
    assert client.get(f"/api/runs/{run['id']}/metrics.csv").status_code == 200


def test_a_report_over_the_size_limit_is_a_413(client: TestClient, settings) -> None:
    run = create(client)
    steps = [{"step": step, "loss": 0.5} for step in range(1, 20_000)]
    body = json.dumps({"steps": steps}).encode()
    assert len(body) > settings.max_report_bytes // 32  # sanity: the limit below is smaller
    client.app.state.settings = settings.model_copy(update={"max_report_bytes": len(body) - 1})
    answer = client.post(f"/api/runs/{run['id']}/report", content=body, headers=JSON)
    assert answer.status_code == 413
    assert client.get(f"/api/runs/{run['id']}/metrics").json()["steps"] == []


JSON = {"content-type": "application/json"}


def test_reports_to_an_ended_or_a_loop_run_are_refused(client: TestClient, make_run) -> None:
    run = create(client)
    finished = client.post(f"/api/runs/{run['id']}/finish", json={"status": "succeeded"})
    assert finished.json()["status"] == "succeeded"
    assert client.post(f"/api/runs/{run['id']}/report", json=REPORT).status_code == 409
    loop = make_run()
    assert client.post(f"/api/runs/{loop['id']}/report", json=REPORT).status_code == 409
    bad = client.post(f"/api/runs/{run['id']}/report", json={"steps": [{"step": -1}]})
    assert bad.status_code in (409, 422)


def test_cancel_on_the_page_is_read_back_by_the_next_report(client: TestClient) -> None:
    run = create(client)
    assert client.post(f"/api/runs/{run['id']}/cancel").status_code == 200
    answer = client.post(f"/api/runs/{run['id']}/report", json={}).json()
    assert answer["stop_requested"] is True
    ended = client.post(f"/api/runs/{run['id']}/finish", json={"status": "cancelled"}).json()
    assert ended["status"] == "cancelled"


def test_an_uploaded_checkpoint_is_listed_downloaded_and_weights_only(client: TestClient) -> None:
    run = create(client)
    client.post(f"/api/runs/{run['id']}/report", json=REPORT)
    model = torch.nn.Linear(3, 2)
    files = {"model": ("model.pt", saved(model.state_dict())), "state": ("s.pt", saved({"e": 1}))}
    answer = client.post(f"/api/runs/{run['id']}/checkpoints", data={"epoch": "1"}, files=files)
    assert answer.status_code == 201, answer.text
    listed = client.get(f"/api/runs/{run['id']}/checkpoints").json()
    assert [(c["epoch"], c["metrics"]["val_accuracy"]) for c in listed] == [(1, 0.5)]
    data = client.get(listed[0]["model_url"]).content
    state = torch.load(io.BytesIO(data), weights_only=True)
    assert torch.equal(state["weight"], model.state_dict()["weight"])
    # A whole module is a pickle of classes: torch.load(weights_only=True) refuses it, so do we.
    whole = {"model": ("model.pt", saved(model))}
    refused = client.post(f"/api/runs/{run['id']}/checkpoints", data={"epoch": "2"}, files=whole)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "model"]
    assert [c["epoch"] for c in client.get(f"/api/runs/{run['id']}/checkpoints").json()] == [1]

"""Runs for the tests: a tiny config, and the reads and writes tests make of a run."""

from __future__ import annotations

import json
from typing import Any

import httpx

from app.runs.state_machine import transition
from app.settings import Settings
from app.storage.engine import make_engine, make_session_factory, session_scope
from app.storage.tables import RunStatus

# A run small enough to train in about a second on a CPU: digits, a narrow MLP.
TINY_CONFIG: dict[str, Any] = {
    "name": "tiny",
    "data": {"kind": "digits"},
    "model": {"kind": "mlp", "hidden_sizes": [32]},
    "loss": {"kind": "cross_entropy"},
    "optimizer": {"kind": "adam", "lr": 0.003},
    "batch_size": 64,
    "max_epochs": 3,
    "device": "cpu",
    "seed": 0,
}


def create_run(base: str, **changes: object) -> dict:
    """POST TINY_CONFIG with `changes` merged in to the server at `base`; the created run."""
    response = httpx.post(f"{base}/api/runs", json={**TINY_CONFIG, **changes})
    assert response.status_code == 201, response.text
    return response.json()


def post_run(client: httpx.Client, **changes: Any) -> dict[str, Any]:
    """POST TINY_CONFIG with `changes` merged in through `client` (an app's TestClient); the
    created run."""
    response = client.post("/api/runs", json={**TINY_CONFIG, **changes})
    assert response.status_code == 201, response.text
    return response.json()


def get_run(base: str, run_id: int) -> dict:
    return httpx.get(f"{base}/api/runs/{run_id}").json()


def run_steps(base: str, run_id: int) -> list[int]:
    """The step numbers of the run's step rows, in the order the server gives them."""
    return [row["step"] for row in httpx.get(f"{base}/api/runs/{run_id}/metrics").json()["steps"]]


def read_events(base: str, run_id: int, last_step: int, since: str = "") -> dict[str, list]:
    """Collect a run's events from its stream until it has succeeded and `last_step` arrived."""
    seen: dict[str, list] = {"run": [], "epoch": [], "steps": [], "system": []}
    url = f"{base}/api/runs/{run_id}/events{since}"
    with httpx.stream("GET", url, timeout=60) as response:
        event = None
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event:
                seen[event].append(json.loads(line.split(":", 1)[1]))
            done = seen["run"] and seen["run"][-1]["status"] == "succeeded"
            if done and seen["steps"] and seen["steps"][-1][-1]["step"] == last_step:
                break
    return seen


def claim(settings: Settings, run_id: int) -> None:
    """Move a queued run to running, as the dispatcher does before a worker starts it."""
    engine = make_engine(settings.sqlalchemy_url)
    with session_scope(make_session_factory(engine)) as session:
        transition(session, run_id, RunStatus.RUNNING)
    engine.dispose()

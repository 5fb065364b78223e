"""Studies through the API with the real Optuna storage (SQLite file beside the database here,
the schema `optuna` of the same database on PostgreSQL) and real training: trials run
synchronously in this process, the scheduler ticked by hand, so each step is in the test's
order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.settings import Settings
from app.storage.engine import session_scope
from app.storage.tables import RunStatus
from app.studies.pruning import TrialReporter
from app.studies.scheduler import StudyScheduler
from tests.support.runs import TINY_CONFIG

LR_SPACE = [{"field": "optimizer.lr", "type": "choice", "choices": [0.01, 1e-6]}]


def _study(client: TestClient, **body: Any) -> dict[str, Any]:
    body = {"config": TINY_CONFIG, "space": LR_SPACE, **body}
    response = client.post("/api/studies", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def _scheduler(client: TestClient, settings: Settings) -> StudyScheduler:
    return StudyScheduler(settings, client.app.state.session_factory, [])  # type: ignore[attr-defined]


def _queued(client: TestClient) -> list[dict[str, Any]]:
    runs = client.get("/api/runs", params={"status": "queued", "order": "asc"}).json()["runs"]
    return runs


@pytest.mark.parametrize(
    ("entry", "loc", "words"),
    [
        ({"field": "optimizer.nope", "type": "float", "low": 0.1, "high": 1}, "field", "no field"),
        ({"field": "optimizer.lr", "type": "float", "low": 0.1, "high": 0.01}, "high", "inverted"),
        ({"field": "optimizer.lr", "type": "float", "low": 0.1, "high": 0.1}, "high", "empty"),
        ({"field": "optimizer.lr", "type": "float", "low": 0, "high": 1, "log": True}, "low", "0"),
        ({"field": "optimizer.lr", "type": "float", "low": -1.0, "high": 1}, "low", "than 0"),
        ({"field": "shuffle", "type": "choice", "choices": []}, "choices", "at least one"),
        ({"field": "model.hidden_sizes", "type": "choice", "choices": [[8], [0]]}, "choices.1", ""),
    ],
)
def test_a_bad_search_space_entry_is_a_422_naming_it_and_stores_nothing(
    client: TestClient, entry: dict[str, Any], loc: str, words: str
) -> None:
    good = {"field": "batch_size", "type": "int", "low": 8, "high": 64}
    response = client.post("/api/studies", json={"config": TINY_CONFIG, "space": [good, entry]})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["body", "space", "1", *loc.split(".")]
    assert words in detail["msg"]
    assert client.get("/api/studies").json()["studies"] == []


def test_a_bad_objective_or_a_too_large_grid_is_a_422_naming_it(client: TestClient) -> None:
    response = client.post(
        "/api/studies", json={"config": TINY_CONFIG, "space": LR_SPACE, "objective": "val_nope"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "objective"]
    huge = [
        {"field": "batch_size", "type": "int", "low": 1, "high": 200},
        {"field": "max_epochs", "type": "int", "low": 1, "high": 100},
    ]
    response = client.post(
        "/api/studies", json={"config": TINY_CONFIG, "space": huge, "sampler": "grid"}
    )
    assert response.status_code == 422
    assert "more than 10,000 points" in response.json()["detail"][0]["msg"]
    assert client.get("/api/studies").json()["studies"] == []


def test_asha_prunes_the_hopeless_trial_at_its_first_epoch_and_each_epoch_is_reported_once(
    client: TestClient, settings: Settings, execute: Callable[[int], RunStatus]
) -> None:
    study = _study(client, n_trials=1, parallelism=1, sampler="random")
    sid = study["id"]
    # Two good learning rates first, then the hopeless one: ASHA's first rung holds all three.
    for lr in (0.01, 0.01, 1e-6):
        added = client.post(f"/api/studies/{sid}/trials", json={"params": {"optimizer.lr": lr}})
        assert added.status_code == 200, added.text
    assert client.patch(f"/api/studies/{sid}", json={"n_trials": 3}).json()["n_trials"] == 3
    scheduler = _scheduler(client, settings)
    trained = []
    for _ in range(3):
        scheduler.tick()
        (run,) = _queued(client)  # parallelism 1: one trial at a time
        assert run["study_id"] == sid and run["group_name"] == study["group_name"]
        assert execute(run["id"]) == RunStatus.SUCCEEDED
        trained.append(client.get(f"/api/runs/{run['id']}").json())
    scheduler.tick()

    hopeless = trained[2]
    assert hopeless["config"]["optimizer"]["lr"] == 1e-6
    assert hopeless["epoch"] == 1  # stopped at the boundary of the epoch it was judged on
    assert hopeless["stop_reason"].startswith("pruned by ASHA at epoch 1: val_loss ")
    assert "rung median" in hopeless["stop_reason"]
    epochs = [c["epoch"] for c in client.get(f"/api/runs/{hopeless['id']}/checkpoints").json()]
    assert 1 in epochs
    detail = client.get(f"/api/studies/{sid}").json()
    assert detail["status"] == "finished"
    assert [t["state"] for t in detail["trials"]] == ["complete", "complete", "pruned"]
    assert [[v["epoch"] for v in t["intermediate_values"]] for t in detail["trials"]] == [
        [1, 2, 3],
        [1, 2, 3],
        [1],
    ]
    assert detail["trials"][2]["pruned_epoch"] == 1
    assert detail["best_trial"]["params"] == {"optimizer.lr": 0.01}
    assert detail["best_trial"]["config"]["optimizer"]["lr"] == 0.01
    last = [r for r in detail["trials"][0]["intermediate_values"]][-1]["value"]
    assert detail["trials"][0]["value"] == pytest.approx(last)  # the last epoch's objective

    # Resumed by hand, the pruned trial trains on but reports nothing more: its trial is told.
    assert client.post(f"/api/runs/{hopeless['id']}/resume", json={}).status_code == 200
    assert execute(hopeless["id"]) == RunStatus.SUCCEEDED
    again = client.get(f"/api/studies/{sid}").json()["trials"][2]
    assert [v["epoch"] for v in again["intermediate_values"]] == [1]


def test_an_epoch_reported_again_after_a_restart_keeps_its_first_value(
    client: TestClient, settings: Settings
) -> None:
    study = _study(client, n_trials=1, parallelism=1, pruner="none")
    _scheduler(client, settings).tick()
    (run,) = _queued(client)
    with session_scope(client.app.state.session_factory) as session:  # type: ignore[attr-defined]
        first = TrialReporter.of_run(session, settings.sqlalchemy_url, run["id"])
        again = TrialReporter.of_run(session, settings.sqlalchemy_url, run["id"])
    assert first is not None and again is not None
    first.report(1, {"val_loss": 0.5})
    again.report(1, {"val_loss": 0.25})  # a worker that resumed over the same epoch
    again.report(2, {"val_loss": 0.25})
    trial = client.get(f"/api/studies/{study['id']}").json()["trials"][0]
    assert trial["intermediate_values"] == [
        {"epoch": 1, "value": 0.5},
        {"epoch": 2, "value": 0.25},
    ]


def test_a_study_whose_every_trial_fails_stops_itself_saying_why(
    client: TestClient, settings: Settings
) -> None:
    study = _study(client, n_trials=5, parallelism=3)
    scheduler = _scheduler(client, settings)
    scheduler.tick()
    queued = _queued(client)
    assert len(queued) == 3 and {r["trial_number"] for r in queued} == {0, 1, 2}
    for run in queued:
        assert client.post(f"/api/runs/{run['id']}/cancel").status_code == 200
    scheduler.tick()
    detail = client.get(f"/api/studies/{study['id']}").json()
    assert detail["status"] == "failed"
    assert detail["stop_reason"].startswith("every trial failed (3 of 3)")
    assert "cancelled" in detail["stop_reason"]
    assert detail["progress"]["fail"] == 3
    assert _queued(client) == []  # no more trials asked for

    # Resumed, it asks again; stopped with cancel_running, its queued trials are cancelled.
    assert client.post(f"/api/studies/{study['id']}/resume").json()["status"] == "running"
    scheduler.tick()
    assert len(_queued(client)) == 2  # 5 trials in all: 3 failed, 2 left
    stopped = client.post(f"/api/studies/{study['id']}/stop", json={"cancel_running": True})
    assert stopped.json()["status"] == "stopped"
    assert _queued(client) == []
    assert client.post(f"/api/studies/{study['id']}/stop").status_code == 409


def test_a_trial_with_seeds_is_one_run_per_seed_and_its_objective_is_their_mean(
    client: TestClient, settings: Settings, execute: Callable[[int], RunStatus]
) -> None:
    config = {**TINY_CONFIG, "max_epochs": 1, "seed": 5}
    study = _study(client, config=config, n_trials=1, parallelism=1, seeds=2)
    _scheduler(client, settings).tick()
    runs = _queued(client)
    assert [(r["trial_number"], r["config"]["seed"]) for r in runs] == [(0, 5), (0, 6)]
    losses = []
    for run in runs:
        assert execute(run["id"]) == RunStatus.SUCCEEDED
        epochs = client.get(f"/api/runs/{run['id']}/metrics").json()["epochs"]
        losses.append(epochs[-1]["metrics"]["val_loss"])
    _scheduler(client, settings).tick()
    detail = client.get(f"/api/studies/{study['id']}").json()
    (trial,) = detail["trials"]
    assert trial["state"] == "complete" and trial["run_ids"] == [r["id"] for r in runs]
    assert trial["value"] == pytest.approx(sum(losses) / 2)
    assert losses[0] != losses[1]  # two seeds, two trainings


def test_patch_sets_parallelism_and_null_gives_it_back_to_the_servers_slots(
    client: TestClient, settings: Settings
) -> None:
    assert settings.max_concurrent_runs == 1  # the server's slots: one CPU run at a time
    study = _study(client, n_trials=6, parallelism=2, pruner="none")
    url = f"/api/studies/{study['id']}"
    assert client.patch(url, json={"parallelism": 3}).json()["parallelism"] == 3
    kept = client.patch(url, json={"n_trials": 5}).json()  # left out: left as it is
    assert (kept["parallelism"], kept["n_trials"]) == (3, 5)
    assert client.patch(url, json={"parallelism": 0}).json()["detail"][0]["loc"] == [
        "body",
        "parallelism",
    ]
    back = client.patch(url, json={"parallelism": None}).json()
    assert back["parallelism"] is None and back["n_trials"] == 5
    assert back["effective_parallelism"] == 1
    _scheduler(client, settings).tick()
    assert len(_queued(client)) == 2  # one per slot and one ready for it, not the 3 it had

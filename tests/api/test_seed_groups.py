"""Seed groups: a run repeated with new seeds, and a sweep with several seeds per combination,
queue runs that differ only in their seed (and name), in one group."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from app.storage.tables import RunStatus
from tests.support.runs import TINY_CONFIG


def _without_seed(config: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in config.items() if key not in ("seed", "name")}


def test_repeat_queues_k_copies_with_new_seeds_in_one_group(
    client: TestClient,
    make_run: Callable[..., dict[str, Any]],
    execute: Callable[[int], RunStatus],
) -> None:
    source = make_run(name="base", seed=7, max_epochs=1, tags=["keep"])
    response = client.post(f"/api/runs/{source['id']}/repeat", json={"seeds": 3})
    assert response.status_code == 201, response.text
    group = response.json()
    runs = group["runs"]
    assert len(runs) == 3
    assert {run["group_name"] for run in runs} == {group["group_name"]}
    assert [run["config"]["seed"] for run in runs] == [8, 9, 10]
    assert all(_without_seed(run["config"]) == _without_seed(source["config"]) for run in runs)
    assert all(run["tags"] == ["keep"] and run["status"] == "queued" for run in runs)
    listed = client.get("/api/runs", params={"q": group["group_name"]}).json()
    assert sorted(run["id"] for run in listed["runs"]) == sorted(run["id"] for run in runs)

    # The seeds reach the training: two copies end their epoch with different losses.
    for run in runs[:2]:
        assert execute(run["id"]) == RunStatus.SUCCEEDED
    losses = [
        client.get(f"/api/runs/{run['id']}/metrics").json()["epochs"][0]["train_loss"]
        for run in runs[:2]
    ]
    assert losses[0] != losses[1]


def test_repeat_rejects_bad_counts_and_missing_runs(
    client: TestClient, make_run: Callable[..., dict[str, Any]]
) -> None:
    source = make_run()
    for seeds in (0, 65, "three"):
        response = client.post(f"/api/runs/{source['id']}/repeat", json={"seeds": seeds})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "seeds"]
    assert client.post("/api/runs/999/repeat", json={"seeds": 2}).status_code == 404
    assert len(client.get("/api/runs").json()["runs"]) == 1  # nothing queued by the failures


def test_sweep_with_seeds_queues_a_seed_group_per_combination(client: TestClient) -> None:
    grid = {"optimizer.lr": [0.01, 0.001]}
    response = client.post(
        "/api/sweeps", json={"config": {**TINY_CONFIG, "seed": 3}, "grid": grid, "seeds": 2}
    )
    assert response.status_code == 201, response.text
    runs = response.json()["runs"]
    points = sorted((r["config"]["optimizer"]["lr"], r["config"]["seed"]) for r in runs)
    assert points == [(0.001, 3), (0.001, 4), (0.01, 3), (0.01, 4)]
    assert "seed=4" in runs[1]["name"] and "lr=0.01" in runs[1]["name"]

    # Seeds alone (no field to vary) repeat the base config.
    alone = client.post("/api/sweeps", json={"config": TINY_CONFIG, "grid": {}, "seeds": 3})
    assert alone.status_code == 201, alone.text
    assert [run["config"]["seed"] for run in alone.json()["runs"]] == [0, 1, 2]

    too_many = client.post(
        "/api/sweeps", json={"config": TINY_CONFIG, "grid": {"batch_size": [8, 16]}, "seeds": 40}
    )
    assert too_many.status_code == 422
    assert too_many.json()["detail"][0]["loc"] == ["body", "grid"]

"""Run controls through the API: notes and tags, steering the queue, early stopping.

Real SQLite and real training on the digits data, in this process. The queue order a real
dispatcher follows is in tests/system/test_queue_order.py.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.runs.executors.ray_cluster import RayNode
from app.runs.executors.ray_jobs import Job
from app.runs.state_machine import transition
from app.settings import Settings
from app.storage.engine import session_scope
from app.storage.tables import RunStatus
from tests.support.runs import TINY_CONFIG, post_run

MakeRun = Callable[..., dict[str, Any]]


# --- notes and tags -------------------------------------------------------------------------


def test_notes_and_tags_are_set_on_create_edited_in_any_state_and_filtered_on(
    client: TestClient, make_run: MakeRun, execute: Callable[[int], RunStatus]
) -> None:
    first = make_run(tags=["baseline", "digits"], notes="the reference run")
    assert first["tags"] == ["baseline", "digits"] and first["notes"] == "the reference run"
    assert "tags" not in first["config"] and "notes" not in first["config"]
    second = make_run()
    assert second["tags"] == [] and second["notes"] == ""

    # Tags are stripped and kept once each, in order; a field left out is left as it is.
    edited = client.patch(
        f"/api/runs/{second['id']}", json={"tags": [" lr:0.003 ", "digits", "lr:0.003"]}
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["tags"] == ["lr:0.003", "digits"] and edited.json()["notes"] == ""
    noted = client.patch(f"/api/runs/{second['id']}", json={"notes": "try a wider layer\nnext"})
    assert noted.json()["notes"] == "try a wider layer\nnext"
    assert noted.json()["tags"] == ["lr:0.003", "digits"]

    # Allowed in a finished state too.
    assert execute(first["id"]) == RunStatus.SUCCEEDED
    done = client.patch(f"/api/runs/{first['id']}", json={"notes": "good enough"})
    assert done.status_code == 200 and done.json()["status"] == "succeeded"
    assert client.get(f"/api/runs/{first['id']}").json()["notes"] == "good enough"

    def ids(*tags: str) -> list[int]:
        query = "&".join(f"tag={tag}" for tag in tags)
        body = client.get(f"/api/runs?{query}").json()
        assert body["count"] == len(body["runs"])
        return [run["id"] for run in body["runs"]]

    assert ids("digits") == [second["id"], first["id"]]
    assert ids("digits", "baseline") == [first["id"]]  # every tag given
    assert ids("BASELINE") == [first["id"]]  # case-insensitive
    assert ids("lr:0.003") == [second["id"]]
    assert ids("digit") == []  # a whole tag, not a part of one
    assert ids("lr_0.003") == []  # `_` is no wildcard
    assert ids("baseline", "lr:0.003") == []


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"notes": "x" * 10_001}, ["body", "notes"]),
        ({"tags": "digits"}, ["body", "tags"]),
        ({"tags": [f"t{i}" for i in range(21)]}, ["body", "tags"]),
        ({"tags": ["fine", "no/slash"]}, ["body", "tags", 1]),
        ({"tags": ["x" * 41]}, ["body", "tags", 0]),
        ({"tags": ["   "]}, ["body", "tags", 0]),
        ({"tags": ['quote"d']}, ["body", "tags", 0]),
        ({"colour": "red"}, ["body", "colour"]),
    ],
)
def test_bad_notes_or_tags_are_a_422_naming_the_field(
    client: TestClient, make_run: MakeRun, body: dict, loc: list
) -> None:
    run = make_run(tags=["kept"])
    response = client.patch(f"/api/runs/{run['id']}", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == loc
    assert client.get(f"/api/runs/{run['id']}").json()["tags"] == ["kept"]
    created = client.post("/api/runs", json={**TINY_CONFIG, **body})
    assert created.status_code == 422 and created.json()["detail"][0]["loc"] == loc


def test_patch_of_an_unknown_run_is_a_404(client: TestClient) -> None:
    assert client.patch("/api/runs/999", json={"notes": "x"}).status_code == 404


def test_tags_and_notes_go_to_every_run_of_a_sweep_to_forks_and_into_the_bundle(
    client: TestClient, make_run: MakeRun, execute: Callable[[int], RunStatus]
) -> None:
    sweep = client.post(
        "/api/sweeps",
        json={
            "config": {**TINY_CONFIG, "max_epochs": 1},
            "grid": {"optimizer.lr": [0.01, 0.003]},
            "tags": ["lr-sweep"],
            "notes": "which lr?",
        },
    )
    assert sweep.status_code == 201, sweep.text
    siblings = sweep.json()["runs"]
    assert len(siblings) == 2
    assert all(run["tags"] == ["lr-sweep"] and run["notes"] == "which lr?" for run in siblings)
    bad = client.post(
        "/api/sweeps", json={"config": TINY_CONFIG, "grid": {"seed": [1]}, "tags": ["a/b"]}
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "tags", 0]

    run = make_run(max_epochs=1, tags=["keep-me"], notes="notes travel")
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    fork = client.post(
        f"/api/runs/{run['id']}/fork", json={"epoch": 1, "overrides": {"max_epochs": 2}}
    )
    assert fork.status_code == 201, fork.text
    assert fork.json()["tags"] == ["keep-me"] and fork.json()["notes"] == "notes travel"

    bundle = client.get(f"/api/runs/{run['id']}/bundle")
    assert bundle.status_code == 200
    with zipfile.ZipFile(io.BytesIO(bundle.content)) as archive:
        record = json.loads(archive.read("run.json"))
    assert record["tags"] == ["keep-me"] and record["notes"] == "notes travel"
    assert record["id"] == run["id"] and record["stop_reason"] is None
    # How the run was judged travels too: its monitored metric and its best value.
    stored = client.get(f"/api/runs/{run['id']}").json()
    assert (record["task"], record["monitor"], record["monitor_mode"]) == (
        "classification",
        "val_accuracy",
        "max",
    )
    assert record["best_metric"] == stored["best_metric"] is not None
    assert record["best_epoch"] == stored["best_epoch"]


# --- the queue ------------------------------------------------------------------------------


def _start(run: dict) -> datetime:
    return datetime.fromisoformat(run["estimated_start_at"].removesuffix("Z"))


def test_queued_runs_show_their_place_and_a_start_estimate_from_the_runs_ahead(
    client: TestClient, make_run: MakeRun
) -> None:
    a = make_run(max_epochs=4, estimated_epoch_seconds=2.5)
    b = make_run(max_epochs=3, estimated_epoch_seconds=1.0)
    c = make_run()  # no estimate: what comes after it cannot be told
    d = make_run()
    runs = {run["id"]: run for run in client.get("/api/runs").json()["runs"]}
    assert [runs[r["id"]]["queue_position"] for r in (a, b, c, d)] == [1, 2, 3, 4]
    assert runs[a["id"]]["estimated_epoch_seconds"] == 2.5
    # One run slot (the default): b waits for a's 4 epochs of 2.5 s, c for b's 3 of 1 s.
    assert (_start(runs[b["id"]]) - _start(runs[a["id"]])).total_seconds() == pytest.approx(10)
    assert (_start(runs[c["id"]]) - _start(runs[b["id"]])).total_seconds() == pytest.approx(3)
    assert runs[d["id"]]["estimated_start_at"] is None

    # Moving c to the top puts it first; the others keep their order behind it.
    moved = client.post(f"/api/runs/{c['id']}/queue", json={"position": "top"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["queue_position"] == 1
    order = sorted(client.get("/api/runs").json()["runs"], key=lambda run: run["queue_position"])
    assert [run["id"] for run in order] == [c["id"], a["id"], b["id"], d["id"]]
    # c has no estimate, so nothing after it can be told.
    assert [run["estimated_start_at"] is None for run in order] == [False, True, True, True]

    bottom = client.post(f"/api/runs/{c['id']}/queue", json={"position": "bottom"})
    assert bottom.json()["queue_position"] == 4
    assert client.get(f"/api/runs/{a['id']}").json()["queue_position"] == 1
    # A run queued later still goes after the one moved to the bottom.
    e = make_run()
    assert e["queue_position"] == 5

    cancelled = client.post(f"/api/runs/{a['id']}/cancel").json()
    assert cancelled["queue_position"] is None and cancelled["estimated_start_at"] is None
    conflict = client.post(f"/api/runs/{a['id']}/queue", json={"position": "top"})
    assert conflict.status_code == 409 and "only queued runs" in conflict.json()["detail"]
    assert client.post("/api/runs/999/queue", json={"position": "top"}).status_code == 404
    bad = client.post(f"/api/runs/{b['id']}/queue", json={"position": "middle"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "position"]


# --- early stopping -------------------------------------------------------------------------

# An lr so small the weights barely move: the validation loss never improves by min_delta.
PLATEAU = {
    **TINY_CONFIG,
    "optimizer": {"kind": "sgd", "lr": 1e-9},
    "max_epochs": 10,
    "early_stopping": {"monitor": "val_loss", "patience": 2, "min_delta": 0.01},
}


def test_a_run_that_plateaus_stops_early_succeeded_with_the_reason_and_keeps_its_best(
    client: TestClient,
    make_run: MakeRun,
    execute: Callable[[int], RunStatus],
    capfd: pytest.CaptureFixture[str],
) -> None:
    run = make_run(**PLATEAU)
    assert run["config"]["early_stopping"] == PLATEAU["early_stopping"]
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    done = client.get(f"/api/runs/{run['id']}").json()
    # Epoch 1 sets the best; epochs 2 and 3 do not improve on it: patience 2 is used up.
    assert done["epoch"] == 3 and done["max_epochs"] == 10
    assert done["stop_reason"].startswith(
        "early stopping: val_loss did not improve by 0.01 for 2 epochs (best "
    )
    assert done["stop_reason"].endswith("at epoch 1)")
    assert done["best_epoch"] == 1
    # The same line in the worker's log (its output: this test runs the worker in-process).
    assert done["stop_reason"] in capfd.readouterr().out
    checkpoints = client.get(f"/api/runs/{run['id']}/checkpoints").json()
    assert [(row["epoch"], row["best"]) for row in checkpoints] == [
        (1, True),
        (2, False),
        (3, False),
    ]
    # Both are offered; the best (what early stopping kept) is the one taken by default: the
    # page's Fork and `torchdash download` take the same one as the bundle's checkpoints/best.
    assert [row["epoch"] for row in checkpoints if row["last"]] == [3]
    assert [row["epoch"] for row in checkpoints if row["default"]] == [1]

    # Resume with a larger max_epochs: the patience count goes on from 2, so one more epoch
    # without improvement stops it again (a fresh count would train two more).
    resumed = client.post(f"/api/runs/{run['id']}/resume", json={"max_epochs": 20})
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["stop_reason"] is None
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    again = client.get(f"/api/runs/{run['id']}").json()
    assert again["epoch"] == 4 and again["best_epoch"] == 1
    assert "for 3 epochs" in again["stop_reason"]


def test_retention_never_deletes_the_early_stopping_best_checkpoint(
    client: TestClient, execute: Callable[[int], RunStatus], settings: Settings
) -> None:
    settings.keep_last_checkpoints = 1
    run = client.post(
        "/api/runs",
        json={**PLATEAU, "early_stopping": {**PLATEAU["early_stopping"], "patience": 3}},
    ).json()
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    checkpoints = client.get(f"/api/runs/{run['id']}/checkpoints").json()
    # The newest (4) and the best (1); 2 and 3 were pruned.
    assert [(row["epoch"], row["best"]) for row in checkpoints] == [(1, True), (4, False)]


def test_early_stopping_on_val_accuracy_that_keeps_improving_trains_every_epoch(
    client: TestClient, make_run: MakeRun, execute: Callable[[int], RunStatus]
) -> None:
    run = make_run(
        **{
            **TINY_CONFIG,
            "max_epochs": 3,
            "early_stopping": {"monitor": "val_accuracy", "patience": 3},
        }
    )
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    done = client.get(f"/api/runs/{run['id']}").json()
    assert done["epoch"] == 3 and done["stop_reason"] is None and done["best_epoch"] is not None


@pytest.mark.parametrize(
    ("early_stopping", "loc"),
    [
        ({"monitor": "val_r2"}, ["body", "early_stopping", "monitor"]),
        ({"patience": 0}, ["body", "early_stopping", "patience"]),
        ({"min_delta": -1}, ["body", "early_stopping", "min_delta"]),
    ],
)
def test_bad_early_stopping_is_a_422_naming_the_field(
    client: TestClient, early_stopping: dict, loc: list
) -> None:
    response = client.post("/api/runs", json={**TINY_CONFIG, "early_stopping": early_stopping})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == loc


def test_a_queued_runs_start_estimate_counts_gpu_lanes_and_reservations(
    settings: Settings,
) -> None:
    gpu_settings = settings.model_copy(update={"gpus": ["0", "1"]})  # TORCHDASH_GPUS=0,1
    app = create_app(gpu_settings, dispatch=False)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        make = partial(post_run, client)

        # On GPU 0 for 3 epochs of 2 s; GPU 1 is free.
        holder = make(device="auto", max_epochs=3, estimated_epoch_seconds=2.0)
        with session_scope(app.state.session_factory) as session:
            transition(session, holder["id"], RunStatus.RUNNING, assigned_gpus=["0"])
        pair = make(device="cuda", processes=2, max_epochs=2, estimated_epoch_seconds=1.0)
        single = make(device="auto", max_epochs=1, estimated_epoch_seconds=1.0)
        on_cpu = make(device="cpu", max_epochs=1, estimated_epoch_seconds=1.0)
        runs = {run["id"]: run for run in client.get("/api/runs").json()["runs"]}
    first = _start(runs[on_cpu["id"]])  # the CPU slot is free: a GPU run holds no slot
    # The 2-GPU run reserves GPU 1 and starts when the holder ends; the 1-GPU run may not take
    # the reserved GPU, so it starts after the pair.
    assert (_start(runs[pair["id"]]) - first).total_seconds() == pytest.approx(6)
    assert (_start(runs[single["id"]]) - first).total_seconds() == pytest.approx(8)


class MadeUpCluster:
    """What a Ray dashboard answers about its nodes, made up: the nodes and Ray's view of use."""

    address = "http://127.0.0.1:9"

    def __init__(self, nodes: list[RayNode]) -> None:
        self._nodes = nodes

    def nodes(self) -> list[RayNode]:
        return self._nodes

    def close(self) -> None:
        """Nothing to close."""


def test_on_the_ray_executor_a_queued_runs_start_estimate_counts_each_nodes_gpus(
    settings: Settings,
) -> None:
    ray_settings = settings.model_copy(
        update={"executor": "ray", "ray_address": MadeUpCluster.address}
    )
    app = create_app(ray_settings, dispatch=False)
    # Node a has 2 GPUs, node b 1; Ray sees one GPU of each used (the runs below).
    a, b = "a" * 40, "b" * 40
    nodes = [
        RayNode(a, "10.0.0.1", True, True, 2, 1.0, 4, 0.0),
        RayNode(b, "10.0.0.2", True, False, 1, 1.0, 4, 0.0),
    ]
    executor = app.state.cluster
    executor.cluster = MadeUpCluster(nodes)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        make = partial(post_run, client)

        # Running: on a for 5 epochs of 2 s, on b for 5 of 1 s.
        on_a = make(device="cuda", max_epochs=5, estimated_epoch_seconds=2.0)
        on_b = make(device="cuda", max_epochs=5, estimated_epoch_seconds=1.0)
        with session_scope(app.state.session_factory) as session:
            for run in (on_a, on_b):
                transition(session, run["id"], RunStatus.RUNNING)
        executor.jobs = {on_a["id"]: Job("ja", 1, a), on_b["id"]: Job("jb", 1, b)}
        pair = make(device="cuda", processes=2, max_epochs=5, estimated_epoch_seconds=10.0)
        singles = [make(device="cuda", max_epochs=1, estimated_epoch_seconds=100.0) for _ in "12"]
        on_cpu = make(device="cpu", max_epochs=1, estimated_epoch_seconds=1.0)
        runs = {run["id"]: run for run in client.get("/api/runs").json()["runs"]}
    first = _start(runs[on_cpu["id"]])  # a node's CPU is free: it starts now
    # The 2-GPU run keeps node a's free GPU; the 1-GPU runs wait even once b frees (at 5 s), as
    # Ray could put them on a. At 10 s the pair takes a, the first single b; the second waits for
    # the pair's 50 s.
    offsets = [(_start(runs[run["id"]]) - first).total_seconds() for run in (pair, *singles)]
    assert offsets == pytest.approx([10, 10, 60])

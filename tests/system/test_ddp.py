"""DDP runs (`processes: 2`) for real on the CPU: gloo between two worker ranks on loopback.

Each run starts a second interpreter (rank 1), so these tests wait on conditions, never on times.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient

from app.settings import Settings
from app.storage.tables import RunStatus
from app.worker.execute import execute_run
from app.worker.process_tree import descendants_and_self
from tests.support.runs import claim
from tests.support.waiting import wait_until
from trainer.checkpoints.store import list_checkpoints, load_checkpoint
from trainer.config import RunConfig
from trainer.data.datasets import build_datasets
from trainer.data.sampling import EpochShuffleSampler
from trainer.data.tensor_cache import CachedBatches, CachedTensors
from trainer.models.builtin import build_model

TRAIN, VAL = 1438, 359  # digits: 1,797 items, 20 % held out
PER_RANK_BATCHES = -(-(TRAIN // 2) // 64)  # 719 items per rank in batches of 64: 12


def rank_pids() -> list[int]:
    """This test process's DDP ranks (python -m trainer.distributed.launcher), alive now."""
    pids = []
    for stat in descendants_and_self(os.getpid()):
        try:
            cmdline = Path(f"/proc/{stat.pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"trainer.distributed.launcher" in cmdline:
            pids.append(stat.pid)
    return pids


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie, dead but not reaped, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def in_background(settings: Settings, run_id: int) -> tuple[threading.Thread, list[RunStatus]]:
    """Train a claimed run on a thread of this process, as a worker would."""
    claim(settings, run_id)
    result: list[RunStatus] = []
    thread = threading.Thread(target=lambda: result.append(execute_run(run_id, settings)))
    thread.start()
    return thread, result


def steps_of(client: TestClient, run_id: int) -> list[int]:
    return [row["step"] for row in client.get(f"/api/runs/{run_id}/metrics").json()["steps"]]


def test_the_ranks_shards_of_an_epoch_are_disjoint_and_cover_the_set() -> None:
    for n, world in [(12, 2), (11, 2), (10, 3), (2, 3)]:
        shards = [EpochShuffleSampler(n, seed=5, rank=r, world=world).order() for r in range(world)]
        assert len({len(s) for s in shards}) == 1  # as many batches on every rank
        indices = torch.cat(shards).tolist()
        assert sorted(set(indices)) == list(range(n))  # every item trained
        padding = -(-n // world) * world - n
        assert len(indices) == n + padding  # ... and only the padding twice
        # Validation shards are not padded: each item exactly once.
        val = [
            EpochShuffleSampler(n, 0, shuffle=False, rank=r, world=world, pad=False)
            for r in range(world)
        ]
        assert sorted(torch.cat([s.order() for s in val]).tolist()) == list(range(n))
        assert [len(s) for s in val] == [len(s.order()) for s in val]

    # After b batches of B on each rank, the ranks have trained exactly a prefix of the epoch's
    # seeded order: a resume skips it, whatever its own rank count.
    whole = EpochShuffleSampler(40, seed=1).order()
    consumed = torch.cat(
        [EpochShuffleSampler(40, seed=1, rank=r, world=2).order()[: 3 * 4] for r in range(2)]
    )
    assert sorted(consumed.tolist()) == sorted(whole[:24].tolist())
    rest = [EpochShuffleSampler(40, seed=1, rank=r, world=2) for r in range(2)]
    for sampler in rest:
        sampler.set_epoch(1, skip=24)
    assert sorted(torch.cat([s.order() for s in rest]).tolist()) == sorted(whole[24:].tolist())

    # The cached-tensor path gathers the same shards: targets 0..n-1 name the items.
    cache = CachedTensors(torch.zeros(11, 1), torch.arange(11))
    seen = [
        target
        for rank in range(2)
        for _, targets in CachedBatches(cache, 4, EpochShuffleSampler(11, 3, rank=rank, world=2))
        for target in targets.tolist()
    ]
    assert sorted(set(seen)) == list(range(11)) and len(seen) == 12


def test_processes_below_one_or_with_lbfgs_is_422_naming_the_field(client: TestClient) -> None:
    from tests.support.runs import TINY_CONFIG

    for changes in ({"processes": 0}, {"processes": 2, "optimizer": {"kind": "lbfgs"}}):
        response = client.post("/api/runs", json={**TINY_CONFIG, **changes})
        assert response.status_code == 422, response.text
        assert "processes" in str(response.json()), response.json()
    assert client.get("/api/runs").json()["count"] == 0


def test_a_two_process_run_reports_from_rank_0_and_resumes_on_one_process_and_back(
    client: TestClient, make_run, execute: Callable[[int], RunStatus], settings: Settings
) -> None:
    run = make_run(processes=2, max_epochs=2, report_every_steps=1)
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    assert rank_pids() == []  # rank 1 ended with the run

    metrics = client.get(f"/api/runs/{run['id']}/metrics").json()
    assert [row["epoch"] for row in metrics["epochs"]] == [1, 2]  # one row per epoch
    # Each rank trains its half: an epoch is 12 steps (23 on one process), each reported once.
    assert steps_of(client, run["id"]) == list(range(1, 2 * PER_RANK_BATCHES + 1))
    folder = settings.checkpoint_dir(run["id"])
    assert sorted(p.name for p in folder.iterdir()) == ["epoch-0001", "epoch-0002"]
    checkpoints = client.get(f"/api/runs/{run['id']}/checkpoints").json()
    assert [(c["epoch"], c["complete"]) for c in checkpoints] == [(1, True), (2, True)]

    # The checkpoint is the plain model's: it loads as it is, and its validation loss over the
    # whole validation set is the epoch row's, so the ranks' shards were summed, not rank 0's.
    config = RunConfig.model_validate(run["config"])
    data = build_datasets(config.data)
    model = build_model(config.model, data.input_shape, data.num_classes)
    state = load_checkpoint(folder / "epoch-0002")["model"]
    assert not any(key.startswith("module.") for key in state)
    model.load_state_dict(state)
    model.eval()
    with torch.no_grad():
        inputs, targets = zip(*(data.val[i] for i in range(len(data.val))), strict=True)
        output = model(torch.stack(inputs))
        loss = torch.nn.functional.cross_entropy(output, torch.tensor(targets)).item()
        accuracy = (output.argmax(1) == torch.tensor(targets)).float().mean().item()
    last = metrics["epochs"][-1]
    assert last["val_loss"] == pytest.approx(loss, rel=1e-4)
    assert last["val_accuracy"] == pytest.approx(accuracy, abs=1 / VAL / 2)

    # Resumed on one process: the curves continue with whole-set epochs of 23 steps.
    assert client.post(f"/api/runs/{run['id']}/resume", json={"max_epochs": 3, "processes": 1})
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    single = -(-TRAIN // 64)
    assert steps_of(client, run["id"]) == list(range(1, 2 * PER_RANK_BATCHES + single + 1))
    # ... and back on two.
    response = client.post(f"/api/runs/{run['id']}/resume", json={"max_epochs": 4, "processes": 2})
    assert response.status_code == 200, response.text
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    epochs = client.get(f"/api/runs/{run['id']}/metrics").json()["epochs"]
    assert [row["epoch"] for row in epochs] == [1, 2, 3, 4]
    assert epochs[-1]["val_loss"] < epochs[0]["val_loss"]
    assert steps_of(client, run["id"])[-1] == 3 * PER_RANK_BATCHES + single
    assert rank_pids() == []


def test_a_cancel_stops_both_ranks_at_one_batch_with_one_checkpoint(
    client: TestClient, make_run, settings: Settings
) -> None:
    run = make_run(processes=2, max_epochs=500, report_every_steps=1)
    thread, result = in_background(settings, run["id"])
    ranks = wait_until(rank_pids, timeout=120, what="rank 1 to start")
    wait_until(lambda: len(steps_of(client, run["id"])) >= 5, timeout=180, what="training")
    assert client.post(f"/api/runs/{run['id']}/cancel").status_code == 200
    thread.join(timeout=300)
    assert result == [RunStatus.CANCELLED]
    assert not any(alive(pid) for pid in ranks) and rank_pids() == []

    run_now = client.get(f"/api/runs/{run['id']}").json()
    assert run_now["status"] == "cancelled" and run_now["error"] is None
    refs = list_checkpoints(settings.checkpoint_dir(run["id"]))
    assert len([ref for ref in refs if not ref.complete]) <= 1
    newest = refs[-1]
    state = load_checkpoint(newest.path)["state"]["progress"]
    assert state["processes"] == 2
    assert steps_of(client, run["id"])[-1] == state["step"]  # nothing trained after it
    if newest.complete:  # the stop landed on the test at an epoch's end: no partial one
        assert newest.epoch == run_now["epoch"] and state["batches_done"] == 0
    else:
        # Both ranks stopped at the same batch: the saved sums are the whole group's, both
        # ranks' full batches of the cut epoch.
        assert newest.epoch == run_now["epoch"] + 1
        assert state["seen"] == 2 * 64 * state["batches_done"] > 0


def test_a_sigkilled_rank_interrupts_the_run_with_the_reason_and_no_rank_is_left(
    client: TestClient, make_run, settings: Settings
) -> None:
    run = make_run(processes=2, max_epochs=500)
    thread, result = in_background(settings, run["id"])
    [rank_1] = wait_until(rank_pids, timeout=120, what="rank 1 to start")
    wait_until(lambda: steps_of(client, run["id"]), timeout=180, what="training")
    os.kill(rank_1, signal.SIGKILL)
    thread.join(timeout=300)
    assert result == [RunStatus.INTERRUPTED]
    failed = client.get(f"/api/runs/{run['id']}").json()
    assert failed["status"] == "interrupted"
    assert failed["error"].startswith("rank 1 of 2 was killed by SIGKILL"), failed["error"]
    assert rank_pids() == [] and not alive(rank_1)
    # Interrupted, it resumes (from the last whole epoch's checkpoint, if it reached one).
    assert client.post(f"/api/runs/{run['id']}/resume").status_code == 200


def test_a_rank_killed_before_it_joins_interrupts_the_run_at_once(
    client: TestClient, make_run, settings: Settings
) -> None:
    """Killed while it still imports torch: rank 0 must not wait in the group's rendezvous for
    a rank that will never come (that wait alone lasts the group's whole timeout)."""
    run = make_run(processes=2, max_epochs=2)
    thread, result = in_background(settings, run["id"])
    [rank_1] = wait_until(rank_pids, timeout=120, what="rank 1 to start")
    os.kill(rank_1, signal.SIGKILL)
    thread.join(timeout=120)
    assert result == [RunStatus.INTERRUPTED]
    failed = client.get(f"/api/runs/{run['id']}").json()
    assert failed["error"] == (
        "rank 1 of 2 was killed by SIGKILL; rank 0: RuntimeError: rank 1 ended before it joined"
        " the group"
    ), failed["error"]
    assert steps_of(client, run["id"]) == [] and rank_pids() == []
    assert client.post(f"/api/runs/{run['id']}/resume").status_code == 200


def test_a_sigkilled_rank_0_takes_the_other_ranks_with_it(
    client: TestClient, make_run, settings: Settings
) -> None:
    """The worker (rank 0) itself killed: its ranks die with it (PR_SET_PDEATHSIG)."""
    import subprocess
    import sys

    from tests.support.paths import ROOT

    run = make_run(processes=2, max_epochs=500)
    claim(settings, run["id"])
    env = {
        **os.environ,
        "TORCHDASH_HOME": str(settings.home_dir),
        "TORCHDASH_DATA_ROOTS": ",".join(map(str, settings.allowed_data_roots)),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "app.worker", str(run["id"])],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        [rank_1] = wait_until(rank_pids, timeout=120, what="rank 1 to start")
        wait_until(lambda: steps_of(client, run["id"]), timeout=180, what="training")
        worker.kill()
        worker.wait()
        wait_until(lambda: not alive(rank_1), timeout=60, what="rank 1 to die with rank 0")
    finally:
        worker.kill()
        worker.wait()

"""Studies on a live server: real worker processes train the trials, placed on the CPU test seam
for two GPUs (TORCHDASH_GPUS=0,1 with TORCHDASH_FAKE_GPUS_TRAIN_ON_CPU=1, as in
test_gpu_placement.py), and the server killed and started again in the middle of the study."""

from __future__ import annotations

import signal

import httpx

from app.settings import Settings
from tests.support.runs import TINY_CONFIG
from tests.support.servers import free_port, spawn_server, stop_workers
from tests.support.waiting import wait_until

GPU_ENV = {
    "TORCHDASH_GPUS": "0,1",
    "TORCHDASH_FAKE_GPUS_TRAIN_ON_CPU": "1",
    "TORCHDASH_WARM_WORKERS": "0",
}


def _wait_for_server(base: str) -> None:
    """Like tests/support's, with room for a slow start on a loaded machine."""

    def answers() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(answers, 120, "the server to answer /healthz")


def _trial_runs(base: str, study_id: int) -> list[dict]:
    runs = httpx.get(f"{base}/api/runs", params={"limit": 1000}).json()["runs"]
    return [run for run in runs if run["study_id"] == study_id]


def _two_at_once(base: str, study_id: int) -> list[dict] | None:
    running = [r for r in _trial_runs(base, study_id) if r["status"] == "running"]
    return running if len(running) == 2 and all(r["assigned_gpus"] for r in running) else None


def test_a_study_runs_two_trials_at_once_on_disjoint_gpus_and_goes_on_after_a_server_restart(
    settings: Settings,
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    first = spawn_server(settings, port, "server-1.log", **GPU_ENV)
    second = None
    try:
        _wait_for_server(base)
        body = {
            "config": {**TINY_CONFIG, "device": "cuda", "batch_size": 32, "max_epochs": 2},
            "space": [{"field": "optimizer.lr", "type": "float", "low": 1e-3, "high": 0.03}],
            "n_trials": 4,
            "sampler": "random",
            "pruner": "none",
        }
        created = httpx.post(f"{base}/api/studies", json=body, timeout=60)
        assert created.status_code == 201, created.text
        study = created.json()
        assert study["parallelism"] is None and study["effective_parallelism"] == 2

        pair = wait_until(lambda: _two_at_once(base, study["id"]), 180, "two trials at once")
        assert sorted(gpu for run in pair for gpu in run["assigned_gpus"]) == ["0", "1"]

        first.send_signal(signal.SIGKILL)  # mid-study: no shutdown code runs
        first.wait(timeout=10)
        second = spawn_server(settings, port, "server-2.log", **GPU_ENV)
        _wait_for_server(base)

        def finished() -> dict | None:
            try:  # the new server's first read of the study imports Optuna: slow under load
                detail = httpx.get(f"{base}/api/studies/{study['id']}", timeout=60).json()
            except httpx.TimeoutException:
                return None
            return detail if detail["status"] in ("finished", "failed") else None

        detail = wait_until(finished, 400, "the study to finish")
        assert detail["status"] == "finished"
        assert detail["progress"]["complete"] == 4
        runs = _trial_runs(base, study["id"])
        assert sorted(run["trial_number"] for run in runs) == [0, 1, 2, 3]  # none queued twice
        assert all(run["status"] == "succeeded" for run in runs)
        for trial in detail["trials"]:  # each epoch reported once, across the restart
            assert [v["epoch"] for v in trial["intermediate_values"]] == [1, 2]
        assert detail["best_trial"]["number"] in range(4)
    finally:
        for server in (first, second):
            if server is not None and server.poll() is None:
                server.terminate()
                server.wait(timeout=15)
        stop_workers(settings)

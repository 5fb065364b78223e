"""Processes killed for real: the server under live runs, a worker inside a checkpoint write."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from app.settings import Settings
from tests.support.paths import ROOT
from tests.support.runs import TINY_CONFIG, get_run, run_steps
from tests.support.servers import (
    free_port,
    process_gone,
    spawn_server,
    stop_workers,
    wait_for_server,
)
from tests.support.waiting import wait_until
from trainer.checkpoints.store import latest_checkpoint, list_checkpoints, load_checkpoint
from trainer.config import RunConfig
from trainer.faults import FAULT_ENV, MARKER_ENV
from trainer.loop import fit


def test_a_killed_server_loses_no_run_and_the_next_one_adopts_live_workers(
    settings: Settings,
) -> None:
    # Long enough to be still training when the second server starts: 719 steps an epoch, about
    # 0.4 s here, while the other run's worker starts cold and the server restarts (8 epochs were
    # done before that on an idle machine).
    epochs = 40
    slow = {**TINY_CONFIG, "max_epochs": epochs, "batch_size": 2, "report_every_steps": 1}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    first = spawn_server(settings, port, "server-1.log", TORCHDASH_MAX_CONCURRENT_RUNS="2")
    second = None
    try:
        wait_for_server(base)
        kept, lost = (httpx.post(f"{base}/api/runs", json=slow).json()["id"] for _ in range(2))
        waiting = httpx.post(f"{base}/api/runs", json={**TINY_CONFIG, "max_epochs": 1}).json()
        for run_id in (kept, lost):
            wait_until(lambda r=run_id: len(run_steps(base, r)) >= 5, 60, f"run {run_id} to report")
        # The local executor's handle for a worker is its pid.
        kept_pid, lost_pid = (int(get_run(base, r)["worker_handle"]) for r in (kept, lost))
        # The server keeps a warm worker: the one adopted below serves its run as `--warm`.
        assert f"warm worker {kept_pid} takes run {kept}" in settings.worker_log(kept).read_text()

        first.send_signal(signal.SIGKILL)  # no shutdown code runs
        first.wait(timeout=10)
        os.kill(lost_pid, signal.SIGKILL)  # and one worker dies while no server watches
        wait_until(lambda: process_gone(lost_pid), 10, "the killed worker to end")

        second = spawn_server(settings, port, "server-2.log", TORCHDASH_MAX_CONCURRENT_RUNS="1")
        wait_for_server(base)
        interrupted = get_run(base, lost)
        assert interrupted["status"] == "interrupted"
        assert interrupted["error"] == "worker lost: the server restarted without it"
        adopted = get_run(base, kept)
        assert adopted["status"] == "running" and adopted["worker_handle"] == str(kept_pid)
        assert get_run(base, waiting["id"])["status"] == "queued"  # the adopted run holds the slot
        reported = len(run_steps(base, kept))

        wait_until(lambda: get_run(base, kept)["status"] == "succeeded", 180, "the adopted run")
        steps = run_steps(base, kept)
        assert len(steps) > reported and steps == list(range(1, epochs * 719 + 1))
        rows = httpx.get(f"{base}/api/runs/{kept}/metrics").json()["epochs"]
        assert [row["epoch"] for row in rows] == list(range(1, epochs + 1))
        wait_until(
            lambda: get_run(base, waiting["id"])["status"] == "succeeded", 120, "the queued run"
        )
        assert load_checkpoint(latest_checkpoint(settings.checkpoint_dir(kept)).path)
    finally:
        for server in (first, second):
            if server is not None and server.poll() is None:
                server.terminate()
                server.wait(timeout=15)
        stop_workers(settings)


def test_a_kill_inside_a_checkpoint_write_keeps_the_previous_one_and_is_swept(
    tmp_path: Path,
) -> None:
    config = {**TINY_CONFIG, "max_epochs": 3}
    (tmp_path / "run.json").write_text(json.dumps(config))
    folder = tmp_path / "checkpoints"
    marker = tmp_path / "inside-save"
    env = {**os.environ, FAULT_ENV: "pause@save:2", MARKER_ENV: str(marker)}
    trainer = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trainer",
            "--config",
            str(tmp_path / "run.json"),
            "--checkpoints",
            str(folder),
        ],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: marker.exists() or trainer.poll() is not None, 90, "the second save")
    finally:
        trainer.send_signal(signal.SIGKILL)
        trainer.wait(timeout=10)
    assert marker.exists(), "the trainer ended before it reached the second save"

    staging = [p for p in folder.iterdir() if p.name.startswith(".tmp-epoch-0002")]
    assert len(staging) == 1 and (staging[0] / "model.pt").is_file()  # half written
    assert [ref.path.name for ref in list_checkpoints(folder)] == ["epoch-0001"]
    assert load_checkpoint(folder / "epoch-0001")["state"]["progress"]["epoch"] == 1

    # The next start sweeps the half-written folder and continues from epoch 1.
    result = fit(
        RunConfig.model_validate(config), checkpoint_dir=folder, resume_from=folder / "epoch-0001"
    )
    assert result.progress.epoch == 3 and [r.epoch for r in result.history] == [2, 3]
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]

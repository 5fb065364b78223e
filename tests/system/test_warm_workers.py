"""Warm workers: a worker waits with torch imported, serves exactly one run, and never outlives
the server idle."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import httpx

from app.settings import Settings
from tests.support.runs import TINY_CONFIG
from tests.support.servers import free_port, process_gone, spawn_server, wait_for_server
from tests.support.waiting import wait_for_status, wait_until


def warm_worker_processes(settings: Settings) -> set[int]:
    """Live `app.worker --warm` processes of this home, idle or serving a run (from /proc: a
    spawned worker shows there at once, long before it can write a line)."""
    found = set()
    for proc in Path("/proc").iterdir():
        try:
            command = (proc / "cmdline").read_bytes().split(b"\0")
            environment = (proc / "environ").read_bytes().split(b"\0")
        except OSError:  # not a process, or gone meanwhile
            continue
        home = f"TORCHDASH_HOME={settings.home_dir}".encode()
        if command[1:4] == [b"-m", b"app.worker", b"--warm"] and home in environment:
            found.add(int(proc.name))
    return found


def ready_warm_workers(settings: Settings) -> list[int]:
    """Pids of the warm workers that said they were ready, in order."""
    path = settings.warm_worker_log
    text = path.read_text() if path.exists() else ""
    return [int(pid) for pid in re.findall(r"warm worker (\d+): ready after", text)]


def serving_pid(settings: Settings, run_id: int) -> int | None:
    """The warm worker that took `run_id`, as its worker.log names it; None for a cold one."""
    found = re.search(r"warm worker (\d+) takes run (\d+)", settings.worker_log(run_id).read_text())
    assert found is None or int(found[2]) == run_id
    return int(found[1]) if found else None


def test_each_run_goes_to_its_own_warm_worker_and_logs_to_its_own_file(
    live_server: str, settings: Settings
) -> None:
    run_ids = []
    for turn in range(2):
        # The slot is free and a warm worker is waiting before each run is posted.
        wait_until(lambda t=turn: len(ready_warm_workers(settings)) > t, 90, "a ready warm worker")
        run = httpx.post(f"{live_server}/api/runs", json={**TINY_CONFIG, "max_epochs": 1}).json()
        wait_for_status(live_server, run["id"], "succeeded", 90)
        run_ids.append(run["id"])

    pids = [serving_pid(settings, run_id) for run_id in run_ids]
    assert None not in pids and pids[0] != pids[1]  # a fresh worker for every run
    assert pids == ready_warm_workers(settings)[:2]
    for run_id in run_ids:
        text = settings.worker_log(run_id).read_text()
        assert f"run {run_id} starts" in text and f"run {run_id} succeeded" in text
        assert "epoch 1: train_loss" in text and "first step reported at" in text
    # The warm workers' own log holds what they said before they had a run, and nothing after.
    assert "epoch 1:" not in settings.warm_worker_log.read_text()


def test_no_warm_worker_is_started_while_every_run_slot_is_busy(
    live_server: str, settings: Settings
) -> None:
    """A replacement would import torch on the cores the running run trains on, for a run that
    could not start before this one ends anyway (one slot: TORCHDASH_MAX_CONCURRENT_RUNS=1)."""
    first = wait_until(lambda: ready_warm_workers(settings), 90, "a ready warm worker")[0]
    slow = {**TINY_CONFIG, "max_epochs": 20, "batch_size": 2, "report_every_steps": 1}
    run = httpx.post(f"{live_server}/api/runs", json=slow).json()
    steps_url = f"{live_server}/api/runs/{run['id']}/metrics"
    wait_until(lambda: len(httpx.get(steps_url).json()["steps"]) >= 200, 60, "the run to train")
    assert httpx.get(f"{live_server}/api/runs/{run['id']}").json()["status"] == "running"
    assert serving_pid(settings, run["id"]) == first
    assert warm_worker_processes(settings) == {first}  # the slot is busy: no replacement yet

    httpx.post(f"{live_server}/api/runs/{run['id']}/cancel")
    wait_for_status(live_server, run["id"], "cancelled", 60)
    # The slot is free again: the next warm worker starts.
    wait_until(lambda: warm_worker_processes(settings) - {first}, 30, "a fresh warm worker")


def test_an_idle_warm_worker_exits_when_the_server_is_killed(settings: Settings) -> None:
    port = free_port()
    server = spawn_server(settings, port)
    try:
        wait_for_server(f"http://127.0.0.1:{port}")
        pid = wait_until(lambda: ready_warm_workers(settings), 90, "a ready warm worker")[0]
        assert not process_gone(pid)
    finally:
        server.send_signal(signal.SIGKILL)  # no shutdown code runs: only the pipe closes
        server.wait(timeout=10)
    wait_until(lambda: process_gone(pid), 30, f"the idle warm worker {pid} to exit")
    assert "the server went away" in settings.warm_worker_log.read_text()


def test_without_warm_workers_each_run_starts_a_fresh_interpreter(settings: Settings) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = spawn_server(settings, port, TORCHDASH_WARM_WORKERS="0")
    try:
        wait_for_server(base)
        run = httpx.post(f"{base}/api/runs", json={**TINY_CONFIG, "max_epochs": 1}).json()
        wait_for_status(base, run["id"], "succeeded", 90)
    finally:
        server.terminate()
        server.wait(timeout=15)
    assert serving_pid(settings, run["id"]) is None
    assert "run 1 succeeded" in settings.worker_log(run["id"]).read_text()
    assert not Path(settings.warm_worker_log).exists()

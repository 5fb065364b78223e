"""GPU placement for real on a machine without GPUs: a live server with TORCHDASH_GPUS=0,1 places
real worker processes, each started with exactly its GPUs in its environment.

THE GPU FAKE SEAM: TORCHDASH_FAKE_GPUS_TRAIN_ON_CPU=1 makes a worker placed on GPUs train on the
CPU, since the GPUs it was given do not exist here (app/worker/gpu_view.py). Everything else is
real: the allocator, the database rows, the processes and their environment, the training.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

import httpx

from app.settings import Settings
from tests.support.runs import TINY_CONFIG, get_run
from tests.support.servers import free_port, spawn_server, stop_workers, wait_for_server
from tests.support.waiting import wait_for_status, wait_until

GPU_ENV = {"TORCHDASH_GPUS": "0,1", "TORCHDASH_FAKE_GPUS_TRAIN_ON_CPU": "1"}
# Trains for minutes unless cancelled: each test ends its runs itself.
LONG = {**TINY_CONFIG, "max_epochs": 200, "batch_size": 2, "report_every_steps": 1}
PLACEMENT_VARIABLES = ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "TORCHDASH_ASSIGNED_GPUS")


def post(base: str, **changes: object) -> int:
    response = httpx.post(f"{base}/api/runs", json={**LONG, **changes})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def environment_of(pid: int) -> dict[str, str]:
    """The environment a process was started with, as the kernel keeps it."""
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    pairs = (item.decode().split("=", 1) for item in raw if b"=" in item)
    return {name: value for name, value in pairs if name in PLACEMENT_VARIABLES}


def training(base: str, run_id: int, steps: int = 20) -> dict:
    """Wait until the run trains (has reported `steps` steps) and return it."""
    url = f"{base}/api/runs/{run_id}/metrics"
    wait_until(lambda: len(httpx.get(url).json()["steps"]) >= steps, 180, f"run {run_id} to train")
    return get_run(base, run_id)


def steps_of(base: str, run_id: int) -> int:
    return len(httpx.get(f"{base}/api/runs/{run_id}/metrics").json()["steps"])


def waiting(base: str, run_id: int, reason: str) -> dict:
    return wait_until(
        lambda: (run := get_run(base, run_id))["waiting_reason"] == reason and run,
        60,
        f"run {run_id} to be '{reason}'",
    )


def cancel(base: str, run_id: int) -> None:
    httpx.post(f"{base}/api/runs/{run_id}/cancel")
    wait_for_status(base, run_id, "cancelled", 120)


def placement_logged(settings: Settings, run_id: int) -> str:
    found = re.search(r"run \d+ placed on .*", settings.worker_log(run_id).read_text())
    assert found, settings.worker_log(run_id).read_text()
    return found[0]


def test_runs_take_disjoint_gpus_wait_for_theirs_and_start_as_gpus_free(
    settings: Settings,
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # Cold workers: each is started with its GPUs, so /proc/PID/environ shows them.
    server = spawn_server(settings, port, TORCHDASH_WARM_WORKERS="0", **GPU_ENV)
    try:
        wait_for_server(base)
        pinned = post(base, device="cuda:1")
        training(base, pinned, steps=1)
        second_pinned = post(base, device="cuda:1")  # GPU 1 is busy, GPU 0 free: it waits
        assert waiting(base, second_pinned, "waiting for GPU 1")["status"] == "queued"
        later = post(base, device="auto")  # ...and does not hold up a later run that can start
        third = post(base, device="auto")

        # Two runs train at the same time, on disjoint GPUs.
        first_run, later_run = training(base, pinned), training(base, later)
        assert first_run["assigned_gpus"] == ["1"] and later_run["assigned_gpus"] == ["0"]
        before = steps_of(base, pinned)
        wait_until(lambda: steps_of(base, pinned) > before, 60, "both runs to train at once")
        assert get_run(base, later)["status"] == "running"
        for run_id, gpu in ((pinned, "1"), (later, "0")):
            pid = int(get_run(base, run_id)["worker_handle"])
            assert environment_of(pid) == {
                "CUDA_VISIBLE_DEVICES": gpu,  # by index: NVML reports no GPU here
                "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
                "TORCHDASH_ASSIGNED_GPUS": gpu,
            }
            assert placement_logged(settings, run_id) == (
                f"run {run_id} placed on GPUs {gpu}: CUDA_VISIBLE_DEVICES='{gpu}', "
                f"CUDA_DEVICE_ORDER='PCI_BUS_ID', TORCHDASH_ASSIGNED_GPUS='{gpu}'"
            )
        devices = httpx.get(f"{base}/api/devices").json()["gpus"]
        assert [g["run_id"] for g in devices] == [later, pinned]

        # The third auto run waits; the older pinned run gets GPU 1 when it frees.
        assert waiting(base, third, "waiting for a free GPU")["assigned_gpus"] == []
        cancel(base, pinned)
        assert training(base, second_pinned, steps=1)["assigned_gpus"] == ["1"]
        assert get_run(base, third)["status"] == "queued"
        cancel(base, later)
        started = training(base, third, steps=1)
        assert started["assigned_gpus"] == ["0"] and started["waiting_reason"] is None
        for run_id in (second_pinned, third):
            cancel(base, run_id)
        assert get_run(base, pinned)["assigned_gpus"] == ["1"]  # kept after the run ended
    finally:
        server.terminate()
        server.wait(timeout=15)
        stop_workers(settings)


def test_a_warm_worker_takes_its_gpus_when_handed_the_run(settings: Settings) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = spawn_server(settings, port, TORCHDASH_WARM_WORKERS="1", **GPU_ENV)
    try:
        wait_for_server(base)
        log = settings.warm_worker_log
        wait_until(lambda: log.exists() and "ready after" in log.read_text(), 120, "a warm worker")
        run_id = post(base, device="cuda:1", max_epochs=1)
        wait_for_status(base, run_id, "succeeded", 180)
        text = settings.worker_log(run_id).read_text()
        pid = int(re.search(rf"warm worker (\d+) takes run {run_id}", text)[1])
        # It was spawned seeing no GPU; what it holds inside, once handed the run, is its GPU.
        assert placement_logged(settings, run_id) == (
            f"run {run_id} placed on GPUs 1: CUDA_VISIBLE_DEVICES='1', "
            "CUDA_DEVICE_ORDER='PCI_BUS_ID', TORCHDASH_ASSIGNED_GPUS='1'"
        )
        assert "test seam" in text and f"run {run_id} succeeded" in text
        # The next warm worker (spawned for the next run) was started with no GPU visible.
        wait_until(lambda: len(re.findall("ready after", log.read_text())) >= 2, 120, "a new one")
        spawned = re.findall(r"warm worker (\d+): ready after", log.read_text())
        assert str(pid) == spawned[0]
        assert environment_of(int(spawned[1]))["CUDA_VISIBLE_DEVICES"] == ""
    finally:
        server.terminate()
        server.wait(timeout=15)
        stop_workers(settings)


def test_a_killed_and_restarted_server_keeps_the_adopted_runs_gpus(settings: Settings) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    first = spawn_server(settings, port, "server-1.log", TORCHDASH_WARM_WORKERS="0", **GPU_ENV)
    second = None
    try:
        wait_for_server(base)
        kept = post(base, device="cuda:1")
        pid = training(base, kept, steps=1)["worker_handle"]
        first.send_signal(signal.SIGKILL)  # no shutdown code runs; the worker trains on
        first.wait(timeout=10)

        second = spawn_server(settings, port, "server-2.log", TORCHDASH_WARM_WORKERS="0", **GPU_ENV)
        wait_for_server(base)
        run = get_run(base, kept)
        assert run["status"] == "running" and run["worker_handle"] == pid  # adopted
        assert run["assigned_gpus"] == ["1"]
        pinned = post(base, device="cuda:1")  # GPU 1 is still the adopted run's
        free = post(base, device="auto")
        assert training(base, free, steps=1)["assigned_gpus"] == ["0"]
        assert waiting(base, pinned, "waiting for GPU 1")["status"] == "queued"
        devices = httpx.get(f"{base}/api/devices").json()["gpus"]
        assert [g["run_id"] for g in devices] == [free, kept]
        cancel(base, kept)
        assert training(base, pinned, steps=1)["assigned_gpus"] == ["1"]
        for run_id in (pinned, free):
            cancel(base, run_id)
    finally:
        for server in (first, second):
            if server is not None and server.poll() is None:
                server.terminate()
                server.wait(timeout=15)
        stop_workers(settings)


def test_a_4_gpu_run_behind_a_stream_of_1_gpu_runs_starts_when_the_running_ones_end(
    settings: Settings,
) -> None:
    """No starvation: each time a running run ends, its GPU is kept for the queued 4-GPU run, and
    the 1-GPU runs queued after it wait; it starts once the 4 runs running before it have ended."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**GPU_ENV, "TORCHDASH_GPUS": "0,1,2,3"}
    server = spawn_server(settings, port, TORCHDASH_WARM_WORKERS="0", **env)
    try:
        wait_for_server(base)
        running = [post(base, device="auto") for _ in range(4)]
        for run_id in running:
            training(base, run_id, steps=1)
        big = post(base, device="cuda", processes=4)
        stream = [post(base, device="auto")]
        assert waiting(base, big, "waiting for 4 free GPUs")["status"] == "queued"
        waiting(base, stream[0], "waiting for a free GPU")
        gpu_of = {run_id: get_run(base, run_id)["assigned_gpus"][0] for run_id in running}
        for ended, run_id in enumerate(running[:3], start=1):
            cancel(base, run_id)
            kept = ",".join(sorted(gpu_of[r] for r in running[:ended]))
            label = f"GPU{'s' if ended > 1 else ''} {kept}"
            waiting(base, big, f"waiting for 4 free GPUs ({label} reserved)")
            for later in stream:  # queued after the big run: held back, never started
                assert waiting(base, later, f"reserved {label} for run {big}")["attempt"] == 0
            stream.append(post(base, device="auto"))
        cancel(base, running[3])
        started = wait_for_status(base, big, "running", 120)
        assert sorted(started["assigned_gpus"]) == ["0", "1", "2", "3"]
        for later in stream:
            run = get_run(base, later)
            assert run["status"] == "queued" and run["attempt"] == 0, run
            waiting(base, later, "waiting for a free GPU")
        for run_id in (big, *stream):
            cancel(base, run_id)
    finally:
        server.terminate()
        server.wait(timeout=15)
        stop_workers(settings)

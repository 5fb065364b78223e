"""System metrics per run: the worker's sampler, its rows, the route and the `system` SSE event.

Real training runs and real /proc readings. The GPU part is the one exception: there is no GPU
here, so `read_gpus` (app/hardware/nvml.py, the NVML seam) is replaced by a fake where a test
says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from app.hardware.nvml import GpuReading
from app.settings import Settings
from app.storage.engine import make_engine, make_session_factory
from app.storage.tables import RunStatus
from app.worker.execute import execute_run
from app.worker.process_tree import ProcessTree
from app.worker.system_sampler import SystemSampler, assigned_gpus
from tests.support.runs import TINY_CONFIG, claim


def own_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def fake_gpus() -> list[GpuReading]:
    """A fake at the NVML seam (no GPU on this machine): two GPUs, the second without power."""
    return [
        GpuReading(0, "GPU-aaaa", "Fake A100", 40960.0, 1024.0, 10.0, 55.0),
        GpuReading(1, "GPU-bbbb", "Fake A100", 40960.0, 8192.5, 97.0, None),
    ]


def test_a_training_run_records_sane_cpu_and_memory_samples_read_after_since(
    client: TestClient, make_run, settings: Settings
) -> None:
    run = make_run(max_epochs=6)
    claim(settings, run["id"])
    # A fast interval: on a quiet machine the whole run takes a fraction of a second.
    fast = settings.model_copy(update={"system_sample_seconds": 0.05})
    assert execute_run(run["id"], fast) == RunStatus.SUCCEEDED

    samples = client.get(f"/api/runs/{run['id']}/system").json()["samples"]
    assert len(samples) >= 2, samples
    assert all(row["gpu"] is None and row["gpu_utilization_percent"] is None for row in samples)
    cpu = [row["cpu_percent"] for row in samples]
    assert all(value >= 0 for value in cpu)
    # Training keeps a core busy, and no process tree uses more cores than the machine has.
    assert 0 < sum(cpu) / len(cpu) <= 100 * (os.cpu_count() or 1) * 1.1
    # The worker here is this test process (and its children): its RSS at least.
    assert all(own_rss_mb() * 0.5 < row["rss_mb"] < 64 * 1024 for row in samples)

    ids = [row["id"] for row in samples]
    assert ids == sorted(ids)
    later = client.get(f"/api/runs/{run['id']}/system", params={"since": ids[0]}).json()
    assert [row["id"] for row in later["samples"]] == ids[1:]
    assert client.get("/api/runs/999/system").status_code == 404
    bad = client.get(f"/api/runs/{run['id']}/system", params={"since": -1})
    assert bad.status_code == 422 and "since" in bad.text
    # Deleting the run deletes its system rows (ON DELETE CASCADE).
    assert client.delete(f"/api/runs/{run['id']}").status_code == 204
    from app.storage.engine import session_scope
    from app.storage.system_metrics import read_samples

    engine = make_engine(settings.sqlalchemy_url)
    with session_scope(make_session_factory(engine)) as session:
        assert read_samples(session, run["id"]) == []
    engine.dispose()


def test_the_process_tree_counts_the_memory_of_child_processes() -> None:
    """DDP ranks and DataLoader workers are children of the worker: their memory is the run's."""
    tree = ProcessTree(os.getpid())
    before = tree.sample()
    child = subprocess.Popen(
        [sys.executable, "-c", "b = bytearray(300 * 2**20); print(1, flush=True); input()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == b"1"
        during = tree.sample()
    finally:
        child.kill()
        child.wait()
    assert before is not None and during is not None
    assert during.processes == before.processes + 1
    assert during.rss_mb - before.rss_mb > 250


def test_gpu_rows_are_the_runs_gpus_only(client: TestClient, make_run, settings: Settings) -> None:
    """`read_gpus` is a fake at the NVML seam here: this machine has no GPU."""
    assert assigned_gpus({"TORCHDASH_ASSIGNED_GPUS": "1, 3"}) == ["1", "3"]
    assert assigned_gpus({}) == []
    run = make_run()
    engine = make_engine(settings.sqlalchemy_url)
    sampler = SystemSampler(make_session_factory(engine), run["id"], 60, ["1"], fake_gpus)
    sampler.sample_once()  # one sample, without the thread (which adds one when it stops)
    engine.dispose()
    rows = client.get(f"/api/runs/{run['id']}/system").json()["samples"]
    assert [row["gpu"] for row in rows] == [None, "1"]  # GPU 0 is another run's
    gpu = rows[1]
    assert (gpu["gpu_utilization_percent"], gpu["gpu_memory_used_mb"]) == (97.0, 8192.5)
    assert gpu["gpu_memory_total_mb"] == 40960.0 and gpu["gpu_power_watts"] is None
    assert gpu["cpu_percent"] is None and rows[0]["rss_mb"] > 0


def read_until(
    url: str, done: Callable[[str, str], bool], headers: dict[str, str] | None = None
) -> list[tuple[str, str, str]]:
    """(event, id, data) of a stream until `done(event, data)`."""
    events: list[tuple[str, str, str]] = []
    with httpx.stream("GET", url, headers=headers, timeout=120) as response:
        event = event_id = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("id: "):
                event_id = line[4:]
            elif line.startswith("data: "):
                events.append((event, event_id, line[6:]))
                if done(event, line[6:]):
                    return events
    return events


def test_the_event_stream_pushes_system_rows_of_a_live_run(sampling_server: str) -> None:
    run = httpx.post(f"{sampling_server}/api/runs", json={**TINY_CONFIG, "max_epochs": 30}).json()
    url = f"{sampling_server}/api/runs/{run['id']}/events"
    events = read_until(url, lambda event, data: event == "system")
    name, event_id, data = events[-1]
    rows = json.loads(data)
    assert rows and all(row["gpu"] is None and row["cpu_percent"] >= 0 for row in rows)
    assert event_id.split(":")[2] == str(rows[-1]["id"])  # the id carries the system cursor

    # A reconnect from that id, or a query from that row, gets only newer system rows.
    def is_system(event: str, data: str) -> bool:
        return event == "system"

    for newer in (
        read_until(url, is_system, headers={"Last-Event-ID": event_id}),
        read_until(f"{url}?since_system={rows[-1]['id']}", is_system),
    ):
        assert min(row["id"] for row in json.loads(newer[-1][2])) > rows[-1]["id"]
    httpx.post(f"{sampling_server}/api/runs/{run['id']}/cancel")

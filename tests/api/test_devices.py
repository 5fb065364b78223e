"""GET /api/devices, TORCHDASH_GPUS, and the 422s for devices the server cannot give.

This machine has no NVIDIA driver: the real nvidia-ml-py answers "no GPU" here, and the tests
that need GPU readings replace `app.hardware.nvml.read_gpus` (THE NVML FAKE SEAM) with readings
such as a 2-GPU box would give; each such test says so.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from app.hardware import nvml
from app.hardware.inventory import gpu_inventory
from app.hardware.nvml import GpuReading
from app.main import create_app
from app.runs.config_checks import gpu_problems
from app.runs.executors.local import gpu_environment
from app.settings import Settings
from app.storage.engine import make_engine, make_session_factory, session_scope
from app.storage.tables import Run
from tests.support.paths import ROOT
from tests.support.runs import TINY_CONFIG

H200 = [
    GpuReading(0, "GPU-0aaaaaaa-1111", "NVIDIA H200", 143_771.0, 1_024.0, 12.0, 110.0),
    GpuReading(1, "GPU-1bbbbbbb-2222", "NVIDIA H200", 143_771.0, 70_000.0, 97.0, 650.0),
]


def fake_two_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """THE NVML FAKE SEAM: NVML reports two GPUs (this machine has none)."""
    monkeypatch.setattr(nvml, "read_gpus", lambda: list(H200))


def api(settings: Settings, **changes: object) -> TestClient:
    return TestClient(
        create_app(settings.model_copy(update=changes), dispatch=False),
        base_url="http://127.0.0.1",
    )


@pytest.fixture
def two_gpus(settings: Settings) -> Iterator[TestClient]:
    """TORCHDASH_GPUS=0,1 on this machine: two GPUs NVML does not report."""
    with api(settings, gpus=["0", "1"]) as client:
        yield client


def test_without_nvidia_the_devices_are_the_cpu_only(client: TestClient) -> None:
    # The real nvidia-ml-py, on a machine without an NVIDIA driver.
    devices = client.get("/api/devices").json()
    assert devices["gpus"] == []
    assert devices["cpu"]["cores"] >= 1 and devices["cpu"]["max_concurrent_runs"] == 1


def test_configured_gpus_nvml_does_not_report_have_unknown_readings(two_gpus: TestClient) -> None:
    gpus = two_gpus.get("/api/devices").json()["gpus"]
    assert [g["index"] for g in gpus] == [0, 1]
    assert all(g["name"] is None and g["memory_total_mb"] is None for g in gpus)
    assert not any(g["reported_by_nvml"] for g in gpus)


def test_gpu_readings_and_the_run_holding_each(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_two_gpus(monkeypatch)
    with api(settings) as client:  # TORCHDASH_GPUS unset: every GPU NVML reports
        run = client.post("/api/runs", json={**TINY_CONFIG, "device": "auto"}).json()
        engine = make_engine(settings.sqlalchemy_url)
        with session_scope(make_session_factory(engine)) as session:
            session.execute(
                update(Run).where(Run.id == run["id"]).values(status="running", assigned_gpus=["1"])
            )
        engine.dispose()
        gpus = client.get("/api/devices").json()["gpus"]
    assert [(g["index"], g["uuid"], g["run_id"]) for g in gpus] == [
        (0, "GPU-0aaaaaaa-1111", None),
        (1, "GPU-1bbbbbbb-2222", run["id"]),
    ]
    assert gpus[1]["name"] == "NVIDIA H200" and gpus[1]["memory_used_mb"] == 70_000.0
    assert gpus[1]["utilization_percent"] == 97.0 and gpus[1]["reported_by_nvml"]


def test_torchdash_gpus_restricts_the_set_by_index_or_uuid(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_two_gpus(monkeypatch)
    assert [g.index for g in gpu_inventory(["1"])] == [1]
    assert [g.index for g in gpu_inventory(["GPU-1bbbbbbb-2222"])] == [1]
    assert gpu_inventory([]) == []  # TORCHDASH_GPUS=none
    # An index NVML does not report is still a GPU of the set, with unknown readings.
    mixed = gpu_inventory(["0", "5"])
    assert [(g.index, g.name) for g in mixed] == [(0, "NVIDIA H200"), (5, None)]


def test_workers_see_their_gpus_by_uuid_when_every_one_has_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_two_gpus(monkeypatch)
    reported = gpu_inventory(None)
    assert gpu_environment(reported[1:]) == {
        "CUDA_VISIBLE_DEVICES": "GPU-1bbbbbbb-2222",
        "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
        "TORCHDASH_ASSIGNED_GPUS": "1",
    }
    # GPUs NVML does not report have no UUID: then by index, all of them alike.
    assert gpu_environment(gpu_inventory(["0", "3"]))["CUDA_VISIBLE_DEVICES"] == "0,3"
    assert gpu_environment([])["CUDA_VISIBLE_DEVICES"] == ""  # a CPU run sees no GPU


def _field_of_422(response: httpx.Response) -> list:
    assert response.status_code == 422, response.text
    return response.json()["detail"][0]["loc"]


def test_a_gpu_outside_the_set_is_422_naming_device(two_gpus: TestClient) -> None:
    response = two_gpus.post("/api/runs", json={**TINY_CONFIG, "device": "cuda:7"})
    assert _field_of_422(response) == ["body", "device"]
    assert "GPU 7" in response.json()["detail"][0]["msg"]
    assert two_gpus.get("/api/runs").json()["count"] == 0  # nothing stored
    assert two_gpus.post("/api/runs", json={**TINY_CONFIG, "device": "cuda:1"}).status_code == 201


def test_a_cuda_device_without_gpus_is_422_naming_device(settings: Settings) -> None:
    with api(settings, gpus=[]) as client:  # TORCHDASH_GPUS=none
        for device in ("cuda", "cuda:0"):
            response = client.post("/api/runs", json={**TINY_CONFIG, "device": device})
            assert _field_of_422(response) == ["body", "device"]
        # auto on a box without GPUs is a CPU run, not an error.
        assert client.post("/api/runs", json={**TINY_CONFIG, "device": "auto"}).status_code == 201


def test_fork_and_sweep_check_the_device_too(two_gpus: TestClient) -> None:
    sweep = two_gpus.post(
        "/api/sweeps",
        json={"config": TINY_CONFIG, "grid": {"device": ["cuda:0", "cuda:9"]}},
    )
    assert _field_of_422(sweep) == ["body", "config", "device"]
    assert two_gpus.get("/api/runs").json()["count"] == 0


def test_more_processes_than_gpus_is_a_problem_of_processes() -> None:
    # The rule itself, independent of the `processes` field (added to RunConfig by the DDP work).
    gpus = [0, 1]
    assert gpu_problems({"device": "cuda", "processes": 3}, gpus)[0][0] == ("processes",)
    assert gpu_problems({"device": "auto", "processes": 3}, gpus)[0][0] == ("processes",)
    assert gpu_problems({"device": "cuda:1", "processes": 2}, gpus)[0][0] == ("device",)
    assert gpu_problems({"device": "cpu", "processes": 3}, gpus) == []  # gloo on the CPU
    assert gpu_problems({"device": "cuda", "processes": 2}, gpus) == []


def test_more_processes_than_gpus_is_422_naming_processes(two_gpus: TestClient) -> None:
    response = two_gpus.post("/api/runs", json={**TINY_CONFIG, "device": "cuda", "processes": 3})
    assert _field_of_422(response) == ["body", "processes"]
    pinned = two_gpus.post("/api/runs", json={**TINY_CONFIG, "device": "cuda:0", "processes": 2})
    assert _field_of_422(pinned) == ["body", "device"]


@pytest.mark.parametrize("value", ["0,x", "0,0", "gpu0", "-1"])
def test_a_malformed_torchdash_gpus_stops_the_server_naming_it(tmp_path: Path, value: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app", "serve"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "TORCHDASH_HOME": str(tmp_path), "TORCHDASH_GPUS": value},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "TORCHDASH_GPUS" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "torchdash.db").exists()  # refused before anything started

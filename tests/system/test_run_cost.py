"""The cost of a run: GPU-hours and watt-hours, from a real worker training for real.

There is no GPU here: NVML is faked at its one seam (app/hardware/nvml.py `read_gpus`) by a
recorder that hands out a sequence of power readings and keeps what it gave; the worker's real
sampler stores them, and the test integrates the stored rows itself (trapezoid over their own
timestamps) to check the run's figures. The run is placed on two GPUs as the dispatcher would
(`assigned_gpus`), and trains on the CPU (TORCHDASH_FAKE_GPUS_TRAIN_ON_CPU, the GPU fake seam).
"""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from app.hardware import nvml
from app.hardware.nvml import GpuReading
from app.settings import Settings
from app.storage.engine import make_engine, make_session_factory, session_scope
from app.storage.tables import Run, RunStatus
from app.worker.execute import execute_run
from tests.support.runs import claim

# Watts each GPU reports, call after call (repeated): uneven, so a wrong rule shows.
POWER = {0: [120.0, 310.5, 95.25, 280.0, 150.0], 1: [60.0, 61.5, 240.0, 55.0]}


class RecordedPower:
    """A fake at the NVML seam: two GPUs whose power walks through POWER, every reading kept."""

    def __init__(self) -> None:
        self.given: dict[int, list[float]] = {0: [], 1: []}

    def __call__(self) -> list[GpuReading]:
        readings = []
        for index, watts in POWER.items():
            power = watts[len(self.given[index]) % len(watts)]
            self.given[index].append(power)
            readings.append(GpuReading(index, f"GPU-{index}", "Fake H100", 81559, 900, 70, power))
        return readings


def on_gpus(settings: Settings, run_id: int, gpus: list[str]) -> None:
    """Place a queued run on `gpus`, as the dispatcher does, then claim it."""
    engine = make_engine(settings.sqlalchemy_url)
    with session_scope(make_session_factory(engine)) as session:
        session.execute(update(Run).where(Run.id == run_id).values(assigned_gpus=gpus))
    engine.dispose()
    claim(settings, run_id)


def seconds(a: dict, b: dict) -> float:
    """Seconds from row `a` to row `b` (a difference of times: exact to the microsecond)."""
    return (time(b) - time(a)).total_seconds()


def time(row: dict) -> datetime:
    return datetime.fromisoformat(row["time"].removesuffix("Z"))


def trapezoid_wh(rows: list[dict]) -> float:
    """The energy of a GPU's stored power rows: the trapezoid rule over their own times."""
    return sum(
        (a["gpu_power_watts"] + b["gpu_power_watts"]) / 2 * seconds(a, b) / 3600
        for a, b in pairwise(rows)
    )


def test_a_runs_cost_is_its_power_readings_integrated_and_resumes_add_up(
    client: TestClient, make_run, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    power = RecordedPower()
    monkeypatch.setattr(nvml, "read_gpus", power)
    worker = settings.model_copy(
        update={"system_sample_seconds": 0.05, "fake_gpus_train_on_cpu": True}
    )
    run = make_run(max_epochs=2)
    on_gpus(settings, run["id"], ["0", "1"])
    assert execute_run(run["id"], worker) == RunStatus.SUCCEEDED

    first = client.get(f"/api/runs/{run['id']}/system").json()["samples"]
    # A resume continues on the same GPUs: its time and energy add to the first attempt's,
    # and the time between the two (ended, then queued) is not the run's.
    assert client.post(f"/api/runs/{run['id']}/resume", json={"max_epochs": 3}).status_code == 200
    on_gpus(settings, run["id"], ["0", "1"])
    assert execute_run(run["id"], worker) == RunStatus.SUCCEEDED
    every = client.get(f"/api/runs/{run['id']}/system").json()["samples"]
    second = every[len(first) :]

    cost = client.get(f"/api/runs/{run['id']}/cost").json()
    assert [(gpu["gpu"], gpu["name"]) for gpu in cost["gpus"]] == [
        ("0", "Fake H100"),
        ("1", "Fake H100"),
    ]
    expected_hours = 0.0
    expected_wh = 0.0
    for gpu in cost["gpus"]:
        attempts = [[row for row in rows if row["gpu"] == gpu["gpu"]] for rows in (first, second)]
        # A start and an end reading at least (a fast attempt may take no sample in between).
        assert all(len(rows) >= 2 for rows in attempts), attempts
        # What was stored is what NVML (the fake) gave, in order: nothing lost, nothing made up.
        stored = [row["gpu_power_watts"] for rows in attempts for row in rows]
        assert stored == power.given[int(gpu["gpu"])]
        hours = sum(seconds(rows[0], rows[-1]) for rows in attempts) / 3600
        wh = sum(trapezoid_wh(rows) for rows in attempts)
        assert gpu["hours"] == pytest.approx(hours, rel=1e-9, abs=1e-12)
        assert gpu["energy_wh"] == pytest.approx(wh, rel=1e-9, abs=1e-12)
        assert gpu["samples"] == len(stored)
        expected_hours += hours
        expected_wh += wh
    # GPU-hours = GPU count x the measured wall time of training, summed over both attempts:
    # the time from the first attempt's end to the resumed one's start is left out.
    span, gap = seconds(first[0], second[-1]), seconds(first[-1], second[0])
    assert gap > 0
    assert cost["gpu_hours"] == pytest.approx(2 * (span - gap) / 3600, rel=1e-9)
    assert cost["gpu_hours"] == pytest.approx(expected_hours, rel=1e-9)
    assert cost["energy_wh"] == pytest.approx(expected_wh, rel=1e-9)
    assert cost["energy_wh"] > 0
    assert cost["cpu_energy_wh"] is None  # no readable RAPL counter on this machine's tests
    # The runs list and the run carry the same totals (stored, not integrated per read).
    listed = client.get("/api/runs").json()["runs"][0]
    assert (listed["gpu_hours"], listed["energy_wh"]) == (cost["gpu_hours"], cost["energy_wh"])

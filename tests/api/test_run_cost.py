"""GET /api/runs/{id}/cost and the cost fields of a run: null where nothing was measured.

A CPU run trains for real; GPUs come from a fake at the NVML seam (app/hardware/nvml.py
`read_gpus`: there is no GPU here), sampled by the worker's real `SystemSampler`.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.hardware.nvml import GpuReading
from app.settings import Settings
from app.storage.engine import make_engine, make_session_factory
from app.worker.system_sampler import SystemSampler


def test_a_cpu_run_has_no_cost_figures_and_an_unknown_run_is_a_404(
    client: TestClient, make_run, execute
) -> None:
    run = make_run(max_epochs=1)
    assert client.get(f"/api/runs/{run['id']}/cost").json()["gpus"] == []  # queued: nothing yet
    execute(run["id"])
    ended = client.get(f"/api/runs/{run['id']}").json()
    assert ended["status"] == "succeeded"
    assert (ended["gpu_hours"], ended["energy_wh"]) == (None, None)  # no GPU: nothing invented
    cost = client.get(f"/api/runs/{run['id']}/cost").json()
    assert cost["run_id"] == run["id"] and cost["gpus"] == []
    assert (cost["gpu_hours"], cost["energy_wh"], cost["cpu_energy_wh"]) == (None, None, None)
    assert cost["sample_seconds"] == 5.0
    missing = client.get("/api/runs/999/cost")
    assert missing.status_code == 404 and "999" in missing.text
    assert client.get("/api/runs/x/cost").status_code == 422


def one_without_power() -> list[GpuReading]:
    """GPU 0 reports its power, GPU 1 does not (some boards and MIG slices do not)."""
    return [
        GpuReading(0, "GPU-a", "Fake A100", 40960, 1024, 50, 200.0),
        GpuReading(1, "GPU-b", "Fake A100", 40960, 1024, 50, None),
    ]


def test_a_gpu_without_power_has_hours_but_no_energy_and_the_run_no_total(
    client: TestClient, make_run, settings: Settings
) -> None:
    run = make_run()
    engine = make_engine(settings.sqlalchemy_url)
    # Three GPUs placed: 0 and 1 as NVML reports them, 2 a GPU NVML does not report at all.
    sampler = SystemSampler(make_session_factory(engine), run["id"], 60, ["0", "1", "2"])
    sampler.read_gpus = one_without_power
    for _ in range(3):
        sampler.sample_once()
    engine.dispose()
    cost = client.get(f"/api/runs/{run['id']}/cost").json()
    gpus = {gpu["gpu"]: gpu for gpu in cost["gpus"]}
    assert list(gpus) == ["0", "1", "2"]
    assert gpus["0"]["samples"] == 3 and gpus["0"]["energy_wh"] > 0
    assert gpus["0"]["name"] == "Fake A100" and gpus["2"]["name"] is None
    for gpu in ("1", "2"):
        assert (gpus[gpu]["samples"], gpus[gpu]["energy_wh"]) == (0, None)
    # Each GPU trained the same hours; a partial energy sum would pass for the run's: null.
    assert len({gpu["hours"] for gpu in cost["gpus"]}) == 1 and gpus["0"]["hours"] > 0
    assert cost["gpu_hours"] == sum(gpu["hours"] for gpu in cost["gpus"])
    assert cost["energy_wh"] is None
    listed = client.get(f"/api/runs/{run['id']}").json()
    assert (listed["gpu_hours"], listed["energy_wh"]) == (cost["gpu_hours"], None)


def test_costs_sum_over_a_sweep_group_or_run_ids(
    client: TestClient, make_run, settings: Settings
) -> None:
    """The runs list's sums: a group's runs, or a selection's ids; unmeasured runs left out."""
    runs = [make_run(), make_run(), make_run()]
    engine = make_engine(settings.sqlalchemy_url)
    for run in runs[:2]:
        sampler = SystemSampler(make_session_factory(engine), run["id"], 60, ["0"])
        sampler.read_gpus = one_without_power
        for _ in range(2):
            sampler.sample_once()
    engine.dispose()
    cost = [client.get(f"/api/runs/{run['id']}").json() for run in runs]
    ids = ",".join(str(run["id"]) for run in runs)
    totals = client.get("/api/costs", params={"ids": ids}).json()
    assert totals["runs"] == 3 and totals["runs_with_energy"] == totals["runs_with_gpu_hours"] == 2
    assert totals["gpu_hours"] == pytest.approx(cost[0]["gpu_hours"] + cost[1]["gpu_hours"])
    assert totals["energy_wh"] == pytest.approx(cost[0]["energy_wh"] + cost[1]["energy_wh"])
    none = client.get("/api/costs", params={"group": "no such sweep"}).json()
    assert (none["runs"], none["gpu_hours"], none["energy_wh"]) == (0, None, None)
    bad = client.get("/api/costs", params={"ids": "1,x"})
    assert bad.status_code == 422 and "ids" in bad.text

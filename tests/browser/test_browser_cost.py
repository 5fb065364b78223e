"""A run's cost in a real headless Chromium: the runs list's Cost column and its sums (a
selection, a sweep group), the run page's cost and per-GPU fold, and compare's total.

The sweep's two runs train for real, on the CPU; their GPU samples come from the worker's real
`SystemSampler` through a fake at the NVML seam (app/hardware/nvml.py `read_gpus`: there is no
GPU here), written into the server's database as a worker on two GPUs would.
"""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from app.hardware.nvml import GpuReading
from app.settings import Settings
from app.storage.engine import make_engine, make_session_factory
from app.worker.system_sampler import SystemSampler
from tests.support.runs import TINY_CONFIG
from tests.support.waiting import wait_for_status


def two_gpus() -> list[GpuReading]:
    return [
        GpuReading(0, "GPU-a", "Fake A100", 40960, 6100, 80, 250.0),
        GpuReading(1, "GPU-b", "Fake A100", 40960, 6000, 78, 240.0),
    ]


def test_the_cost_column_sums_a_selection_and_a_sweep_group(
    live_server: str, page: Page, settings: Settings
) -> None:
    sweep = {"config": {**TINY_CONFIG, "max_epochs": 1}, "grid": {"optimizer.lr": [0.01, 0.003]}}
    sweep |= {"group_name": "lr-grid"}
    response = httpx.post(f"{live_server}/api/sweeps", json=sweep)
    assert response.status_code == 201, response.text
    ids = [run["id"] for run in response.json()["runs"]]
    for run_id in ids:
        wait_for_status(live_server, run_id, "succeeded")
    engine = make_engine(settings.sqlalchemy_url)
    for run_id in ids:
        sampler = SystemSampler(make_session_factory(engine), run_id, 60, ["0", "1"], two_gpus)
        for _ in range(3):
            sampler.sample_once()
    engine.dispose()
    costs = [httpx.get(f"{live_server}/api/runs/{run_id}").json() for run_id in ids]
    assert all(cost["gpu_hours"] > 0 and cost["energy_wh"] > 0 for cost in costs)

    page.goto(live_server)
    for run_id in ids:
        cell = page.locator(f'#runs-table tr[data-run-id="{run_id}"] .cost-col')
        expect(cell).to_contain_text("GPU-h")
        expect(cell).to_contain_text("Wh")
    group = page.locator('#cost-sums [data-sum="group"][data-group="lr-grid"]')
    expect(group).to_contain_text("lr-grid (2 runs): ")
    expect(page.locator('#cost-sums [data-sum="selection"]')).to_have_count(0)
    for run_id in ids:
        page.locator(f'#runs-table tr[data-run-id="{run_id}"] .run-select').check()
    selection = page.locator('#cost-sums [data-sum="selection"]')
    expect(selection).to_contain_text("Selected (2): ")
    # The two ticked runs are the whole group: one sum, however it was asked for.
    summed = group.inner_text().split(": ", 1)[1]
    assert "GPU-h" in summed and "Wh" in summed
    expect(selection).to_have_text(f"Selected (2): {summed}")

    page.goto(f"{live_server}/runs/{ids[0]}")
    expect(page.locator("#run-cost")).to_contain_text("GPU-h")
    page.locator("#run-cost-gpus summary").click()
    rows = page.locator("#run-cost-gpus tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Fake A100")

    page.goto(f"{live_server}/compare?ids={ids[0]},{ids[1]}")
    expect(page.locator("#best-table .cost-total .cost")).to_have_text(summed)

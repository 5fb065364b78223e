"""The run page draws a run's system charts, live: a real server, worker and headless Chromium.

The run is a 2-process DDP run sampled every 0.2 s. Its GPU rows come from a fake at the NVML
seam (app/hardware/nvml.py `read_gpus`; there is no GPU here), written by the worker's real
`SystemSampler` into the server's database while the page is open. TORCHDASH_SCREENSHOTS=1 also
writes docs/run-page-system.png.
"""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from app.hardware.nvml import GpuReading
from app.settings import Settings
from app.storage import system_metrics
from app.storage.engine import make_engine, make_session_factory, session_scope
from app.worker.system_sampler import SystemSampler
from tests.support.browser import screenshots_wanted
from tests.support.paths import DOCS
from tests.support.runs import TINY_CONFIG
from tests.support.waiting import wait_until


class BusyFakeGpus:
    """A fake at the NVML seam (no GPU here): two GPUs whose load moves from call to call."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> list[GpuReading]:
        self.calls += 1
        wave = (self.calls % 4) * 5
        return [
            GpuReading(0, "GPU-a", "Fake A100", 40960, 6100 + 40 * wave, 80 + wave, 210 + wave),
            GpuReading(1, "GPU-b", "Fake A100", 40960, 6000 + 40 * wave, 78 + wave, 205 + wave),
        ]


def samples(base: str, run_id: int) -> list[dict]:
    return httpx.get(f"{base}/api/runs/{run_id}/system").json()["samples"]


def test_the_run_page_draws_the_system_charts_per_gpu(
    sampling_server: str,  # noqa: F811
    page: Page,  # noqa: F811
    settings: Settings,
) -> None:
    config = {**TINY_CONFIG, "name": "ddp-digits", "processes": 2, "max_epochs": 200}
    run = httpx.post(f"{sampling_server}/api/runs", json=config).json()
    wait_until(lambda: len(samples(sampling_server, run["id"])) >= 3, 180, "process samples")
    page.goto(f"{sampling_server}/runs/{run['id']}")
    wait_until(lambda: page.evaluate("window.torchdash.systemPoints()") >= 3, 30, "CPU points")
    expect(page.locator("#system-empty")).to_be_hidden()

    # Two GPUs, as a 2-process run on CUDA would have: the sampler's GPU rows through the fake
    # NVML seam (its processes rows would be this test process's, not the run's: left out).
    engine = make_engine(settings.sqlalchemy_url)
    factory = make_session_factory(engine)
    sampler = SystemSampler(factory, run["id"], 60, ["0", "1"], BusyFakeGpus())
    for _ in range(8):
        with session_scope(factory) as session:
            gpu_rows = [row for row in sampler.rows() if row["gpu"] is not None]
            system_metrics.write_samples(session, run["id"], gpu_rows)
        page.wait_for_timeout(250)  # spread over time, as samples are (not a test condition)
    engine.dispose()
    wait_until(lambda: page.evaluate("window.torchdash.gpuCharts()") == 2, 30, "GPU charts")
    charts = page.locator("#system-charts .system-chart")
    expect(charts).to_have_count(3)
    expect(charts.locator("h3")).to_have_text(["Processes: CPU and memory", "GPU 0", "GPU 1"])
    expect(charts.locator("canvas")).to_have_count(3)  # uPlot drew each chart
    # The CPU chart keeps growing from the run's `system` events, with no reload.
    points = page.evaluate("window.torchdash.systemPoints()")
    wait_until(
        lambda: page.evaluate("window.torchdash.systemPoints()") > points, 30, "live samples"
    )
    if screenshots_wanted():
        wait_until(lambda: page.evaluate("window.torchdash.epochPoints()") >= 5, 180, "epochs")
        # From the run's header down to its system charts: the loss charts above them included.
        box = page.locator("#system-section").bounding_box()
        assert box is not None
        clip = {"x": 0, "y": 0, "width": 1280, "height": box["y"] + box["height"] + 16}
        page.screenshot(path=str(DOCS / "run-page-system.png"), full_page=True, clip=clip)
    httpx.post(f"{sampling_server}/api/runs/{run['id']}/cancel")

"""The form's device choice in a real headless Chromium, on a live server with
TORCHDASH_GPUS=0,1 (two GPUs NVML does not report: this machine has none).

THE GPU FAKE SEAM: TORCHDASH_FAKE_GPUS_TRAIN_ON_CPU=1, so the run placed on GPU 1 trains on the
CPU (app/worker/gpu_view.py). With TORCHDASH_SCREENSHOTS=1 it writes docs/form-devices.png.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from app.settings import Settings
from tests.support.browser import field, screenshots_wanted
from tests.support.paths import DOCS
from tests.support.servers import serving
from tests.support.waiting import wait_until


@pytest.fixture
def gpu_server(settings: Settings) -> Iterator[str]:
    with serving(
        settings,
        TORCHDASH_GPUS="0,1",
        TORCHDASH_FAKE_GPUS_TRAIN_ON_CPU="1",
        TORCHDASH_WARM_WORKERS="0",
    ) as base:
        yield base


def test_the_device_field_offers_the_servers_gpus_and_places_the_run(
    gpu_server: str, page: Page
) -> None:
    page.goto(f"{gpu_server}/")
    device = field(page, "device")
    expect(device.locator("option")).to_have_count(5)  # auto, cpu, cuda, cuda:0, cuda:1
    labels = device.locator("option").all_inner_texts()
    assert labels[:3] == ["auto — a free GPU", "cpu", "cuda — any free GPU"]
    assert labels[4] == "cuda:1 — GPU 1 (not reported by NVML)"
    expect(device).to_have_value("auto")

    if screenshots_wanted():
        device.evaluate("select => { select.size = select.options.length; }")
        page.locator('#run-form [data-field="device"]').screenshot(
            path=str(DOCS / "form-devices.png")
        )
        device.evaluate("select => { select.size = 0; }")

    device.select_option("cuda:1")
    field(page, "max_epochs").fill("1")
    page.locator("#start-button").click()
    run_id = wait_until(
        lambda: (runs := httpx.get(f"{gpu_server}/api/runs").json()["runs"]) and runs[0]["id"],
        30,
        "the run to be created",
    )
    run = wait_until(
        lambda: (
            (r := httpx.get(f"{gpu_server}/api/runs/{run_id}").json())["status"] == "succeeded"
            and r
        ),
        120,
        "the run to succeed",
    )
    assert run["config"]["device"] == "cuda:1" and run["assigned_gpus"] == ["1"]
    page.goto(f"{gpu_server}/")
    expect(page.locator(f'tr[data-run-id="{run_id}"] td.placement')).to_have_text("cpu · GPU 1")
    page.goto(f"{gpu_server}/runs/{run_id}")
    expect(page.locator("#run-device")).to_have_text("cpu · GPU 1")

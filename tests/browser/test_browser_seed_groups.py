"""Seed groups in a real headless Chromium: "Repeat with k seeds" from the form (the runs list
then shows the group's best as mean ± std), *Run again ×k* on the run page, and the compare page
drawing a seed group as its mean inside a ± std band."""

from __future__ import annotations

import re
import statistics

import httpx
from playwright.sync_api import Page, expect

from tests.support.browser import field
from tests.support.runs import create_run
from tests.support.waiting import wait_for_status


def test_run_again_k_times_draws_a_band_on_compare(live_server: str, page: Page) -> None:
    source = create_run(live_server, name="seeded", max_epochs=2, seed=5)
    wait_for_status(live_server, source["id"], "succeeded")

    page.goto(f"{live_server}/runs/{source['id']}")
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=15_000)
    page.locator("#repeat-seeds").fill("2")
    page.locator("#repeat-button").click()
    page.wait_for_url(re.compile(r"/compare\?ids=\d+,\d+,\d+$"), timeout=15_000)
    ids = [int(part) for part in page.url.rsplit("=", 1)[1].split(",")]
    assert ids[0] == source["id"]
    copies = [httpx.get(f"{live_server}/api/runs/{run_id}").json() for run_id in ids[1:]]
    assert [copy["config"]["seed"] for copy in copies] == [6, 7]
    assert len({copy["group_name"] for copy in copies}) == 1
    for copy in copies:
        wait_for_status(live_server, copy["id"], "succeeded")

    # The two copies are one line (their mean) inside one band; the source is a line of its own.
    page.wait_for_function(
        "window.torchdashCompare && window.torchdashCompare.points('val_loss').length === 2"
        " && window.torchdashCompare.points('val_loss').every((n) => n === 2)",
        timeout=30_000,
    )
    assert page.evaluate("window.torchdashCompare.bands('val_loss')") == 1
    expect(page.locator("#chart-val_loss")).to_have_attribute("data-bands", "1")
    assert page.locator("#chart-val_loss .u-legend .u-series").count() == 5  # epoch, 1 + 3
    expect(page.locator("#group-card")).to_be_visible()
    group_row = page.locator("#group-table tbody tr")
    expect(group_row).to_have_count(1)
    expect(group_row).to_contain_text(f"#{ids[1]}, #{ids[2]}")
    expect(group_row.locator(".group-best")).to_contain_text("±")


def test_repeat_with_k_seeds_from_the_form(live_server: str, page: Page) -> None:
    page.goto(f"{live_server}/")
    field(page, "name").fill("thrice")
    field(page, "max_epochs").fill("1")
    field(page, "batch_size").fill("128")
    page.locator("#sweep-details summary").click()
    page.locator("#sweep-seeds").fill("3")
    page.locator("#start-button").click()
    page.wait_for_url(re.compile(r"/\?q=sweep"), timeout=15_000)
    rows = page.locator("#runs-table tbody tr[data-run-id]")
    expect(rows).to_have_count(3, timeout=15_000)
    ids = [int(rows.nth(i).get_attribute("data-run-id") or 0) for i in range(3)]
    seeds = sorted(httpx.get(f"{live_server}/api/runs/{i}").json()["config"]["seed"] for i in ids)
    assert seeds == [0, 1, 2]
    expect(page.locator("#runs-table tbody")).to_contain_text("thrice [seed=2]")

    # Under the group's last row, one summary row: the best val_accuracy as mean ± std.
    runs = [wait_for_status(live_server, run_id, "succeeded", timeout=400) for run_id in ids]
    bests = [run["best_metric"] for run in runs]
    summary = page.locator("#runs-table tbody tr.seed-summary")
    expect(summary).to_have_count(1)
    expect(summary).to_contain_text("Seed group of 3", timeout=15_000)
    expect(summary.locator(".seed-best")).to_have_attribute(
        "title", "mean ± std of the best val_accuracy over 3 of 3 runs", timeout=15_000
    )
    mean, std = statistics.mean(bests), statistics.stdev(bests)
    expect(summary.locator(".seed-best")).to_have_text(
        f"val_accuracy {mean * 100:.1f}% ± {std * 100:.1f}%"
    )
    last_row = page.locator("#runs-table tbody tr").nth(3)
    expect(last_row).to_have_class(re.compile("seed-summary"))  # after the three run rows

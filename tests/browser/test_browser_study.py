"""A study in a real headless Chromium: started from the form's Search mode (a bad range is
shown at its row first), then followed on its page until it finishes — progress, the best
trial, the sortable trials table with mean ± std over each trial's seeds, and the charts."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.support.browser import field


def test_search_from_the_form_then_the_study_page(live_server: str, page: Page) -> None:
    page.goto(f"{live_server}/?mode=search#new-run")
    field(page, "name").fill("searched")
    field(page, "max_epochs").fill("2")
    field(page, "batch_size").fill("128")
    expect(page.locator("#search-mode")).to_be_visible()
    expect(page.locator("#start-button")).to_have_text("Start study")
    row = page.locator("#search-rows .search-row").first
    row.locator(".search-field").fill("optimizer.lr")
    row.locator(".search-type").select_option("log")
    row.locator(".search-low").fill("0")  # a log range touching 0
    row.locator(".search-high").fill("0.1")
    page.locator("#search-trials").fill("2")
    page.locator("#sweep-seeds").fill("2")
    expect(page.locator("#seeds-label")).to_have_text("Seeds per trial")
    page.locator("#start-button").click()
    expect(row.locator(".field-error")).not_to_be_empty(timeout=15_000)
    expect(row.locator(".has-error")).to_have_count(1)
    assert httpx.get(f"{live_server}/api/studies").json()["studies"] == []

    row.locator(".search-low").fill("0.001")
    page.locator("#start-button").click()
    page.wait_for_url(re.compile(r"/studies/\d+$"), timeout=15_000)
    study_id = int(page.url.rsplit("/", 1)[1])
    created = httpx.get(f"{live_server}/api/studies/{study_id}").json()
    assert created["space"][0]["field"] == "optimizer.lr" and created["space"][0]["log"] is True
    assert (created["n_trials"], created["seeds"], created["objective"]) == (2, 2, "val_loss")

    # Followed live until it finishes: two trials of two seeds each.
    page.wait_for_function("window.torchdashStudy !== undefined", timeout=15_000)
    assert page.evaluate("window.torchdashStudy.live()") == "sse"  # the study's event stream
    expect(page.locator("#study-status")).to_have_text("finished", timeout=240_000)
    expect(page.locator("#study-progress-text")).to_contain_text("2 of 2 done")
    rows = page.locator("#trials-table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first.locator(".objective")).to_contain_text("±")
    expect(page.locator("#best-value")).to_contain_text("±")
    first_run = rows.first.locator("td a").first.get_attribute("href") or ""
    assert re.fullmatch(r"/runs/\d+", first_run)

    # Sorting by the objective puts the better trial first, and again the other way.
    page.locator('#trials-table th[data-key="value"] button').click()
    study = httpx.get(f"{live_server}/api/studies/{study_id}").json()
    ordered = [t["number"] for t in sorted(study["trials"], key=lambda t: t["value"])]
    expect(rows.first).to_have_attribute("data-trial", str(ordered[0]))
    page.locator('#trials-table th[data-key="value"] button').click()
    expect(rows.first).to_have_attribute("data-trial", str(ordered[-1]))

    # The charts: a point per trial; a line per trial, its seeds' mean inside a ± std band;
    # parallel coordinates; a bar per importance Optuna computed.
    expect(page.locator("#chart-objective")).to_have_attribute("data-points", "2")
    expect(page.locator("#chart-intermediate")).to_have_attribute("data-lines", "2")
    expect(page.locator("#chart-intermediate")).to_have_attribute("data-bands", "2")
    expect(page.locator("#parallel-coords polyline")).to_have_count(2)
    importances = study["importances"] or {}
    expect(page.locator("#importances")).to_have_attribute("data-bars", str(len(importances)))

    # The studies list links to it.
    page.goto(f"{live_server}/studies")
    link = page.locator(f'#studies-table tr[data-study-id="{study_id}"] a')
    expect(link).to_have_text(f"#{study_id} searched")

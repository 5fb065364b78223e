"""Null values in a real headless Chromium: a run trained elsewhere whose epochs lack a loss or a
learning rate and whose steps include a diverged one draws its run page, the runs list and
compare beside a complete run without a script error (the `page` fixture fails the test on any),
and the best-metrics table never takes a row without a val loss for the lowest."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import Page, expect

from app.settings import Settings
from tests.support.servers import serving


def _external_run(base: str, name: str, report: dict[str, Any]) -> int:
    run = httpx.post(f"{base}/api/runs/external", json={"name": name, "monitor": "val_accuracy"})
    run_id = run.json()["id"]
    assert httpx.post(f"{base}/api/runs/{run_id}/report", json=report).status_code == 200
    assert httpx.post(f"{base}/api/runs/{run_id}/finish", json={}).status_code == 200
    return int(run_id)


def test_null_losses_and_learning_rates_draw_as_gaps(settings: Settings, page: Page) -> None:
    gappy = {
        "epochs": [
            {"epoch": 1, "metrics": {"train_loss": 1.2, "val_loss": 1.1, "val_accuracy": 0.4}},
            {"epoch": 2, "metrics": {"val_accuracy": 0.5}},  # no loss at all: null columns
            {"epoch": 3, "metrics": {"train_loss": "NaN", "val_loss": 0.9, "val_accuracy": 0.6}},
        ],
        "steps": [{"step": s, "loss": "Infinity" if s == 3 else 1.0 / s} for s in range(1, 7)],
    }
    whole = {
        "epochs": [
            {"epoch": e, "metrics": {"train_loss": 1.0 / e, "val_loss": 1.5 / e, "lr": 0.1}}
            for e in (1, 2, 3)
        ],
        "steps": [{"step": s, "loss": 2.0 / s} for s in range(1, 7)],
    }
    with serving(settings) as base:
        gaps, full = _external_run(base, "with gaps", gappy), _external_run(base, "whole", whole)
        rows = httpx.get(f"{base}/api/runs/{gaps}/metrics").json()
        assert rows["epochs"][1]["val_loss"] is None and rows["steps"][2]["loss"] is None

        page.goto(f"{base}/runs/{gaps}")
        expect(page.locator("#epoch-chart .uplot").first).to_be_attached(timeout=30_000)
        expect(page.locator("#run-status")).to_have_text("succeeded")

        page.goto(f"{base}/")
        expect(page.locator(f'#runs-table tr[data-run-id="{gaps}"] svg.sparkline')).to_have_count(1)

        page.goto(f"{base}/compare?ids={gaps},{full}")
        expect(page.locator("#compare-charts .uplot").first).to_be_attached(timeout=30_000)
        # The lowest val loss of the run with gaps is its epoch 3's, not the null of epoch 2.
        lowest = page.locator(f'#best-table tr[data-run-id="{gaps}"] td').nth(6)
        expect(lowest).to_have_text("0.9000")

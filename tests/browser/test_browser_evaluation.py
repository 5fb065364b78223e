"""The run page's evaluation for the tasks past classification, and for a classification of inputs
that are not images: a real server, real workers training the example plugins, headless
Chromium. TORCHDASH_SCREENSHOTS=1 also writes docs/run-page-regression.png."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from app.settings import Settings
from tests.support.browser import screenshots_wanted
from tests.support.paths import DOCS
from tests.support.plugins import DIGITS_PLUGIN, copy_example_plugins
from tests.support.runs import TINY_CONFIG
from tests.support.waiting import wait_for_status

TABULAR = {"kind": "plugin", "name": "TabularMLP", "args": {"width": 32, "depth": 1}}


def test_regression_plots_label_scores_and_input_values_on_the_run_page(
    live_server: str, page: Page, settings: Settings
) -> None:
    copy_example_plugins(settings.plugins_path)
    (settings.plugins_path / "digits.py").write_text(DIGITS_PLUGIN)
    regression = {
        **TINY_CONFIG,
        "name": "diabetes",
        "task": "regression",
        "data": {"kind": "plugin", "name": "Diabetes"},
        "model": TABULAR,
        "loss": {"kind": "mse"},
        "batch_size": 32,
        "max_epochs": 5,
    }
    multilabel = {
        **TINY_CONFIG,
        "name": "digit-properties",
        "task": "multilabel",
        "data": {"kind": "plugin", "name": "DigitProperties"},
        "model": TABULAR,
        "loss": {"kind": "bce_with_logits"},
    }
    flat_digits = {  # classification of inputs that are not images
        **TINY_CONFIG,
        "name": "flat-digits",
        "data": {"kind": "plugin", "name": "PluginDigits", "args": {"named": True}},
        "max_epochs": 1,
    }
    ids = []
    for config in (regression, multilabel, flat_digits):
        response = httpx.post(f"{live_server}/api/runs", json=config)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    for run_id in ids:
        wait_for_status(live_server, run_id, "succeeded", timeout=180)

    page.goto(f"{live_server}/runs/{ids[0]}")
    expect(page.locator("#evaluation-targets")).to_be_visible(timeout=15_000)
    expect(page.locator("#target-errors tr")).to_have_count(2)  # a heading, one target
    expect(page.locator("#target-errors")).to_contain_text("progression")
    plot = page.locator('.target-plot[data-target="progression"]')
    expect(plot.locator(".scatter-chart canvas")).to_have_count(1)
    expect(plot.locator(".residual-chart canvas")).to_have_count(1)
    expect(page.locator("#evaluation")).to_be_hidden()  # no confusion matrix for regression
    expect(page.locator("#evaluation-labels")).to_be_hidden()
    if screenshots_wanted():
        # The log above fills in after the charts: once it is whole, the section stays put.
        expect(page.locator("#run-log")).to_contain_text("succeeded")
        page.locator("#evaluation-section").screenshot(path=str(DOCS / "run-page-regression.png"))

    page.goto(f"{live_server}/runs/{ids[1]}")
    expect(page.locator("#evaluation-labels")).to_be_visible(timeout=15_000)
    # a heading, the four labels, the micro and macro averages
    expect(page.locator("#label-scores tr")).to_have_count(7)
    expect(page.locator("#label-scores")).to_contain_text("has_loop")
    expect(page.locator("#evaluation-targets")).to_be_hidden()
    expect(page.locator("#evaluation")).to_be_hidden()

    page.goto(f"{live_server}/runs/{ids[2]}")
    expect(page.locator("#misclassified-values")).to_be_visible(timeout=15_000)
    expect(page.locator("#misclassified img")).to_have_count(0)  # no thumbnails
    expect(page.locator("#misclassified-values tr").nth(1)).to_contain_text("digit ")
    expect(page.locator("#confusion-matrix tr")).to_have_count(11)

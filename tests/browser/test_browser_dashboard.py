"""The dashboard in a real headless Chromium: cancel → resume, fork from an epoch, compare two
runs, the bundle's train.py, a sweep from the form, run again and delete, a regression run's
chart panels.

Its browser fixtures are in tests/conftest.py (Debian's /usr/bin/chromium). With
TORCHDASH_SCREENSHOTS=1 it also writes docs/compare.png and docs/run-page-evaluation.png.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from app.settings import Settings
from tests.support.browser import field, screenshots_wanted
from tests.support.paths import DOCS
from tests.support.plugins import copy_example_plugins
from tests.support.runs import TINY_CONFIG, create_run
from tests.support.waiting import wait_for_status


def test_cancel_then_resume_in_the_browser(live_server: str, page: Page) -> None:
    run = create_run(live_server, name="long", max_epochs=200, batch_size=8)
    page.goto(f"{live_server}/runs/{run['id']}")
    page.evaluate("window.__no_reload_marker = true")
    expect(page.locator("#run-status")).to_have_text("running", timeout=60_000)
    page.wait_for_function("window.torchdash.epochPoints() >= 1", timeout=60_000)
    expect(page.locator("#progress-text")).to_contain_text("samples/s", timeout=30_000)
    expect(page.locator("#run-updated")).to_contain_text("updated")

    page.locator("#cancel-button").click()
    expect(page.locator("#run-status")).to_have_text("cancelled", timeout=60_000)
    expect(page.locator("#cancel-button")).to_be_hidden()
    stopped = httpx.get(f"{live_server}/api/runs/{run['id']}").json()
    steps_before = page.evaluate("window.torchdash.stepPoints()")

    page.locator("#resume-max-epochs").fill(str(stopped["epoch"] + 1))
    page.locator("#resume-button").click()
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=90_000)
    expect(page.locator("#run-epoch")).to_have_text(
        f"epoch {stopped['epoch'] + 1}/{stopped['epoch'] + 1}"
    )
    page.wait_for_function(
        f"window.torchdash.epochPoints() === {stopped['epoch'] + 1}", timeout=10_000
    )
    assert page.evaluate("window.torchdash.stepPoints()") > steps_before  # curves continued
    assert page.evaluate("window.__no_reload_marker === true"), "the run page reloaded"
    # The log streamed both lives of the run, lifecycle lines included.
    expect(page.locator("#run-log")).to_contain_text(f"run {run['id']} cancelled")
    expect(page.locator("#run-log")).to_contain_text(f"run {run['id']} succeeded", timeout=15_000)


def test_fork_compare_and_bundle(live_server: str, page: Page, tmp_path: Path) -> None:
    source = create_run(live_server, name="source", max_epochs=2)
    wait_for_status(live_server, source["id"], "succeeded")

    # Fork from epoch 1: the form opens prefilled, a change is highlighted before submitting.
    page.goto(f"{live_server}/runs/{source['id']}")
    fork_link = page.locator("#checkpoints-table tr", has_text="complete").first.locator(
        "a.fork-here"
    )
    expect(fork_link).to_be_visible(timeout=15_000)
    fork_link.click()
    page.wait_for_url(re.compile(rf"/\?fork={source['id']}&epoch=1"))
    expect(page.locator("#form-title")).to_have_text(f"Fork run #{source['id']} from epoch 1")
    expect(field(page, "optimizer.lr")).to_have_value("0.003")
    expect(field(page, "model.hidden_sizes")).to_have_value("32")
    lr_field = page.locator('#run-form [data-field="optimizer.lr"]')
    expect(lr_field).not_to_have_class(re.compile("changed"))
    field(page, "optimizer.lr").fill("0.01")
    expect(lr_field).to_have_class(re.compile("changed"))
    expect(page.locator("#form-source")).to_contain_text("1 change, highlighted: optimizer.lr")
    page.locator("#start-button").click()
    page.wait_for_url(re.compile(r"/runs/\d+$"), timeout=15_000)
    fork_id = int(page.url.rsplit("/", 1)[1])
    assert fork_id != source["id"]
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=90_000)
    expect(page.locator("#run-parent")).to_have_text(f"#{source['id']} at epoch 1")
    page.wait_for_function("window.torchdash.epochPoints() === 1", timeout=10_000)  # epoch 2 only
    fork = httpx.get(f"{live_server}/api/runs/{fork_id}").json()
    assert fork["config"]["optimizer"]["lr"] == 0.01 and fork["fork_epoch"] == 1
    # It trained epoch 2 with its own lr, not the one saved in the source's checkpoint.
    fork_epoch_2 = httpx.get(f"{live_server}/api/runs/{fork_id}/metrics").json()["epochs"][0]
    source_epochs = httpx.get(f"{live_server}/api/runs/{source['id']}/metrics").json()["epochs"]
    assert fork_epoch_2["epoch"] == 2 and fork_epoch_2["lr"] == 0.01
    assert fork_epoch_2["train_loss"] != source_epochs[1]["train_loss"]

    # Compare: select both in the runs list.
    page.goto(f"{live_server}/")
    for run_id in (source["id"], fork_id):
        page.locator(f'#runs-table tr[data-run-id="{run_id}"] .run-select').check()
    page.locator("#compare-button").click()
    page.wait_for_url(re.compile(rf"/compare\?ids={source['id']},{fork_id}$"))
    page.wait_for_function("window.torchdashCompare !== undefined", timeout=15_000)
    # The fork is drawn from its fork point: the parent's epoch 1, then its own epoch 2.
    assert page.evaluate("window.torchdashCompare.points('val_loss')") == [2, 2]
    # A chart for every named metric, validation first, then the overlays of the learning rate
    # and the step loss; each run's monitored metric in the table.
    assert page.evaluate("window.torchdashCompare.metrics()") == [
        "val_loss",
        "val_accuracy",
        "val_f1_macro",
        "train_loss",
        "train_accuracy",
        "learning rate",
        "train loss per step",
    ]
    expect(page.locator(f'#best-table tr[data-run-id="{fork_id}"] .monitor')).to_have_text(
        "val_accuracy (max)"
    )
    expect(page.locator('#diff-table tr[data-field="optimizer.lr"]')).to_contain_text("0.01")
    expect(page.locator("#best-table tbody tr")).to_have_count(2)
    expect(page.locator(f'#best-table tr[data-run-id="{fork_id}"]')).to_contain_text(
        f"#{source['id']} at epoch 1"
    )
    if screenshots_wanted():
        page.screenshot(path=str(DOCS / "compare.png"), full_page=True)

    # The bundle, downloaded from the run page; its train.py reproduces epoch 1 on the CPU.
    page.goto(f"{live_server}/runs/{source['id']}")
    expect(page.locator("#misclassified img").first).to_be_visible(timeout=15_000)
    assert page.locator("#misclassified img").first.evaluate("img => img.naturalWidth") == 96
    expect(page.locator("#confusion-matrix tr")).to_have_count(11)
    with page.expect_download() as download_info:
        page.locator("#bundle-link").click()
    bundle = tmp_path / "bundle.zip"
    download_info.value.save_as(bundle)
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(tmp_path / "bundle")
    result = subprocess.run(
        [sys.executable, "train.py", "--epochs", "1", "--device", "cpu"],
        cwd=tmp_path / "bundle",
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    reproduced = json.loads(result.stdout.splitlines()[0])
    recorded = httpx.get(f"{live_server}/api/runs/{source['id']}/metrics").json()["epochs"][0]
    assert abs(reproduced["train_loss"] - recorded["train_loss"]) < 1e-6
    assert abs(reproduced["val_accuracy"] - recorded["val_accuracy"]) < 1e-9
    if screenshots_wanted():
        page.screenshot(path=str(DOCS / "run-page-evaluation.png"), full_page=True)


def test_sweep_run_again_and_delete(live_server: str, page: Page) -> None:
    page.goto(f"{live_server}/")
    field(page, "name").fill("swept")
    field(page, "max_epochs").fill("1")
    field(page, "batch_size").fill("128")
    page.locator("#sweep-details summary").click()
    page.locator("#sweep-add").click()
    page.locator("#sweep-rows .sweep-path").fill("optimizer.lr")
    page.locator("#sweep-rows .sweep-values").fill("0.01, 0.001")
    page.locator("#start-button").click()
    page.wait_for_url(re.compile(r"/\?q=sweep"), timeout=15_000)
    rows = page.locator("#runs-table tbody tr[data-run-id]")
    expect(rows).to_have_count(2, timeout=15_000)
    expect(rows.first.locator(".group-tag")).to_contain_text("sweep")
    expect(page.locator("#runs-table tbody")).to_contain_text("swept [lr=0.01]")
    run_id = int(rows.last.get_attribute("data-run-id") or 0)  # the oldest: it trains first
    wait_for_status(live_server, run_id, "succeeded")
    # The best column names the metric each run monitors beside its best value.
    expect(rows.last.locator(".best-col")).to_contain_text("val_accuracy", timeout=15_000)
    expect(rows.last.locator(".best-col")).to_contain_text("%")

    # The run page: one chart panel per kind of metric, the monitored metric's best in the header.
    page.goto(f"{live_server}/runs/{run_id}")
    page.wait_for_function("window.torchdash.epochPoints() === 1", timeout=15_000)
    panels = page.evaluate("window.torchdash.epochPanels()")
    assert [(p["key"], p["names"]) for p in panels] == [
        ("loss", ["train_loss", "val_loss"]),
        ("accuracy", ["train_accuracy", "val_accuracy"]),
        ("f1", ["val_f1_macro"]),
    ]
    expect(page.locator("#epoch-chart canvas")).to_have_count(3)
    expect(page.locator("#run-best-label")).to_have_text("Best val_accuracy (max)")
    expect(page.locator("#run-best")).to_contain_text("at epoch 1")
    expect(page.locator("#checkpoint-monitor")).to_have_text("val_accuracy", timeout=15_000)

    # Run again: the form is prefilled with that run's config.
    page.goto(f"{live_server}/runs/{run_id}")
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=15_000)
    page.locator("#again-link").click()
    expect(page.locator("#form-title")).to_have_text(f"Run #{run_id} again")
    expect(field(page, "batch_size")).to_have_value("128")
    expect(page.locator("#form-source")).to_contain_text("no changes yet")

    # Chart tools on the run page: smoothing, log scale, CSV and PNG export, copy buttons.
    page.goto(f"{live_server}/runs/{run_id}")
    page.wait_for_function("window.torchdash.stepPoints() > 1", timeout=15_000)
    page.locator("#smoothing").fill("0")
    assert page.evaluate(
        "(() => { const [, raw, smooth] = window.torchdash.charts.step.series.data;"
        " return raw.every((v, i) => v === smooth[i]); })()"
    )
    page.locator('.chart-tools[data-chart="step"] .log-toggle').check()
    assert page.evaluate("window.torchdash.charts.step.plot.scales.loss.distr") == 3
    with page.expect_download() as csv_download:
        page.locator('.chart-tools[data-chart="epoch"] .csv-button').click()
    csv_lines = Path(csv_download.value.path()).read_text().splitlines()
    header = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,val_f1_macro"
    assert csv_lines[0] == header and len(csv_lines) == 2
    with page.expect_download() as png_download:
        page.locator('.chart-tools[data-chart="step"] .png-button').click()
    assert Path(png_download.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page.locator("#copy-curl").click()
    expect(page.locator("#copy-note")).to_contain_text("curl command")
    curl = page.evaluate("window.torchdash.copied")
    assert curl.startswith("curl -s http://127.0.0.1:") and "/api/runs " in curl
    body = json.loads(curl.split(" -d '", 1)[1].removesuffix("'"))
    assert httpx.post(f"{live_server}/api/runs", json=body).status_code == 201

    # Delete, after a confirmation.
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#delete-button").click()
    page.wait_for_url(re.compile(r"/$"), timeout=15_000)
    assert httpx.get(f"{live_server}/api/runs/{run_id}").status_code == 404


def test_a_regression_run_page_draws_a_panel_per_kind_of_metric(
    live_server: str, page: Page, settings: Settings
) -> None:
    copy_example_plugins(settings.plugins_path)
    config = {
        **TINY_CONFIG,
        "name": "diabetes",
        "task": "regression",
        "data": {"kind": "plugin", "name": "Diabetes"},
        "loss": {"kind": "mse"},
        "metrics": [{"kind": "plugin", "name": "WithinTolerance"}],
        "max_epochs": 2,
    }
    response = httpx.post(f"{live_server}/api/runs", json=config)
    assert response.status_code == 201, response.text
    run_id = response.json()["id"]
    wait_for_status(live_server, run_id, "succeeded")

    page.goto(f"{live_server}/runs/{run_id}")
    page.wait_for_function("window.torchdash.epochPoints() === 2", timeout=15_000)
    panels = page.evaluate("window.torchdash.epochPanels()")
    assert [(p["key"], p["names"]) for p in panels] == [
        ("loss", ["train_loss", "val_loss"]),
        ("error", ["val_mae", "val_rmse"]),
        ("r2", ["val_r2"]),
        ("val_WithinTolerance", ["val_WithinTolerance"]),
    ]
    expect(page.locator("#epoch-chart .metric-panel h3")).to_have_text(
        ["Loss", "Error (MAE, RMSE)", "R²", "val_WithinTolerance"]
    )
    expect(page.locator("#run-best-label")).to_have_text("Best val_loss (min)")
    best = httpx.get(f"{live_server}/api/runs/{run_id}").json()
    expect(page.locator("#run-best")).to_have_text(
        f"{best['best_metric']:.4f} at epoch {best['best_epoch']}"
    )

    # The runs list names the monitored metric beside its best value.
    page.goto(f"{live_server}/")
    row = page.locator(f'#runs-table tr[data-run-id="{run_id}"]')
    expect(row.locator(".best-col")).to_contain_text(f"val_loss {best['best_metric']:.4f}")

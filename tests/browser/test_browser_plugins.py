"""Plugins in the new-run form, in a real headless Chromium: a task (the data and loss kinds
follow it), then a Dataset, a model and a metric chosen among the classes of the plugins
folder, each class's arguments as typed inputs (prefilled with its defaults, rebuilt when another
class is chosen), the monitor chosen among the run's metric names, a plugin file that does not
parse listed, and Check's 422 shown at the argument it names."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from app.settings import Settings
from tests.support.browser import field, field_error, screenshots_wanted
from tests.support.paths import DOCS
from tests.support.plugins import copy_example_plugins
from tests.support.waiting import wait_for_status


@pytest.fixture
def plugins(settings: Settings) -> Path:
    folder = copy_example_plugins(settings.plugins_path)
    (folder / "unfinished.py").write_text("from torch import nn\n\n\nclass Half(nn.Module\n")
    return folder


@pytest.fixture
def patient_preflight(monkeypatch: pytest.MonkeyPatch) -> None:
    """A preflight time limit for a CPU shared with other tests (read by the server from the
    environment: request this before `live_server`)."""
    monkeypatch.setenv("TORCHDASH_PREFLIGHT_SECONDS", "300")


def open_section(page: Page, section_id: str) -> None:
    section = page.locator(f"#section-{section_id}")
    if section.get_attribute("open") is None:
        section.locator("summary").click()


def options(page: Page, path: str) -> list[str]:
    return field(page, path).locator("option").all_inner_texts()


def test_plugins_are_chosen_with_typed_args_and_checked(
    plugins: Path, patient_preflight: None, live_server: str, page: Page
) -> None:
    page.goto(f"{live_server}/")
    # The data and loss kinds follow the task: regression takes a table, a text file or a
    # Dataset plugin (the first of them is picked), a loss that regresses; the image kinds stay
    # listed, disabled.
    field(page, "task").select_option("regression")
    expect(field(page, "data.kind")).to_have_value("table")
    expect(field(page, "data.kind").locator('option[value="digits"]')).to_be_disabled()
    field(page, "data.kind").select_option("plugin")
    expect(field(page, "loss.kind")).to_have_value("mse")
    expect(field(page, "loss.kind").locator('option[value="cross_entropy"]')).to_be_disabled()
    expect(page.locator("#section-loss .section-summary")).to_have_text("mse, reduction mean")

    # The Dataset: a choice of the classes found, its arguments prefilled with their defaults.
    assert options(page, "data.name") == ["Diabetes", "DigitProperties"]
    expect(field(page, "data.name")).to_have_value("Diabetes")
    expect(field(page, "data.args.val_fraction")).to_have_value("0.2")
    expect(field(page, "data.args.seed")).to_have_value("0")
    # The file that does not parse is listed where a class is chosen.
    data = page.locator('#run-form [data-field="data"]')
    expect(data.locator(".plugin-errors")).to_contain_text("unfinished.py (line 4: ")

    # The model: its own arguments, typed (a number, a choice).
    field(page, "model.kind").select_option("plugin")
    expect(field(page, "model.name")).to_have_value("TabularMLP")
    expect(field(page, "model.args.width")).to_have_value("64")
    assert options(page, "model.args.activation") == ["relu", "tanh"]
    expect(field(page, "model.args.width")).to_have_attribute("type", "number")

    # A metric row: switching its class rebuilds its arguments.
    open_section(page, "metrics")
    page.locator('#run-form [data-field="metrics"] .list-add').click()
    field(page, "metrics.0.name").select_option("WithinTolerance")
    expect(field(page, "metrics.0.args.tolerance")).to_have_value("0.5")
    field(page, "metrics.0.name").select_option("mean_squared_error")
    expect(field(page, "metrics.0.args.tolerance")).to_have_count(0)
    field(page, "metrics.0.name").select_option("WithinTolerance")
    field(page, "metrics.0.args.tolerance").fill("0.25")

    # The monitor: the regression task's metric names and the plugin metric's.
    monitor = options(page, "monitor")
    assert "val_rmse" in monitor and "val_WithinTolerance" in monitor
    assert "val_accuracy" not in monitor
    field(page, "monitor").select_option("val_WithinTolerance")
    if screenshots_wanted():
        page.locator("#new-run").screenshot(path=str(DOCS / "form-plugins.png"))

    # A float for an integer argument: Check's 422 is shown at that argument.
    field(page, "model.args.width").fill("2.5")
    page.locator("#check-button").click()
    result = page.locator("#check-result")
    expect(result).to_contain_text("Check failed")
    expect(field_error(page, "model.args.width")).to_contain_text("valid integer")

    # Fixed, the config Check sends is the plugins' with their typed arguments.
    field(page, "model.args.width").fill("32")
    with page.expect_request("**/api/preflight") as request:
        page.locator("#check-button").click()
    sent = request.value.post_data_json
    assert sent["task"] == "regression" and sent["monitor"] == "val_WithinTolerance"
    assert sent["data"] == {"kind": "plugin", "name": "Diabetes", "cache": False,
                            "args": {"val_fraction": 0.2, "seed": 0}}  # fmt: skip
    assert sent["model"]["kind"] == "plugin" and sent["model"]["args"]["width"] == 32
    assert sent["model"]["args"]["activation"] == "relu"
    assert sent["loss"]["kind"] == "mse"
    assert sent["metrics"] == [{"kind": "plugin", "name": "WithinTolerance", "mode": "max",
                                "args": {"tolerance": 0.25}}]  # fmt: skip
    expect(result).to_contain_text("Check passed", timeout=300_000)
    expect(field_error(page, "model.args.width")).to_be_empty()

    # The JSON view shows the same config.
    page.locator("#json-details summary").click()
    expect(page.locator("#config-json")).not_to_have_value("")
    shown = json.loads(page.locator("#config-json").input_value())
    assert shown["data"]["kind"] == "plugin" and shown["model"]["args"]["width"] == 32

    # Started, the run stores that config, trains, and its page draws the regression's panels.
    field(page, "max_epochs").fill("2")
    page.locator("#start-button").click()
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    run_id = int(page.url.rsplit("/", 1)[1])
    stored = httpx.get(f"{live_server}/api/runs/{run_id}").json()["config"]
    assert stored["task"] == "regression" and stored["data"] == sent["data"]
    assert stored["model"]["args"] == {"width": 32, "depth": 2, "activation": "relu",
                                       "dropout": 0.0}  # fmt: skip
    assert stored["metrics"][0]["args"] == {"tolerance": 0.25}
    wait_for_status(live_server, run_id, "succeeded", timeout=300)
    page.wait_for_function("window.torchdash.epochPoints() === 2", timeout=30_000)
    panels = [panel["key"] for panel in page.evaluate("window.torchdash.epochPanels()")]
    assert panels == ["loss", "error", "r2", "val_WithinTolerance"]
    expect(page.locator("#run-best-label")).to_have_text("Best val_WithinTolerance (max)")

"""The new-run form in a real headless Chromium: essentials first with Advanced collapsed,
list rows for transform steps and parameter groups, templates, "Check" (preflight), and the
run controls around it — moving a queued run to the top, notes and tags with a tag filter.

Its browser fixtures are in tests/conftest.py (Debian's /usr/bin/chromium). With
TORCHDASH_SCREENSHOTS=1 it also writes docs/form.png.
"""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from app.settings import Settings
from tests.support.browser import field, field_error, screenshots_wanted
from tests.support.paths import DOCS
from tests.support.runs import create_run
from tests.support.waiting import wait_for_status, wait_until
from trainer.config import RunConfig

SECTIONS = ["run", "data", "model", "loss", "optimizer", "training", "metrics", "scheduler",
            "param_groups", "advanced"]  # fmt: skip


@pytest.fixture
def patient_preflight(monkeypatch: pytest.MonkeyPatch) -> None:
    """A preflight time limit for a CPU shared with other tests (the server reads it from the
    environment; request this before `live_server`). tests/system/test_preflight.py tests the
    limit."""
    monkeypatch.setenv("TORCHDASH_PREFLIGHT_SECONDS", "300")


def section(page: Page, section_id: str):
    return page.locator(f"#section-{section_id}")


def started_run_id(page: Page) -> int:
    page.wait_for_url(re.compile(r"/runs/\d+$"), timeout=15_000)
    return int(page.url.rsplit("/", 1)[1])


def test_essentials_first_with_advanced_collapsed_submits_the_default_run(
    live_server: str, page: Page
) -> None:
    page.goto(f"{live_server}/")
    sections = page.locator("#run-form details.form-section")
    expect(sections).to_have_count(len(SECTIONS))
    assert [s.get_attribute("data-section") for s in sections.all()] == SECTIONS
    # The essentials are on screen, in the order one thinks of them ...
    for path in ("data.kind", "model.kind", "optimizer.kind", "optimizer.lr", "batch_size",
                 "max_epochs", "device"):  # fmt: skip
        expect(field(page, path)).to_be_visible()
    # ... and every loader and performance switch is behind the collapsed "Advanced".
    expect(section(page, "advanced")).not_to_have_attribute("open", "")
    expect(section(page, "advanced").locator(".section-summary")).to_have_text("all defaults")
    for path in ("num_workers", "pin_memory", "cache_budget_mb", "amp", "compile"):
        expect(field(page, path)).to_be_hidden()
    expect(section(page, "loss").locator(".section-summary")).to_contain_text("cross_entropy")

    # A collapsed section says what it holds in one line.
    section(page, "optimizer").locator("summary").click()
    expect(section(page, "optimizer").locator(".section-summary")).to_have_text(
        "adam, lr 0.001, betas 0.9/0.999"
    )
    section(page, "optimizer").locator("summary").click()

    # Advanced remembers being open, across a reload.
    section(page, "advanced").locator("summary").click()
    expect(field(page, "num_workers")).to_be_visible()
    page.reload()
    expect(field(page, "num_workers")).to_be_visible()
    section(page, "advanced").locator("summary").click()
    expect(field(page, "num_workers")).to_be_hidden()
    if screenshots_wanted():  # what a laptop screen shows: the essentials and the action bar
        page.locator("#new-run").evaluate("(el) => el.scrollIntoView()")
        page.screenshot(path=str(DOCS / "form.png"))

    page.locator("#start-button").click()
    run_id = started_run_id(page)
    stored = httpx.get(f"{live_server}/api/runs/{run_id}").json()["config"]
    assert stored == RunConfig().model_dump(mode="json")


def test_transform_and_parameter_group_rows(live_server: str, page: Page) -> None:
    page.goto(f"{live_server}/")
    steps = page.locator('#run-form [data-field="data.train_transforms"]')
    add_step = steps.locator(".list-add")
    add_step.click()
    field(page, "data.train_transforms.0.kind").select_option("horizontal_flip")
    add_step.click()
    field(page, "data.train_transforms.1.kind").select_option("rotation")
    field(page, "data.train_transforms.1.degrees").fill("5")
    add_step.click()
    field(page, "data.train_transforms.2.kind").select_option("resize")
    field(page, "data.train_transforms.2.size").fill("8")
    steps.get_by_role("button", name="Move step 3 up").click()
    steps.get_by_role("button", name="Move step 2 up").click()  # resize is first now
    steps.get_by_role("button", name="Remove step 2").click()  # the flip
    expect(steps.locator("li.list-row")).to_have_count(2)
    expect(field(page, "data.train_transforms.0.kind")).to_have_value("resize")
    expect(field(page, "data.train_transforms.1.degrees")).to_have_value("5")

    section(page, "param_groups").locator("summary").click()
    groups = page.locator('#run-form [data-field="param_groups"]')
    groups.locator(".list-add").click()
    field(page, "param_groups.0.match").fill("head.*")
    field(page, "param_groups.0.lr").fill("0.01")
    groups.locator(".list-add").click()
    field(page, "param_groups.1.match").fill("body.*")
    field(page, "param_groups.1.weight_decay").fill("0.001")
    groups.locator(".list-add").click()
    field(page, "param_groups.2.match").fill("nothing.*")
    groups.get_by_role("button", name="Move group 2 up").click()
    groups.get_by_role("button", name="Remove group 3").click()
    section(page, "param_groups").locator("summary").click()
    expect(section(page, "param_groups").locator(".section-summary")).to_have_text(
        "2 groups: body.* 0.001; head.* 0.01"
    )

    # The JSON view shows the same config, and what is applied there comes back to the form.
    page.locator("#json-details summary").click()
    area = page.locator("#config-json")
    expect(area).to_have_value(re.compile(r'"match": "body\.\*"'))
    area.fill(area.input_value().replace('"max_epochs": 10', '"max_epochs": 1'))
    page.locator("#json-apply").click()
    expect(field(page, "max_epochs")).to_have_value("1")
    expect(field(page, "param_groups.0.match")).to_have_value("body.*")

    page.locator("#start-button").click()
    run_id = started_run_id(page)
    config = httpx.get(f"{live_server}/api/runs/{run_id}").json()["config"]
    assert config["data"]["train_transforms"] == [
        {"kind": "resize", "size": 8},
        {"kind": "rotation", "degrees": 5.0},
    ]
    assert [(g["match"], g["lr"], g["weight_decay"]) for g in config["param_groups"]] == [
        ("body.*", None, 0.001),
        ("head.*", 0.01, None),
    ]
    wait_for_status(live_server, run_id, "succeeded")  # those steps and groups really train


def test_templates_and_start_from_a_run(live_server: str, page: Page, settings: Settings) -> None:
    from trainer.data.demo import write_digits_image_folder

    page.goto(f"{live_server}/")
    menu = page.locator("#template-select")
    # Without the demo ImageFolder on this machine its templates are listed, not offered.
    expect(menu.locator('option[value="template:imagefolder-cnn"]')).to_be_disabled()
    expect(menu.locator('option[value="template:digits-mlp"]')).to_be_enabled()

    write_digits_image_folder(settings.allowed_data_roots[0])  # as prepare-data does
    page.reload()
    expect(menu.locator('option[value="template:cifar-resnet18"]')).to_be_enabled()
    menu.select_option("template:imagefolder-cnn")
    expect(field(page, "data.kind")).to_have_value("imagefolder")
    expect(field(page, "model.kind")).to_have_value("cnn")
    expect(field(page, "data.train_dir")).to_have_value(re.compile(r"digits-images/train$"))
    expect(page.locator("#template-note")).to_contain_text("CNN")
    field(page, "max_epochs").fill("1")
    field(page, "batch_size").fill("128")
    page.locator("#start-button").click()
    run_id = started_run_id(page)
    # Decoding PNG files on a CPU shared with other tests is slow: a generous wait, no threshold.
    run = wait_for_status(live_server, run_id, "succeeded", timeout=300)
    assert (run["config"]["data"]["kind"], run["config"]["model"]["kind"]) == ("imagefolder", "cnn")

    # "Start from run N" is in the same menu.
    earlier = create_run(live_server, name="earlier", max_epochs=1)
    page.goto(f"{live_server}/")
    menu.select_option(f"run:{earlier['id']}")
    page.wait_for_url(re.compile(rf"/\?from={earlier['id']}$"))
    expect(page.locator("#form-title")).to_have_text(f"Run #{earlier['id']} again")
    expect(field(page, "name")).to_have_value("earlier")


def test_check_shows_the_estimate_and_a_shape_error(
    patient_preflight: None, live_server: str, page: Page
) -> None:
    page.goto(f"{live_server}/")
    field(page, "model.hidden_sizes").fill("32")
    field(page, "max_epochs").fill("2")
    page.locator("#check-button").click()
    result = page.locator("#check-result")
    expect(result).to_contain_text("Check passed", timeout=300_000)
    # 64 inputs x 32 + 32, then 32 x 10 + 10: the digits MLP's parameters.
    expect(result.locator('[data-fact="parameters"] dd')).to_have_text("2,410")
    expect(result.locator('[data-fact="shapes"] dd')).to_have_text("[16, 1, 8, 8] → [16, 10]")
    expect(result.locator('[data-fact="run"] dd')).to_contain_text("for 2 epochs")

    # Queued after the check, the run carries the estimate as its ETA.
    page.locator("#start-button").click()
    run_id = started_run_id(page)
    run = httpx.get(f"{live_server}/api/runs/{run_id}").json()
    assert run["estimated_epoch_seconds"] and run["estimated_epoch_seconds"] > 0

    # DenseNet-121's poolings shrink an 8x8 digit to nothing: a shape error at "model".
    page.goto(f"{live_server}/")
    field(page, "model.kind").select_option("torchvision")
    field(page, "model.architecture").select_option("densenet121")
    page.locator("#check-button").click()
    expect(result).to_contain_text("Check failed", timeout=300_000)
    expect(field_error(page, "model")).not_to_be_empty()


def test_a_queued_run_moved_to_the_top_starts_first(live_server: str, page: Page) -> None:
    blocker = create_run(live_server, name="blocker", max_epochs=500, batch_size=8)
    wait_for_status(live_server, blocker["id"], "running")
    first = create_run(live_server, name="queued-first", max_epochs=1)
    second = create_run(live_server, name="queued-second", max_epochs=1)

    page.goto(f"{live_server}/")
    second_row = page.locator(f'#runs-table tr[data-run-id="{second["id"]}"]')
    expect(second_row.locator(".queue-info")).to_contain_text("#2 in queue")
    second_row.locator('button.queue-move[data-position="top"]').click()
    expect(second_row.locator(".queue-info")).to_contain_text("#1 in queue")
    first_row = page.locator(f'#runs-table tr[data-run-id="{first["id"]}"]')
    expect(first_row.locator(".queue-info")).to_contain_text("#2 in queue")

    assert httpx.post(f"{live_server}/api/runs/{blocker['id']}/cancel").status_code == 200

    def started(run_id: int) -> dict | None:
        run = httpx.get(f"{live_server}/api/runs/{run_id}").json()
        return run if run["started_at"] else None

    # A graceful stop, then a cold worker on a shared CPU: a generous wait, no threshold.
    moved = wait_until(lambda: started(second["id"]), 300, "the moved run to start")
    other = httpx.get(f"{live_server}/api/runs/{first['id']}").json()
    assert other["started_at"] is None or other["started_at"] > moved["started_at"]


def test_notes_and_tags_edited_and_filtered(live_server: str, page: Page) -> None:
    tagged = create_run(live_server, name="tagged", max_epochs=1)
    other = create_run(live_server, name="other", max_epochs=1)

    page.goto(f"{live_server}/runs/{tagged['id']}")
    # Empty notes start closed, below the header: open them.
    expect(page.locator("#run-name")).to_have_text("tagged")
    page.locator("#notes-details > summary").click()
    page.locator("#run-notes").fill("a baseline for the lr search")
    page.locator("#run-tags").fill("baseline, lr-search")
    page.locator("#notes-save").click()
    expect(page.locator("#notes-status")).to_have_text("saved")
    expect(page.locator("#run-tag-list .tag")).to_have_text(["baseline", "lr-search"])
    stored = httpx.get(f"{live_server}/api/runs/{tagged['id']}").json()
    assert stored["notes"] == "a baseline for the lr search"
    assert stored["tags"] == ["baseline", "lr-search"]
    page.locator("#run-tags").fill("bad/tag")
    page.locator("#notes-save").click()
    expect(page.locator("#notes-status")).to_contain_text("tags")

    page.goto(f"{live_server}/")
    rows = page.locator("#runs-table tbody tr[data-run-id]")
    expect(rows).to_have_count(2)
    page.locator("#tag-filter").fill("baseline")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-run-id", str(tagged["id"]))
    expect(rows.first.locator(".tag")).to_have_text(["baseline", "lr-search"])
    page.locator("#tag-filter").fill("")
    expect(rows).to_have_count(2)
    page.locator(f'#runs-table tr[data-run-id="{tagged["id"]}"] .tag', has_text="lr-search").click()
    expect(page.locator("#tag-filter")).to_have_value("lr-search")
    expect(rows).to_have_count(1)
    expect(page.locator(f'#runs-table tr[data-run-id="{other["id"]}"]')).to_have_count(0)

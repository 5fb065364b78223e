"""A text run from the form in a real headless Chromium: the text kind's fields, the Check's report
of the file (rows, classes, vocabulary), and the run page showing misclassified texts."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from app.settings import Settings
from tests.support.browser import field
from tests.support.text_files import sentences, write_corpus, write_rows
from tests.support.waiting import wait_for_status


@pytest.fixture
def patient_preflight(monkeypatch: pytest.MonkeyPatch) -> None:
    """A preflight time limit for a CPU shared with other tests (read by the spawned server)."""
    monkeypatch.setenv("TORCHDASH_PREFLIGHT_SECONDS", "300")


def test_a_text_run_from_the_form_checks_its_file_and_shows_misclassified_texts(
    patient_preflight: None, settings: Settings, live_server: str, page: Page
) -> None:
    train, val = write_corpus(settings.allowed_data_roots[0] / "texts", train=120, val=30)
    rows = sentences(30, seed=1)
    rows[4]["label"] = "neg" if rows[4]["label"] == "pos" else "pos"  # the model will disagree
    write_rows(val, rows)

    page.goto(f"{live_server}/")
    field(page, "data.kind").select_option("text")
    for path in ("data.text_column", "data.label_column", "data.tokenizer", "data.max_length",
                 "data.val_path"):  # fmt: skip
        expect(field(page, path)).to_be_attached()
    field(page, "data.path").fill(str(train))
    field(page, "data.val_path").fill(str(val))
    expect(field(page, "data.label_column")).to_have_value("label")  # one column: a string
    field(page, "data.max_length").fill("12")
    field(page, "model.kind").select_option("bag_of_embeddings")
    field(page, "optimizer.lr").fill("0.02")
    field(page, "max_epochs").fill("4")

    page.locator("#check-button").click()
    result = page.locator("#check-result")
    expect(result).to_contain_text("Check passed", timeout=300_000)
    report = result.locator('.check-data[data-kind="text"]')
    expect(report.locator('[data-fact="rows"] dd')).to_have_text("120 train / 30 val")
    expect(report.locator('[data-fact="classes (2)"] dd')).to_have_text("neg, pos")
    expect(report.locator('[data-fact="vocabulary"] dd')).not_to_be_empty()
    expect(report.locator('tr[data-column="text"]')).to_have_attribute("data-role", "text")

    page.locator("#start-button").click()
    page.wait_for_url(re.compile(r"/runs/\d+$"), timeout=15_000)
    run_id = int(page.url.rsplit("/", 1)[1])
    wait_for_status(live_server, run_id, "succeeded", timeout=300)
    page.reload()
    texts = page.locator("#misclassified-texts")
    expect(texts).to_be_visible(timeout=30_000)
    expect(texts.locator('tr[data-sample="4"] td.text')).to_have_text(rows[4]["text"])
    expect(page.locator("#misclassified img")).to_have_count(0)

"""A table from the new-run form in a real headless Chromium: the `table` data kind shows its
fields, a target column the file lacks is refused at that field, and "Check" shows what the
worker found in the table's columns."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from app.settings import Settings
from tests.support.browser import field, field_error
from tests.support.tables import write_iris


@pytest.fixture
def patient_preflight(monkeypatch: pytest.MonkeyPatch) -> None:
    """A preflight time limit for a CPU shared with other tests (request before live_server)."""
    monkeypatch.setenv("TORCHDASH_PREFLIGHT_SECONDS", "300")


def test_the_table_kind_shows_its_fields_and_check_reports_its_columns(
    patient_preflight: None, settings: Settings, live_server: str, page: Page
) -> None:
    path = write_iris(settings.allowed_data_roots[0])
    page.goto(f"{live_server}/")
    field(page, "data.kind").select_option("table")
    for name in ("path", "val_path", "target", "features", "categorical", "val_fraction"):
        expect(field(page, f"data.{name}")).to_be_visible()
    field(page, "data.path").fill(str(path))
    field(page, "model.hidden_sizes").fill("16")
    field(page, "max_epochs").fill("2")

    # A column the file does not have: the server read its header, the field says why.
    field(page, "data.target").fill("colour")
    page.locator("#check-button").click()
    result = page.locator("#check-result")
    expect(result).to_contain_text("Check failed", timeout=60_000)
    expect(field_error(page, "data.target")).to_contain_text("column 'colour' is not in path")

    field(page, "data.target").fill("species")
    field(page, "data.features").fill("sepal_length, petal_length, garden")
    page.locator("#check-button").click()
    expect(result).to_contain_text("Check passed", timeout=300_000)
    report = result.locator(".check-data")
    expect(report.locator('[data-fact="rows"] dd')).to_have_text("120 train / 30 val")
    expect(report.locator('[data-fact="classes (3)"] dd')).to_have_text(
        "setosa, versicolor, virginica"
    )
    expect(report.locator("tr[data-column]")).to_have_count(6)
    expect(report.locator('tr[data-column="species"] td').nth(2)).to_have_text("target")
    expect(report.locator('tr[data-column="garden"] td').nth(2)).to_have_text("feature")
    expect(report.locator('tr[data-column="sepal_width"] td').nth(2)).to_have_text("ignored")
    # Two standardized measures and three one-hot gardens: five inputs per row, three classes.
    expect(result.locator('[data-fact="shapes"] dd')).to_have_text("[16, 5] → [16, 3]")

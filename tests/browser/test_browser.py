"""The browser side, end to end: a real headless Chromium drives the pages of a live server.

Uses Debian's /usr/bin/chromium through Playwright (never `playwright install`). Set
TORCHDASH_SCREENSHOTS=1 to also write docs/home.png and docs/run-page.png for the README and docs/.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.support.browser import field, field_error, screenshots_wanted
from tests.support.paths import DOCS


def test_start_a_run_and_watch_it_train(live_server: str, page: Page) -> None:
    page.goto(f"{live_server}/")
    expect(page.locator("#run-form")).to_be_visible()
    lr = field(page, "optimizer.lr")
    expect(lr).to_have_value("0.001")  # prefilled with the default config
    expect(field(page, "data.kind")).to_have_value("digits")
    expect(field(page, "batch_size")).to_have_value("16")

    # An invalid value: the server's 422 lands beside the field, and the page stays.
    lr.fill("-1")
    page.locator("#start-button").click()
    expect(field_error(page, "optimizer.lr")).to_contain_text("greater than 0")
    assert page.url.rstrip("/") == live_server.rstrip("/")
    expect(lr).to_have_value("-1")  # nothing typed is lost

    lr.fill("0.001")
    field(page, "max_epochs").fill("3")
    page.locator("#start-button").click()
    page.wait_for_url(re.compile(r"/runs/\d+$"), timeout=15_000)
    run_id = int(page.url.rsplit("/", 1)[1])

    # The charts grow from the event stream, without a reload: the marker must survive.
    page.evaluate("window.__no_reload_marker = true")
    page.wait_for_function(
        "window.torchdash && window.torchdash.epochPoints() >= 1", timeout=60_000
    )
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=90_000)
    expect(page.locator("#run-epoch")).to_have_text("epoch 3/3")
    page.wait_for_function("window.torchdash.epochPoints() === 3", timeout=10_000)
    assert page.evaluate("window.torchdash.stepPoints()") >= 1
    assert page.evaluate("window.__no_reload_marker === true"), "the run page reloaded"

    model_link = page.locator("#checkpoints-table").get_by_role("link", name="model", exact=True)
    expect(model_link.first).to_be_visible(timeout=15_000)
    href = model_link.first.get_attribute("href")
    assert href
    download = page.request.get(href if href.startswith("http") else f"{live_server}{href}")
    assert download.status == 200 and len(download.body()) > 0

    expect(page.locator("#resume-button")).to_be_visible()
    expect(page.locator("#cancel-button")).to_be_hidden()

    if screenshots_wanted():
        DOCS.mkdir(exist_ok=True)
        page.locator("#model-summary-details").evaluate("el => el.open = true")
        page.screenshot(path=str(DOCS / "run-page.png"), full_page=True)
        page.goto(f"{live_server}/")
        expect(page.locator(f'#runs-table tr[data-run-id="{run_id}"]')).to_be_visible()
        page.screenshot(path=str(DOCS / "home.png"))  # the form's action bar sticks to the screen

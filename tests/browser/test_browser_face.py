"""The dashboard's face in a real headless Chromium, on one server with runs in every state
(finished, cancelled part-way, running, queued) and a finished study: every page fits 1280 px
and 390 px in the light and the dark theme with no sideways scroll and no serious accessibility
problem (axe-core, injected by the test only); the form speaks in labels with its help in full;
each run state shows the right progress, badge and main action; /docs works with no network.

One server and one browser for the module: the runs take a while to reach their states, and
each test looks at several pages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from app.settings import Settings
from tests.support.browser import field
from tests.support.runs import TINY_CONFIG, create_run, get_run
from tests.support.servers import serving
from tests.support.waiting import wait_for_status, wait_until

AXE = Path(__file__).resolve().parents[1] / "support" / "axe" / "axe.min.js"
WIDTHS = (1280, 390)
THEMES = ("light", "dark")


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, module_database_url: str | None
) -> Iterator[dict]:
    """A server whose one run slot is busy: a study of two trials and runs finished, cancelled at
    an early epoch, running and queued behind it."""
    home = tmp_path_factory.mktemp("face") / "home"
    (home / "data").mkdir(parents=True)
    settings = Settings(
        home=home, data_roots=[home / "data"], warm_workers=0, database_url=module_database_url
    )
    with serving(settings) as base:
        # The study runs first, while the slot is free: its page draws every chart once its
        # trials are complete.
        space = [{"field": "optimizer.lr", "type": "choice", "choices": [0.01, 0.001]}]
        body = {"config": {**TINY_CONFIG, "max_epochs": 2}, "space": space, "n_trials": 2}
        study = httpx.post(f"{base}/api/studies", json=body, timeout=60)
        assert study.status_code == 201, study.text
        study_id = study.json()["id"]

        # Watched through the list: a study's own read computes its importances every time.
        def study_status() -> str:
            return httpx.get(f"{base}/api/studies", timeout=30).json()["studies"][0]["status"]

        wait_until(lambda: study_status() == "finished", 300, "the study to finish")
        finished = create_run(base, name="finished", max_epochs=2)
        wait_for_status(base, finished["id"], "succeeded")
        cancelled = create_run(base, name="cancelled", max_epochs=30)
        wait_until(lambda: get_run(base, cancelled["id"])["epoch"] >= 2, 300, "epoch 2")
        httpx.post(f"{base}/api/runs/{cancelled['id']}/cancel").raise_for_status()
        cancelled = wait_for_status(base, cancelled["id"], "cancelled")
        running = create_run(base, name="a long running run", max_epochs=500)
        wait_until(lambda: get_run(base, running["id"])["epoch"] >= 1, 300, "a first epoch")
        queued = [
            create_run(base, name=f"queued behind a busy slot with a long name {i}") for i in (1, 2)
        ]
        yield {
            "base": base,
            "finished": get_run(base, finished["id"]),
            "cancelled": cancelled,
            "running": running,
            "queued": queued,
            "study": study_id,
        }


def new_page(browser: Browser, width: int, theme: str) -> tuple[BrowserContext, Page, list[str]]:
    """A page at `width` px whose system prefers `theme`; the list gathers its script errors."""
    context = browser.new_context(
        viewport={"width": width, "height": 900 if width > 600 else 844}, color_scheme=theme
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page, errors


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
            .filter((v) => v.impact === "serious" || v.impact === "critical")
            .map((v) => `${v.id}: ` +
                v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", "))"""
    )
    return list(found)


# The outermost elements that reach past the right edge, to name in a failure.
WIDEST = """[...document.querySelectorAll("body *")]
    .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1)
    .filter((el) => !el.parentElement.closest("*") ||
        el.parentElement.getBoundingClientRect().right <= window.innerWidth + 1)
    .slice(0, 5).map((el) => `${el.tagName.toLowerCase()}#${el.id}.${el.className}`
        + ` ${Math.round(el.getBoundingClientRect().right)}px`)"""


# The runs list's columns and their widths, to name in a failure.
COLUMN_WIDTHS = """[...document.querySelectorAll("#runs-table thead th")]
    .map((th) => `${th.textContent.trim()} ${Math.round(th.getBoundingClientRect().width)}`)"""


def no_sideways_scroll(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_every_page_fits_both_widths_in_both_themes(world: dict, browser: Browser) -> None:
    base = world["base"]
    ids = f"{world['finished']['id']},{world['cancelled']['id']}"
    pages = {
        "home": (f"{base}/", "#runs-table tbody tr[data-run-id]"),
        "finished run": (f"{base}/runs/{world['finished']['id']}", "#epoch-chart .uplot"),
        "running run": (f"{base}/runs/{world['running']['id']}", "#epoch-chart .uplot"),
        "queued run": (f"{base}/runs/{world['queued'][1]['id']}", "#run-status.status-queued"),
        "compare": (f"{base}/compare?ids={ids}", "#compare-charts .uplot"),
        "studies": (f"{base}/studies", "#studies-table tr[data-study-id]"),
        "study": (f"{base}/studies/{world['study']}", "#chart-intermediate .uplot"),
    }
    problems: list[str] = []
    for width in WIDTHS:
        for theme in THEMES:
            context, page, errors = new_page(browser, width, theme)
            for name, (url, ready) in pages.items():
                page.goto(url)
                expect(page.locator(ready).first).to_be_attached(timeout=30_000)
                where = f"{name} at {width} px, {theme}"
                # The theme follows the system's preference when the user picked none.
                assert page.evaluate("document.documentElement.dataset.theme") == theme, where
                if not no_sideways_scroll(page):
                    wide = page.evaluate(WIDEST)
                    problems.append(f"{where}: wider than the screen: {wide}")
                if name == "study":
                    # Its charts are themed like every other page's, each with a data table.
                    for chart in ("#chart-objective", "#chart-intermediate"):
                        expect(page.locator(f"{chart} details.chart-data")).to_have_count(1)
                if name == "home" and width == 1280:
                    # The runs list keeps its columns: no scroll inside its own box either.
                    wrap = page.locator("#runs-table").locator("xpath=..")
                    inner, box = wrap.evaluate("(el) => [el.scrollWidth, el.clientWidth]")
                    columns = page.evaluate(COLUMN_WIDTHS)
                    assert inner <= box, f"{where}: the runs list is {inner} px in {box}: {columns}"
                if width == 1280 or name == "home":
                    problems += [f"{where}: {v}" for v in serious_violations(page)]
            context.close()
            assert not errors, f"script errors at {width} px, {theme}: {errors}"
    assert not problems, "\n".join(problems)


def test_the_theme_toggle_is_remembered(world: dict, browser: Browser) -> None:
    context, page, errors = new_page(browser, 1280, "light")
    page.goto(world["base"] + "/")
    page.locator("#theme-toggle").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.goto(f"{world['base']}/runs/{world['finished']['id']}")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    # The charts draw their axes in the dark theme's colour.
    axis = page.evaluate(
        "getComputedStyle(document.documentElement).getPropertyValue('--chart-axis').trim()"
    )
    assert axis == "#c9d1d9"
    context.close()
    assert not errors


def test_the_form_speaks_in_labels(world: dict, browser: Browser) -> None:
    context, page, errors = new_page(browser, 1280, "light")
    page.goto(world["base"] + "/")
    form = page.locator("#run-form")
    expect(form.locator("label", has_text=re.compile(r"^Epochs")).first).to_be_visible()
    expect(form.locator("label", has_text=re.compile(r"^Learning rate \(lr\)"))).to_be_visible()
    text = form.inner_text()
    assert "`" not in text, "a raw backtick in the form"
    assert "max_epochs\n" not in text and "…" not in text
    # Help is shown in full, wrapped, not cut with an ellipsis.
    cut = page.evaluate(
        """[...document.querySelectorAll('#run-form .help')]
            .filter((el) => el.scrollWidth > el.clientWidth + 1).length"""
    )
    assert cut == 0
    # Start stays in reach: the action bar sits in the viewport once the form is scrolled to (its
    # top at the viewport's top; a form whose top only peeks in at the bottom has no bar in view).
    page.locator("#form-title").evaluate("(el) => el.scrollIntoView({block: 'start'})")
    expect(page.locator("#start-button")).to_be_in_viewport()
    expect(page.locator("#check-button")).to_be_in_viewport()

    # Ticking early stopping shows its fields (and throws nothing: see `errors`).
    page.locator("#section-advanced > summary").click()
    field(page, "early_stopping").check()
    expect(field(page, "early_stopping.patience")).to_be_visible()
    assert page.evaluate("window.torchdashForm.collect().early_stopping.patience") == 5

    # A key the form does not know is named at Apply, not dropped in silence.
    page.locator("#json-details > summary").click()
    config = page.evaluate("window.torchdashForm.collect()")
    config["optimizer"]["momentum_typo"] = 0.9
    page.locator("#config-json").fill(json.dumps(config))
    page.locator("#json-apply").click()
    expect(page.locator("#json-error")).to_contain_text("optimizer.momentum_typo")

    # A sweep over a list field, one list a line: Start names the runs it queues.
    page.locator("#sweep-details > summary").click()
    for path, values in (("model.hidden_sizes", "64, 64\n128"), ("optimizer.lr", "0.01, 0.001")):
        page.locator("#sweep-add").click()
        page.locator("#sweep-rows .sweep-path").last.fill(path)
        page.locator("#sweep-rows .sweep-path").last.dispatch_event("change")
        page.locator("#sweep-rows .sweep-values").last.fill(values)
    expect(page.locator("#start-button")).to_have_text("Start 4 runs")
    page.locator("#start-button").click()
    page.wait_for_url(re.compile(r"/\?q=sweep"), timeout=15_000)
    group = parse_qs(urlparse(page.url).query)["q"][0]
    runs = httpx.get(f"{world['base']}/api/runs", params={"q": group}).json()["runs"]
    swept = sorted(
        (tuple(r["config"]["model"]["hidden_sizes"]), r["config"]["optimizer"]["lr"]) for r in runs
    )
    assert swept == [((64, 64), 0.001), ((64, 64), 0.01), ((128,), 0.001), ((128,), 0.01)]
    context.close()
    assert not errors, errors


def test_each_state_is_told_right(world: dict, browser: Browser) -> None:
    base = world["base"]
    context, page, errors = new_page(browser, 1280, "light")

    finished = world["finished"]
    page.goto(f"{base}/runs/{finished['id']}")
    expect(page.locator("#run-status")).to_have_text("succeeded")
    expect(page.locator("#resume-button")).to_have_text("Extend")
    expect(page.locator("#resume-max-epochs")).to_have_value(str(finished["max_epochs"] + 10))
    expect(page.locator("#live-indicator")).to_be_hidden()
    expect(page.locator("#progress-bar")).to_have_attribute("aria-valuenow", "100")
    # Notes are empty: their card is closed, the charts come first.
    expect(page.locator("#notes-details")).not_to_have_attribute("open", "")
    # Each chart has its data as a table.
    expect(page.locator("#step-chart details.chart-data").first).to_be_attached()

    cancelled = world["cancelled"]
    percent = round(cancelled["epoch"] / 30 * 100)
    page.goto(f"{base}/runs/{cancelled['id']}")
    expect(page.locator("#run-status")).to_have_text("cancelled")
    expect(page.locator("#resume-button")).to_have_text("Resume")
    expect(page.locator("#run-epoch")).to_have_text(f"epoch {cancelled['epoch']}/30")
    expect(page.locator("#run-percent")).to_have_text(f"{percent}%")
    expect(page.locator("#progress-bar")).to_have_attribute("aria-valuenow", str(percent))
    expect(page.locator("#live-indicator")).to_be_hidden()

    # A queued run keeps its place once the live stream has sent the run again.
    queued = world["queued"][1]
    page.goto(f"{base}/runs/{queued['id']}")
    expect(page.locator("#live-indicator")).to_have_text("live", timeout=15_000)
    expect(page.locator("#progress-text")).to_contain_text("#2 in the queue")
    context.close()
    assert not errors, errors


def test_live_run_events_carry_the_queue_fields(world: dict) -> None:
    base = world["base"]
    queued = world["queued"][1]
    with httpx.stream("GET", f"{base}/api/runs/{queued['id']}/events", timeout=15) as response:
        for line in response.iter_lines():
            if line.startswith("data:") and '"queue_position"' in line:
                run = json.loads(line.split(":", 1)[1])
                break
    assert run["queue_position"] == 2


def test_api_docs_work_offline(world: dict, browser: Browser) -> None:
    context, page, errors = new_page(browser, 1280, "light")
    outside: list[str] = []

    def only_loopback(route) -> None:
        host = httpx.URL(route.request.url).host
        if route.request.url.startswith("data:") or host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback)
    page.goto(world["base"] + "/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("torchdash", timeout=15_000)
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.locator("script[src^='/static/vendor/swagger-ui/']").count() == 1
    context.close()
    assert not outside, f"/docs asked outside this machine: {outside}"
    assert not errors, errors

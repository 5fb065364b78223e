"""The form's Script mode, in a real headless Chromium: a script of the scripts folder chosen,
its argparse options offered as hints (one click adds a flag with its default), arguments and
environment typed, Start; the real server's worker runs the script and its run page shows the
metric panels its JSON lines made."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from app.settings import Settings
from tests.support.scripts import JSON_LINES, write_script
from tests.support.servers import serving
from tests.support.waiting import wait_for_status


def test_a_script_run_starts_from_the_form(settings: Settings, page: Page) -> None:
    write_script(settings.home_dir / "scripts", "digits/train.py", JSON_LINES)
    with serving(settings, timeout=120) as base:
        page.goto(base + "/")
        page.click("#mode-script")
        expect(page.locator("#run-form")).to_be_hidden()
        expect(page.locator("#script-path")).to_have_value("digits/train.py")
        expect(page.locator("#script-description")).to_have_text(
            "Prints its metrics as JSON lines."
        )
        page.locator(".script-option", has_text="--epochs").click()  # adds "--epochs 3"
        expect(page.locator("#script-args")).to_have_value("--epochs 3")
        page.fill("#script-args", "--epochs 2 --lr 0.3")
        page.fill("#script-env", "SEED=4")
        page.select_option("#script-device", "cpu")
        page.click("#script-start")
        page.wait_for_url("**/runs/*")
        run_id = int(page.url.rstrip("/").split("/")[-1])
        run = httpx.get(f"{base}/api/runs/{run_id}").json()
        assert run["kind"] == "script"
        assert run["script"] == {
            "path": "digits/train.py",
            "args": ["--epochs", "2", "--lr", "0.3"],
            "env": {"SEED": "4"},
        }
        wait_for_status(base, run_id, "succeeded", timeout=240)
        page.reload()
        # The metric panels come from the names its JSON lines reported.
        expect(page.get_by_text("val_accuracy").first).to_be_visible()

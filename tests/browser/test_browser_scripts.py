"""The form's Script mode, in a real headless Chromium: a script of the scripts folder chosen,
its argparse options offered as hints (one click adds a flag with its default), arguments and
environment typed, Start; the real server's worker runs the script and its run page shows the
metric panels its JSON lines made. The sweep's Search mode in Script mode starts a study over
the script's arguments."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from app.settings import Settings
from tests.support.scripts import JSON_LINES, write_script
from tests.support.servers import serving
from tests.support.waiting import wait_for_status, wait_until


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


def test_a_study_over_a_scripts_arguments_starts_from_the_forms_search_mode(
    settings: Settings, page: Page
) -> None:
    write_script(settings.home_dir / "scripts", "digits/train.py", JSON_LINES)
    with serving(settings, timeout=120) as base:
        page.goto(base + "/")
        page.click("#mode-script")
        expect(page.locator("#script-path")).to_have_value("digits/train.py")
        page.fill("#script-args", "--epochs 1")
        page.select_option("#script-device", "cpu")
        page.locator("#sweep-details > summary").click()
        page.locator('input[name="sweep-mode"][value="search"]').check()
        expect(page.locator("#script-start")).to_have_text("Start study")
        expect(page.locator("#sweep-seeds")).to_be_hidden()  # a script has no seed of ours
        page.click("#search-add")
        row = page.locator("#search-rows .search-row")
        row.locator(".search-field").focus()  # offers the script's options as fields
        offered = page.locator("#sweep-paths option").evaluate_all("(os) => os.map((o) => o.value)")
        assert offered == ["script.args.--epochs", "script.args.--lr", "processes"]
        row.locator(".search-field").fill("script.args.--nope")
        row.locator(".search-low").fill("0.1")
        row.locator(".search-high").fill("0.5")
        page.fill("#search-trials", "2")
        page.select_option("#search-pruner", "none")
        page.click("#script-start")
        expect(row.locator(".field-error")).to_contain_text("no option --nope")
        assert httpx.get(f"{base}/api/studies").json()["studies"] == []

        row.locator(".search-field").fill("script.args.--lr")
        page.click("#script-start")
        page.wait_for_url("**/studies/*")
        study_id = int(page.url.rstrip("/").split("/")[-1])
        study = httpx.get(f"{base}/api/studies/{study_id}").json()
        assert study["config"]["script"]["args"] == ["--epochs", "1"]
        assert [entry["field"] for entry in study["space"]] == ["script.args.--lr"]

        def both_trials() -> list[dict] | None:
            runs = httpx.get(f"{base}/api/runs", params={"limit": 100}).json()["runs"]
            mine = [run for run in runs if run["study_id"] == study_id]
            return mine if len(mine) == 2 else None

        runs = wait_until(both_trials, 120, "both trials queued (a slot's and one ahead)")
        lrs = [float(run["script"]["args"][3]) for run in runs]
        assert all(run["script"]["args"][:3] == ["--epochs", "1", "--lr"] for run in runs)
        assert all(0.1 <= lr <= 0.5 for lr in lrs) and lrs[0] != lrs[1]
        stopped = httpx.post(f"{base}/api/studies/{study_id}/stop", json={"cancel_running": True})
        assert stopped.json()["status"] == "stopped"

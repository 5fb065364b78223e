"""The browser tests' Chromium (Debian's /usr/bin/chromium through Playwright, never
`playwright install`) and the ways they find the new-run form's fields."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here (None: they can).

    In CI a missing Chromium is an error: `make test` installs it, and a skip would hide a
    broken step."""
    if CHROMIUM.exists():
        return None
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing in CI: `make browser` should have installed it")
    return f"{CHROMIUM} is not installed (apt-get install chromium)"


def field(page: Page, path: str) -> Locator:
    """The input of the form field at a dotted config path, e.g. `optimizer.lr`."""
    return page.locator(f'#run-form [data-path="{path}"]')


def field_error(page: Page, path: str) -> Locator:
    return page.locator(f'#run-form [data-field="{path}"] > .field-error')


def screenshots_wanted() -> bool:
    return os.environ.get("TORCHDASH_SCREENSHOTS") == "1"

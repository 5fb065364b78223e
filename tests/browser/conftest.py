"""Every test here drives a real headless Chromium: each carries the `browser` marker, so
`-m "not browser"` leaves them out. The `browser` and `page` fixtures are in tests/conftest.py
(a Ray test drives the page too)."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)

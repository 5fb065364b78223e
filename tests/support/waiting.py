"""Waiting on conditions, never on times: each wait fails naming what it waited for."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

# A run in one of these states stays there until someone resumes it.
STUCK = frozenset({"failed", "interrupted"})


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `condition` until it returns something truthy; fail naming `what` on time-out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def wait_for_status(base: str, run_id: int, status: str, timeout: float = 120) -> dict:
    """Wait until the run on the server at `base` is in `status`, and return it.

    Fails at once when the run is failed or interrupted instead (it would never get there), and
    on time-out; both messages name the run's last status and error."""
    deadline = time.monotonic() + timeout
    while True:
        run = httpx.get(f"{base}/api/runs/{run_id}").json()
        if run["status"] == status:
            return run
        now = f"run {run_id} is {run['status']} (error: {run['error']!r})"
        if run["status"] in STUCK:
            raise AssertionError(f"{now} while waiting for it to become {status}")
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {status}: {now}")
        time.sleep(0.05)

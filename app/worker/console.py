"""The worker's log lines: time-stamped, flushed at once (the run page streams worker.log)."""

from __future__ import annotations

from datetime import UTC, datetime


def log(message: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    print(f"{stamp} {message}", flush=True)

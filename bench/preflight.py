"""POST /api/preflight of the digits default config → its answer ≤ 1 s median, warm worker free.

A real server on a temporary home, side by side in one bench run: warm (a warm worker is ready
before each POST; the one that answers is used up and the pool refills before the next) and cold
(`TORCHDASH_WARM_WORKERS=0`: a fresh `python -m app.worker --preflight` imports torch each time).
The clock runs from just before the POST to the answer, as a browser's "Check" button sees it.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import Result
from bench.live_server import serve
from bench.run_start import CONFIG, ready_warm_workers, wait_for

RUNS = 3
TARGET_SECONDS = 1.0


def answer_times(warm_workers: int) -> tuple[list[float], dict[str, Any]]:
    """Seconds from POST to the answer for RUNS preflights in a row, and the last answer."""
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        with serve(home, warm_workers=str(warm_workers), preflight_seconds="600") as server:
            times, report = [], {}
            for turn in range(RUNS):
                if warm_workers:
                    wait_for(lambda t=turn: ready_warm_workers(home) > t, 300, "a warm worker")
                posted = time.perf_counter()
                response = httpx.post(f"{server.base}/api/preflight", json=CONFIG, timeout=600)
                times.append(time.perf_counter() - posted)
                response.raise_for_status()
                report = response.json()
                expected = "warm" if warm_workers else "cold"
                if report["worker"] != expected:
                    raise RuntimeError(f"a {report['worker']} worker answered, not {expected}")
            return times, report


def run() -> list[Result]:
    warm, report = answer_times(warm_workers=1)
    cold, _ = answer_times(warm_workers=0)
    warm_median, cold_median = statistics.median(warm), statistics.median(cold)
    return [
        Result(
            "POST /api/preflight (digits default) → answer ≤ 1 s median (warm, free)",
            f"warm: {warm_median:.2f} s median, {max(warm):.2f} s max ({RUNS} preflights); it "
            f"measured {report['seconds_per_batch'] * 1000:.2f} ms per batch, an epoch "
            f"estimate of {report['epoch_seconds_estimate']:.2f} s",
            f"cold (`TORCHDASH_WARM_WORKERS=0`): {cold_median:.2f} s median, {max(cold):.2f} s "
            f"max (×{cold_median / warm_median:.1f} slower); load average "
            f"{os.getloadavg()[1]:.1f} over the last 5 minutes",
            warm_median <= TARGET_SECONDS,
        )
    ]


if __name__ == "__main__":
    for result in run():
        print(result.row())

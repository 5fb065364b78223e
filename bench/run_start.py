"""POST of a run -> its first training step <= 0.5 s median, with a warm worker waiting.

A real server on a temporary home; runs of the digits default config are posted one after
another, each once the previous one has ended (a free slot), cold (TORCHDASH_WARM_WORKERS=0: a
fresh interpreter imports torch per run) and warm (a warm worker is ready before each POST),
side by side in the same bench run. The clock starts just before the POST is sent and stops at
the time the worker logs when the trainer reports its first step (`first step reported at T`,
a UTC time to the millisecond, same machine): `report_every_steps` is 1 so that report follows
step 1 at once.
Each run is cancelled after that first step, to keep the bench short.
"""

from __future__ import annotations

import math
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench.common import Result
from bench.live_server import serve

RUNS = 5
TARGET_SECONDS = 0.5
# The README's minimal config, its loss reported after every step.
CONFIG: dict[str, Any] = {
    "name": "digits-mlp",
    "data": {"kind": "digits"},
    "model": {"kind": "mlp", "hidden_sizes": [256]},
    "loss": {"kind": "cross_entropy"},
    "optimizer": {"kind": "adam", "lr": 0.001},
    "batch_size": 16,
    "max_epochs": 10,
    "device": "auto",
    "report_every_steps": 1,
}
FIRST_STEP = re.compile(r"first step reported at (\S+)")
READY = re.compile(r"warm worker \d+: ready after")


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise RuntimeError(f"timed out after {timeout} s waiting for {what}")


def first_step_time(log: Path) -> float | None:
    found = FIRST_STEP.search(log.read_text()) if log.exists() else None
    return datetime.fromisoformat(found[1]).timestamp() if found else None


def ready_warm_workers(home: Path) -> int:
    log = home / "warm-workers.log"
    return len(READY.findall(log.read_text())) if log.exists() else 0


def start_latencies(warm_workers: int) -> list[float]:
    """Seconds from POST to the first step, for RUNS runs posted one after another."""
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        with serve(home, warm_workers=str(warm_workers)) as server:
            base = server.base
            latencies = []
            for turn in range(RUNS):
                if warm_workers:
                    wait_for(lambda t=turn: ready_warm_workers(home) > t, 120, "a warm worker")
                posted = time.time()
                run_id = httpx.post(f"{base}/api/runs", json=CONFIG, timeout=30).json()["id"]
                log = home / "runs" / str(run_id) / "worker.log"
                first = wait_for(lambda log=log: first_step_time(log), 120, "the first step")
                latencies.append(first - posted)
                httpx.post(f"{base}/api/runs/{run_id}/cancel", timeout=30)
                wait_for(lambda r=run_id: _ended(base, r), 120, f"run {run_id} to end")
            return latencies


def _ended(base: str, run_id: int) -> bool:
    run = httpx.get(f"{base}/api/runs/{run_id}", timeout=30).json()
    return run["status"] in ("succeeded", "failed", "cancelled", "interrupted")


def p90(values: list[float]) -> float:
    """Nearest-rank 90th percentile."""
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


def run() -> list[Result]:
    cold = start_latencies(warm_workers=0)
    warm = start_latencies(warm_workers=1)
    cold_median, warm_median = statistics.median(cold), statistics.median(warm)
    return [
        Result(
            "2. POST of a run → first training step ≤ 0.5 s median (warm worker, free slot)",
            f"warm: {warm_median:.2f} s median, {p90(warm):.2f} s p90 ({RUNS} runs)",
            f"cold (`TORCHDASH_WARM_WORKERS=0`): {cold_median:.2f} s median, "
            f"{p90(cold):.2f} s p90 (×{cold_median / warm_median:.1f} slower)",
            warm_median <= TARGET_SECONDS,
        )
    ]


if __name__ == "__main__":
    for result in run():
        print(result.row())

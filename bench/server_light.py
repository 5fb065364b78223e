"""The web server never imports torch; start to /healthz <= 1.5 s; idle RSS <= 150 MB.

Each repeat starts the server twice on one home: first on a new home (it creates the database
through the migrations), then again on that home (the database is current: every later start).
Side by side in the same run: the time a bare `python -c "import torch"` takes on this machine.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import Result, timed
from bench.live_server import free_port

ROOT = Path(__file__).resolve().parent.parent
REPEATS = 5


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def start_once(home: str) -> tuple[float, float]:
    """Seconds from spawning the server on `home` to its first 200 on /healthz, and RSS after 3 s
    idle."""
    port = free_port()
    env = {**os.environ, "TORCHDASH_HOME": home, "TORCHDASH_PORT": str(port)}
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "app", "serve"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.perf_counter() - started > 30:
                raise RuntimeError("server did not answer within 30 s")
            time.sleep(0.005)
        ready = time.perf_counter() - started
        httpx.get(f"http://127.0.0.1:{port}/", timeout=5)  # the home page, once
        time.sleep(3)
        return ready, rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=10)


def run() -> list[Result]:
    first_starts, later_starts, memory = [], [], []
    for _ in range(REPEATS):
        with tempfile.TemporaryDirectory() as home:
            first_starts.append(start_once(home)[0])
            ready, rss = start_once(home)
            later_starts.append(ready)
            memory.append(rss)
    import_torch = statistics.median(
        timed(lambda: subprocess.run([sys.executable, "-c", "import torch"], check=True))
        for _ in range(3)
    )
    first, later = statistics.median(first_starts), statistics.median(later_starts)
    rss = statistics.median(memory)
    return [
        Result(
            "6. server start to answering /healthz ≤ 1.5 s",
            f"{first:.2f} s on a new home (it creates the database), {later:.2f} s on an existing"
            f" one (medians of {REPEATS})",
            f"`python -c 'import torch'` alone: {import_torch:.2f} s; MLflow server reference 13 s",
            max(first, later) <= 1.5,
        ),
        Result(
            "6. idle server resident memory ≤ 150 MB",
            f"{rss:.0f} MB (median of {REPEATS}, after serving the home page)",
            "MLflow server reference: 2.6 GB over 15 processes",
            rss <= 150,
        ),
    ]


if __name__ == "__main__":
    for result in run():
        print(result.row())

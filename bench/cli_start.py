"""`torchdash runs` and `torchdash --help` answer about as fast as Python starts.

Side by side in one run, interleaved so the machine's load weighs on each alike: a bare
`python -c pass` (the interpreter's own start), `torchdash --help`, and `torchdash runs`
against a live server holding 20 runs. `--before PATH` adds the same two commands run from
another checkout of torchdash (an older commit), for a before/after figure.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import Result
from bench.live_server import ROOT, serve

REPEATS = 15
RUNS = 20


def add_finished_runs(base: str) -> None:
    """RUNS runs in the list, cancelled at once: no worker trains beside the timing."""
    ids = [
        httpx.post(f"{base}/api/runs", json={"name": f"bench {i}", "max_epochs": 3}).json()["id"]
        for i in range(RUNS)
    ]
    for run_id in ids:
        httpx.post(f"{base}/api/runs/{run_id}/cancel")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        page = httpx.get(f"{base}/api/runs", params={"status": "running"}).json()
        if not page["runs"]:
            return
        time.sleep(0.2)
    raise RuntimeError("a cancelled run still runs after 120 s")


def measure(commands: dict[str, tuple[list[str], Path]]) -> dict[str, list[float]]:
    """Each command REPEATS times, interleaved; its wall times in seconds."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(REPEATS):
        for name, (command, cwd) in commands.items():
            env = {**os.environ, "PYTHONPATH": str(cwd)}
            started = time.perf_counter()
            subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
            times[name].append(time.perf_counter() - started)
    return times


def run(before: Path | None = None) -> list[Result]:
    py = sys.executable
    with tempfile.TemporaryDirectory() as home, serve(Path(home), warm_workers="0") as server:
        add_finished_runs(server.base)
        runs = [py, "-m", "app", "runs", "--url", server.base]
        commands = {
            "python -c pass": ([py, "-c", "pass"], ROOT),
            "torchdash --help": ([py, "-m", "app", "--help"], ROOT),
            "torchdash runs": (runs, ROOT),
        }
        if before is not None:
            commands["torchdash --help (before)"] = ([py, "-m", "app", "--help"], before)
            commands["torchdash runs (before)"] = (runs, before)
        times = measure(commands)
    load = os.getloadavg()[1]
    median = {name: statistics.median(values) for name, values in times.items()}
    fastest = {name: min(values) for name, values in times.items()}
    figures = "; ".join(
        f"`{name}` {median[name]:.2f} s (fastest {fastest[name]:.2f} s)" for name in times
    )
    cli = median["torchdash runs"]
    return [
        Result(
            "issue 27. `torchdash runs` answers within 0.5 s (20 runs, live server)",
            f"{cli:.2f} s median of {REPEATS} (fastest {fastest['torchdash runs']:.2f} s);"
            f" {cli - median['python -c pass']:.2f} s over Python's own start",
            f"{figures}; load average {load:.1f} (5 min) on {os.cpu_count()} cores",
            cli <= 0.5,
        )
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", type=Path, help="another torchdash checkout to compare")
    options = parser.parse_args()
    for result in run(options.before):
        print(result.row())

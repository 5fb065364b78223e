"""The server answers its first request at once and idles small, side by side with MLflow.

In one run, alternating: `python -m app serve` (the command `make run` serves with),
`mlflow server --workers 1`, and the floor: the smallest server on torchdash's own stack
(FastAPI on uvicorn, one route that asks SQLite through SQLAlchemy), which tells the framework's
share from torchdash's. Each on a home of its own, its database made by a first, untimed start:
seconds from spawning to the first 200 of its health route (torchdash and the floor `/healthz`,
MLflow `/health`) and the CPU seconds the server process spent until then (which other
processes' load on the machine does not inflate as much as the wall time), then the resident
memory after 3 s idle: the server process alone, and its whole process tree (torchdash's tree
holds its warm worker, a process with torch imported, waiting for a run; MLflow's its uvicorn
worker). Then the 10,000-point read: a run with 10,000 step losses, read whole, torchdash's
`GET /api/runs/{id}/metrics` against MLflow's `MlflowClient.get_metric_history`.

MLflow runs from a virtual environment of its own, never the project's (MLflow pins packages the
project uses): `python -m venv /work/mlflow-venv && /work/mlflow-venv/bin/pip install mlflow`,
or name another one with TORCHDASH_BENCH_MLFLOW_PYTHON. `--before PATH` adds torchdash's server
run from another checkout (an older commit) to the alternation, for a before/after figure.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import Result
from bench.live_server import ROOT, free_port

MLFLOW_PYTHON = os.environ.get("TORCHDASH_BENCH_MLFLOW_PYTHON", "/work/mlflow-venv/bin/python")
REPEATS = 3
POINTS = 10_000
READS = 7

# The floor: FastAPI on uvicorn with one route that reads SQLite through SQLAlchemy. argv: the
# port, the database file.
FLOOR_SERVER = """
import sys
import uvicorn
from fastapi import FastAPI
from sqlalchemy import create_engine, text
engine = create_engine(f"sqlite:///{sys.argv[2]}")
app = FastAPI()
@app.get("/healthz")
def healthz() -> dict[str, str]:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return {"status": "ok"}
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""

# Runs inside MLflow's environment: log POINTS losses, then time READS full reads.
MLFLOW_READ = f"""
import json, statistics, sys, time
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient
client = MlflowClient(sys.argv[1])
run = client.create_run(client.create_experiment("bench")).info.run_id
now = int(time.time() * 1000)
for start in range(0, {POINTS}, 1000):
    client.log_batch(run, metrics=[Metric("loss", 1 / (s + 1), now, s)
                                   for s in range(start, start + 1000)])
times = []
for _ in range({READS}):
    started = time.perf_counter()
    history = client.get_metric_history(run, "loss")
    times.append(time.perf_counter() - started)
assert len(history) == {POINTS}, len(history)
print(json.dumps(statistics.median(times)))
"""


def tree_rss_mb(pid: int) -> tuple[float, float]:
    """Resident memory of `pid` alone and of it with every descendant, in MB."""

    def rss(p: int) -> float:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def descendants(p: int) -> list[int]:
        children = [
            child
            for task in Path(f"/proc/{p}/task").iterdir()
            for child in (task / "children").read_text().split()
        ]
        return [int(c) for c in children] + [d for c in children for d in descendants(int(c))]

    return rss(pid), rss(pid) + sum(rss(d) for d in descendants(pid))


def cpu_seconds(pid: int) -> float:
    """User and system CPU time `pid` has spent so far (/proc/PID/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for(url: str, started: float) -> float:
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        if time.perf_counter() - started > 300:
            raise RuntimeError(f"{url} did not answer within 300 s")
        time.sleep(0.005)


def start(
    command: list[str], health: str, port: int, env: dict[str, str], cwd: Path = ROOT
) -> subprocess.Popen:
    # A session of its own: stop() ends the server with every process it started.
    return subprocess.Popen(
        command, cwd=cwd, env={**os.environ, **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def stop(server: subprocess.Popen) -> None:
    """SIGTERM to the server's process group, SIGKILL if it has not ended in 30 s (MLflow's
    graceful stop can take longer on a loaded machine)."""
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)


# (seconds to the first answer, the server's CPU seconds until then, idle MB alone, idle MB of
# its process tree, the 10,000-point read's seconds or None)
Measure = tuple[float, float, float, float, float | None]


def torchdash_once(home: Path, read: bool, checkout: Path = ROOT) -> Measure:
    """`checkout`: where `app` is imported from (this one, or `--before`'s)."""
    port = free_port()
    env = {"TORCHDASH_HOME": str(home), "TORCHDASH_PORT": str(port), "PYTHONPATH": str(checkout)}
    started = time.perf_counter()
    server = start([sys.executable, "-m", "app", "serve"], "/healthz", port, env, checkout)
    base = f"http://127.0.0.1:{port}"
    try:
        ready = wait_for(f"{base}/healthz", started)
        cpu = cpu_seconds(server.pid)
        time.sleep(3)
        alone, tree = tree_rss_mb(server.pid)
        return ready, cpu, alone, tree, torchdash_read(base) if read else None
    finally:
        stop(server)


def floor_once(home: Path) -> Measure:
    port = free_port()
    command = [sys.executable, "-c", FLOOR_SERVER, str(port), str(home / "floor.db")]
    started = time.perf_counter()
    server = start(command, "/healthz", port, {})
    try:
        ready = wait_for(f"http://127.0.0.1:{port}/healthz", started)
        cpu = cpu_seconds(server.pid)
        time.sleep(3)
        alone, tree = tree_rss_mb(server.pid)
        return ready, cpu, alone, tree, None
    finally:
        stop(server)


def torchdash_read(base: str) -> float:
    run = httpx.post(f"{base}/api/runs/external", json={"name": "bench"}).json()
    steps = [{"step": s + 1, "epoch": 1, "loss": 1 / (s + 1)} for s in range(POINTS)]
    httpx.post(f"{base}/api/runs/{run['id']}/report", json={"steps": steps}, timeout=60)
    url = f"{base}/api/runs/{run['id']}/metrics"
    with httpx.Client() as client:
        assert len(client.get(url).json()["steps"]) == POINTS
        times = []
        for _ in range(READS):
            started = time.perf_counter()
            client.get(url).json()
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def mlflow_once(home: Path, read: bool) -> Measure:
    port = free_port()
    command = [
        MLFLOW_PYTHON, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
        "--backend-store-uri", f"sqlite:///{home / 'mlflow.db'}",
        "--default-artifact-root", str(home / "artifacts"), "--workers", "1",
    ]  # fmt: skip
    started = time.perf_counter()
    server = start(command, "/health", port, {})
    base = f"http://127.0.0.1:{port}"
    try:
        ready = wait_for(f"{base}/health", started)
        cpu = cpu_seconds(server.pid)
        time.sleep(3)
        alone, tree = tree_rss_mb(server.pid)
        seconds = None
        if read:
            out = subprocess.run(
                [MLFLOW_PYTHON, "-c", MLFLOW_READ, base], capture_output=True, text=True,
                check=True,
            )  # fmt: skip
            seconds = json.loads(out.stdout)
        return ready, cpu, alone, tree, seconds
    finally:
        stop(server)


def run(before: Path | None = None) -> list[Result]:
    if not Path(MLFLOW_PYTHON).exists():
        sys.exit(f"no MLflow python at {MLFLOW_PYTHON}: see this file's docstring")
    ours: list[Measure] = []
    older: list[Measure] = []
    floor: list[Measure] = []
    theirs: list[Measure] = []
    for repeat in range(REPEATS):
        with tempfile.TemporaryDirectory() as folder:
            for name in ("t", "b", "f", "m"):
                (Path(folder) / name).mkdir()
            torchdash_once(Path(folder) / "t", read=False)  # creates the database: not timed
            ours.append(torchdash_once(Path(folder) / "t", read=repeat == 0))
            if before is not None:
                torchdash_once(Path(folder) / "b", read=False, checkout=before)  # likewise
                older.append(torchdash_once(Path(folder) / "b", read=False, checkout=before))
            floor_once(Path(folder) / "f")  # likewise
            floor.append(floor_once(Path(folder) / "f"))
            mlflow_once(Path(folder) / "m", read=False)  # likewise
            theirs.append(mlflow_once(Path(folder) / "m", read=repeat == 0))

    def medians(measures: list[Measure]) -> list[float]:
        return [statistics.median(column) for column in list(zip(*measures, strict=True))[:4]]

    t, f, m = medians(ours), medians(floor), medians(theirs)
    t_read, m_read = ours[0][4], theirs[0][4]
    assert t_read is not None and m_read is not None
    load = os.getloadavg()[1]
    was = ""
    if before is not None:
        b = medians(older)
        was = f"; before ({before}): {b[0]:.2f} s, CPU {b[1]:.2f} s, {b[2]:.0f} MB"
    return [
        Result(
            "issue 27. server start to its first answer ≤ 0.6 s (an existing home)",
            f"{t[0]:.2f} s (median of {REPEATS}); the server's CPU until then {t[1]:.2f} s",
            f"`mlflow server --workers 1`: {m[0]:.2f} s (×{m[0] / t[0]:.1f});"
            f" the floor (FastAPI + SQLAlchemy on uvicorn, one route): {f[0]:.2f} s,"
            f" CPU {f[1]:.2f} s; load {load:.1f}{was}",
            t[0] <= 0.6,
        ),
        Result(
            "issue 27. idle server ≤ 60 MB resident",
            f"server process {t[2]:.0f} MB; with its warm worker (torch imported) {t[3]:.0f} MB",
            f"MLflow: main process {m[2]:.0f} MB, its tree {m[3]:.0f} MB"
            f" (×{m[3] / t[2]:.1f} of torchdash's server process);"
            f" the floor: {f[2]:.0f} MB",
            t[2] <= 60,
        ),
        Result(
            "issue 27. the full read of 10,000 step points ≥ 10× MLflow's",
            f"{t_read * 1000:.0f} ms (GET /api/runs/{{id}}/metrics, median of {READS})",
            f"MLflow `get_metric_history`: {m_read * 1000:.0f} ms (×{m_read / t_read:.1f})",
            m_read / t_read >= 10,
        ),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", type=Path, help="another torchdash checkout to compare")
    for result in run(parser.parse_args().before):
        print(result.row())

"""Logging from a script elsewhere: step points per second through torchdash_track into a
torchdash server, against MLflow's own client (`MlflowClient.log_batch`) into an `mlflow server`,
both on this machine, side by side in one run. Goal: >= 10x MLflow.

Each side is a client process logging POINTS (step, loss) points as fast as it can, timed from
its first point until the server has them all (torchdash: `finish` returns after the last batch
was answered; MLflow: the last `log_batch` returned). Both servers keep their rows in SQLite.

MLflow is not a dependency of torchdash: install it into a virtualenv of its own and name its
python (default /work/mlflow-venv/bin/python):

    python -m venv /tmp/mlflow-venv && /tmp/mlflow-venv/bin/pip install mlflow
    TORCHDASH_BENCH_MLFLOW_PYTHON=/tmp/mlflow-venv/bin/python python -m bench.track_vs_mlflow
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

from bench.live_server import ROOT, free_port, serve

POINTS = int(os.environ.get("TORCHDASH_BENCH_POINTS", "100000"))
MLFLOW_PYTHON = os.environ.get("TORCHDASH_BENCH_MLFLOW_PYTHON", "/work/mlflow-venv/bin/python")
MLFLOW_BATCH = 1000  # the most metrics one log_batch takes (MLflow's own limit)

TORCHDASH_CLIENT = textwrap.dedent(
    """
    import sys, time
    from torchdash_track.remote import RemoteRun
    points = int(sys.argv[2])
    run = RemoteRun(sys.argv[1], name="bench", config={"points": points})
    start = time.perf_counter()
    for step in range(1, points + 1):
        run.log_step(step, 1.0 / step)
    run.finish()
    print(time.perf_counter() - start)
    """
)

MLFLOW_CLIENT = textwrap.dedent(
    """
    import sys, time
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient
    points = int(sys.argv[2])
    client = MlflowClient(tracking_uri=sys.argv[1])
    experiment = client.create_experiment("bench")
    run = client.create_run(experiment)
    start = time.perf_counter()
    batch = []
    for step in range(1, points + 1):
        batch.append(Metric("loss", 1.0 / step, int(time.time() * 1000), step))
        if len(batch) == BATCH:
            client.log_batch(run.info.run_id, metrics=batch)
            batch = []
    if batch:
        client.log_batch(run.info.run_id, metrics=batch)
    client.set_terminated(run.info.run_id)
    print(time.perf_counter() - start)
    """
).replace("BATCH", str(MLFLOW_BATCH))


def timed_client(python: str, source: str, server: str, cwd: Path) -> float:
    script = cwd / f"client-{time.monotonic_ns()}.py"
    script.write_text(source)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [python, str(script), server, str(POINTS)], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"{python} {script.name} failed:\n{done.stderr[-2000:]}")
    return float(done.stdout.split()[-1])


def torchdash_seconds(home: Path) -> float:
    with serve(home) as server:
        seconds = timed_client(sys.executable, TORCHDASH_CLIENT, server.base, home)
        runs = httpx.get(f"{server.base}/api/runs").json()["runs"]
        last = httpx.get(
            f"{server.base}/api/runs/{runs[0]['id']}/metrics",
            params={"since_step": POINTS - 1},
            timeout=60,
        ).json()["steps"]
        assert [row["step"] for row in last] == [POINTS], "torchdash lost points"
    return seconds


def mlflow_seconds(home: Path) -> float:
    port = free_port()
    server = subprocess.Popen(
        [MLFLOW_PYTHON, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{home / 'mlflow.db'}",
         "--default-artifact-root", str(home / "artifacts"), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the MLflow server did not answer within 120 s")
            time.sleep(0.2)
        return timed_client(MLFLOW_PYTHON, MLFLOW_CLIENT, base, home)
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    if not Path(MLFLOW_PYTHON).exists():
        sys.exit(f"no MLflow python at {MLFLOW_PYTHON}: see this file's docstring")
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "torchdash").mkdir()
        (Path(folder) / "mlflow").mkdir()
        ours = torchdash_seconds(Path(folder) / "torchdash")
        theirs = mlflow_seconds(Path(folder) / "mlflow")
    print(f"{POINTS:,} step points logged from a client process, servers on this machine")
    print(f"  torchdash_track -> torchdash : {ours:7.2f} s  {POINTS / ours:10,.0f} points/s")
    print(f"  MLflow log_batch -> mlflow   : {theirs:7.2f} s  {POINTS / theirs:10,.0f} points/s")
    print(f"  ratio: {theirs / ours:.1f}x (goal >= 10x)")


if __name__ == "__main__":
    main()

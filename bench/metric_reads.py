"""The chart payload of a run with 100,000 step points, downsampled on the server to
<= 2,000 points per series keeping its shape, >= 20x faster than MLflow's get-history of a
10,000-point metric (reference: 420 ms on this kind of machine; MLflow is not installed by the
benchmarks, so the reference figure stands in). Incremental `since_step` reads are O(new rows).

Measured over HTTP against a real server on loopback, side by side with the full 100,000-point
payload of the same run; then the same chart read with the server on PostgreSQL (a real server
the bench starts, bench/databases.py), within 2x of SQLite's.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import update

from app.runs.lifecycle import create_run
from app.storage.engine import create_tables, make_engine, make_session_factory, session_scope
from app.storage.tables import Run
from app.worker.reporter import DatabaseReporter
from bench.common import Result
from bench.databases import new_database, postgres
from bench.live_server import serve
from trainer.callbacks import StepReport
from trainer.config import RunConfig

STEPS = 100_000
MLFLOW_GET_HISTORY_MS = 420.0
REPEATS = 15


def seed_run(url: str) -> int:
    """A run with STEPS step rows, written the way a worker writes them."""
    engine = make_engine(url)
    create_tables(engine)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        # A finished run, or the server's dispatcher would start training it over these rows.
        run_id = create_run(session, RunConfig()).id
        session.execute(update(Run).where(Run.id == run_id).values(status="succeeded"))
    reporter = DatabaseReporter(factory, run_id)
    for step in range(1, STEPS + 1):
        loss = 2.0 / (1 + step / 5000) + 0.1 * ((step * 7919) % 101) / 101  # a noisy decay
        reporter.on_step(StepReport(step, 1 + step // 1000, step, STEPS, loss))
    reporter.flush()
    reporter.close()
    engine.dispose()
    return run_id


def median_ms(client: httpx.Client, url: str, params: dict) -> tuple[float, int]:
    times, size = [], 0
    for _ in range(REPEATS):
        started = time.perf_counter()
        response = client.get(url, params=params)
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        size = len(response.json()["steps"])
    return statistics.median(times), size


def postgres_chart_ms() -> float | None:
    """The chart payload's median with the server on PostgreSQL; None without PostgreSQL."""
    with postgres() as database_server, tempfile.TemporaryDirectory() as folder:
        if database_server is None:
            return None
        url = new_database(database_server)
        home = Path(folder)
        run_id = seed_run(url)
        with serve(home, database_url=url) as server, httpx.Client(timeout=60) as client:
            url = f"{server.base}/api/runs/{run_id}/metrics"
            postgres_ms, _ = median_ms(client, url, {"max_points": 2000})
    return postgres_ms


def run() -> list[Result]:
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        run_id = seed_run(f"sqlite:///{home / 'torchdash.db'}")
        with serve(home) as server, httpx.Client(timeout=60) as client:
            base = server.base
            url = f"{base}/api/runs/{run_id}/metrics"
            chart_ms, chart_points = median_ms(client, url, {"max_points": 2000})
            full_ms, full_points = median_ms(client, url, {})
            tail_ms, tail_points = median_ms(client, url, {"since_step": STEPS - 100})
            early_ms, _ = median_ms(client, url, {"since_step": 1000, "max_points": 100_000})
    speedup = MLFLOW_GET_HISTORY_MS / chart_ms
    return [
        Result(
            "5. chart payload of 100,000 steps (≤ 2,000 points) ≥ 20× faster than MLflow "
            "get-history of 10,000 points",
            f"{chart_ms:.1f} ms for {chart_points} points (median of {REPEATS}, over HTTP)",
            f"full 100,000-point payload: {full_ms:.0f} ms ({full_points:,} points); "
            f"MLflow reference {MLFLOW_GET_HISTORY_MS:.0f} ms (×{speedup:.0f}, reference "
            "figure: MLflow not installed here)",
            speedup >= 20,
        ),
        Result(
            "5. incremental `since_step` reads are O(new rows)",
            f"last 100 rows: {tail_ms:.1f} ms ({tail_points} points)",
            f"99,000 rows after step 1,000: {early_ms:.0f} ms",
            tail_ms * 5 < early_ms,
        ),
        *postgres_results(chart_ms),
    ]


def postgres_results(sqlite_ms: float) -> list[Result]:
    postgres_ms = postgres_chart_ms()
    if postgres_ms is None:
        return []
    return [
        Result(
            "5. chart payload of 100,000 steps on PostgreSQL within 2× of SQLite's",
            f"{postgres_ms:.1f} ms (median of {REPEATS}, over HTTP, a local PostgreSQL)",
            f"SQLite in the same run: {sqlite_ms:.1f} ms (×{postgres_ms / sqlite_ms:.2f})",
            postgres_ms <= 2 * sqlite_ms,
        )
    ]


if __name__ == "__main__":
    for result in run():
        print(result.row())

"""A worker writes >= 50,000 step points/s to SQLite, and to PostgreSQL (batched, one
transaction a flush).

Measures the worker's real reporter (`app.worker.reporter.DatabaseReporter`, which buffers step
rows and flushes them every 0.25 s) against one transaction per point, in the same run on the same
file; then the reporter on a real PostgreSQL server on loopback (bench/databases.py).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from app.runs.lifecycle import create_run
from app.storage import metrics
from app.storage.engine import create_tables, make_engine, make_session_factory, session_scope
from app.worker.reporter import DatabaseReporter
from bench.common import Result
from bench.databases import new_database, postgres
from trainer.callbacks import StepReport
from trainer.config import RunConfig

POINTS = 200_000
NAIVE_POINTS = 2_000
MLFLOW_LOG_BATCH = 5_900  # points/s, the reference figure on this kind of machine


def _new_run(url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    create_tables(engine)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        run_id = create_run(session, RunConfig()).id
    return engine, factory, run_id


def batched_rate(url: str) -> float:
    engine, factory, run_id = _new_run(url)
    reporter = DatabaseReporter(factory, run_id)
    started = time.perf_counter()
    for step in range(1, POINTS + 1):
        reporter.on_step(StepReport(step, 1, step, POINTS, 0.5))
    reporter.flush()
    reporter.close()
    elapsed = time.perf_counter() - started
    with session_scope(factory) as session:
        assert len(metrics.read_steps(session, run_id)) == POINTS
    engine.dispose()
    return POINTS / elapsed


def per_point_rate(url: str) -> float:
    engine, factory, run_id = _new_run(url)
    started = time.perf_counter()
    for step in range(1, NAIVE_POINTS + 1):
        with session_scope(factory) as session:
            metrics.write_steps(session, run_id, [{"step": step, "epoch": 1, "loss": 0.5}])
    elapsed = time.perf_counter() - started
    engine.dispose()
    return NAIVE_POINTS / elapsed


def sqlite_url(folder: str) -> str:
    return f"sqlite:///{Path(folder) / 'bench.db'}"


def postgres_results(sqlite_rate: float) -> list[Result]:
    with postgres() as server:
        if server is None:
            return []
        batched = batched_rate(new_database(server))
    return [
        Result(
            "4. worker writes ≥ 50,000 step points/s to PostgreSQL",
            f"{batched:,.0f} points/s ({POINTS:,} points through DatabaseReporter, a local server)",
            f"SQLite in the same run: {sqlite_rate:,.0f}/s (×{batched / sqlite_rate:.2f})",
            batched >= 50_000,
        )
    ]


def run() -> list[Result]:
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        batched = batched_rate(sqlite_url(a))
        naive = per_point_rate(sqlite_url(b))
    return [
        Result(
            "4. worker writes ≥ 50,000 step points/s to SQLite",
            f"{batched:,.0f} points/s ({POINTS:,} points through DatabaseReporter)",
            f"one transaction per point: {naive:,.0f}/s (×{batched / naive:.0f}); "
            f"MLflow log_batch reference {MLFLOW_LOG_BATCH:,}/s "
            f"(×{batched / MLFLOW_LOG_BATCH:.1f})",
            batched >= 50_000,
        ),
        *postgres_results(batched),
    ]


if __name__ == "__main__":
    for result in run():
        print(result.row())

"""The chaos soak, short: six small runs (two of them DDP) on the local executor while a seeded
driver SIGKILLs the server, workers and DDP ranks (and restarts PostgreSQL on the PostgreSQL
pass), each kind at least once. Every run must end succeeded through resumes, with unique
contiguous rows, loadable checkpoints, no process left and no 5xx (tests/support/chaos.py;
bench/soak.py is the long one).
"""

from __future__ import annotations

import os

import pytest

from app.settings import Settings
from tests.support.chaos import Soak

# Settable so a failure reproduces: the seed is printed with the counts.
SEED = int(os.environ.get("TORCHDASH_SOAK_SEED", "26"))


def test_runs_survive_seeded_kills_of_the_server_workers_and_ranks(
    settings: Settings, database: str, request: pytest.FixtureRequest
) -> None:
    on_postgresql = database == "postgresql"
    postgres = request.getfixturevalue("postgres_server") if on_postgresql else None
    soak = Soak(settings, SEED, postgres, TORCHDASH_MAX_CONCURRENT_RUNS="2")
    try:
        soak.drive(runs=6, kills=5, gap=(2.0, 6.0), timeout=600, every_kind=True)
        report = soak.check()
    finally:
        soak.close()
    print("\n".join(report.lines()))
    assert report.problems == []
    assert report.statuses == {"succeeded": 6}
    assert sum(report.kills.values()) + sum(report.missed.values()) == 5
    assert report.kills["server"] >= 1  # the kinds that always find something to kill
    assert report.kills["postgres"] >= (1 if on_postgresql else 0)
    assert report.http_statuses and max(report.http_statuses) < 500
    assert report.epoch_rows >= 12 and report.checkpoints_loaded >= 12

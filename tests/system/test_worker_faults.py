"""Faults met by a real worker process that a dispatcher started: out of memory fails the run
and frees its slot for the next.

Out-of-memory cannot be produced on demand here: `trainer/faults.py` raises the very exception
torch would raise, at the point where it would raise it.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.runs.dispatcher import Dispatcher
from app.runs.executors.local import LocalProcessExecutor
from app.settings import Settings
from app.storage.engine import make_engine, make_session_factory
from tests.support.waiting import wait_until
from trainer.faults import FAULT_ENV


def test_out_of_memory_fails_the_run_and_frees_its_slot_for_the_next(
    client: TestClient, make_run, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert settings.max_concurrent_runs == 1
    first, second = make_run(max_epochs=1), make_run(max_epochs=1)
    engine = make_engine(settings.sqlalchemy_url)
    dispatcher = Dispatcher(settings, make_session_factory(engine), LocalProcessExecutor(settings))
    monkeypatch.setenv(FAULT_ENV, "oom@step:3")
    dispatcher.tick()  # starts the first run's worker, which meets the out-of-memory error
    monkeypatch.delenv(FAULT_ENV)

    def status(run_id: int) -> str:
        return client.get(f"/api/runs/{run_id}").json()["status"]

    def settled() -> bool:
        dispatcher.tick()
        return status(second["id"]) == "succeeded"

    try:
        wait_until(settled, 120, "the second run to train after the first ran out of memory")
    finally:
        engine.dispose()
    failed = client.get(f"/api/runs/{first['id']}").json()
    assert failed["status"] == "failed"
    assert failed["error"].startswith("out of memory: OutOfMemoryError: CUDA out of memory")
    assert failed["worker_handle"] is None

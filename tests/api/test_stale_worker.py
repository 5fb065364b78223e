"""A worker started for an earlier attempt of its run leaves the run alone.

A SIGKILLed server may hand a warm worker its run an instant before it dies; the next server
cannot adopt a worker that has not taken its run yet and interrupts the run, which may be resumed
and started by another worker before the first one reads it. The executor names the attempt in
the worker's environment (TORCHDASH_RUN_ATTEMPT); these run the worker's code in this process.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.runs.executors.worker_process import ATTEMPT_ENV
from app.settings import Settings
from app.storage.tables import RunStatus
from app.worker.execute import execute_run
from tests.support.runs import claim


def test_a_worker_of_an_earlier_attempt_does_not_train_the_run(
    client: TestClient,
    make_run,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = make_run(max_epochs=1)
    claim(settings, run["id"])  # running, on attempt 0 (a dispatcher would count it)
    monkeypatch.setenv(ATTEMPT_ENV, "7")
    assert execute_run(run["id"], settings) == RunStatus.RUNNING
    after = client.get(f"/api/runs/{run['id']}").json()
    assert after["status"] == "running" and after["epoch"] == 0
    assert client.get(f"/api/runs/{run['id']}/metrics").json()["steps"] == []
    log = capsys.readouterr().out  # in this process a worker's log is its output
    assert f"run {run['id']} is on attempt 0, this worker was started for 7: left alone" in log

    monkeypatch.setenv(ATTEMPT_ENV, "0")  # the worker of the run's own attempt trains it
    assert execute_run(run["id"], settings) == RunStatus.SUCCEEDED

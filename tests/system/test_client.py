"""The Python client against a real server with real workers: typed results, the run's events
as an iterator, errors carrying the server's detail, and the notebook example of docs/cli.md run as
it is written (examples/notebook.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.client import ApiError, Client
from app.settings import Settings
from app.web.shapes import CheckpointPublic, EpochPublic, RunPublic, RunsPublic
from tests.support.paths import ROOT
from tests.support.runs import TINY_CONFIG
from tests.support.servers import serving


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, module_database_url: str | None
) -> Iterator[str]:
    home = tmp_path_factory.mktemp("client") / "home"
    (home / "data").mkdir(parents=True)
    settings = Settings(home=home, data_roots=[home / "data"], database_url=module_database_url)
    with serving(settings, timeout=180) as base:  # test_cli.py says why 180 s
        yield base


def test_typed_results_and_the_event_stream(server: str) -> None:
    with Client(server) as client:
        run = client.create_run({**TINY_CONFIG, "max_epochs": 2})
        assert isinstance(run, RunPublic) and run.status == "queued"

        kinds, epochs, statuses = [], [], []
        for event in client.events(run.id):
            kinds.append(event.kind)
            if event.epoch is not None:
                assert isinstance(event.epoch, EpochPublic)
                epochs.append(event.epoch.epoch)
            if event.run is not None:
                statuses.append(event.run.status)
            # A watcher that comes after the end (a quiet machine trains these two epochs in a
            # blink) learns the final state first, then the rows: wait for both.
            if "succeeded" in statuses and len(epochs) == 2:
                break
        assert kinds[0] == "run"  # a new watcher learns the run's state first
        assert epochs == [1, 2] and "steps" in kinds
        assert statuses[-1] == "succeeded"
        if statuses[0] != "succeeded":  # it watched the run live: it saw it train
            assert "running" in statuses

        assert client.wait(run.id).status == "succeeded"  # a finished run: at once
        page = client.runs("succeeded", sort="id", order="asc")
        assert isinstance(page, RunsPublic) and run.id in [r.id for r in page.runs]
        assert [e.epoch for e in client.metrics(run.id).epochs] == [1, 2]
        checkpoints = client.checkpoints(run.id)
        assert all(isinstance(c, CheckpointPublic) for c in checkpoints)
        assert client.best_checkpoint(run.id).epoch in {c.epoch for c in checkpoints}
        assert "succeeded" in "".join(client.follow_log(run.id))


def test_errors_carry_the_servers_detail(server: str) -> None:
    with Client(server) as client:
        with pytest.raises(ApiError) as bad:
            client.create_run({**TINY_CONFIG, "batch_size": 0})
        assert bad.value.status == 422
        assert bad.value.detail[0]["loc"] == ["body", "batch_size"]
        assert "body.batch_size" in str(bad.value)
        with pytest.raises(ApiError) as missing:
            client.run(10**6)
        assert missing.value.status == 404 and missing.value.detail == "run 1000000 not found"
        with pytest.raises(ApiError) as refused:
            Client(server, token="wrong").cancel(10**30)  # beyond any id: 422 on run_id
        assert refused.value.status == 422 and refused.value.detail[0]["loc"][-1] == "run_id"


def test_the_documented_notebook_example_runs_as_written(server: str, tmp_path: Path) -> None:
    example = ROOT / "examples" / "notebook.py"
    page = (ROOT / "docs" / "cli.md").read_text()
    body = example.read_text().split("\n", 2)[2]  # the code, below its two comment lines
    assert body.strip() in page  # docs/cli.md shows exactly the file that runs here
    result = subprocess.run(
        [sys.executable, str(example)],
        cwd=tmp_path,
        env={**os.environ, "TORCHDASH_URL": server, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    status_line, predicted = result.stdout.splitlines()[-2:]
    assert status_line.startswith("succeeded ")
    assert predicted.startswith("best epoch ") and " predicts " in predicted
    assert list((tmp_path / "checkpoints").glob("run*-epoch*-model.pt"))

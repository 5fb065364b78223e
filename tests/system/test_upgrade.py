"""An upgrade of torchdash while a run trains: the new server adopts the worker the old one
started, and the run ends as if nothing had happened.

The old torchdash is the real one: the last commit of the flat `app/` layout (one module per
file, `worker_pid` on the run), taken from this repository's history with `git archive`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tarfile
import uuid
from io import BytesIO
from pathlib import Path

import httpx
import pytest

from app.settings import Settings
from tests.support.paths import ROOT
from tests.support.runs import TINY_CONFIG, get_run, run_steps
from tests.support.servers import free_port, process_gone, spawn_server, wait_for_server
from tests.support.waiting import wait_until

# The last commit before app/ became packages (and before the run's worker handle, migration
# 0006): what a user upgrades from.
FLAT_LAYOUT_COMMIT = "7ffd19f"


def _old_checkout(folder: Path) -> Path:
    archive = subprocess.run(
        [
            "git",
            "-C",
            str(ROOT),
            "archive",
            FLAT_LAYOUT_COMMIT,
            "app",
            "trainer",
            "templates",
            "static",
        ],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:  # a shallow clone, or no git: nothing to upgrade from
        pytest.skip(f"commit {FLAT_LAYOUT_COMMIT} is not in this clone's history")
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def test_a_worker_started_by_the_old_layout_is_adopted_by_the_new_server(
    settings: Settings, database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    old = _old_checkout(tmp_path / "old-torchdash")
    if database == "postgresql":
        # An empty database, as the old layout's migrations begin from one (the fixture's is at
        # the newest revision, which the old code does not know).
        server = request.getfixturevalue("postgres_server")
        url = server.create_database(f"upgrade_{uuid.uuid4().hex[:12]}")
        settings = Settings(home=settings.home, data_roots=settings.data_roots, database_url=url)
    epochs = 20  # 719 steps an epoch: still training while the servers change
    slow = {**TINY_CONFIG, "max_epochs": epochs, "batch_size": 2, "report_every_steps": 1}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    servers = [spawn_server(settings, port, "server-old.log", cwd=old)]
    worker_pid = None
    try:
        wait_for_server(base)
        run_id = httpx.post(f"{base}/api/runs", json=slow).json()["id"]
        wait_until(lambda: len(run_steps(base, run_id)) >= 5, 60, "the old worker to report")
        worker_pid = get_run(base, run_id)["worker_pid"]  # the old API's field
        assert Path(f"/proc/{worker_pid}/cwd").resolve() == old.resolve()  # the old code's worker

        servers[0].send_signal(signal.SIGKILL)
        servers[0].wait(timeout=10)
        servers.append(spawn_server(settings, port, "server-new.log"))  # migrates to 0006
        wait_for_server(base)
        adopted = get_run(base, run_id)
        assert adopted["status"] == "running" and adopted["worker_handle"] == str(worker_pid)
        reported = len(run_steps(base, run_id))

        # The old worker writes its final status into the upgraded table. A generous wait, no
        # threshold: on PostgreSQL, beside the rest of `make test`, its 14,380 step writes (one
        # transaction each) have taken 20 s an epoch.
        finished = wait_until(
            lambda: (run := get_run(base, run_id))["status"] != "running" and run, 900, "the run"
        )
        assert finished["status"] == "succeeded"
        # It cleared only the old `worker_pid`; the server lets go of the handle once it is gone.
        wait_until(lambda: get_run(base, run_id)["worker_handle"] is None, 10, "the handle cleared")
        steps = run_steps(base, run_id)
        assert len(steps) > reported and steps == list(range(1, epochs * 719 + 1))
        assert f"run {run_id} succeeded" in settings.worker_log(run_id).read_text()
    finally:
        for server in servers:
            if server.poll() is None:
                server.terminate()
                server.wait(timeout=15)
        if worker_pid is not None and not process_gone(worker_pid):
            os.kill(worker_pid, signal.SIGKILL)

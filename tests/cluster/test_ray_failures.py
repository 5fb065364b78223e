"""The Ray executor's edges, on the real cluster of tests/cluster/conftest.py: a job whose
worker cannot start says why, a submit whose answer is lost starts one job, and no secret is in
what Ray's dashboard shows of a job.

Run these alone with `pytest -m ray`.
"""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from ray.job_submission import JobSubmissionClient

from app.runs.dispatcher import Dispatcher
from app.runs.executors.ray_job_env import SECRETS_FILE_VARIABLE
from app.runs.executors.ray_jobs import RayJobExecutor, job_name
from app.runs.lifecycle import create_run
from app.settings import Settings
from app.storage.engine import make_engine, make_session_factory, session_scope
from app.storage.tables import Run
from tests.support.ray_cluster import RayTestCluster, ray_serving
from tests.support.runs import TINY_CONFIG
from tests.support.waiting import wait_for_status, wait_until
from trainer.config import RunConfig

pytestmark = pytest.mark.ray

SYSTEM_PYTHON = "/usr/bin/python3"


def _jobs_of(cluster: RayTestCluster, run_id: int, created_at: datetime | str) -> list[dict]:
    """Ray's jobs of every attempt of a run of this test's database (the stamp at the end of a
    job's name, the run's creation time, tells them from the jobs of earlier tests' run 1)."""
    if isinstance(created_at, str):
        created_at = datetime.fromisoformat(created_at)
    stamp = job_name(run_id, 1, created_at).rsplit("-", 1)[1]
    jobs = httpx.get(f"{cluster.address}/api/jobs/", timeout=10).json()
    pattern = re.compile(rf"torchdash-run-{run_id}-\d+-{stamp}")
    return [job for job in jobs if pattern.fullmatch(job["submission_id"] or "")]


def _missing_in_system_python(module: str) -> bool:
    found = subprocess.run([SYSTEM_PYTHON, "-c", f"import {module}"], capture_output=True)
    return found.returncode != 0


@pytest.mark.skipif(
    shutil.which(SYSTEM_PYTHON) is None or not _missing_in_system_python("torch"),
    reason=f"needs an interpreter without torch at {SYSTEM_PYTHON}",
)
def test_a_job_whose_python_lacks_a_module_fails_its_run_once_naming_the_module(
    ray_cluster: RayTestCluster, ray_settings: Settings
) -> None:
    with ray_serving(ray_cluster, ray_settings, TORCHDASH_RAY_PYTHON=SYSTEM_PYTHON) as base:
        response = httpx.post(f"{base}/api/runs", json=TINY_CONFIG, timeout=10)
        assert response.status_code == 201, response.text
        run = wait_for_status(base, response.json()["id"], "failed", timeout=180)
    reason = re.fullmatch(
        rf"(\w+) is not importable by `{SYSTEM_PYTHON}` on node (.+): the job's interpreter is "
        r"not torchdash's environment there \(set TORCHDASH_RAY_PYTHON\)",
        run["error"],
    )
    assert reason is not None, run["error"]
    assert _missing_in_system_python(reason[1])  # the module it names is the one missing
    assert run["attempt"] == 1
    [job] = _jobs_of(ray_cluster, run["id"], run["created_at"])  # one job: nothing retried it
    assert job["status"] == "FAILED"


def test_what_rays_dashboard_shows_of_a_job_holds_no_secret(
    ray_cluster: RayTestCluster, ray_settings: Settings
) -> None:
    password, token = "db-pass-5b1e9c", "api-token-77d0a4"
    keys = {
        "AWS_ACCESS_KEY_ID": "AKIDTESTKEY0311",
        "AWS_SECRET_ACCESS_KEY": "aws-secret-8f2c6e",
        "AWS_SESSION_TOKEN": "aws-session-41b7d9",
    }
    # The test server trusts loopback connections: the password is carried, never checked.
    url = ray_settings.sqlalchemy_url.replace("://postgres@", f"://postgres:{password}@")
    home, roots = ray_settings.home, ray_settings.data_roots
    settings = Settings(home=home, data_roots=roots, database_url=url)
    headers = {"Authorization": f"Bearer {token}"}
    with ray_serving(ray_cluster, settings, token=token, **keys) as base:
        response = httpx.post(
            f"{base}/api/runs", json={**TINY_CONFIG, "max_epochs": 1}, headers=headers, timeout=10
        )
        assert response.status_code == 201, response.text
        run_id = response.json()["id"]
        # It trains to the end: its worker reached the database through the secrets file.
        run = wait_until(
            lambda: (
                (r := httpx.get(f"{base}/api/runs/{run_id}", headers=headers).json())
                and r["status"] not in ("queued", "running")
                and r
            ),
            180,
            "the run to end",
        )
        assert run["status"] == "succeeded", run

    [job] = _jobs_of(ray_cluster, run_id, run["created_at"])
    shown = httpx.get(f"{ray_cluster.address}/api/jobs/{job['submission_id']}", timeout=10).text
    listed = httpx.get(f"{ray_cluster.address}/api/jobs/", timeout=10).text
    for secret in (password, token, *keys.values()):
        assert secret not in shown and secret not in listed, secret
    env = job["runtime_env"]["env_vars"]
    assert "TORCHDASH_DATABASE_URL" not in env and not any(k.startswith("AWS_") for k in env)
    secrets_file = Path(env[SECRETS_FILE_VARIABLE])
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600  # this user's alone
    assert password in secrets_file.read_text()


class _LostAnswers:
    """The Jobs API client with its submit's answer lost on the way: `lose` says, per call,
    whether the request is lost "after" Ray made the job or "before" it got there."""

    def __init__(self, client: JobSubmissionClient, lose: list[str]) -> None:
        self.client, self.lose, self.submits = client, lose, 0

    def submit_job(self, **options: Any) -> str:
        when = self.lose.pop(0) if self.lose else None
        if when != "before":
            self.submits += 1
            self.client.submit_job(**options)
        if when is not None:
            raise requests.ConnectionError(f"the answer was lost ({when} the job was made)")
        return options["submission_id"]

    def __getattr__(self, name: str) -> Callable[..., Any]:
        return getattr(self.client, name)


@pytest.mark.parametrize("lost", ["after", "before"])
def test_a_submit_whose_answer_is_lost_is_found_by_its_name_and_starts_one_job(
    ray_cluster: RayTestCluster, ray_settings: Settings, lost: str
) -> None:
    settings = Settings(
        home=ray_settings.home,
        data_roots=ray_settings.data_roots,
        database_url=ray_settings.database_url,
        executor="ray",
        ray_address=ray_cluster.address,
        ray_poll_interval=0.5,
        warm_workers=0,
    )
    engine = make_engine(settings.sqlalchemy_url)
    factory = make_session_factory(engine)
    executor = RayJobExecutor(settings)
    lossy = _LostAnswers(JobSubmissionClient(ray_cluster.address), [lost])
    # The one seam: the client the executor submits with, until its first error makes it
    # take a fresh (true) one for the look-up by name.
    executor._client = lossy  # type: ignore[assignment]
    dispatcher = Dispatcher(settings, factory, executor, gpus=[])
    with session_scope(factory) as session:
        config = RunConfig.model_validate({**TINY_CONFIG, "max_epochs": 1})
        run_id = create_run(session, config).id

    def ended() -> Run | None:
        dispatcher.tick()
        with session_scope(factory) as session:
            run = session.get(Run, run_id)
            assert run is not None and run.status != "failed", run and run.error
            session.expunge(run)
            return run if run.status not in ("queued", "running") else None

    try:
        run = wait_until(ended, 180, "the run to end")
    finally:
        executor.close()
        engine.dispose()
    assert run.status == "succeeded" and run.error is None and run.attempt == 1
    # "after": the look-up by name found the job, so it was not sent again; "before": the
    # look-up found none, and the next try (with a fresh client) made the one job.
    assert lossy.submits == (1 if lost == "after" else 0)
    [job] = _jobs_of(ray_cluster, run_id, run.created_at)  # one job, for attempt 1
    # The worker wrote its status; its job ends as the process exits.
    wait_until(
        lambda: _jobs_of(ray_cluster, run_id, run.created_at)[0]["status"] == "SUCCEEDED",
        60,
        "the job to end",
    )

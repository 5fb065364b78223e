"""What the command line prints for people: a queued run's place, a closed pipe ended quietly,
durations and sizes in units. A real server (dispatch off, so queued runs stay queued) and the
real `torchdash` process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from tests.support.paths import ROOT
from tests.support.servers import free_port
from tests.support.waiting import wait_until

# The app with its dispatcher off, served by uvicorn: every run it queues stays queued.
SERVE_WITHOUT_DISPATCH = (
    "import sys, uvicorn\n"
    "from app.main import create_app\n"
    "from app.settings import Settings\n"
    "app = create_app(Settings(home=sys.argv[1], warm_workers=0), dispatch=False)\n"
    "uvicorn.run(app, host='127.0.0.1', port=int(sys.argv[2]), log_level='warning')\n"
)


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, module_database_url: str | None
) -> Iterator[str]:
    home = tmp_path_factory.mktemp("cli-output")
    port = free_port()
    env = {**os.environ}
    if module_database_url is not None:
        env["TORCHDASH_DATABASE_URL"] = module_database_url
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE_WITHOUT_DISPATCH, str(home), str(port)], cwd=ROOT, env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(base), timeout=120, what="the server to answer /healthz")
        for name in ("first", "second", "third"):
            response = httpx.post(f"{base}/api/runs", json={"name": name, "max_epochs": 2})
            assert response.status_code == 201, response.text
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def torchdash(base: str, *args: str, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app", *args, "--url", base], cwd=ROOT, text=True, **kwargs
    )


def test_runs_into_a_closed_pipe_ends_quietly(server: str) -> None:
    # The reader is gone before the command writes, as when `head` has read its lines.
    read_end, write_end = os.pipe()
    os.close(read_end)
    process = torchdash(server, "runs", stdout=write_end, stderr=subprocess.PIPE)
    os.close(write_end)
    _, stderr = process.communicate(timeout=120)
    assert stderr == ""  # no traceback, no "Broken pipe" message
    assert process.returncode == 141  # as a shell reports a command ended by SIGPIPE


def test_runs_lists_every_run_into_an_open_pipe(server: str) -> None:
    process = torchdash(server, "runs", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    lines = stdout.splitlines()
    header = ["id", "status", "epoch", "monitor", "best", "GPU-h", "energy", "name", "group"]
    assert lines[0].split() == header
    assert [line.split()[1] for line in lines[1:4]] == ["queued"] * 3
    assert lines[-1] == "(1-3 of 3)"


def test_watch_on_a_queued_run_prints_its_place(server: str) -> None:
    runs = httpx.get(f"{server}/api/runs", params={"sort": "id", "order": "asc"}).json()["runs"]
    third = runs[2]
    assert third["queue_position"] == 3
    process = torchdash(server, "watch", str(third["id"]), stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None
        header = process.stdout.readline()  # the run stays queued: its first line, then stop
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert f"run {third['id']} third · queued · epoch 0/2 · 3rd in the queue" in header


def test_show_prints_human_units(server: str) -> None:
    run_id = httpx.get(f"{server}/api/runs").json()["runs"][0]["id"]
    process = torchdash(server, "show", str(run_id), stdout=subprocess.PIPE)
    stdout, _ = process.communicate(timeout=120)
    assert process.returncode == 0
    assert f"run {run_id}: " in stdout
    assert "duration" not in stdout  # a queued run has not trained: no made-up duration
    assert "  GPU-hours   -" in stdout and "  energy      -" in stdout  # nor a made-up cost

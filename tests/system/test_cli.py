"""The `torchdash` client commands end to end: a real server on loopback, real workers training
on the digits, the CLI run as its own process (`python -m app ...`), exactly as a user runs it.
The files it downloads are loaded with torch here, in the test process."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import torch

from app.settings import Settings
from tests.support.paths import ROOT
from tests.support.runs import TINY_CONFIG
from tests.support.servers import free_port, serving


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, module_database_url: str | None
) -> Iterator[str]:
    """One server for the module, on each database: each test's runs are its own, by id."""
    home = tmp_path_factory.mktemp("cli") / "home"
    (home / "data").mkdir(parents=True)
    settings = Settings(home=home, data_roots=[home / "data"], database_url=module_database_url)
    # Longer than conftest's 30 s: on a loaded 2-core machine the first start (migrations, the
    # warm worker importing torch beside it) has taken longer.
    with serving(settings, timeout=180) as base:
        yield base


def torchdash(base: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`torchdash ARGS --url BASE` in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "app", *args, "--url", base],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def write_config(tmp_path: Path, **changes: object) -> str:
    path = tmp_path / "run.json"
    path.write_text(json.dumps({**TINY_CONFIG, **changes}))
    return str(path)


def runs_json(base: str, *args: str) -> dict:
    result = torchdash(base, "runs", "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_submit_with_sets_watch_show_logs_download_and_fork(server: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, max_epochs=1)
    submitted = torchdash(
        server, "submit", config, "--set", "optimizer.lr=0.01", "--set", "max_epochs=2", "--watch"
    )
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    run_id = int(submitted.stdout.split()[1])  # "run 7 tiny: queued"
    assert "succeeded" in submitted.stdout
    # The watch view's line per epoch names every metric the epoch recorded.
    assert "epoch 2: train_loss" in submitted.stdout and "val_f1_macro" in submitted.stdout

    listed = {run["id"]: run for run in runs_json(server)["runs"]}
    run = listed[run_id]
    assert run["status"] == "succeeded"
    assert run["config"]["optimizer"]["lr"] == 0.01 and run["max_epochs"] == 2
    assert all(
        r["status"] == "succeeded" for r in runs_json(server, "--status", "succeeded")["runs"]
    )

    shown = torchdash(server, "show", str(run_id))
    assert shown.returncode == 0 and "status      succeeded" in shown.stdout
    assert "val_loss" in shown.stdout and "epoch       2/2" in shown.stdout
    assert "monitor     val_accuracy (max)" in shown.stdout
    shown_json = json.loads(torchdash(server, "show", str(run_id), "--json").stdout)
    assert [e["epoch"] for e in shown_json["epochs"]] == [1, 2]
    # A CPU run: its cost is not measured, and says so (null), not 0.
    assert (shown_json["cost"]["gpu_hours"], shown_json["cost"]["energy_wh"]) == (None, None)
    assert "  GPU-hours   -" in shown.stdout

    log = torchdash(server, "logs", str(run_id))
    assert log.returncode == 0 and f"run {run_id} succeeded" in log.stdout
    followed = torchdash(server, "logs", str(run_id), "-f")  # a finished run: ends at once
    assert followed.stdout == log.stdout

    out = tmp_path / "files"
    # Without --epoch: the checkpoint the server marks default (the best, else the last), the
    # one the page's Fork and the bundle take too.
    checkpoints = httpx.get(f"{server}/api/runs/{run_id}/checkpoints").json()
    default = next(row["epoch"] for row in checkpoints if row["default"])
    downloaded = torchdash(server, "download", str(run_id), "--out", str(out))
    assert downloaded.returncode == 0, downloaded.stderr
    assert f"run{run_id}-epoch{default}-model.pt" in downloaded.stdout
    latest = torchdash(server, "download", str(run_id), "--epoch", "2", "--out", str(out))
    assert latest.returncode == 0, latest.stderr
    model = torch.load(out / f"run{run_id}-epoch2-model.pt", weights_only=True)
    optimizer = torch.load(out / f"run{run_id}-epoch2-optimizer.pt", weights_only=True)
    assert all(isinstance(value, torch.Tensor) for value in model.values())
    assert optimizer["param_groups"][0]["lr"] == 0.01
    first = torchdash(server, "download", str(run_id), "--epoch", "1", "--out", str(out))
    assert first.returncode == 0
    assert not torch.equal(  # epoch 1's weights, not epoch 2's again
        next(iter(torch.load(out / f"run{run_id}-epoch1-model.pt", weights_only=True).values())),
        next(iter(model.values())),
    )
    bundle = torchdash(server, "download", str(run_id), "--bundle", "--out", str(out))
    assert bundle.returncode == 0
    with zipfile.ZipFile(out / f"run{run_id}-bundle.zip") as archive:
        assert "train.py" in archive.namelist()

    forked = torchdash(
        server, "fork", str(run_id), "--epoch", "1", "--set", "max_epochs=3", "--watch", "--json"
    )
    assert forked.returncode == 0, forked.stdout + forked.stderr
    fork = json.loads(forked.stdout[: forked.stdout.index("\n}") + 2])  # the JSON, then the view
    assert fork["parent_run_id"] == run_id and fork["fork_epoch"] == 1
    assert httpx.get(f"{server}/api/runs/{fork['id']}").json()["epoch"] == 3


def test_cancel_then_resume_and_watch_exit_codes(server: str, tmp_path: Path) -> None:
    long_run = torchdash(server, "submit", write_config(tmp_path, max_epochs=500), "--json")
    run_id = json.loads(long_run.stdout)["id"]
    cancelled = torchdash(server, "cancel", str(run_id))
    assert cancelled.returncode == 0 and f"run {run_id}:" in cancelled.stdout
    watched = torchdash(server, "watch", str(run_id))
    assert watched.returncode == 3, watched.stdout  # cancelled: not a success
    assert "cancelled" in watched.stdout
    events = [
        json.loads(line)
        for line in torchdash(server, "watch", str(run_id), "--json").stdout.splitlines()
    ]
    # An ended run's status comes after its last rows (a run that started before the cancel has
    # system or epoch rows to send first).
    assert events[-1]["event"] == "run" and events[-1]["data"]["status"] == "cancelled"
    assert [event["event"] for event in events].count("run") == 1
    chunks = torchdash(server, "logs", str(run_id), "--json").stdout.splitlines()
    plain = torchdash(server, "logs", str(run_id)).stdout  # empty when it never started
    assert "".join(json.loads(chunk)["text"] for chunk in chunks) == plain

    again = torchdash(server, "cancel", str(run_id))  # a finished run does not cancel: 409
    assert again.returncode == 2 and "HTTP 409" in again.stderr

    epoch = httpx.get(f"{server}/api/runs/{run_id}").json()["epoch"]
    resumed = torchdash(server, "resume", str(run_id), "--max-epochs", str(epoch + 1), "--watch")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert httpx.get(f"{server}/api/runs/{run_id}").json()["status"] == "succeeded"


def test_errors_name_the_field_and_exit_non_zero(server: str, tmp_path: Path) -> None:
    before = runs_json(server)["count"]
    bad = torchdash(server, "submit", "--set", "optimizer.lr=-1")
    assert bad.returncode == 2
    assert "HTTP 422" in bad.stderr and "body.optimizer" in bad.stderr and "lr:" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert runs_json(server)["count"] == before  # nothing stored

    missing = torchdash(server, "show", "99999")
    assert missing.returncode == 2 and "run 99999 not found" in missing.stderr
    malformed = torchdash(server, "submit", "--set", "optimizer.lr")
    assert malformed.returncode == 2 and "path=value" in malformed.stderr
    unreachable = torchdash(f"http://127.0.0.1:{free_port()}", "runs")
    assert unreachable.returncode == 2 and "cannot reach" in unreachable.stderr


def test_sweep_runs_filters_and_sort(server: str, tmp_path: Path) -> None:
    # Epochs enough to still be queued or training when they are cancelled at the end: a run of
    # a few epochs can finish first, its data read from the disk cache.
    swept = torchdash(
        server,
        "sweep",
        write_config(tmp_path, max_epochs=1000),
        "--grid",
        "optimizer.lr=0.01,0.001",
        "--grid",
        "optimizer.kind=sgd,adam",
        "--group",
        "cli-sweep",
        "--json",
    )
    assert swept.returncode == 0, swept.stderr
    created = json.loads(swept.stdout)["runs"]
    assert len(created) == 4
    assert {
        (r["config"]["optimizer"]["kind"], r["config"]["optimizer"]["lr"]) for r in created
    } == {
        ("sgd", 0.01),
        ("sgd", 0.001),
        ("adam", 0.01),
        ("adam", 0.001),
    }
    ids = [r["id"] for r in created]
    page = runs_json(server, "-q", "cli-sweep", "--sort", "id", "--order", "asc")
    assert [r["id"] for r in page["runs"]] == sorted(ids)
    by_name = runs_json(server, "-q", "cli-sweep", "--sort", "name", "--order", "desc")
    names = [r["name"] for r in by_name["runs"]]
    assert names == sorted(names, reverse=True)
    table = torchdash(server, "runs", "-q", "cli-sweep")
    assert table.returncode == 0 and "cli-sweep" in table.stdout and "(1-4 of 4)" in table.stdout
    cancelled = torchdash(server, "cancel", *map(str, ids))
    assert cancelled.returncode == 0


def test_runs_tag_filter_is_passed_to_the_server(server: str, tmp_path: Path) -> None:
    run = httpx.post(f"{server}/api/runs", json={**TINY_CONFIG, "tags": ["cli-tagged"]}).json()
    tagged = runs_json(server, "--tag", "cli-tagged")
    assert [r["id"] for r in tagged["runs"]] == [run["id"]]
    assert runs_json(server, "--tag", "no-run-has-this-tag")["runs"] == []
    httpx.post(f"{server}/api/runs/{run['id']}/cancel").raise_for_status()


def test_the_cli_never_imports_torch(server: str) -> None:
    """A `torchdash runs` stays light: no torch, no SQLAlchemy, no server settings."""
    probe = (
        "import sys\n"
        "from app.__main__ import main\n"
        "try:\n"
        f"    main(['runs', '--url', {server!r}])\n"
        "except SystemExit as done:\n"
        "    assert done.code == 0, done.code\n"
        "heavy = ('torch', 'torchvision', 'sklearn', 'pandas', 'sqlalchemy', 'fastapi')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.splitlines()[-1] == "[]"

"""A run trained elsewhere: a plain PyTorch script in another process logs through
torchdash_track to a real server on loopback that needs a token; a silent run is interrupted, and
a restarted script attaches to it again and resumes from its checkpoint."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
import torch

from app.client import ApiError, Client
from app.settings import Settings
from tests.support.paths import ROOT
from tests.support.servers import free_port, serving, spawn_server, wait_for_server
from tests.support.waiting import wait_until
from torchdash_track.remote import RemoteRun, TrackingError

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

# The user's script: digits, a small MLP, its own loop; three lines of torchdash_track.
SCRIPT = textwrap.dedent(
    """
    import sys

    import torch
    from sklearn.datasets import load_digits

    import torchdash_track as track

    digits = load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32) / 16
    y = torch.tensor(digits.target)
    train, val = slice(0, 1400), slice(1400, None)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    run = track.init(name="digits elsewhere", config={"lr": 0.01, "hidden": 32}, monitor="val_loss")
    print(run.id, flush=True)
    step = 0
    for epoch in range(1, 4):
        model.train()
        for batch in torch.randperm(1400).split(64):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x[train][batch]), y[train][batch])
            loss.backward()
            optimizer.step()
            step += 1
            run.log_step(step, loss.item())
        model.eval()
        with torch.no_grad():
            logits = model(x[val])
            val_loss = torch.nn.functional.cross_entropy(logits, y[val]).item()
            accuracy = (logits.argmax(1) == y[val]).float().mean().item()
        diverged = float("nan") if epoch == 2 else 1.0
        run.log(epoch, train_loss=loss.item(), val_loss=val_loss, val_accuracy=accuracy,
                odd=diverged)
        run.save_checkpoint(epoch, model=model, optimizer=optimizer)
    run.note("trained on a laptop")
    run.finish()
    """
)


def test_a_script_elsewhere_logs_metrics_and_checkpoints(settings: Settings, tmp_path: Path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    with serving(settings, TORCHDASH_TOKEN=TOKEN) as base:
        # Without the token the server answers 401, to a run's creation as to anything else.
        refused = httpx.post(f"{base}/api/runs/external", json={"name": "x"})
        assert refused.status_code == 401
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TORCHDASH_URL": base}
        env["TORCHDASH_TOKEN"] = TOKEN
        done = subprocess.run(
            [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
        run_id = int(done.stdout.split()[0])
        api = httpx.Client(base_url=base, headers=AUTH, timeout=30)
        run = api.get(f"/api/runs/{run_id}").json()
        assert (run["kind"], run["status"], run["epoch"]) == ("external", "succeeded", 3)
        assert run["config"] == {"lr": 0.01, "hidden": 32}
        assert run["notes"] == "trained on a laptop"
        assert run["best_epoch"] is not None and run["monitor"] == "val_loss"
        assert run_id in [r["id"] for r in api.get("/api/runs").json()["runs"]]
        metrics = api.get(f"/api/runs/{run_id}/metrics").json()
        assert [row["epoch"] for row in metrics["epochs"]] == [1, 2, 3]
        assert metrics["epochs"][1]["metrics"]["odd"] is None  # the NaN: a gap
        assert metrics["epochs"][2]["metrics"]["val_accuracy"] > 0.8
        assert [row["step"] for row in metrics["steps"]] == list(range(1, 3 * 22 + 1))
        checkpoints = api.get(f"/api/runs/{run_id}/checkpoints").json()
        assert [c["epoch"] for c in checkpoints] == [1, 2, 3]
        for part in ("model", "optimizer"):
            data = api.get(checkpoints[-1][f"{part}_url"]).content
            state = torch.load(io.BytesIO(data), weights_only=True)
            assert state  # a state_dict, loaded without running any pickled code
        model = torch.nn.Sequential(
            torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)
        )
        data = api.get(checkpoints[-1]["model_url"]).content
        model.load_state_dict(torch.load(io.BytesIO(data), weights_only=True))


CRASHING = textwrap.dedent(
    """
    import torchdash_track as track

    run = track.init(name="crashes")
    run.log(1, train_loss=1.0)
    raise RuntimeError("diverged")
    """
)


def test_a_run_ends_failed_when_its_script_crashes_and_interrupted_when_silent(
    settings: Settings, tmp_path: Path
) -> None:
    script = tmp_path / "crash.py"
    script.write_text(CRASHING)
    with serving(settings, TORCHDASH_EXTERNAL_TIMEOUT_SECONDS="3") as base:
        # A script that dies of an exception without calling finish: its run says why.
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TORCHDASH_URL": base}
        done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True)
        assert done.returncode == 1
        crashed = httpx.get(f"{base}/api/runs", params={"q": "crashes"}).json()["runs"][0]
        assert (crashed["status"], crashed["error"]) == ("failed", "RuntimeError: diverged")
        assert crashed["epoch"] == 1
        # A process that goes quiet (killed, its machine gone) is ended after the timeout.
        run = httpx.post(f"{base}/api/runs/external", json={"name": "gone quiet"}).json()

        def ended() -> dict | None:
            now = httpx.get(f"{base}/api/runs/{run['id']}").json()
            return now if now["status"] != "running" else None

        final = wait_until(ended, timeout=60, what="the silent run to end")
        assert final["status"] == "interrupted"
        assert final["error"].startswith("no report for 3 s")
        late = httpx.post(f"{base}/api/runs/{run['id']}/report", json={})
        assert late.status_code == 409


def test_points_logged_while_the_server_is_down_arrive_once_it_is_back(
    settings: Settings,
) -> None:
    """The server killed mid-run and restarted on the same home: the training never sees an
    error, the run stays running (no worker of it was lost), and every point arrives once."""
    port = free_port()
    server = spawn_server(settings, port)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(base)
        run = RemoteRun(base, None, name="through a restart", flush_seconds=0.2)
        for step in range(1, 501):
            run.log_step(step, 1.0 / step)
        run.log(1, val_loss=0.5)
        assert run.flush(timeout=30)
        server.kill()
        server.wait()
        for step in range(501, 1001):  # the server is away: kept in memory, never raised
            run.log_step(step, 1.0 / step)
        run.log(2, val_loss=0.4)
        server = spawn_server(settings, port)
        wait_for_server(base)
        assert httpx.get(f"{base}/api/runs/{run.id}").json()["status"] == "running"
        run.finish()
        metrics = httpx.get(f"{base}/api/runs/{run.id}/metrics", timeout=30).json()
        assert [row["step"] for row in metrics["steps"]] == list(range(1, 1001))
        assert [row["epoch"] for row in metrics["epochs"]] == [1, 2]
        assert httpx.get(f"{base}/api/runs/{run.id}").json()["status"] == "succeeded"
    finally:
        server.terminate()
        server.wait(timeout=15)


# Trains three epochs, a checkpoint after each. Run with no argument, it creates its run and
# its process is lost in epoch 3 (os._exit: no finish, no more heartbeats), having sent five of
# that epoch's steps, marked (loss + 100) so the test can tell them apart. Run with a run id, it
# attaches to that run and resumes from the checkpoint the server has.
RESTARTING = textwrap.dedent(
    """
    import os
    import sys

    import torch
    from sklearn.datasets import load_digits

    import torchdash_track as track

    digits = load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32)[:1400] / 16
    y = torch.tensor(digits.target)[:1400]
    torch.manual_seed(0)
    model = torch.nn.Linear(64, 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    resume = int(sys.argv[1]) if len(sys.argv) > 1 else None
    run = track.init(name="restarted", monitor="train_loss", resume=resume)
    print(run.id, flush=True)
    start, step = 0, 0
    folder = run.resume_checkpoint()
    if folder is not None:
        state = track.load_checkpoint(folder)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start, step = state["epoch"], state["step"]
        print(f"resumed from epoch {start} at step {step}", flush=True)
    for epoch in range(start + 1, 4):
        for batch in torch.arange(1400).split(64):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
            step += 1
            if resume is None and epoch == 3:
                run.log_step(step, loss.item() + 100)
                if step == 2 * 22 + 5:
                    run.flush(timeout=30)
                    os._exit(17)
            else:
                run.log_step(step, loss.item())
        run.log(epoch, train_loss=loss.item())
        run.save_checkpoint(epoch, model=model, optimizer=optimizer, step=step)
    run.finish()
    """
)


def test_a_restarted_script_attaches_to_its_interrupted_run_and_resumes_its_checkpoint(
    settings: Settings, tmp_path: Path
) -> None:
    script = tmp_path / "restarting.py"
    script.write_text(RESTARTING)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TORCHDASH_TOKEN": TOKEN}
    with serving(settings, TORCHDASH_TOKEN=TOKEN, TORCHDASH_EXTERNAL_TIMEOUT_SECONDS="3") as base:
        env["TORCHDASH_URL"] = base
        api = httpx.Client(base_url=base, headers=AUTH, timeout=30)
        lost = subprocess.run(
            [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300
        )
        assert lost.returncode == 17, lost.stderr
        run_id = int(lost.stdout.split()[0])

        def interrupted() -> dict | None:
            run = api.get(f"/api/runs/{run_id}").json()
            return run if run["status"] == "interrupted" else None

        wait_until(interrupted, timeout=60, what="the lost process's run to be interrupted")
        assert [s["step"] for s in api.get(f"/api/runs/{run_id}/metrics").json()["steps"]] == list(
            range(1, 2 * 22 + 6)
        )

        restarted = subprocess.run(
            [sys.executable, str(script), str(run_id)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert restarted.returncode == 0, restarted.stderr
        assert f"resumed from epoch 2 at step {2 * 22}" in restarted.stdout
        run = api.get(f"/api/runs/{run_id}").json()
        assert (run["status"], run["epoch"], run["error"]) == ("succeeded", 3, None)
        metrics = api.get(f"/api/runs/{run_id}/metrics").json()
        assert [row["epoch"] for row in metrics["epochs"]] == [1, 2, 3]
        # Epoch 3 was reported again from its start: the lost attempt's steps were dropped.
        steps = metrics["steps"]
        assert [s["step"] for s in steps] == list(range(1, 3 * 22 + 1))
        assert all(s["loss"] < 100 for s in steps) and steps[-1]["epoch"] == 3
        assert [c["epoch"] for c in api.get(f"/api/runs/{run_id}/checkpoints").json()] == [1, 2, 3]

        # A run that has ended is not taken up again.
        refused = api.post(f"/api/runs/{run_id}/attach")
        assert refused.status_code == 409 and "succeeded" in refused.json()["detail"]
        with pytest.raises(TrackingError, match="409"):
            RemoteRun.attach(base, run_id, TOKEN)


def test_the_client_creates_reports_uploads_attaches_and_finishes_a_run_elsewhere(
    settings: Settings,
) -> None:
    model = torch.nn.Linear(4, 2)
    with serving(settings, TORCHDASH_TOKEN=TOKEN) as base, Client(base, TOKEN) as client:
        run = client.create_external_run("imported", {"lr": 0.1}, monitor="val_loss", tags=["a"])
        assert (run.kind, run.status, run.monitor, run.tags) == (
            "external",
            "running",
            "val_loss",
            ["a"],
        )
        first = client.report(run.id, {1: {"train_loss": 0.9, "val_loss": 0.8}}, [(1, 1.5)])
        assert (first.epochs_written, first.steps_written, first.stop_requested) == (1, 1, False)
        # The step after epoch 1 is in epoch 2 (a step's default epoch).
        answer = client.report(
            run.id, {2: {"train_loss": float("nan")}}, [(2, float("inf"))], notes=["notebook"]
        )
        assert (answer.epoch, answer.steps_written) == (2, 1)
        rows = client.metrics(run.id)
        assert [(s.step, s.epoch, s.loss) for s in rows.steps] == [(1, 1, 1.5), (2, 2, None)]
        assert rows.epochs[1].metrics == {"train_loss": None} and rows.epochs[1].val_loss is None
        assert client.report(run.id, steps=[(1, 1.5)]).steps_skipped == 1  # sent again: kept once
        weights, state = io.BytesIO(), settings.home_dir / "state.pt"
        torch.save(model.state_dict(), weights)
        torch.save({"epoch": 1, "step": 7}, state)
        uploaded = client.upload_checkpoint(run.id, 1, model=weights.getvalue(), state=state)
        assert (uploaded.epoch, uploaded.metrics) == (1, {"train_loss": 0.9, "val_loss": 0.8})
        with pytest.raises(ApiError) as refused:  # a pickle torch's weights_only would refuse
            client.upload_checkpoint(run.id, 1, model=pickle.dumps(print))
        assert refused.value.status == 422

        # Its process restarted: running again from epoch 1's checkpoint, epoch 2 dropped.
        attached = client.attach_external_run(run.id)
        assert (attached.status, attached.epoch, attached.best_epoch) == ("running", 1, 1)
        rows = client.metrics(run.id)
        assert [e.epoch for e in rows.epochs] == [1] and [s.step for s in rows.steps] == [1]
        path = client.download_checkpoint(run.id, 1, "state", settings.home_dir / "back")
        assert torch.load(path, weights_only=True) == {"epoch": 1, "step": 7}

        done = client.finish_external_run(run.id, "failed", "out of memory")
        assert (done.status, done.error) == ("failed", "out of memory")
        with pytest.raises(ApiError) as ended:
            client.attach_external_run(run.id)
        assert ended.value.status == 409

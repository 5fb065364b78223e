"""A run trained elsewhere: a plain PyTorch script in another process logs through
torchdash_track to a real server on loopback that needs a token; a silent run is interrupted."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import torch

from app.settings import Settings
from tests.support.paths import ROOT
from tests.support.servers import free_port, serving, spawn_server, wait_for_server
from tests.support.waiting import wait_until
from torchdash_track.remote import RemoteRun

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

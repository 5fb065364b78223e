"""`POST /api/preflight`: a real worker process builds the data and the model and times real
training steps on the digits data; bad configs are a 422 naming what does not fit.

The machine these tests run on is shared and loaded, so the time limit is raised where a test
wants an answer (a cold worker imports torch first), and made tiny where it wants the time-out.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app.settings import Settings
from tests.support.paths import ROOT
from tests.support.runs import TINY_CONFIG
from tests.support.waiting import wait_for_status, wait_until

PLUGINS = '''
from torch import nn


class FixedInput(nn.Module):
    """Written for 10x10 images: it cannot take the 8x8 digits."""

    def __init__(self, input_shape, num_classes):
        super().__init__()
        self.linear = nn.Linear(100, num_classes)

    def forward(self, x):
        return self.linear(x.flatten(1))


class Elementwise(nn.Module):
    """A loss of outputs and targets of one shape: not class indices."""

    def forward(self, output, target):
        return ((output - target.view(output.shape)) ** 2).mean()


class ThreeOutputs(nn.Module):
    """Three outputs whatever the data: cross-entropy cannot score digits 3 to 9 with them."""

    def __init__(self, input_shape, num_classes):
        super().__init__()
        self.linear = nn.Linear(64, 3)

    def forward(self, x):
        return self.linear(x.flatten(1))
'''

FIELDS = {
    "parameter_count", "model_summary", "input_shape", "output_shape", "train_samples",
    "val_samples", "batches_per_epoch", "val_batches", "measured_batches", "seconds_per_batch",
    "epoch_seconds_estimate", "run_seconds_estimate", "peak_memory_mb", "peak_memory_kind",
    "device", "worker", "seconds", "data_report",
}  # fmt: skip


@pytest.fixture
def patient(settings: Settings) -> Settings:
    settings.preflight_seconds = 600  # a cold worker on a loaded machine imports torch slowly
    return settings


def test_a_good_config_gets_every_figure_and_its_estimate_becomes_the_runs_eta(
    client: TestClient, patient: Settings
) -> None:
    from trainer.config import RunConfig
    from trainer.models.builtin import build_model, parameter_count

    response = client.post("/api/preflight", json=TINY_CONFIG)
    assert response.status_code == 200, response.text
    report = response.json()
    assert set(report) == FIELDS
    model = build_model(RunConfig.model_validate(TINY_CONFIG).model, (1, 8, 8), 10)
    assert report["parameter_count"] == parameter_count(model) == 2410
    assert "Linear(in_features=64, out_features=32" in report["model_summary"]
    assert report["input_shape"] == [64, 1, 8, 8] and report["output_shape"] == [64, 10]
    assert report["train_samples"] + report["val_samples"] == 1797  # the digits data set
    assert report["val_samples"] == 359  # the default val_fraction 0.2
    assert report["batches_per_epoch"] == math.ceil(report["train_samples"] / 64)
    assert report["val_batches"] == math.ceil(report["val_samples"] / 64)
    assert report["measured_batches"] == patient.preflight_batches
    assert report["seconds_per_batch"] > 0
    assert (
        report["epoch_seconds_estimate"]
        >= report["batches_per_epoch"] * report["seconds_per_batch"]
    )
    assert report["run_seconds_estimate"] == pytest.approx(
        report["epoch_seconds_estimate"] * TINY_CONFIG["max_epochs"]
    )
    assert report["peak_memory_kind"] == "rss_growth" and report["peak_memory_mb"] >= 0
    assert report["device"] == "cpu" and report["worker"] == "cold"
    assert report["data_report"] is None  # the digits: no file columns to report
    assert report["seconds"] > 0
    # Nothing stored, nothing left behind.
    assert client.get("/api/runs").json()["count"] == 0
    assert list(patient.preflight_dir.iterdir()) == []

    run = client.post(
        "/api/runs",
        json={**TINY_CONFIG, "estimated_epoch_seconds": report["epoch_seconds_estimate"]},
    ).json()
    assert run["estimated_epoch_seconds"] == report["epoch_seconds_estimate"]
    assert "estimated_epoch_seconds" not in run["config"]


@pytest.mark.parametrize(
    ("changes", "loc", "words"),
    [
        (
            {"model": {"kind": "plugin", "name": "FixedInput"}},
            ["body", "model"],
            "the model cannot take a batch of shape [64, 1, 8, 8]",
        ),
        (
            {"model": {"kind": "plugin", "name": "ThreeOutputs"}},
            ["body", "model"],
            "the model gives outputs of shape [64, 3], 3 per item; classification with loss "
            "cross_entropy needs 10 per item (one per class)",
        ),
        (
            {"loss": {"kind": "plugin", "name": "Elementwise"}},
            ["body", "loss"],
            "loss plugin cannot take output [64, 10] and targets [64]",
        ),
        (
            {"data": {"kind": "imagefolder", "train_dir": "empty"}},
            ["body", "data", "train_dir"],
            "cannot read the data",
        ),
    ],
)
def test_what_does_not_fit_is_a_422_naming_it(
    client: TestClient, patient: Settings, changes: dict, loc: list, words: str
) -> None:
    patient.plugins_path.mkdir(parents=True)
    (patient.plugins_path / "shapes.py").write_text(PLUGINS)
    (patient.allowed_data_roots[0] / "empty").mkdir()
    response = client.post("/api/preflight", json={**TINY_CONFIG, **changes})
    assert response.status_code == 422, response.text
    error = response.json()["detail"][0]
    assert error["loc"] == loc and words in error["msg"], error


def test_config_errors_are_the_same_422s_as_on_create(client: TestClient) -> None:
    bad = {**TINY_CONFIG, "batch_size": 0}
    response = client.post("/api/preflight", json=bad)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "batch_size"]
    outside = {**TINY_CONFIG, "data": {"kind": "imagefolder", "train_dir": "/etc"}}
    response = client.post("/api/preflight", json=outside)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:3] == ["body", "data", "train_dir"]


def test_a_preflight_over_its_time_limit_is_a_422_and_its_worker_is_killed(
    client: TestClient, settings: Settings
) -> None:
    settings.preflight_seconds = 0.5  # far less than a worker takes to import torch
    # Workers of earlier tests may still be exiting (the answer is read before they end).
    before = set(_preflight_workers_of_this_process())
    response = client.post("/api/preflight", json=TINY_CONFIG)
    assert response.status_code == 422, response.text
    error = response.json()["detail"][0]
    assert error == {
        "loc": ["body"],
        "msg": "preflight took longer than 0.5 s",
        "type": "preflight_timeout",
        "input": None,
    }
    assert list(settings.preflight_dir.iterdir()) == []
    assert set(_preflight_workers_of_this_process()) - before == set()


def _preflight_workers_of_this_process() -> list[int]:
    """Live `app.worker --preflight` processes whose parent is this test process (Linux /proc)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            state, parent = proc.joinpath("stat").read_text().rsplit(")", 1)[1].split()[:2]
            argv = proc.joinpath("cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if int(parent) == os.getpid() and b"--preflight" in argv and state not in ("Z", "X"):
            found.append(int(proc.name))
    return found


def test_the_server_process_never_imports_torch_while_serving_a_preflight(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from app.main import create_app\n"
        "from app.settings import Settings\n"
        f"settings = Settings(home={str(tmp_path)!r}, preflight_seconds=600)\n"
        "with TestClient(create_app(settings, dispatch=False), base_url='http://127.0.0.1') as c:\n"
        f"    response = c.post('/api/preflight', json={TINY_CONFIG!r})\n"
        "    assert response.status_code == 200, response.text\n"
        "print('torch' in sys.modules, response.json()['parameter_count'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "2410"]


def test_a_warm_worker_answers_when_one_is_free_and_runs_still_start(settings: Settings) -> None:
    from tests.support.servers import free_port, spawn_server, stop_workers, wait_for_server

    port = free_port()
    server = spawn_server(settings, port, TORCHDASH_PREFLIGHT_SECONDS="600")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(base)
        wait_until(
            lambda: (
                settings.warm_worker_log.is_file()
                and "ready after" in settings.warm_worker_log.read_text()
            ),
            timeout=300,
            what="a warm worker to be ready",
        )
        response = httpx.post(f"{base}/api/preflight", json=TINY_CONFIG, timeout=600)
        assert response.status_code == 200, response.text
        assert response.json()["worker"] == "warm"
        assert response.json()["parameter_count"] == 2410
        # The warm worker was used up; the pool refills and a run starts and trains.
        run = httpx.post(f"{base}/api/runs", json={**TINY_CONFIG, "max_epochs": 1}).json()
        wait_for_status(base, run["id"], "succeeded", timeout=300)
    finally:
        server.terminate()
        server.wait(timeout=15)
        stop_workers(settings)

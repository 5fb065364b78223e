"""TORCHDASH_STORAGE as a folder other than <home>/runs (a mount every node shares, say): the
run files live there, logs stay in the home, and a malformed setting stops the server."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.storage.tables import RunStatus
from tests.support.paths import ROOT
from tests.support.runs import TINY_CONFIG


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    return tmp_path / "shared-mount" / "torchdash"


@pytest.fixture
def settings(settings: Settings, shared: Path) -> Settings:
    """conftest's fresh home, with its run files in a folder outside it."""
    return settings.model_copy(update={"storage": str(shared), "keep_last_checkpoints": 2})


def test_run_files_live_in_the_storage_folder_and_every_reader_finds_them(
    client: TestClient, make_run, execute, settings: Settings, shared: Path
) -> None:
    run = make_run(max_epochs=3)
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    stored = shared / str(run["id"])
    # Retention (keep the last 2, and the best) deleted at least the first epoch's folder.
    kept = sorted(p.name for p in (stored / "checkpoints").iterdir())
    listed = [row["epoch"] for row in client.get(f"/api/runs/{run['id']}/checkpoints").json()]
    assert kept == [f"epoch-{epoch:04d}" for epoch in listed] and 3 in listed and len(listed) < 3
    assert (stored / "evaluation.json").is_file()
    assert not settings.checkpoint_dir(run["id"]).exists()  # nothing in <home>/runs

    model = client.get(f"/api/runs/{run['id']}/checkpoints/3/model")
    assert model.content == (stored / "checkpoints" / "epoch-0003" / "model.pt").read_bytes()
    torch.load(io.BytesIO(model.content), weights_only=True)
    assert client.get(f"/api/runs/{run['id']}/evaluation").status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/api/runs/{run['id']}/bundle").content))
    assert archive.read("checkpoints/last/model.pt") == model.content

    assert client.post(f"/api/runs/{run['id']}/resume", json={"max_epochs": 4}).is_success
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    fork = client.post(
        f"/api/runs/{run['id']}/fork", json={"epoch": 3, "overrides": {"max_epochs": 4}}
    ).json()
    assert execute(fork["id"]) == RunStatus.SUCCEEDED
    assert (shared / str(fork["id"]) / "checkpoints" / "epoch-0004").is_dir()

    assert client.delete(f"/api/runs/{fork['id']}").status_code == 204
    assert not (shared / str(fork["id"])).exists() and stored.is_dir()


def test_an_upload_is_stored_in_the_storage_folder(
    client: TestClient, make_run, execute, shared: Path, settings: Settings
) -> None:
    source = make_run(max_epochs=1)
    assert execute(source["id"]) == RunStatus.SUCCEEDED
    weights = client.get(f"/api/runs/{source['id']}/checkpoints/1/model").content
    upload = client.post("/api/uploads?filename=model.pt", content=weights).json()
    assert [p.read_bytes() for p in (shared / "uploads").iterdir()] == [weights]
    assert not settings.uploads_dir.exists()
    run = client.post(f"/api/uploads/{upload['id']}/runs", json={**TINY_CONFIG, "max_epochs": 1})
    assert execute(run.json()["id"]) == RunStatus.SUCCEEDED


def test_a_row_pointing_outside_the_storage_folder_is_never_served(
    client: TestClient, make_run, execute, settings: Settings, tmp_path: Path
) -> None:
    run = make_run(max_epochs=1)
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    # The same settings without TORCHDASH_STORAGE: the rows now point outside <home>/runs.
    default = settings.model_copy(update={"storage": None})
    with TestClient(create_app(default, dispatch=False), base_url="http://127.0.0.1") as other:
        answer = other.get(f"/api/runs/{run['id']}/checkpoints/1/model")
    assert answer.status_code == 404


@pytest.mark.parametrize(
    "value", ["ftp://host/runs", "s3://", "s3://Bad_Bucket/x", "s3://bucket/../other"]
)
def test_a_malformed_storage_setting_stops_serve_naming_it(value: str, tmp_path: Path) -> None:
    env = {**os.environ, "TORCHDASH_HOME": str(tmp_path), "TORCHDASH_STORAGE": value}
    done = subprocess.run(
        [sys.executable, "-m", "app", "serve"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"TORCHDASH_STORAGE={value!r}" in done.stderr
    assert "Traceback" not in done.stderr

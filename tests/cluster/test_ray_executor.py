"""The Ray executor for real: a Ray cluster on this machine (a head and one more node, two
logical GPUs each, tests/support/ray_cluster.py), a real PostgreSQL as the database, real servers on
loopback and real workers as Ray jobs, submitted through the Jobs API.

The one fake is the GPU seam: the nodes' GPUs are logical (Ray hands them out and sets each
job's CUDA_VISIBLE_DEVICES, but there is no GPU here), so the workers train on the CPU with
TORCHDASH_FAKE_GPUS_TRAIN_ON_CPU. One cluster serves every module of tests/cluster
(tests/cluster/conftest.py; a cluster takes seconds to start); the node-loss test, which takes a
node out, runs last here and adds one back.

Run these alone with `pytest -m ray`.
"""

from __future__ import annotations

import io
import signal
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import s3fs
import torch
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.settings import Settings
from app.storage.engine import make_engine, make_session_factory, session_scope
from app.storage.tables import StepMetric
from tests.support.browser import field
from tests.support.ray_cluster import RayTestCluster, cancel_everything, ray_serving, server_env
from tests.support.runs import TINY_CONFIG
from tests.support.s3_server import S3Server
from tests.support.scripts import TRACKED, write_script
from tests.support.servers import free_port, spawn_server, wait_for_server
from tests.support.waiting import wait_until

pytestmark = pytest.mark.ray

# Two DDP processes on the CPU, each on one of the node's two logical GPUs: a run takes a whole
# node, so two such runs are on two nodes, and a third has to wait.
WHOLE_NODE = {"device": "cuda", "processes": 2}
LONG = {"max_epochs": 400, "report_every_steps": 1}
# The batch of the first epoch (of 12 per rank: digits' 1,437 training samples, 64 a batch, two
# ranks) at which the cancel test holds its workers.
HOLD_STEP = 3


@pytest.fixture
def ray_server(ray_cluster: RayTestCluster, ray_settings: Settings) -> Iterator[str]:
    with ray_serving(ray_cluster, ray_settings) as base:
        yield base


def _post(base: str, **changes: Any) -> dict[str, Any]:
    response = httpx.post(f"{base}/api/runs", json={**TINY_CONFIG, **changes}, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def _run(base: str, run_id: int) -> dict[str, Any]:
    return httpx.get(f"{base}/api/runs/{run_id}", timeout=10).json()


def _steps(base: str, run_id: int) -> list[int]:
    answer = httpx.get(f"{base}/api/runs/{run_id}/metrics", timeout=10).json()
    return [row["step"] for row in answer["steps"]]


def _held(base: str, run_id: int) -> dict[str, Any] | None:
    """The run, once it trains on a node and its log says it holds at batch HOLD_STEP (in DDP
    the other rank waits for it there: both pass it only once released)."""
    run = _run(base, run_id)
    if run["status"] != "running" or not run["node"]:
        return None
    log = httpx.get(f"{base}/api/runs/{run_id}/log", timeout=10).json()["text"]
    return run if f"held at step {HOLD_STEP}," in log else None


def _training_on_a_node(base: str, run_id: int) -> dict[str, Any] | None:
    run = _run(base, run_id)
    return run if run["status"] == "running" and run["node"] and _steps(base, run_id) else None


def _ended(base: str, run_id: int) -> dict[str, Any] | None:
    run = _run(base, run_id)
    return run if run["status"] not in ("queued", "running") else None


def test_devices_show_the_cluster_and_submit_refuses_what_no_node_can_hold(
    ray_server: str, ray_cluster: RayTestCluster
) -> None:
    devices = httpx.get(f"{ray_server}/api/devices", timeout=10).json()
    cluster = devices["cluster"]
    assert cluster["address"] == ray_cluster.address and cluster["unreachable"] is None
    assert devices["gpus"] == []  # this machine's GPUs are not where runs go
    assert len(cluster["nodes"]) == 2 and cluster["largest_node_gpus"] == 2
    for node in cluster["nodes"]:
        assert node["alive"] and node["gpus_total"] == node["gpus_free"] == 2
    assert sum(node["is_head"] for node in cluster["nodes"]) == 1

    for changes, name, words in (
        ({"device": "cuda", "processes": 3}, "processes", "largest node of the Ray cluster has 2"),
        ({"device": "cuda:1"}, "device", "on the Ray cluster choose 'cuda'"),
    ):
        response = httpx.post(f"{ray_server}/api/runs", json={**TINY_CONFIG, **changes})
        assert response.status_code == 422, response.text
        assert name in str(response.json()) and words in str(response.json())


def test_two_runs_train_on_two_nodes_a_third_waits_and_cancel_saves_a_checkpoint(
    ray_cluster: RayTestCluster, ray_settings: Settings, tmp_path: Path
) -> None:
    # Every worker holds at its HOLD_STEP-th batch (a test-only fault hook, trainer/faults.py)
    # until released: the cancel is in the database before the held run takes its next batch,
    # so it stops there, mid-epoch, however fast or slow this machine trains.
    release = tmp_path / "hold.release"
    hold = {
        "TORCHDASH_FAULT": f"hold@step:{HOLD_STEP}",
        "TORCHDASH_FAULT_MARKER": str(tmp_path / "hold"),
    }
    with ray_serving(ray_cluster, ray_settings, **hold) as base:
        try:
            _two_runs_a_third_waits_and_cancel_saves_a_checkpoint(base, ray_cluster, release)
        finally:
            release.touch()  # a failed test's held workers go on, to answer the clean-up's cancel


def _two_runs_a_third_waits_and_cancel_saves_a_checkpoint(
    ray_server: str, ray_cluster: RayTestCluster, release: Path
) -> None:
    first, second, third = (_post(ray_server, name=f"r{i}", **WHOLE_NODE, **LONG) for i in range(3))
    a = wait_until(lambda: _held(ray_server, first["id"]), 180, "run 1 to train, then hold")
    b = wait_until(lambda: _held(ray_server, second["id"]), 180, "run 2 to train, then hold")
    assert a["node"] != b["node"]  # a whole node each
    assert a["assigned_gpus"] == b["assigned_gpus"] == ["0", "1"]  # as Ray numbered them there
    waiting = _run(ray_server, third["id"])
    assert waiting["status"] == "queued"
    assert waiting["waiting_reason"] == "waiting for 2 free GPUs on one node of the cluster"
    nodes = httpx.get(f"{ray_server}/api/devices", timeout=10).json()["cluster"]["nodes"]
    assert sorted(run for node in nodes for run in node["run_ids"]) == [first["id"], second["id"]]
    assert all(node["gpus_free"] == 0 for node in nodes)

    # The log view reads the Ray job's log: the worker's own lines are there.
    log = httpx.get(f"{ray_server}/api/runs/{first['id']}/log", timeout=10).json()["text"]
    assert f"torchdash-run-{first['id']}-1-" in log and "placed on GPUs 0,1" in log

    # The run on the node that is not the head: cancel it while it holds, then let both go on.
    head = ray_cluster.head_node_id()[:8]
    other = a if head not in a["node"] else b
    assert httpx.post(f"{ray_server}/api/runs/{other['id']}/cancel").status_code == 200
    release.touch()
    ended = wait_until(lambda: _ended(ray_server, other["id"]), 120, "the cancel")
    assert ended["status"] == "cancelled" and ended["error"] is None  # the worker stopped itself
    *_, checkpoint = httpx.get(f"{ray_server}/api/runs/{other['id']}/checkpoints").json()
    # The cancel's checkpoint, mid-epoch: the held batch was trained, the next one not.
    assert not checkpoint["complete"] and checkpoint["batches_done"] == HOLD_STEP
    model = httpx.get(f"{ray_server}{checkpoint['model_url']}", timeout=30)
    assert model.status_code == 200
    state = torch.load(io.BytesIO(model.content), weights_only=True)
    assert any(key.endswith("weight") for key in state)  # plain state_dict keys, no `module.`
    assert not any(key.startswith("module.") for key in state)

    # The freed node takes the waiting run.
    started = wait_until(lambda: _training_on_a_node(ray_server, third["id"]), 180, "run 3")
    assert started["node"] == other["node"]


def test_a_waiting_ddp_run_keeps_a_nodes_free_gpu_from_a_later_1_gpu_run(
    ray_cluster: RayTestCluster, ray_settings: Settings, tmp_path: Path
) -> None:
    # Every worker holds at its HOLD_STEP-th batch until released, so the nodes stay as placed.
    release = tmp_path / "hold.release"
    hold = {
        "TORCHDASH_FAULT": f"hold@step:{HOLD_STEP}",
        "TORCHDASH_FAULT_MARKER": str(tmp_path / "hold"),
    }
    with ray_serving(ray_cluster, ray_settings, **hold) as base:
        try:
            # With an epoch time given, the queue can tell when each waiting run starts.
            timed = {**LONG, "estimated_epoch_seconds": 1.0}
            whole = _post(base, name="whole", **WHOLE_NODE, **timed)
            wait_until(lambda: _held(base, whole["id"]), 180, "the 2-GPU run to hold")
            half = _post(base, name="half", device="cuda", **timed)
            node = wait_until(lambda: _held(base, half["id"]), 180, "the 1-GPU run")["node"]
            # The other node has 1 GPU free: the DDP run keeps it, the 1-GPU run behind waits.
            ddp = _post(base, name="ddp", **WHOLE_NODE, **timed)
            single = _post(base, name="single", device="cuda", **timed)
            kept = f"reserved 1 free GPU on {node} for run {ddp['id']}"
            wait_until(
                lambda: _run(base, single["id"])["waiting_reason"] == kept, 60, "the reservation"
            )
            assert _run(base, ddp["id"])["waiting_reason"] == (
                "waiting for 2 free GPUs on one node of the cluster "
                f"(1 free GPU on {node} reserved)"
            )
            # The estimate replays the nodes' GPUs and the reservation: the DDP run starts when
            # a node's runs end, and the 1-GPU run behind it not before.
            estimated = {
                run["id"]: run["estimated_start_at"]
                for run in httpx.get(f"{base}/api/runs", timeout=10).json()["runs"]
            }
            assert estimated[ddp["id"]] and estimated[single["id"]], estimated
            ddp_at, single_at = (
                datetime.fromisoformat(estimated[run["id"]].removesuffix("Z"))
                for run in (ddp, single)
            )
            assert single_at >= ddp_at
            assert _run(base, single["id"])["attempt"] == 0  # never submitted
            # The 1-GPU run's node frees: the DDP run takes it, ahead of the later 1-GPU run.
            assert httpx.post(f"{base}/api/runs/{half['id']}/cancel").status_code == 200
            release.touch()
            started = wait_until(lambda: _training_on_a_node(base, ddp["id"]), 180, "the DDP run")
            assert started["node"] == node
            # Not before it, at least (it may start since: the 2-GPU run on the other node may
            # have ended by now).
            later = _run(base, single["id"])
            assert later["started_at"] is None or later["started_at"] >= started["started_at"]
        finally:
            release.touch()  # held workers go on, to answer the clean-up's cancel


def test_a_killed_server_is_replaced_and_adopts_its_cluster_run_by_job_id(
    ray_cluster: RayTestCluster, ray_settings: Settings
) -> None:
    env = server_env(ray_cluster, ray_settings)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    first = spawn_server(ray_settings, port, **env)
    second = None
    try:
        wait_for_server(base)
        # A CPU run long enough to be still training when the second server is up (about
        # 21,600 steps: 10-20 s of training on this machine, against a 3-5 s restart).
        epochs, batch_size = 30, 2
        run = _post(base, max_epochs=epochs, report_every_steps=1, batch_size=batch_size)
        wait_until(lambda: len(_steps(base, run["id"])) >= 5, 180, "the run to report")
        first.send_signal(signal.SIGKILL)  # no shutdown code runs
        first.wait(timeout=10)
        reported = len(_steps_in_database(ray_settings, run["id"]))
        second = spawn_server(ray_settings, port, log_name="server2.log", **env)
        wait_for_server(base)
        adopted = _run(base, run["id"])
        assert adopted["status"] == "running", adopted
        assert adopted["node"] is not None
        done = wait_until(lambda: _ended(base, run["id"]), 300, "the adopted run to finish")
        assert done["status"] == "succeeded", done
        steps = _steps_in_database(ray_settings, run["id"])
        per_epoch = -(-1437 // batch_size)  # digits' training split, in batches
        assert len(steps) > reported and steps == list(range(1, epochs * per_epoch + 1))
        log = Path(ray_settings.home_dir / "server2.log").read_text()
        assert f"run {run['id']}: adopted its live worker torchdash-run-{run['id']}-1-" in log
    finally:
        for server in (first, second):
            if server is not None and server.poll() is None:
                cancel_everything(base)
                server.terminate()
                server.wait(timeout=15)


def _steps_in_database(settings: Settings, run_id: int) -> list[int]:
    engine = make_engine(settings.sqlalchemy_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            return list(
                session.scalars(
                    select(StepMetric.step)
                    .where(StepMetric.run_id == run_id)
                    .order_by(StepMetric.step)
                )
            )
    finally:
        engine.dispose()


def test_a_worker_that_does_not_answer_the_cancel_is_stopped_through_ray(
    ray_cluster: RayTestCluster, ray_settings: Settings, tmp_path: Path
) -> None:
    """The fallback: a worker stuck inside its first checkpoint save (a test-only fault hook,
    trainer/faults.py) cannot stop at a batch boundary, so after the answer time its job is
    stopped through Ray (SIGTERM, then SIGKILL after the grace), and the run says why."""
    marker = tmp_path / "stuck-in-save"
    env = {
        **server_env(ray_cluster, ray_settings),
        "TORCHDASH_RAY_CANCEL_ANSWER_SECONDS": "3",
        "TORCHDASH_RAY_STOP_GRACE_SECONDS": "2",
        "TORCHDASH_FAULT": "pause@save:1",
        "TORCHDASH_FAULT_MARKER": str(marker),
    }
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = spawn_server(ray_settings, port, **env)
    try:
        wait_for_server(base)
        run = _post(base, **LONG)
        wait_until(marker.exists, 180, "the worker to be stuck in its first save")
        assert httpx.post(f"{base}/api/runs/{run['id']}/cancel").status_code == 200
        ended = wait_until(lambda: _ended(base, run["id"]), 120, "the stop through Ray")
        assert ended["status"] == "cancelled", ended
        assert "did not stop within 3 s of the cancel; its Ray job" in ended["error"]
        jobs = httpx.get(f"{ray_cluster.address}/api/jobs/", timeout=10).json()
        ours = [j for j in jobs if j["submission_id"].startswith(f"torchdash-run-{run['id']}-1-")]
        job = max(ours, key=lambda j: j["start_time"])  # earlier tests' databases had a run 1
        assert job["status"] == "STOPPED"
    finally:
        server.terminate()
        server.wait(timeout=15)


def test_a_script_run_as_a_ray_job_reports_its_epochs_and_keeps_its_checkpoints(
    ray_server: str, ray_settings: Settings
) -> None:
    """A script run goes the way a loop run goes on the cluster (one Ray job running `python -m
    app.worker RUN_ID`): its epoch rows and the checkpoints `torchdash_track` saves come back."""
    path = write_script(ray_settings.scripts_path, "tracked.py", TRACKED)
    body = {"name": "script on ray", "script": {"path": path, "args": ["--epochs", "2"]}}
    response = httpx.post(f"{ray_server}/api/runs", json={**body, "device": "cpu"}, timeout=10)
    assert response.status_code == 201, response.text
    run_id = response.json()["id"]
    run = wait_until(lambda: _ended(ray_server, run_id), 240, "the script run to end")
    assert run["status"] == "succeeded", run
    assert run["kind"] == "script" and run["node"]  # placed on a node of the cluster
    epochs = httpx.get(f"{ray_server}/api/runs/{run_id}/metrics", timeout=10).json()["epochs"]
    assert [row["epoch"] for row in epochs] == [1, 2]
    assert epochs[-1]["metrics"]["val_accuracy"] > 0.5
    checkpoints = httpx.get(f"{ray_server}/api/runs/{run_id}/checkpoints", timeout=10).json()
    assert [c["epoch"] for c in checkpoints] == [1, 2]
    model = httpx.get(f"{ray_server}{checkpoints[-1]['model_url']}", timeout=30)
    state = torch.load(io.BytesIO(model.content), weights_only=True)
    assert set(state) == {"weight", "bias"}  # the script's torch.nn.Linear


@pytest.mark.s3
def test_with_s3_storage_a_checkpoint_written_on_another_node_comes_back(
    ray_cluster: RayTestCluster, ray_settings: Settings
) -> None:
    """TORCHDASH_STORAGE=s3://… with a real S3-compatible server (SeaweedFS's `weed mini`):
    the workers on both nodes put their checkpoints in the bucket, and the server serves them."""
    s3 = S3Server().start()
    storage = f"s3://{s3.bucket}/ray-{uuid.uuid4().hex[:8]}"
    env = {
        **server_env(ray_cluster, ray_settings),
        **s3.credentials(),  # botocore reads them; the jobs get them in their environment
        "TORCHDASH_STORAGE": storage,
        "TORCHDASH_STORAGE_ENDPOINT": s3.endpoint,
    }
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = spawn_server(ray_settings, port, **env)
    try:
        wait_for_server(base)
        # Two whole-node runs at once: one trains on each node.
        runs = [_post(base, name=f"s{i}", max_epochs=2, **WHOLE_NODE) for i in range(2)]
        ended = [wait_until(lambda r=r: _ended(base, r["id"]), 240, "an S3 run") for r in runs]
        assert [run["status"] for run in ended] == ["succeeded", "succeeded"], ended
        assert ended[0]["node"] != ended[1]["node"]
        head = ray_cluster.head_node_id()[:8]
        [other] = [run for run in ended if head not in run["node"]]

        checkpoints = httpx.get(f"{base}/api/runs/{other['id']}/checkpoints").json()
        assert [c["epoch"] for c in checkpoints] == [1, 2]
        model = httpx.get(f"{base}{checkpoints[-1]['model_url']}", timeout=30)
        assert model.status_code == 200
        state = torch.load(io.BytesIO(model.content), weights_only=True)
        assert state and not any(key.startswith("module.") for key in state)
        bucket = s3fs.S3FileSystem(
            endpoint_url=s3.endpoint,
            key=s3.credentials()["AWS_ACCESS_KEY_ID"],
            secret=s3.credentials()["AWS_SECRET_ACCESS_KEY"],
            use_listings_cache=False,
        )
        name, key = storage.removeprefix("s3://").split("/", 1)
        listed = bucket.call_s3(
            "list_objects_v2", Bucket=name, Prefix=f"{key}/{other['id']}/checkpoints/"
        )
        assert len(listed.get("Contents", [])) >= 2  # each epoch's model and optimizer, at least
        assert not (ray_settings.home_dir / "runs" / str(other["id"]) / "checkpoints").exists()
    finally:
        server.terminate()
        server.wait(timeout=15)
        s3.stop()


@pytest.mark.browser
def test_the_form_shows_the_clusters_nodes_and_the_run_page_names_the_node(
    ray_server: str, page: Page
) -> None:
    page.goto(f"{ray_server}/")
    device = field(page, "device")
    expect(device.locator("option")).to_have_count(3)  # auto, cpu, cuda: no GPU of one machine
    labels = device.locator("option").all_inner_texts()
    assert labels[2] == "cuda — 4 of 4 GPUs free on 2 node(s)"
    nodes = page.locator('#run-form [data-field="device"] .cluster-nodes')
    expect(nodes).to_contain_text("2 node(s)")
    expect(nodes).to_contain_text("2/2 GPUs, 2/2 CPUs free")

    device.select_option("cuda")
    field(page, "max_epochs").fill("2")
    page.locator("#start-button").click()
    run_id = wait_until(
        lambda: (runs := httpx.get(f"{ray_server}/api/runs").json()["runs"]) and runs[0]["id"],
        30,
        "the run to be created",
    )
    run = wait_until(lambda: _ended(ray_server, run_id), 180, "the run to end")
    assert run["status"] == "succeeded" and run["node"], run
    page.goto(f"{ray_server}/runs/{run_id}")
    expect(page.locator("#run-device")).to_contain_text(f"node {run['node']}")
    expect(page.locator("#run-device")).to_contain_text(f"GPU {run['assigned_gpus'][0]}")


def test_a_lost_node_interrupts_its_run_and_resume_finishes_it_on_another(
    ray_server: str, ray_cluster: RayTestCluster, ray_settings: Settings
) -> None:
    first, second = (_post(ray_server, name=f"n{i}", **WHOLE_NODE, **LONG) for i in range(2))
    a = wait_until(lambda: _training_on_a_node(ray_server, first["id"]), 180, "run 1 to train")
    b = wait_until(lambda: _training_on_a_node(ray_server, second["id"]), 180, "run 2 to train")
    head = ray_cluster.head_node_id()
    victim, survivor = (a, b) if head[:8] not in a["node"] else (b, a)
    wait_until(
        lambda: httpx.get(f"{ray_server}/api/runs/{victim['id']}/checkpoints").json(),
        180,
        "a first checkpoint of the run on the node to be lost",
    )
    lost_node = next(
        n["node_id"]
        for n in httpx.get(f"{ray_server}/api/devices").json()["cluster"]["nodes"]
        if n["label"] == victim["node"]
    )
    ray_cluster.remove_node(lost_node)
    try:
        ended = wait_until(lambda: _ended(ray_server, victim["id"]), 180, "the lost node's run")
        assert ended["status"] == "interrupted", ended
        assert f"the Ray node {victim['node']} was lost" in ended["error"]
        assert _run(ray_server, survivor["id"])["status"] == "running"  # the other node trains on

        # Resume: it waits for a node with room, then continues from its newest checkpoint on
        # the one node left, once the survivor is cancelled.
        response = httpx.post(
            f"{ray_server}/api/runs/{victim['id']}/resume", json={"max_epochs": ended["epoch"] + 2}
        )
        assert response.status_code == 200, response.text
        httpx.post(f"{ray_server}/api/runs/{survivor['id']}/cancel")
        resumed = wait_until(lambda: _training_on_a_node(ray_server, victim["id"]), 240, "resume")
        assert resumed["node"] == survivor["node"] and resumed["attempt"] == 2
        done = wait_until(lambda: _ended(ray_server, victim["id"]), 300, "the resumed run")
        assert done["status"] == "succeeded", done
        assert done["epoch"] == ended["epoch"] + 2  # the two epochs asked for, trained there
        epochs = httpx.get(f"{ray_server}/api/runs/{victim['id']}/metrics").json()["epochs"]
        assert [row["epoch"] for row in epochs] == list(range(1, done["epoch"] + 1))
        log = httpx.get(f"{ray_server}/api/runs/{victim['id']}/log").json()["text"]
        assert f"torchdash-run-{victim['id']}-2-" in log and "starts from checkpoint" in log
    finally:
        ray_cluster.add_node()  # the module's cluster gets its second node back

"""The Ray executor's decisions that need no cluster: the cluster allocator (pure), each node's
free room corrected for the executor's own jobs, job names, and what a job's end means for its
run. (tests/cluster/test_ray_executor.py runs all of it against a real cluster.)"""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from app.runs.cluster_placement import ClusterAllocator, NodeRoom
from app.runs.executors.ray_cluster import RayNode
from app.runs.executors.ray_failures import failure_reason
from app.runs.executors.ray_job_env import (
    SECRETS_FILE_VARIABLE,
    WORKER_SAYS,
    job_environment,
    load_job_secrets,
    write_secrets,
)
from app.runs.executors.ray_jobs import Job, RayJobExecutor, job_name, parse_job_name
from app.settings import Settings
from app.storage.tables import RunStatus

GPU_RUN = {"device": "cuda"}
DDP_RUN = {"device": "cuda", "processes": 2}
CPU_RUN = {"device": "cpu"}


def _room(node_id: str, gpus_free: int, gpus_total: int = 2, cpus_free: int = 2) -> NodeRoom:
    return NodeRoom(node_id, "10.0.0.1", True, False, gpus_total, gpus_free, 2, cpus_free)


def test_runs_start_where_a_node_has_room_and_the_rest_wait_saying_why() -> None:
    allocator = ClusterAllocator([_room("a", 2), _room("b", 1)])
    decisions = allocator.plan([(1, DDP_RUN), (2, GPU_RUN), (3, DDP_RUN), (4, GPU_RUN)])
    assert [d.starts for d in decisions] == [True, True, False, False]
    assert decisions[0].gpu_count == 2 and decisions[1].gpu_count == 1
    assert decisions[2].waiting_reason == "waiting for 2 free GPUs on one node of the cluster"
    assert decisions[3].waiting_reason == "waiting for a free GPU of the cluster"


def test_best_fit_keeps_a_whole_node_for_a_later_ddp_run() -> None:
    # A 1-GPU run takes the node with 1 free, so the 2-GPU run behind it still fits.
    allocator = ClusterAllocator([_room("a", 2), _room("b", 1)])
    assert [d.starts for d in allocator.plan([(1, GPU_RUN), (2, DDP_RUN)])] == [True, True]


def test_cpu_runs_take_a_cpu_and_a_run_larger_than_any_node_waits_for_one() -> None:
    allocator = ClusterAllocator([_room("a", 0, cpus_free=1)])
    first, second = allocator.plan([(1, CPU_RUN), (2, CPU_RUN)])
    assert first.starts and first.gpu_count == 0
    assert second.waiting_reason == "waiting for a free CPU on the cluster"
    [big] = ClusterAllocator([_room("a", 2)]).plan([(3, {"device": "cuda", "processes": 4})])
    assert (
        big.waiting_reason
        == "waiting for a node with 4 GPUs (the largest node of the cluster has 2)"
    )


def test_a_waiting_ddp_run_reserves_the_free_gpus_of_the_nodes_that_could_hold_it() -> None:
    a, b = _room("a" * 40, 1), _room("b" * 40, 1)
    allocator = ClusterAllocator([a, b])
    ddp, single, cpu, second_ddp = allocator.plan(
        [(12, DDP_RUN), (13, GPU_RUN), (14, CPU_RUN), (15, DDP_RUN)]
    )
    assert ddp.waiting_reason == (
        "waiting for 2 free GPUs on one node of the cluster "
        f"(1 free GPU on {a.label}, 1 free GPU on {b.label} reserved)"
    )
    # Ray would pick either node for the 1-GPU run: it waits, naming what is kept and for whom.
    assert single.waiting_reason == (
        f"reserved 1 free GPU on {a.label}, 1 free GPU on {b.label} for run 12"
    )
    assert cpu.starts  # a CPU run takes no GPU
    # The second DDP run reserves nothing more: both nodes are already kept for run 12.
    assert second_ddp.waiting_reason == "waiting for 2 free GPUs on one node of the cluster"


def test_a_later_run_starts_where_ray_cannot_put_it_on_a_reserved_node() -> None:
    # Node a could hold the DDP run (2 GPUs) but has none free; node c, with 1 GPU, never could.
    allocator = ClusterAllocator([_room("a", 0), _room("c", 1, gpus_total=1)])
    ddp, single = allocator.plan([(1, DDP_RUN), (2, GPU_RUN)])
    assert ddp.waiting_reason == "waiting for 2 free GPUs on one node of the cluster"
    assert single.starts and single.gpu_count == 1


def test_a_ddp_run_behind_a_stream_of_1_gpu_runs_starts_once_its_nodes_runs_end() -> None:
    """Looks as the dispatcher makes them: each look, the oldest running run ends and another
    1-GPU run is queued. Ray places each started run on a node of its choosing with room (here
    the emptiest, the worst case). The 2-GPU run must start once the 2 runs that held the first
    node to free up have ended, whatever Ray does with the 1-GPU runs meanwhile."""
    running: list[tuple[int, str]] = [(101, "a"), (102, "a"), (103, "b"), (104, "b")]
    big = 1
    queue: list[tuple[int, dict[str, object]]] = [(big, DDP_RUN)]
    next_id = 2
    for look in range(1, 20):
        running.pop(0)
        queue.append((next_id, GPU_RUN))
        next_id += 1
        used = {node: sum(1 for _, n in running if n == node) for node in ("a", "b")}
        allocator = ClusterAllocator([_room(node, 2 - used[node]) for node in ("a", "b")])
        started = [d for d in allocator.plan(queue) if d.starts]
        for decision in started:
            node = min(used, key=lambda n: used[n])  # Ray's choice: the emptiest node
            used[node] += decision.gpu_count
            running.append((decision.run_id, node))
        queue = [(r, c) for r, c in queue if r not in {d.run_id for d in started}]
        if any(d.run_id == big for d in started):
            break
        assert started == [], f"look {look}: a later run took a GPU kept for run {big}"
    assert look == 2 and running[-1] == (big, "a")


def test_an_unreachable_cluster_starts_nothing_and_says_so() -> None:
    allocator = ClusterAllocator([], unreachable="connection refused")
    [decision] = allocator.plan([(1, CPU_RUN)])
    assert decision.waiting_reason == "waiting for the Ray cluster: connection refused"
    assert allocator.room() == 0


def _executor(nodes: list[RayNode]) -> RayJobExecutor:
    executor = RayJobExecutor(Settings(executor="ray", ray_address="http://127.0.0.1:9"))
    executor._nodes, executor._unreachable = nodes, None
    return executor


def test_free_room_counts_the_executors_own_jobs_before_ray_sees_them() -> None:
    # Ray's monitor still reports the nodes idle, though a job of ours runs on node a and
    # another is submitted but not yet on a node.
    nodes = [
        RayNode("a" * 40, "10.0.0.1", True, True, 2, 0.0, 2, 0.0),
        RayNode("b" * 40, "10.0.0.2", True, False, 2, 0.0, 2, 0.0),
    ]
    executor = _executor(nodes)
    executor.jobs = {1: Job("j1", gpus=2, node_id="a" * 40), 2: Job("j2", gpus=1)}
    rooms = {room.node_id[0]: room for room in executor.rooms()}
    assert rooms["a"].gpus_free == 0  # held by job 1, whatever Ray's lagging view says
    assert rooms["b"].gpus_free == 1  # job 2 will land where it fits
    # The queue's estimate reads the same count, without a look at Ray.
    counted = executor.cluster_snapshot().jobs
    assert {run: (held.node[0], held.node_gpus) for run, held in counted.items()} == {
        1: ("a", 2),
        2: ("b", 1),
    }
    # And what Ray does see as used counts too (another user's job on node b).
    nodes[1] = RayNode("b" * 40, "10.0.0.2", True, False, 2, 2.0, 2, 0.0)
    executor._nodes = nodes
    assert {room.node_id[0]: room.gpus_free for room in executor.rooms()} == {"a": 0, "b": 0}


def test_job_names_tell_runs_of_two_databases_apart_and_parse_back() -> None:
    created = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)
    name = job_name(7, 2, created)
    assert name.startswith("torchdash-run-7-2-") and parse_job_name(name) == (7, 2)
    assert job_name(7, 2, created.replace(tzinfo=None)) == name  # SQLite's naive UTC
    assert job_name(7, 2, datetime(2026, 12, 3, tzinfo=UTC)) != name
    assert parse_job_name("12345") is None  # a local worker's pid


def _info(status: str, **fields: object) -> SimpleNamespace:
    return SimpleNamespace(
        status=status,
        message=fields.get("message", ""),
        error_type=fields.get("error_type"),
        driver_exit_code=fields.get("driver_exit_code"),
    )


def test_a_jobs_end_without_the_workers_word_becomes_the_runs_reason() -> None:
    executor = _executor([RayNode("n" * 40, "10.0.0.3", False, False, 2, 0, 2, 0)])
    job = Job("torchdash-run-1-1-ab", gpus=1, node_id="n" * 40)
    lost = _info(
        "FAILED",
        error_type="JOB_SUPERVISOR_ACTOR_DIED",
        message="Job supervisor actor died: The actor died unexpectedly.\n"
        "The actor died because its node has died. Node Id: nnnn",
    )
    status, reason = executor.describe_end(lost, job)  # type: ignore[arg-type]
    assert status == RunStatus.INTERRUPTED
    assert reason.startswith("the Ray node 10.0.0.3 (nnnnnnnn) was lost")
    status, reason = executor.describe_end(_info("FAILED", driver_exit_code=1), job)  # type: ignore[arg-type]
    assert status == RunStatus.FAILED
    assert reason.startswith("worker exited with code 1 on node 10.0.0.3 (nnnnnnnn) without")
    assert reason.endswith("a final status: its log is empty")
    no_torch = (
        "Traceback (most recent call last):\n  ...\nModuleNotFoundError: No module named 'torch'\n"
    )
    status, reason = executor.describe_end(_info("FAILED", driver_exit_code=1), job, no_torch)  # type: ignore[arg-type]
    assert status == RunStatus.FAILED
    assert reason.startswith(f"torch is not importable by `{executor.python}` on node 10.0.0.3")
    status, _ = executor.describe_end(_info("FAILED", driver_exit_code=137), job)  # type: ignore[arg-type]
    assert status == RunStatus.INTERRUPTED  # SIGKILL, as the shell reports it
    status, reason = executor.describe_end(_info("STOPPED"), job)  # type: ignore[arg-type]
    assert status == RunStatus.INTERRUPTED and "stopped through Ray" in reason
    job.stopped_for_cancel = True
    status, reason = executor.describe_end(_info("STOPPED"), job)  # type: ignore[arg-type]
    assert status == RunStatus.CANCELLED and "did not stop within 60 s of the cancel" in reason


def test_a_workers_reason_is_read_from_its_jobs_log() -> None:
    root = "/opt/torchdash"
    reason = failure_reason(
        "/bin/sh: 1: /opt/td/bin/python: not found\n", 127, "/opt/td/bin/python", "b (4f3a)", root
    )
    assert reason == (
        "the interpreter `/opt/td/bin/python` could not be run on node b (4f3a) "
        "(/bin/sh: 1: /opt/td/bin/python: not found); set TORCHDASH_RAY_PYTHON to torchdash's "
        "python there"
    )
    missing_app = (
        "/usr/bin/python3: Error while finding module specification for 'app.worker' "
        "(ModuleNotFoundError: No module named 'app')\n"
    )
    assert failure_reason(missing_app, 1, "python", "b", root) == (
        "torchdash (app) is not importable by `python` on node b: the project must be at "
        "/opt/torchdash on every node"
    )
    said = f"...\n{WORKER_SAYS}cannot read the secrets file /s.json (Permission denied): ...\n"
    assert failure_reason(said, 1, "python", "b", root).startswith(
        "cannot read the secrets file /s.json (Permission denied)"
    )
    assert failure_reason(said, 1, "python", "b", root).endswith("(node b)")


def test_a_jobs_environment_holds_no_secret_and_names_its_secrets_file(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path,
        database_url="postgresql+psycopg://td:pw-123@db/td",
        executor="ray",
        ray_address="http://head:8265",
    )
    environ = {
        "TORCHDASH_TOKEN": "tok-456",
        "AWS_SECRET_ACCESS_KEY": "key-789",
        "TORCHDASH_STORAGE_ENDPOINT": "http://s3:8333",
    }
    visible, secrets = job_environment(settings, "job-1", Path("/opt/torchdash"), environ)
    assert not any(word in str(visible) for word in ("pw-123", "tok-456", "key-789"))
    assert visible["TORCHDASH_STORAGE_ENDPOINT"] == "http://s3:8333"
    assert visible[SECRETS_FILE_VARIABLE] == str(tmp_path.resolve() / "secrets" / "ray-jobs.json")
    assert secrets == {
        "TORCHDASH_DATABASE_URL": "postgresql+psycopg://td:pw-123@db/td",
        "AWS_SECRET_ACCESS_KEY": "key-789",
    }
    write_secrets(settings.ray_secrets_path, secrets)
    assert stat.S_IMODE(settings.ray_secrets_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(settings.ray_secrets_path.parent.stat().st_mode) == 0o700


def test_a_worker_loads_its_secrets_file_or_says_why_it_cannot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secrets_file = tmp_path / "secrets" / "ray-jobs.json"
    write_secrets(secrets_file, {"TORCHDASH_DATABASE_URL": "sqlite:///x.db"})
    monkeypatch.setenv(SECRETS_FILE_VARIABLE, str(secrets_file))
    # Set, then deleted: monkeypatch records the variable so that it is gone again after the
    # test (a delenv of an absent variable records nothing, and the loaded URL would leak into
    # every later test's settings).
    monkeypatch.setenv("TORCHDASH_DATABASE_URL", "restored-after-the-test")
    monkeypatch.delenv("TORCHDASH_DATABASE_URL")
    load_job_secrets()
    assert os.environ["TORCHDASH_DATABASE_URL"] == "sqlite:///x.db"

    monkeypatch.setenv(SECRETS_FILE_VARIABLE, str(tmp_path / "not-on-this-node.json"))
    with pytest.raises(SystemExit):
        load_job_secrets()
    said = capsys.readouterr().err
    assert said.startswith(f"{WORKER_SAYS}cannot read the secrets file {tmp_path}")
    assert "(No such file or directory)" in said

"""The Ray executor: one Ray job per run attempt, submitted through the cluster's Jobs API.

Each job is `python -m app.worker RUN_ID` and nothing else: torchdash never puts a user's text
into an entrypoint (the Jobs API runs any command, see docs/cluster.md); the run's config
travels through the database, the settings through the job's environment. The job asks Ray for
the run's GPUs (`entrypoint_num_gpus`, which makes Ray set its `CUDA_VISIBLE_DEVICES`) or for
one CPU, and is named after the run and the attempt (`job_name`), so a submit retried after a
lost answer finds the job already there instead of starting the run twice.

What the dispatcher keeps: the queue. It submits only what the allocator built here from the
nodes' free resources lets start (app/runs/cluster_placement.py). Ray's view of what is used
lags a few seconds behind, so a node's free GPUs are also capped by what this executor knows
its own jobs hold there, and a job not yet on a node is counted against the node it would fit.

Cancel is the worker's own business (the database flag, a checkpoint at the next batch). Only
a worker that has not stopped `ray_cancel_answer_seconds` after the cancel is stopped through
Ray (SIGTERM, then SIGKILL after RAY_JOB_STOP_WAIT_TIME_S, which jobs get set to
`ray_stop_grace_seconds` so the SIGTERM's checkpoint can finish). After a server restart the
next server adopts the jobs by their names (stored as the worker handle): their state lives in
Ray. A job whose node was lost ends the run `interrupted`, resumable on any node.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.hardware.inventory import Gpu
from app.runs.cluster_placement import ClusterAllocator, NodeRoom
from app.runs.executors.interface import Exited, WorkerHandle
from app.runs.executors.ray_cluster import ClusterUnreachable, RayCluster, RayNode
from app.runs.executors.worker_process import WORKER_MODULE
from app.settings import Settings
from app.storage.tables import RunStatus

if TYPE_CHECKING:
    from ray.job_submission import JobDetails, JobSubmissionClient

logger = logging.getLogger("torchdash.ray")

JOB_PREFIX = "torchdash-run-"
_JOB_NAME = re.compile(rf"{JOB_PREFIX}(\d+)-(\d+)-[0-9a-f]+")
# The project's root, put on the job's PYTHONPATH: every node has torchdash at the same path
# (docs/cluster.md), so `python -m app.worker` imports there.
PROJECT_ROOT = Path(__file__).resolve().parents[3]
# Ray's job states that are over.
ENDED = {"SUCCEEDED", "FAILED", "STOPPED"}
# Ray's error types for a job whose supervisor (and so its worker) went with its node.
NODE_LOST = {"JOB_SUPERVISOR_ACTOR_DIED", "JOB_SUPERVISOR_ACTOR_UNKNOWN_FAILURE"}


def job_name(run_id: int, attempt: int, run_created_at: datetime) -> str:
    """The job of one attempt of a run: `torchdash-run-<run id>-<attempt>-<stamp>`.

    The stamp (the run's creation time, in hexadecimal microseconds) tells apart the runs of two
    databases that share a cluster, or of a database made afresh: their run 1 is not the same."""
    if run_created_at.tzinfo is None:  # SQLite gives back naive UTC
        run_created_at = run_created_at.replace(tzinfo=UTC)
    stamp = round(run_created_at.timestamp() * 1_000_000)
    return f"{JOB_PREFIX}{run_id}-{attempt}-{stamp:x}"


def parse_job_name(handle: str) -> tuple[int, int] | None:
    """(run id, attempt) of a torchdash job name; None for any other handle."""
    match = _JOB_NAME.fullmatch(handle)
    return (int(match[1]), int(match[2])) if match else None


@dataclass
class Job:
    """One submitted job, as this executor last saw it."""

    name: str
    gpus: int
    node_id: str | None = None
    status: str = "PENDING"
    cancel_seen_at: float | None = None
    stopped_for_cancel: bool = False
    node_reported: bool = False
    logged_unreachable: bool = field(default=False, repr=False)


class RayJobExecutor:
    """Runs on the Ray cluster whose dashboard is at `settings.ray_address`."""

    def __init__(self, settings: Settings, cluster: RayCluster | None = None) -> None:
        assert settings.ray_address is not None  # Settings refuses ray without an address
        self.settings = settings
        self.cluster = cluster or RayCluster(settings.ray_address)
        self.jobs: dict[int, Job] = {}
        self._client: JobSubmissionClient | None = None
        self._nodes: list[RayNode] = []
        self._unreachable: str | None = "not looked at yet"
        self._nodes_read_at = -1e9
        self._jobs_read_at = -1e9
        # Importing ray takes 1-4 s: done now, beside the start-up, not in the first submit
        # (which would hold up that run and every dispatcher tick meanwhile).
        threading.Thread(target=_import_ray, name="import-ray", daemon=True).start()

    # --- placement -------------------------------------------------------------------------

    def cluster_placement(self) -> ClusterAllocator:
        """The allocator for this look: each node's free GPUs and CPUs, less what this
        executor's jobs hold there or are about to."""
        self._refresh_nodes()
        if self._unreachable is not None:
            return ClusterAllocator([], unreachable=self._unreachable)
        return ClusterAllocator(self.rooms())

    def rooms(self) -> list[NodeRoom]:
        """Each node's room; read by requests too, so the jobs are looked at as a snapshot
        (the dispatcher's thread adds and removes them meanwhile)."""
        jobs = list(self.jobs.values())
        ours_gpus: dict[str, int] = {}
        ours_cpus: dict[str, int] = {}
        for job in jobs:
            if job.node_id is not None:
                target = ours_gpus if job.gpus else ours_cpus
                target[job.node_id] = target.get(job.node_id, 0) + max(job.gpus, 1)
        rooms = {
            node.node_id: NodeRoom(
                node_id=node.node_id,
                name=node.name,
                alive=node.alive,
                is_head=node.is_head,
                gpus_total=node.gpus_total,
                # Ray's use lags behind: cap it by what our own jobs on the node hold.
                gpus_free=max(
                    0,
                    min(
                        int(node.gpus_total - node.gpus_used),
                        node.gpus_total - ours_gpus.get(node.node_id, 0),
                    ),
                ),
                cpus_total=node.cpus_total,
                cpus_free=max(
                    0,
                    min(
                        int(node.cpus_total - node.cpus_used),
                        node.cpus_total - ours_cpus.get(node.node_id, 0),
                    ),
                ),
            )
            for node in self._nodes
        }
        # A job not on a node yet will take room somewhere: count it where it fits first.
        for job in jobs:
            if job.node_id is None:
                for node_id, room in rooms.items():
                    have = room.gpus_free if job.gpus else room.cpus_free
                    if room.alive and have >= max(job.gpus, 1):
                        rooms[node_id] = _less(room, job.gpus)
                        break
        return list(rooms.values())

    def nodes(self) -> tuple[list[RayNode], str | None]:
        """The nodes as last read, and why they could not be read (None when they could)."""
        self._refresh_nodes()
        return self._nodes, self._unreachable

    def _refresh_nodes(self) -> None:
        now = time.monotonic()
        if now - self._nodes_read_at < self.settings.ray_poll_interval:
            return
        self._nodes_read_at = now
        try:
            self._nodes = self.cluster.nodes()
            if self._unreachable is not None:
                logger.info("Ray cluster at %s: %d node(s)", self.cluster.address, len(self._nodes))
            self._unreachable = None
        except ClusterUnreachable as error:
            if self._unreachable != str(error):
                logger.warning("Ray cluster unreachable: %s", error)
            self._unreachable = str(error)

    # --- the Executor protocol -------------------------------------------------------------

    def watched(self) -> set[int]:
        return set(self.jobs)

    def keep_warm(self, room: int) -> None:
        """A Ray job is a fresh interpreter on its node: there is nothing to keep warm."""

    def close(self) -> None:
        """The jobs go on training; the next server adopts them by name."""
        self.cluster.close()

    def start(
        self,
        run_id: int,
        gpus: Sequence[Gpu],
        *,
        gpu_count: int = 0,
        attempt: int = 1,
        run_created_at: datetime | None = None,
    ) -> WorkerHandle:
        name = job_name(run_id, attempt, run_created_at or datetime.now(UTC))
        options: dict[str, Any] = {
            "entrypoint": f"python -m {WORKER_MODULE} {run_id}",
            "submission_id": name,
            "runtime_env": {"env_vars": self.job_environment(name)},
            "metadata": {"torchdash_run": str(run_id), "attempt": str(attempt)},
        }
        if gpu_count:
            options.update(entrypoint_num_gpus=gpu_count, entrypoint_num_cpus=0)
        else:
            options.update(entrypoint_num_cpus=1)
        last_error: Exception | None = None
        for _ in range(3):  # a lost answer is retried: the same name cannot start a second job
            try:
                self.client().submit_job(**options)
                break
            except RuntimeError as error:
                if "already exists" in str(error):
                    break  # an earlier try of this very submit got through
                raise OSError(f"Ray refused the job: {_first_line(error)}") from None
            except Exception as error:  # requests' connection errors, the client's own start
                last_error = error
                self._client = None
                time.sleep(1)
        else:
            raise OSError(
                f"the Ray cluster at {self.settings.ray_address} did not answer: "
                f"{_first_line(last_error)}"
            )
        self.jobs[run_id] = Job(name=name, gpus=gpu_count)
        return name

    def job_environment(self, name: str) -> dict[str, str]:
        """The worker's settings (the server's TORCHDASH_* and AWS_* variables, its paths made
        absolute) and how its job stops (RAY_JOB_STOP_WAIT_TIME_S)."""
        settings = self.settings
        forwarded = {
            key: value
            for key, value in os.environ.items()
            if (key.startswith("TORCHDASH_") or key.startswith("AWS_"))
            and key not in ("TORCHDASH_TOKEN", "TORCHDASH_HOST", "TORCHDASH_PORT")
        }
        python_path = os.pathsep.join(
            part for part in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if part
        )
        return {
            **forwarded,
            "TORCHDASH_HOME": str(settings.home_dir),
            "TORCHDASH_DATABASE_URL": settings.sqlalchemy_url,
            "TORCHDASH_DATA_ROOTS": ",".join(map(str, settings.allowed_data_roots)),
            "TORCHDASH_PLUGINS_DIR": str(settings.plugins_path),
            **(
                {"TORCHDASH_STORAGE": _absolute_storage(settings.storage)}
                if settings.storage
                else {}
            ),
            "TORCHDASH_RAY_JOB": name,
            "PYTHONPATH": python_path,
            "PYTHONUNBUFFERED": "1",
            "RAY_JOB_STOP_WAIT_TIME_S": str(settings.ray_stop_grace_seconds),
        }

    def adopt(self, run_id: int, handle: WorkerHandle) -> bool:
        parsed = parse_job_name(handle)
        if parsed is None or parsed[0] != run_id:
            return False  # a local worker's pid: no job of ours
        try:
            info = self.client().get_job_info(handle)
        except RuntimeError:
            return False  # Ray does not know it (the cluster was started afresh)
        except Exception as error:  # unreachable now: keep watching, reap tells later
            logger.warning("run %s: Ray unreachable while adopting %s: %s", run_id, handle, error)
            self._client = None
            info = None
        job = Job(name=handle, gpus=0)
        if info is not None:
            job.status = str(info.status)
            job.node_id = info.driver_node_id
            job.gpus = int(getattr(info, "entrypoint_num_gpus", None) or 0)
        self.jobs[run_id] = job
        return True

    def reap(self) -> list[Exited]:
        now = time.monotonic()
        if now - self._jobs_read_at < self.settings.ray_poll_interval:
            return []
        self._jobs_read_at = now
        exited = []
        for run_id, job in list(self.jobs.items()):
            try:
                info = self.client().get_job_info(job.name)
            except RuntimeError as error:  # Ray no longer knows the job
                del self.jobs[run_id]
                reason = f"the Ray cluster no longer knows its job {job.name}: {_first_line(error)}"
                exited.append(Exited(run_id, RunStatus.INTERRUPTED, reason))
                continue
            except Exception as error:  # unreachable: look again at the next poll
                if not job.logged_unreachable:
                    logger.warning("Ray unreachable while watching %s: %s", job.name, error)
                    job.logged_unreachable = True
                self._client = None
                break
            job.logged_unreachable = False
            job.status = str(info.status)
            if info.driver_node_id and job.node_id != info.driver_node_id:
                job.node_id = info.driver_node_id
                job.node_reported = False
            if job.status in ENDED:
                del self.jobs[run_id]
                exited.append(Exited(run_id, *self.describe_end(info, job)))
        return exited

    def placed(self) -> dict[int, str]:
        """Runs whose node became known since the last call: run id -> the node's label."""
        labels = {node.node_id: node.label for node in self._nodes}
        found = {}
        for run_id, job in self.jobs.items():
            if job.node_id is not None and not job.node_reported:
                if job.node_id not in labels:
                    self._nodes_read_at = -1e9  # a node we have not seen yet: read them again
                    self._refresh_nodes()
                    labels = {node.node_id: node.label for node in self._nodes}
                found[run_id] = labels.get(job.node_id, job.node_id[:8])
                job.node_reported = True
        return found

    def stop_unanswered(self, stopping: set[int]) -> None:
        """Stop through Ray the jobs of cancelled runs whose worker has not stopped in time."""
        now = time.monotonic()
        for run_id in stopping & set(self.jobs):
            job = self.jobs[run_id]
            if job.cancel_seen_at is None:
                job.cancel_seen_at = now
            elif (
                not job.stopped_for_cancel
                and now - job.cancel_seen_at >= self.settings.ray_cancel_answer_seconds
            ):
                logger.warning(
                    "run %s: no answer to the cancel in %.0f s; stopping job %s through Ray",
                    run_id,
                    self.settings.ray_cancel_answer_seconds,
                    job.name,
                )
                try:
                    self.client().stop_job(job.name)
                    job.stopped_for_cancel = True
                except Exception as error:  # tried again at the next look
                    logger.warning("run %s: Ray's stop_job failed: %s", run_id, error)
                    self._client = None

    def describe_end(self, info: JobDetails, job: Job) -> tuple[RunStatus, str]:
        """What a run whose job ended without the worker's final status becomes, and why."""
        status, message = str(info.status), _first_line(info.message or "")
        if status == "STOPPED":
            if job.stopped_for_cancel:
                return RunStatus.CANCELLED, (
                    f"the worker did not stop within {self.settings.ray_cancel_answer_seconds:g} s "
                    f"of the cancel; its Ray job {job.name} was stopped"
                )
            return RunStatus.INTERRUPTED, f"its Ray job {job.name} was stopped through Ray"
        if status == "FAILED" and str(info.error_type or "") in NODE_LOST:
            node = next((n.label for n in self._nodes if n.node_id == job.node_id), job.node_id)
            died = "its node has died" in (info.message or "")
            what = f"the Ray node {node} was lost" if died else "its Ray job's supervisor died"
            return RunStatus.INTERRUPTED, f"{what} ({message})"
        code = info.driver_exit_code
        if code is not None and (code < 0 or code > 128):
            return RunStatus.INTERRUPTED, f"worker killed by signal {abs(code) % 128} on Ray"
        if code is not None:
            return RunStatus.FAILED, (
                f"worker exited with code {code} without a final status; see the log"
            )
        return RunStatus.FAILED, f"its Ray job {job.name} failed: {message or status}"

    def client(self) -> JobSubmissionClient:
        """The Jobs API client, made on first use (it calls the dashboard when made)."""
        if self._client is None:
            from ray.job_submission import JobSubmissionClient  # only a Ray server imports ray

            self._client = JobSubmissionClient(self.settings.ray_address)
        return self._client

    def job_log(self, run_id: int, attempts: int, run_created_at: datetime) -> str | None:
        """The Ray job logs of the run's attempts, oldest first; None when Ray has none."""
        parts = []
        for attempt in range(1, attempts + 1):
            try:
                text = self.client().get_job_logs(job_name(run_id, attempt, run_created_at))
            except Exception:  # an attempt Ray does not know (or the cluster is away)
                continue
            parts.append(text)
        return "".join(parts) if parts else None


def _import_ray() -> None:
    import ray.job_submission  # noqa: F401


def _absolute_storage(storage: str) -> str:
    """TORCHDASH_STORAGE as the job gets it: a bucket as is, a folder made absolute."""
    if storage.startswith("s3://"):
        return storage
    return str(Path(storage).expanduser().resolve())


def _less(room: NodeRoom, gpus: int) -> NodeRoom:
    """`room` less one job's need: its GPUs, or a CPU."""
    if gpus:
        return replace(room, gpus_free=room.gpus_free - gpus)
    return replace(room, cpus_free=room.cpus_free - 1)


def _first_line(error: object) -> str:
    text = str(error).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    # Ray's errors carry the server's traceback: its last line is the message.
    if len(lines) > 1 and lines[0].startswith("Request failed"):
        return lines[-1].strip(" .") or lines[0]
    return lines[0] if lines else text

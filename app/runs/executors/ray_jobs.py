"""The Ray executor: one Ray job per run attempt, submitted through the cluster's Jobs API.

Each job is `<TORCHDASH_RAY_PYTHON> -m app.worker RUN_ID` and nothing else: torchdash never
puts a user's text into an entrypoint (the Jobs API runs any command, see docs/cluster.md); the
run's config travels through the database, the settings through the job's environment and its
secrets through a file (ray_job_env.py). The job asks Ray for the run's GPUs
(`entrypoint_num_gpus`, which makes Ray set its `CUDA_VISIBLE_DEVICES`) or for one CPU, and is
named after the run and the attempt (`job_name`): a submit whose answer was lost is settled by
looking the job up by that name before it is tried again or its run is failed, and a second try
of the same name cannot start a second job.

What the dispatcher keeps: the queue. It submits only what the allocator built here from the
nodes' free resources lets start (app/runs/cluster_placement.py). Ray's view of what is used
lags a few seconds behind, so a node's free GPUs are also capped by what this executor knows
its own jobs hold there, and a job not yet on a node is counted against the node it would fit.

Cancel is the worker's own business (the database flag, a checkpoint at the next batch). Only
a worker that has not stopped `ray_cancel_answer_seconds` after the cancel is stopped through
Ray (SIGTERM, then SIGKILL after RAY_JOB_STOP_WAIT_TIME_S, which jobs get set to
`ray_stop_grace_seconds` so the SIGTERM's checkpoint can finish). After a server restart the
next server adopts the jobs by their names (stored as the worker handle): their state lives in
Ray. A job whose node was lost ends the run `interrupted`, resumable on any node; a job whose
worker never got going fails its run with the reason from the job's log (ray_failures.py).
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.hardware.inventory import Gpu
from app.runs.cluster_placement import ClusterAllocator, ClusterSnapshot, NodeRoom
from app.runs.executors.interface import Exited, WorkerHandle
from app.runs.executors.ray_cluster import ClusterUnreachable, RayCluster, RayNode
from app.runs.executors.ray_failures import failure_reason
from app.runs.executors.ray_job_env import job_environment, write_secrets
from app.runs.executors.worker_process import WORKER_MODULE
from app.runs.placement import Held
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
# Tries of one submit whose answer is lost (each followed by a look-up of the job by its name).
SUBMIT_TRIES = 3


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
    # Submitted, but neither the answer nor a look-up confirmed it (the cluster was away):
    # the next look tells whether Ray has it.
    unconfirmed: bool = False
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
        rooms, _ = self._rooms_and_jobs()
        return rooms

    def cluster_snapshot(self) -> ClusterSnapshot:
        """The nodes as last read and where this executor's jobs are counted, for the queue's
        estimate. It never calls Ray (a list of runs must not wait on the dashboard): it is as
        fresh as the dispatcher's last look (every `ray_poll_interval` seconds while it runs)."""
        if self._unreachable is not None:
            return ClusterSnapshot(unreachable=self._unreachable)
        rooms, counted = self._rooms_and_jobs()
        return ClusterSnapshot(tuple(rooms), counted)

    def _rooms_and_jobs(self) -> tuple[list[NodeRoom], dict[int, Held]]:
        """Each node's room, and each job's node and GPUs as counted there."""
        jobs = list(self.jobs.items())
        ours_gpus: dict[str, int] = {}
        ours_cpus: dict[str, int] = {}
        counted: dict[int, Held] = {}
        for run_id, job in jobs:
            if job.node_id is not None:
                target = ours_gpus if job.gpus else ours_cpus
                target[job.node_id] = target.get(job.node_id, 0) + max(job.gpus, 1)
                counted[run_id] = Held(run_id, (), job.node_id, job.gpus)
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
        for run_id, job in jobs:
            if job.node_id is None:
                for node_id, room in rooms.items():
                    have = room.gpus_free if job.gpus else room.cpus_free
                    if room.alive and have >= max(job.gpus, 1):
                        rooms[node_id] = _less(room, job.gpus)
                        counted[run_id] = Held(run_id, (), node_id, job.gpus)
                        break
        return list(rooms.values()), counted

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
        environment, secrets = self.job_environment(name)
        try:
            write_secrets(self.settings.ray_secrets_path, secrets)
        except OSError as error:
            raise OSError(
                f"cannot write the Ray jobs' secrets file {self.settings.ray_secrets_path}: "
                f"{error.strerror or error}"
            ) from None
        options: dict[str, Any] = {
            "entrypoint": f"{shlex.quote(self.python)} -m {WORKER_MODULE} {run_id}",
            "submission_id": name,
            "runtime_env": {"env_vars": environment},
            "metadata": {"torchdash_run": str(run_id), "attempt": str(attempt)},
        }
        if gpu_count:
            options.update(entrypoint_num_gpus=gpu_count, entrypoint_num_cpus=0)
        else:
            options.update(entrypoint_num_cpus=1)
        self.jobs[run_id] = Job(name=name, gpus=gpu_count, unconfirmed=not self._submit(options))
        return name

    def _submit(self, options: dict[str, Any]) -> bool:
        """Submit a job; True once Ray has it, False when the cluster could not be asked.

        An answer lost on the way back (a timeout, a dropped connection) does not say whether
        the job was made: the job is looked up by its name before it is submitted again, and
        raises OSError (the run fails) only when Ray refused it or said it has no such job."""
        name = options["submission_id"]
        last_error: Exception | None = None
        known: bool | None = None
        for _ in range(SUBMIT_TRIES):
            try:
                self.client().submit_job(**options)
                return True
            except RuntimeError as error:
                if "already exists" in str(error):
                    return True  # an earlier try of this very submit got through
                raise OSError(f"Ray refused the job: {_first_line(error)}") from None
            except Exception as error:  # requests' connection errors, the client's own start
                last_error = error
                self._client = None
                logger.warning("submitting %s: no answer from Ray (%s)", name, _first_line(error))
            known = self._job_known(name)
            if known:
                return True  # the answer was lost, the job was made
            time.sleep(1)
        if known is None:
            logger.warning("%s: Ray could not be asked whether it has the job; watching it", name)
            return False
        raise OSError(
            f"the Ray cluster at {self.settings.ray_address} did not take the job {name}: "
            f"{_first_line(last_error)}"
        )

    def _job_known(self, name: str) -> bool | None:
        """Whether Ray has a job of this name; None when Ray could not be asked."""
        try:
            self.client().get_job_info(name)
            return True
        except RuntimeError:  # Ray answered: no such job
            return False
        except Exception:
            self._client = None
            return None

    @property
    def python(self) -> str:
        """The interpreter the jobs run the worker with (TORCHDASH_RAY_PYTHON)."""
        return self.settings.ray_python or sys.executable

    def job_environment(self, name: str) -> tuple[dict[str, str], dict[str, str]]:
        """The job's environment (no secret in it) and the secrets for its file."""
        return job_environment(self.settings, name, PROJECT_ROOT, dict(os.environ))

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
                if job.unconfirmed:  # its submit's answer was lost, and it never got there
                    reason = (
                        f"could not start a worker: the Ray cluster did not take its job "
                        f"{job.name} (the submit's answer was lost)"
                    )
                    exited.append(Exited(run_id, RunStatus.FAILED, reason))
                    continue
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
            job.unconfirmed = False
            job.status = str(info.status)
            if info.driver_node_id and job.node_id != info.driver_node_id:
                job.node_id = info.driver_node_id
                job.node_reported = False
            if job.status in ENDED:
                del self.jobs[run_id]
                exited.append(Exited(run_id, *self.describe_end(info, job, self._log_of(info))))
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

    def _log_of(self, info: JobDetails) -> str:
        """A failed job's log, where its worker's reason is; empty for other ends."""
        if str(info.status) != "FAILED" or info.driver_exit_code is None:
            return ""
        try:
            return self.client().get_job_logs(info.submission_id or "")
        except Exception as error:  # the reason is then the exit code alone
            logger.warning("could not read the log of %s: %s", info.submission_id, error)
            return ""

    def describe_end(self, info: JobDetails, job: Job, log: str = "") -> tuple[RunStatus, str]:
        """What a run whose job ended without the worker's final status becomes, and why;
        `log` is the job's log, where a worker that never got going said why."""
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
            node = next((n.label for n in self._nodes if n.node_id == job.node_id), None)
            where = node or (job.node_id or "unknown")[:8]
            reason = failure_reason(log, code, self.python, where, str(PROJECT_ROOT))
            return RunStatus.FAILED, reason
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

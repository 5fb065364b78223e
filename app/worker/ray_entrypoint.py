"""A worker that is a Ray job's entrypoint (the Ray executor, app/runs/executors/ray_jobs.py).

Ray gave it its GPUs (the job's `CUDA_VISIBLE_DEVICES`, in NVML's numbering on its node), and
the run records them, as the dispatcher does for a local worker.

Ray starts the entrypoint in a session of its own under the job's supervisor actor, so when the
node's Ray processes die (the node is lost, or taken out of the cluster) the worker would go on
training as an orphan, on GPUs Ray already counts as free, while the server marks its run
interrupted and may resume it elsewhere. The worker watches its supervisor and ends at once
with it: the checkpoint it keeps is the last one it finished, as with a machine that died.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from app.storage.engine import session_scope
from app.storage.tables import Run, RunStatus
from app.worker.console import log
from app.worker.process_tree import read_stat

# Set by the Ray executor in the job's environment: the job's name.
RAY_JOB_VARIABLE = "TORCHDASH_RAY_JOB"
SUPERVISOR_TITLE = "ray::JobSupervisor"
WATCH_SECONDS = 1.0


def ray_job_name() -> str | None:
    """The Ray job this worker is the entrypoint of; None for a local worker."""
    return os.environ.get(RAY_JOB_VARIABLE) or None


def gpus_given_by_ray() -> list[str]:
    """The GPUs Ray gave the job (empty for a CPU run)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    return [part.strip() for part in visible.split(",") if part.strip()]


def record_gpus(factory: sessionmaker[Session], run_id: int, gpus: list[str]) -> None:
    with session_scope(factory) as session:
        session.execute(
            update(Run)
            .where(Run.id == run_id, Run.status == RunStatus.RUNNING.value)
            .values(assigned_gpus=gpus)
        )


def supervisor_pid() -> int | None:
    """The job's supervisor actor among this process's ancestors; None outside Ray."""
    pid = os.getppid()
    while pid > 1:
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(SUPERVISOR_TITLE.encode()):
                return pid
        except OSError:
            return None
        stat = read_stat(pid)
        if stat is None:
            return None
        pid = stat.parent
    return None


def watch_supervisor() -> None:
    """End this worker (and its DDP ranks, which die with it) when the job's supervisor dies."""
    pid = supervisor_pid()
    if pid is None:
        log("no Ray job supervisor found among this worker's parents: not watching it")
        return

    def watch() -> None:
        stop = threading.Event()
        while not stop.wait(WATCH_SECONDS):
            if read_stat(pid) is None:  # gone, or a zombie not yet reaped
                log(f"the Ray job's supervisor (pid {pid}) is gone: its node left the cluster")
                os._exit(1)

    threading.Thread(target=watch, name="ray-supervisor-watch", daemon=True).start()

"""The local executor: one OS process per run on this machine, a warm one when it can.

`python -m app.worker RUN_ID`, or a warm worker (`app.worker --warm`, torch already imported)
handed the run on its stdin. With `warm_workers` > 0, up to that many wait, as long as a run
could start for them. Each worker runs in its own process session: stopping the server leaves
it training, and the next server adopts it by its pid (the handle).

A worker sees exactly the GPUs it was given: `CUDA_VISIBLE_DEVICES` names them by UUID when
every one has a UUID (NVML's, or as listed in TORCHDASH_GPUS; a UUID cannot point at another
GPU, whatever the order), by NVML index otherwise (indexes listed in TORCHDASH_GPUS that NVML
does not report, as in the tests), with `CUDA_DEVICE_ORDER=PCI_BUS_ID` so CUDA numbers GPUs as
NVML does. A CPU run sees none. `TORCHDASH_ASSIGNED_GPUS` tells the worker the NVML indexes of
its GPUs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from app.hardware.inventory import Gpu
from app.runs.executors.interface import Exited, WorkerHandle
from app.runs.executors.warm_pool import WarmPool
from app.runs.executors.worker_process import (
    ATTEMPT_ENV,
    WARM_FLAG,
    is_worker_of,
    worker_command,
)
from app.settings import Settings
from app.storage.tables import RunStatus


def gpu_environment(gpus: Sequence[Gpu]) -> dict[str, str]:
    """The variables that give a worker exactly `gpus` (none: no GPU at all)."""
    by_uuid = all(gpu.uuid for gpu in gpus)
    names = [str(gpu.uuid) if by_uuid else str(gpu.index) for gpu in gpus]
    return {
        "CUDA_VISIBLE_DEVICES": ",".join(names),
        "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
        "TORCHDASH_ASSIGNED_GPUS": ",".join(str(gpu.index) for gpu in gpus),
    }


class LocalProcessExecutor:
    """Worker processes on this machine, as many as the dispatcher starts."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.processes: dict[int, subprocess.Popen[bytes]] = {}
        self.adopted: dict[int, int] = {}
        self.warm = WarmPool(settings.warm_workers, self._spawn_warm)

    def watched(self) -> set[int]:
        return set(self.processes) | set(self.adopted)

    def keep_warm(self, room: int) -> None:
        self.warm.fill(room=room)

    def close(self) -> None:
        self.warm.close()

    def cluster_placement(self) -> None:
        """Runs are placed on this machine's GPU set (app/runs/placement.py)."""
        return None

    def placed(self) -> dict[int, str]:
        return {}  # no cluster node: the run page says it trains on this machine

    def stop_unanswered(self, stopping: set[int]) -> None:
        """A local worker answers the cancel flag; nothing is forced."""

    def start(
        self,
        run_id: int,
        gpus: Sequence[Gpu],
        *,
        gpu_count: int = 0,
        attempt: int = 1,
        run_created_at: datetime | None = None,
    ) -> WorkerHandle:
        log_path = self.settings.worker_log(run_id)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        # The attempt tells a worker that outlived a killed server's handover, and reads its run
        # only after it was resumed and started again, that the run is no longer its own.
        placement = {**gpu_environment(gpus), ATTEMPT_ENV: str(attempt)}
        process = self.warm.hand_over(run_id, placement) or self._spawn(
            str(run_id), log_path, stdin=subprocess.DEVNULL, placement=placement
        )
        self.processes[run_id] = process
        return str(process.pid)

    def take_warm_worker(self, job: str) -> subprocess.Popen[bytes] | None:
        """An idle warm worker handed `job` (a preflight, app/runs/preflight.py); None if none."""
        return self.warm.hand_over_preflight(job)

    def _spawn_warm(self) -> subprocess.Popen[bytes]:
        log_path = self.settings.warm_worker_log
        log_path.parent.mkdir(parents=True, exist_ok=True)
        # No GPU until it is handed a run (and its GPUs, on stdin): should anything initialise
        # CUDA before that, the run finds no GPU rather than someone else's.
        return self._spawn(
            WARM_FLAG, log_path, stdin=subprocess.PIPE, placement=gpu_environment([])
        )

    def _spawn(
        self, argument: str, log_path: Path, stdin: int, placement: dict[str, str]
    ) -> subprocess.Popen[bytes]:
        """`python -m app.worker ARGUMENT`, its output appended to `log_path`."""
        env = {
            **os.environ,
            # The worker reads the same settings, made absolute so its working folder can't matter.
            "TORCHDASH_HOME": str(self.settings.home_dir),
            "TORCHDASH_DATABASE_URL": self.settings.sqlalchemy_url,
            "TORCHDASH_DATA_ROOTS": ",".join(map(str, self.settings.allowed_data_roots)),
            "PYTHONUNBUFFERED": "1",
            **placement,
        }
        python = self.settings.worker_python or sys.executable
        with open(log_path, "ab") as log_file:
            return subprocess.Popen(
                worker_command(python, argument),
                env=env,
                stdin=stdin,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                # Its own session: a Ctrl-C on the server does not kill the runs it started.
                start_new_session=True,
            )

    def adopt(self, run_id: int, handle: WorkerHandle) -> bool:
        if not handle.isdigit():
            return False  # not a process id: no local worker ever had it
        pid = int(handle)
        if not is_worker_of(pid, run_id, self.settings.worker_log(run_id)):
            return False
        self.adopted[run_id] = pid
        return True

    def reap(self) -> list[Exited]:
        exited = []
        for run_id, process in list(self.processes.items()):
            code = process.poll()
            if code is not None:
                del self.processes[run_id]
                exited.append(Exited(run_id, *_describe_exit(code)))
        for run_id, pid in list(self.adopted.items()):
            if not is_worker_of(pid, run_id, self.settings.worker_log(run_id)):
                del self.adopted[run_id]
                exited.append(Exited(run_id, *_describe_exit(None)))
        return exited


def _describe_exit(returncode: int | None) -> tuple[RunStatus, str]:
    """A worker lost to the outside (a signal, an unknown end) interrupts its run; a crash fails.

    `returncode` is None for an adopted worker: it is not our child, so its code is unknown.
    """
    if returncode is None:
        return RunStatus.INTERRUPTED, "worker lost: its process ended without a final status"
    if returncode < 0:
        name = signal.Signals(-returncode).name
        return RunStatus.INTERRUPTED, f"worker killed by signal {name}"
    return (
        RunStatus.FAILED,
        f"worker exited with code {returncode} without a final status; see worker.log",
    )

"""The local executor: one OS process per run on this machine, a warm one when it can.

`python -m app.worker RUN_ID`, or a warm worker (`app.worker --warm`, torch already imported)
handed the run on its stdin. With `warm_workers` > 0, up to that many wait, as long as a run
slot is free for them. Each worker runs in its own process session: stopping the server leaves
it training, and the next server adopts it by its pid (the handle).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from app.runs.executors.interface import Exited, WorkerHandle
from app.runs.executors.warm_pool import WarmPool
from app.runs.executors.worker_process import WARM_FLAG, is_worker_of, worker_command
from app.settings import Settings
from app.storage.models import RunStatus


class LocalProcessExecutor:
    """Up to `max_concurrent_runs` worker processes on this machine."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.processes: dict[int, subprocess.Popen[bytes]] = {}
        self.adopted: dict[int, int] = {}
        self.warm = WarmPool(settings.warm_workers, self._spawn_warm)

    def free_slots(self) -> int:
        return self.settings.max_concurrent_runs - len(self.processes) - len(self.adopted)

    def keep_warm(self) -> None:
        self.warm.fill(free_slots=self.free_slots())

    def close(self) -> None:
        self.warm.close()

    def start(self, run_id: int) -> WorkerHandle:
        log_path = self.settings.worker_log(run_id)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        process = self.warm.hand_over(run_id) or self._spawn(
            str(run_id), log_path, stdin=subprocess.DEVNULL
        )
        self.processes[run_id] = process
        return str(process.pid)

    def take_warm_worker(self, job: str) -> subprocess.Popen[bytes] | None:
        """An idle warm worker handed `job` (a preflight, app/runs/preflight.py); None if none."""
        return self.warm.hand_over_preflight(job)

    def _spawn_warm(self) -> subprocess.Popen[bytes]:
        log_path = self.settings.warm_worker_log
        log_path.parent.mkdir(parents=True, exist_ok=True)
        return self._spawn(WARM_FLAG, log_path, stdin=subprocess.PIPE)

    def _spawn(self, argument: str, log_path: Path, stdin: int) -> subprocess.Popen[bytes]:
        """`python -m app.worker ARGUMENT`, its output appended to `log_path`."""
        env = {
            **os.environ,
            # The worker reads the same settings, made absolute so its working folder can't matter.
            "TORCHDASH_HOME": str(self.settings.home_dir),
            "TORCHDASH_DATABASE_URL": self.settings.sqlalchemy_url,
            "TORCHDASH_DATA_ROOTS": ",".join(map(str, self.settings.allowed_data_roots)),
            "PYTHONUNBUFFERED": "1",
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

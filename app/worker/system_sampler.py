"""System metrics of a training run, sampled on a thread of the worker's own.

Every TORCHDASH_SYSTEM_SAMPLE_SECONDS: the CPU use and resident memory of the worker and every
process it started (its DDP ranks, its DataLoader workers; app/worker/process_tree.py), summed
into one row, and one row per GPU of the run (TORCHDASH_ASSIGNED_GPUS, as the dispatcher placed
it, that NVML reports) with its utilisation, memory and power. The training thread never waits
for it: the sampler reads /proc and NVML and writes its rows in its own transactions, and a
failure to sample is logged once and never fails the run.
"""

from __future__ import annotations

import os
import threading
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.hardware import nvml
from app.storage import system_metrics
from app.storage.engine import session_scope
from app.storage.notifications import notify_run
from app.worker.console import log
from app.worker.process_tree import ProcessTree

ASSIGNED_GPUS_ENV = "TORCHDASH_ASSIGNED_GPUS"


def assigned_gpus(environ: dict[str, str] | os._Environ[str] = os.environ) -> list[str]:
    """The NVML indexes of the run's GPUs, as the dispatcher handed them to this worker."""
    return [part.strip() for part in environ.get(ASSIGNED_GPUS_ENV, "").split(",") if part.strip()]


class SystemSampler:
    """`with SystemSampler(...):` samples every `interval` seconds while the block trains."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        run_id: int,
        interval: float,
        gpus: list[str],
        read_gpus: Callable[[], list[nvml.GpuReading]] = nvml.read_gpus,
        root_pid: int | None = None,
    ) -> None:
        self.factory = factory
        self.run_id = run_id
        self.interval = interval
        self.gpus = set(gpus)
        self.read_gpus = read_gpus  # the NVML seam: tests without a GPU hand in a fake here
        self.tree = ProcessTree(root_pid if root_pid is not None else os.getpid())
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="system-sampler", daemon=True)
        self.failed = False

    def __enter__(self) -> SystemSampler:
        self.thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback_: TracebackType | None,
    ) -> None:
        self.stopped.set()
        self.thread.join()

    def _run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.sample_once()
        self.sample_once()  # the end of the run: a run shorter than one interval has a row too

    def sample_once(self) -> None:
        """Read and store one sample; a failure is logged (once) and sampling goes on."""
        try:
            rows = self.rows()
            with session_scope(self.factory) as session:
                system_metrics.write_samples(session, self.run_id, rows)
                notify_run(session, self.run_id)  # wakes the run's event streams, as other rows do
        except Exception:  # sampling is an observer: it must never take the run down
            if not self.failed:
                traceback.print_exc()
                log("system metrics: a sample failed; the run itself is unaffected")
            self.failed = True

    def rows(self) -> list[dict[str, Any]]:
        """This moment's rows: the processes, then each of the run's GPUs."""
        rows: list[dict[str, Any]] = []
        tree = self.tree.sample()
        if tree is not None:
            rows.append({"gpu": None, "cpu_percent": tree.cpu_percent, "rss_mb": tree.rss_mb})
        if self.gpus:  # a CPU run never initialises NVML
            for gpu in self.read_gpus():
                if str(gpu.index) in self.gpus:
                    rows.append(
                        {
                            "gpu": str(gpu.index),
                            "gpu_utilization_percent": gpu.utilization_percent,
                            "gpu_memory_used_mb": gpu.memory_used_mb,
                            "gpu_memory_total_mb": gpu.memory_total_mb,
                            "gpu_power_watts": gpu.power_watts,
                        }
                    )
        return rows

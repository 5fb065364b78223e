"""System metrics of a training run, sampled on a thread of the worker's own.

Every TORCHDASH_SYSTEM_SAMPLE_SECONDS: the CPU use and resident memory of the worker and every
process it started (its DDP ranks, its DataLoader workers; app/worker/process_tree.py), summed
into one row, and one row per GPU of the run (TORCHDASH_ASSIGNED_GPUS, as the dispatcher placed
it, that NVML reports) with its utilisation, memory and power. Each sample also adds to the run's
cost (app/worker/cost_meter.py): one more sample, of the GPUs alone, is taken as training starts,
so the cost spans the whole of it. The training thread never waits for it: the sampler reads
/proc, NVML and RAPL and writes its rows in its own transactions, and a failure to sample is
logged once and never fails the run.
"""

from __future__ import annotations

import os
import threading
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.hardware import nvml, rapl
from app.storage import run_costs, system_metrics
from app.storage.engine import session_scope
from app.storage.notifications import notify_run
from app.storage.tables import utcnow
from app.worker.console import log
from app.worker.cost_meter import CostMeter
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
        read_gpus: Callable[[], list[nvml.GpuReading]] | None = None,
        root_pid: int | None = None,
    ) -> None:
        self.factory = factory
        self.run_id = run_id
        self.interval = interval
        self.gpus = set(gpus)
        # The NVML seam: tests without a GPU hand in a fake here, or replace `nvml.read_gpus`
        # (read at each call, so a worker built elsewhere sees the replacement too).
        self.read_gpus = read_gpus or (lambda: nvml.read_gpus())
        self.meter = CostMeter(list(gpus))
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
        # The start of training: the GPUs' first power reading and the cost's first instant (the
        # processes' CPU use is measured over an interval: theirs waits for the first one).
        self.sample_once(processes=False)
        while not self.stopped.wait(self.interval):
            self.sample_once()
        self.sample_once()  # the end of the run: a run shorter than one interval has a row too

    def sample_once(self, processes: bool = True) -> None:
        """Read and store one sample and what it adds to the run's cost; a failure is logged
        (once) and sampling goes on."""
        try:
            at = utcnow()
            readings = self.read_gpus() if self.gpus else []  # a CPU run never initialises NVML
            rows = self.rows(readings, processes)
            cost = self.meter.step(at, readings, rapl.read_packages())
            if not rows and not cost:
                return
            with session_scope(self.factory) as session:
                system_metrics.write_samples(session, self.run_id, rows, at)
                run_costs.add_cost(session, self.run_id, cost)
                notify_run(session, self.run_id)  # wakes the run's event streams, as other rows do
        except Exception:  # sampling is an observer: it must never take the run down
            if not self.failed:
                traceback.print_exc()
                log("system metrics: a sample failed; the run itself is unaffected")
            self.failed = True

    def rows(
        self, readings: list[nvml.GpuReading] | None = None, processes: bool = True
    ) -> list[dict[str, Any]]:
        """This moment's rows: the processes, then each of the run's GPUs (from `readings`, else
        read now)."""
        rows: list[dict[str, Any]] = []
        tree = self.tree.sample() if processes else None
        if tree is not None:
            rows.append({"gpu": None, "cpu_percent": tree.cpu_percent, "rss_mb": tree.rss_mb})
        if self.gpus:  # a CPU run never initialises NVML
            for gpu in self.read_gpus() if readings is None else readings:
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

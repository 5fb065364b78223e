"""What the dispatcher needs of an executor: start a claimed run's worker on the GPUs it was
given, adopt one after a server restart, reap those that ended, and say which it still watches.

The dispatcher owns the queue, the claiming and which GPUs a run gets (`app/runs/dispatcher.py`,
`app/runs/placement.py`); an executor owns how a worker is started on them (locally: its
`CUDA_VISIBLE_DEVICES`). A second executor (a cluster engine) plugs in here without touching the
claiming logic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeAlias

from app.hardware.inventory import Gpu
from app.runs.cluster_placement import ClusterAllocator
from app.storage.tables import RunStatus

# How an executor names a worker it started, stored on the run (`runs.worker_handle`) so the
# next server can adopt it: a process id for local workers, a job id for a cluster's.
WorkerHandle: TypeAlias = str


@dataclass(frozen=True)
class Exited:
    """A worker that is gone, and what its run becomes if it wrote no final status itself."""

    run_id: int
    outcome: RunStatus  # interrupted (lost to the outside) or failed (it crashed)
    reason: str


class Executor(Protocol):
    """Where workers run."""

    def watched(self) -> set[int]:
        """The runs whose worker it started or adopted and has not reaped yet."""
        ...

    def start(
        self,
        run_id: int,
        gpus: Sequence[Gpu],
        *,
        gpu_count: int = 0,
        attempt: int = 1,
        run_created_at: datetime | None = None,
    ) -> WorkerHandle:
        """Start a worker for a claimed (`running`) run that sees exactly `gpus` (none: a CPU
        run), or, on a cluster, `gpu_count` GPUs of the cluster's choice. `attempt` counts the
        run's starts; with the run's creation time it names a cluster's job. Raise OSError when
        none could start."""
        ...

    def cluster_placement(self) -> ClusterAllocator | None:
        """The allocator of a cluster's nodes for this look; None: this machine's GPU set."""
        ...

    def placed(self) -> dict[int, str]:
        """Runs whose cluster node became known since the last call (run id -> node)."""
        ...

    def stop_unanswered(self, stopping: set[int]) -> None:
        """`stopping`: the running runs asked to cancel. Stop those whose worker has not
        stopped by itself in time, where the executor can (a cluster's job)."""
        ...

    def adopt(self, run_id: int, handle: WorkerHandle) -> bool:
        """Watch a worker started by an earlier server; False when it is gone."""
        ...

    def reap(self) -> list[Exited]:
        """Workers that ended since the last call."""
        ...

    def keep_warm(self, room: int) -> None:
        """Have workers ready ahead of the next start, where the executor has such a thing;
        `room` is how many runs could start now at most."""
        ...

    def close(self) -> None:
        """Let go of workers that have no run yet (the server stops)."""
        ...

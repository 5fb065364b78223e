"""What the dispatcher needs of an executor: start a claimed run's worker, adopt one after a
server restart, reap those that ended, and say how many more it can start now.

The dispatcher owns the queue and the claiming (`app/runs/dispatcher.py`); an executor owns
placement. A second executor (a cluster engine) or a GPU allocator inside one plugs in here
without touching the claiming logic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeAlias

from app.storage.models import RunStatus

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

    def free_slots(self) -> int:
        """How many more workers it could start now."""
        ...

    def start(self, run_id: int) -> WorkerHandle:
        """Start a worker for a claimed (`running`) run; raise OSError when none could start."""
        ...

    def adopt(self, run_id: int, handle: WorkerHandle) -> bool:
        """Watch a worker started by an earlier server; False when it is gone."""
        ...

    def reap(self) -> list[Exited]:
        """Workers that ended since the last call."""
        ...

    def keep_warm(self) -> None:
        """Have workers ready ahead of the next start, where the executor has such a thing."""
        ...

    def close(self) -> None:
        """Let go of workers that have no run yet (the server stops)."""
        ...

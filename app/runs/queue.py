"""The queue of runs waiting for a slot: its order, moving a run in it, and when each should start.

Queued runs start by (`queue_rank`, `id`), lowest first (`queued_in_order`). A new run is ranked
after every run there is; moving a run to the top ranks it one below the lowest queued rank, to
the bottom one above the highest. The dispatcher only reads the order.

`queue_outlook` is the one place that says where a queued run stands and when it should start:
the dispatcher's placement replayed over the running runs' remaining time and that of the queued
runs ahead of it, on the CPU slots and, one lane each, the server's GPUs (with its strict GPU
reservation), or on the Ray executor on each node's GPUs and CPUs (with the cluster's per-node
reservation), each run's epoch time taken from its finished epochs, else from its preflight
estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from app.errors import ConflictError, NotFoundError
from app.runs.cluster_placement import ClusterAllocator, ClusterSnapshot
from app.runs.placement import Allocator, Held
from app.storage import metrics
from app.storage.tables import Run, RunStatus, utcnow

QueuePosition = Literal["top", "bottom"]


def queued_in_order() -> Select[int]:
    """The ids of queued runs in the order they start."""
    return (
        select(Run.id).where(Run.status == RunStatus.QUEUED.value).order_by(Run.queue_rank, Run.id)
    )


def next_queue_rank(session: Session) -> float:
    """The rank of a run queued now: after every run there is (resumed runs keep theirs)."""
    highest = session.scalar(select(func.max(Run.queue_rank)))
    return (highest or 0.0) + 1.0


def move_in_queue(session: Session, run_id: int, position: QueuePosition) -> None:
    """Put a queued run first or last in the queue; 409 when it is not queued."""
    queued = select(Run.queue_rank).where(Run.status == RunStatus.QUEUED.value, Run.id != run_id)
    if position == "top":
        edge = session.scalar(select(func.min(queued.subquery().c.queue_rank)))
        rank = (edge - 1.0) if edge is not None else None
    else:
        edge = session.scalar(select(func.max(queued.subquery().c.queue_rank)))
        rank = (edge + 1.0) if edge is not None else None
    values = {} if rank is None else {"queue_rank": rank}
    # One guarded update, like every state change: a run that started meanwhile is not moved.
    result = session.execute(
        update(Run)
        .where(Run.id == run_id, Run.status == RunStatus.QUEUED.value)
        .values(updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        status = session.scalar(select(Run.status).where(Run.id == run_id))
        if status is None:
            raise NotFoundError(f"run {run_id} not found")
        raise ConflictError(f"run {run_id} is {status}; only queued runs can move in the queue")


@dataclass(frozen=True)
class QueueSpot:
    position: int  # 1-based, in start order
    estimated_start_at: datetime | None  # naive UTC; None when its start cannot be told


class ClusterView(Protocol):
    """What the estimate reads of a cluster (the Ray executor): its nodes as last read."""

    def cluster_snapshot(self) -> ClusterSnapshot: ...


@dataclass(frozen=True)
class Lanes:
    """What runs start on, for the estimate: CPU slots (TORCHDASH_MAX_CONCURRENT_RUNS) and the
    server's GPU set (none: every run counts as one slot), or on the Ray executor its `cluster`,
    whose nodes take the place of both."""

    slots: int = 1
    gpus: tuple[int, ...] = ()
    cluster: ClusterView | None = None


def queue_outlook(
    session: Session, lanes: Lanes | int, now: datetime | None = None
) -> dict[int, QueueSpot]:
    """Every queued run's place in the queue and estimated start, by run id.

    The dispatcher's own placement (app/runs/placement.py: queue order, a run that cannot start
    lets a later one that can, strict GPU reservation; on a cluster app/runs/cluster_placement.py,
    per node) replayed over time: each running run frees its lanes (its `assigned_gpus`, else a
    CPU slot; on a cluster, its GPUs or CPU on the node it is counted on) when its remaining time
    is up, and each queued run, once placed, holds its lanes for its own. A lane held for a time
    nobody can tell (no finished epoch, no preflight estimate; on a cluster, another user's job)
    never frees, so a run that needs it has no estimate, while one that does not still has."""
    if isinstance(lanes, int):
        lanes = Lanes(slots=lanes)
    now = now or utcnow()
    queued_ids = list(session.scalars(queued_in_order()).all())
    if not queued_ids:
        return {}
    running = list(
        session.scalars(
            # A run trained elsewhere holds no slot here.
            select(Run).where(Run.status == RunStatus.RUNNING.value, Run.kind != "external")
        )
    )
    queued = {run.id: run for run in session.scalars(select(Run).where(Run.id.in_(queued_ids)))}
    epoch_seconds = {
        run_id: summary["epoch_seconds"]
        for run_id, summary in metrics.epoch_summaries(
            session, [*queued_ids, *(run.id for run in running)]
        ).items()
    }
    allocator, held = _replayed_placement(lanes, running)
    holding = [Holding(held[run.id], remaining_seconds(run, epoch_seconds)) for run in running]
    waiting = [
        (
            run_id,
            _placed_config(queued[run_id], lanes),
            remaining_seconds(queued[run_id], epoch_seconds),
        )
        for run_id in queued_ids
    ]
    starts = replay_starts(allocator, holding, waiting)
    return {
        run_id: QueueSpot(
            position,
            None if starts.get(run_id) is None else now + timedelta(seconds=starts[run_id]),
        )
        for position, run_id in enumerate(queued_ids, start=1)
    }


@dataclass(frozen=True)
class Holding:
    held: Held
    ends: float | None  # seconds from now; None: a time nobody can tell


def replay_starts(
    allocator: Allocator | ClusterAllocator,
    holding: list[Holding],
    waiting: list[tuple[int, dict[str, Any], float | None]],
) -> dict[int, float]:
    """Seconds from now at which each waiting `(run_id, config, duration)` starts, placed by
    `allocator` at each moment a lane frees; a run left out cannot be told (or never starts)."""
    starts: dict[int, float] = {}
    pending = list(waiting)
    at = 0.0
    while pending:
        holding = [h for h in holding if h.ends is None or h.ends > at]
        decisions = allocator.plan(
            [(r, config) for r, config, _ in pending], [h.held for h in holding]
        )
        durations = {run_id: duration for run_id, _, duration in pending}
        settled: set[int] = set()
        for decision in decisions:
            if decision.impossible is not None:
                settled.add(decision.run_id)  # the dispatcher fails it: it never starts
            elif decision.starts:
                settled.add(decision.run_id)
                starts[decision.run_id] = at
                duration = durations[decision.run_id]
                ends = None if duration is None else at + duration
                held = Held(decision.run_id, decision.gpus, decision.node, decision.gpu_count)
                holding.append(Holding(held, ends))
        pending = [entry for entry in pending if entry[0] not in settled]
        later = [h.ends for h in holding if h.ends is not None and h.ends > at]
        if not later:
            break  # what is left waits on lanes held for a time nobody can tell
        at = min(later)
    return starts


def _replayed_placement(
    lanes: Lanes, running: list[Run]
) -> tuple[Allocator | ClusterAllocator, dict[int, Held]]:
    """The allocator the replay places on, and what each running run holds there: its
    `assigned_gpus` (none: a CPU slot, or every run when lanes has no GPUs), or on a cluster
    its node's GPUs or CPU as the executor counts its job (a run with no job yet holds none)."""
    if lanes.cluster is not None:
        snapshot = lanes.cluster.cluster_snapshot()
        jobs = snapshot.jobs
        return snapshot.allocator(), {run.id: jobs.get(run.id, Held(run.id, ())) for run in running}
    held = {
        run.id: Held(
            run.id, tuple(int(gpu) for gpu in run.assigned_gpus or []) if lanes.gpus else ()
        )
        for run in running
    }
    return Allocator(lanes.gpus, lanes.slots), held


def _placed_config(run: Run, lanes: Lanes) -> dict[str, Any]:
    """What the allocator reads of a queued run; with no GPU lanes nor cluster, a slot run."""
    return dict(run.config or {}) if lanes.gpus or lanes.cluster is not None else {}


def remaining_seconds(run: Run, epoch_seconds: dict[int, float | None]) -> float | None:
    """Seconds the run still needs: its epochs left times its epoch time, measured or estimated."""
    per_epoch = epoch_seconds.get(run.id) or run.estimated_epoch_seconds
    if per_epoch is None:
        return None
    done_in_epoch = run.progress_batch / run.progress_batches if run.progress_batches else 0.0
    left = max(run.max_epochs - run.epoch - done_in_epoch, 0.0)
    return left * per_epoch

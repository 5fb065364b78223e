"""The queue of runs waiting for a slot: its order, moving a run in it, and when each should start.

Queued runs start by (`queue_rank`, `id`), lowest first (`queued_in_order`). A new run is ranked
after every run there is; moving a run to the top ranks it one below the lowest queued rank, to
the bottom one above the highest. The dispatcher only reads the order.

`queue_outlook` is the one place that says where a queued run stands and when it should start:
the running runs' remaining time and that of the queued runs ahead of it, shared over the run
slots, each run's epoch time taken from its finished epochs, else from its preflight estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from app.errors import ConflictError, NotFoundError
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
    estimated_start_at: datetime | None  # naive UTC; None when a run ahead has no estimate


def queue_outlook(
    session: Session, slots: int, now: datetime | None = None
) -> dict[int, QueueSpot]:
    """Every queued run's place in the queue and estimated start, by run id."""
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
    # When each slot frees up, in seconds from now; None: busy for a time nobody can tell.
    free_at: list[float | None] = [remaining_seconds(run, epoch_seconds) for run in running]
    free_at += [0.0] * max(slots - len(free_at), 0)
    outlook: dict[int, QueueSpot] = {}
    for position, run_id in enumerate(queued_ids, start=1):
        known = [t for t in free_at if t is not None]
        start = min(known) if known and len(known) == len(free_at) else None
        outlook[run_id] = QueueSpot(
            position, None if start is None else now + timedelta(seconds=start)
        )
        if start is not None and free_at:
            slot = free_at.index(start)
            duration = remaining_seconds(queued[run_id], epoch_seconds)
            free_at[slot] = None if duration is None else start + duration
    return outlook


def remaining_seconds(run: Run, epoch_seconds: dict[int, float | None]) -> float | None:
    """Seconds the run still needs: its epochs left times its epoch time, measured or estimated."""
    per_epoch = epoch_seconds.get(run.id) or run.estimated_epoch_seconds
    if per_epoch is None:
        return None
    done_in_epoch = run.progress_batch / run.progress_batches if run.progress_batches else 0.0
    left = max(run.max_epochs - run.epoch - done_in_epoch, 0.0)
    return left * per_epoch

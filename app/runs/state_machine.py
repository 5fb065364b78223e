"""The run state machine: every status change goes through `transition`.

One guarded UPDATE ... WHERE status IN (allowed), which raises when no row matched, so a race or
an illegal request is an error (HTTP 409), never a silent overwrite.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.errors import ConflictError, NotFoundError
from app.storage.notifications import notify_dispatcher, notify_run
from app.storage.tables import Run, RunStatus, utcnow

S = RunStatus

# For each target state, the states a run may enter it from.
ALLOWED_FROM: dict[RunStatus, frozenset[RunStatus]] = {
    S.RUNNING: frozenset({S.QUEUED}),
    S.SUCCEEDED: frozenset({S.RUNNING}),
    S.FAILED: frozenset({S.QUEUED, S.RUNNING}),
    S.CANCELLED: frozenset({S.QUEUED, S.RUNNING}),
    S.INTERRUPTED: frozenset({S.RUNNING}),
    S.QUEUED: frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED, S.INTERRUPTED}),  # resume
}
TERMINAL = frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED, S.INTERRUPTED})


def transition(
    session: Session,
    run_id: int,
    target: RunStatus,
    *,
    allowed_from: Iterable[RunStatus] | None = None,
    **values: Any,
) -> None:
    """Move a run to `target` if its current state allows it; raise ConflictError otherwise."""
    sources = frozenset(allowed_from) if allowed_from is not None else ALLOWED_FROM[target]
    now = utcnow()
    if target == S.RUNNING:
        values = {"started_at": now, "error": None, "finished_at": None, **values}
    elif target in TERMINAL:
        values = {"finished_at": now, "worker_handle": None, "stop_requested": False, **values}
    if target != S.QUEUED:
        values = {"waiting_reason": None, **values}  # only a queued run waits
    else:
        # Queued again (resume): placed afresh when it starts; until then it holds no GPU.
        values = {"assigned_gpus": [], **values}
    result = session.execute(
        update(Run)
        .where(Run.id == run_id, Run.status.in_([s.value for s in sources]))
        .values(status=target.value, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        current = session.scalar(select(Run.status).where(Run.id == run_id))
        if current is None:
            raise NotFoundError(f"run {run_id} not found")
        raise ConflictError(f"run {run_id} is {current}; it cannot become {target.value}")
    notify_run(session, run_id)  # wakes the run's event streams at once (PostgreSQL)
    if target == S.QUEUED or target in TERMINAL:  # work to place, or a slot about to free
        notify_dispatcher(session)

"""Checkpoint retention: keep a run's last K checkpoints and its best one, delete the rest.

Runs after every checkpoint a worker records. Never deleted: the newest checkpoint (just written
whole, so a run always keeps one that loads), the best by the run's monitored metric, the run's
best epoch (`runs.best_epoch`), and any epoch a forked run starts from.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.errors import NotFoundError
from app.files import RunFiles
from app.storage.checkpoint_rows import best_checkpoint
from app.storage.tables import Checkpoint, Run


def checkpoints_to_keep(
    rows: list[Checkpoint],
    keep_last: int,
    forked: set[int],
    monitor: str | None = None,
    mode: str | None = None,
) -> set[int]:
    """Epochs to keep among `rows` (oldest first): the last `keep_last`, the best by `monitor`
    and `mode` (validation accuracy for a run without a monitor), the forked."""
    keep = {row.epoch for row in rows[-max(keep_last, 1) :]}
    best = best_checkpoint(rows, monitor, mode)
    if best is not None:
        keep.add(best.epoch)
    return keep | forked


def prune_checkpoints(
    session: Session, run_id: int, keep_last: int | None, files: RunFiles
) -> list[int]:
    """Delete the run's checkpoints that retention does not keep; return their epochs."""
    if keep_last is None:
        return []
    rows = list(
        session.scalars(
            select(Checkpoint).where(Checkpoint.run_id == run_id).order_by(Checkpoint.epoch)
        )
    )
    forked = set(session.scalars(select(Run.fork_epoch).where(Run.parent_run_id == run_id)).all())
    # The run's best epoch is kept like a forked one.
    best_epoch, monitor, mode = session.execute(
        select(Run.best_epoch, Run.monitor, Run.monitor_mode).where(Run.id == run_id)
    ).one()
    kept = {e for e in forked | {best_epoch} if e is not None}
    keep = checkpoints_to_keep(rows, keep_last, kept, monitor, mode)
    removed = []
    for row in rows:
        if row.epoch in keep:
            continue
        try:  # the store checks the stored location lies in the run's checkpoints first
            files.remove_checkpoint(run_id, row.path)
        except NotFoundError:
            pass  # a row pointing outside the store: the row goes, nothing is deleted
        session.execute(delete(Checkpoint).where(Checkpoint.id == row.id))
        removed.append(row.epoch)
    return removed

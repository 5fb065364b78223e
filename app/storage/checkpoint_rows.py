"""Checkpoint rows: the worker records each checkpoint it saves; downloads, forks, the bundle
and retention read them. The files themselves are written by `trainer.checkpoints.store`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from app.storage.tables import Checkpoint


def read_checkpoints(session: Session, run_id: int) -> Sequence[Checkpoint]:
    return session.scalars(
        select(Checkpoint).where(Checkpoint.run_id == run_id).order_by(Checkpoint.epoch)
    ).all()


def last_and_best_checkpoints(
    rows: Sequence[Checkpoint], best_epoch: int | None = None
) -> dict[str, Checkpoint]:
    """{"last": the newest checkpoint, "best": the complete one of `best_epoch` (early stopping's
    best, by its monitored metric) when given, else the one with the best val accuracy}."""
    if not rows:
        return {}
    picked = {"last": max(rows, key=lambda row: (row.epoch, row.complete))}
    complete = [row for row in rows if row.complete and row.val_accuracy is not None]
    marked = [row for row in complete if row.epoch == best_epoch]
    if marked:
        picked["best"] = marked[0]
    elif complete:
        picked["best"] = max(complete, key=lambda row: (row.val_accuracy, -row.epoch))
    return picked


def find_checkpoint(session: Session, run_id: int, epoch: int) -> Checkpoint | None:
    return session.scalar(
        select(Checkpoint).where(Checkpoint.run_id == run_id, Checkpoint.epoch == epoch)
    )


def write_checkpoint(session: Session, run_id: int, row: dict[str, Any]) -> None:
    """Record a checkpoint; it replaces an earlier record for the same epoch (a partial one)."""
    session.execute(
        delete(Checkpoint).where(Checkpoint.run_id == run_id, Checkpoint.epoch == row["epoch"])
    )
    session.execute(insert(Checkpoint).values(run_id=run_id, **row))

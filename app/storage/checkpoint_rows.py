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


# A run recorded before it had a monitor was judged by validation accuracy.
DEFAULT_MONITOR = ("val_accuracy", "max")


def monitored_value(row: Checkpoint, monitor: str) -> float | None:
    """The checkpoint's value of `monitor`: from its named metrics; a row written before named
    metrics has only its columns, and is judged by its val loss or else its val accuracy."""
    if row.metrics is not None:
        value = row.metrics.get(monitor)
    else:
        value = row.val_loss if monitor == "val_loss" else row.val_accuracy
    return None if value is None else float(value)


def best_checkpoint(
    rows: Sequence[Checkpoint], monitor: str | None = None, mode: str | None = None
) -> Checkpoint | None:
    """The complete checkpoint with the best value of the run's monitored metric (`mode` "min" or
    "max"); ties go to the earlier epoch. None when no complete checkpoint has a value."""
    monitor, mode = (monitor, mode or "max") if monitor else DEFAULT_MONITOR
    scored = [
        (value, row)
        for row in rows
        if row.complete and (value := monitored_value(row, monitor)) is not None
    ]
    if not scored:
        return None
    sign = 1.0 if mode == "max" else -1.0
    return max(scored, key=lambda pair: (sign * pair[0], -pair[1].epoch))[1]


def last_and_best_checkpoints(
    rows: Sequence[Checkpoint],
    best_epoch: int | None = None,
    monitor: str | None = None,
    mode: str | None = None,
) -> dict[str, Checkpoint]:
    """{"last": the newest checkpoint, "best": the complete one of `best_epoch` (the run's best
    epoch by its monitored metric) when there is one, else the one with the best value of
    `monitor` by `mode` (validation accuracy for a run without a monitor)}."""
    if not rows:
        return {}
    picked = {"last": max(rows, key=lambda row: (row.epoch, row.complete))}
    marked = [row for row in rows if row.complete and row.epoch == best_epoch]
    best = marked[0] if marked else best_checkpoint(rows, monitor, mode)
    if best is not None:
        picked["best"] = best
    return picked


def default_checkpoint(
    rows: Sequence[Checkpoint],
    best_epoch: int | None = None,
    monitor: str | None = None,
    mode: str | None = None,
) -> Checkpoint | None:
    """The checkpoint taken when none is named (the page's Fork, `torchdash download`, the
    bundle's weights): the run's best by its monitored metric — what early stopping kept — else
    the newest complete one; None before any complete checkpoint."""
    best = last_and_best_checkpoints(rows, best_epoch, monitor, mode).get("best")
    if best is not None:
        return best
    complete = [row for row in rows if row.complete]
    return max(complete, key=lambda row: row.epoch) if complete else None


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

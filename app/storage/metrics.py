"""Epoch and step rows: the worker writes them, the API and the event stream read them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.storage.rollups import trim_rollups, update_rollups
from app.storage.tables import EpochMetric, StepMetric

# The metrics an epoch row kept in columns before named metrics: what `named_metrics` reads from
# a row whose `metrics` is null.
COLUMN_METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")


def finite(value: float | None) -> float | None:
    """A number as a row stores it: one that is not finite (a diverged loss) is null, the gap a
    chart shows. One rule for both databases: SQLite would store NaN as null, PostgreSQL as NaN."""
    return value if value is not None and math.isfinite(value) else None


def named_metrics(row: EpochMetric) -> dict[str, float | None]:
    """The epoch's metrics by name: its `metrics`, or for an older row, its metric columns."""
    if row.metrics is not None:
        return dict(row.metrics)
    values = {name: getattr(row, name) for name in COLUMN_METRICS}
    return {name: value for name, value in values.items() if value is not None}


def read_epochs(session: Session, run_id: int, since_epoch: int = 0) -> Sequence[EpochMetric]:
    """Epoch rows after `since_epoch`, oldest first (an index range scan: O(new rows))."""
    return session.scalars(
        select(EpochMetric)
        .where(EpochMetric.run_id == run_id, EpochMetric.epoch > since_epoch)
        .order_by(EpochMetric.epoch)
    ).all()


def read_step_points(
    session: Session, run_id: int, since_step: int = 0, limit: int | None = None
) -> list[tuple[int, float | None, int]]:
    """(step, loss, epoch) after `since_step`, oldest first (a primary-key range scan: O(new rows));
    a null loss is a step whose loss was not finite.

    Plain column tuples: a run holds up to hundreds of thousands of steps, and building an ORM
    object per row costs about 20x more than the query.
    """
    query = (
        select(StepMetric.step, StepMetric.loss, StepMetric.epoch)
        .where(StepMetric.run_id == run_id, StepMetric.step > since_step)
        .order_by(StepMetric.step)
    )
    if limit is not None:
        query = query.limit(limit)
    return [tuple(row) for row in session.execute(query)]  # type: ignore[misc]


def read_steps(
    session: Session, run_id: int, since_step: int = 0, limit: int | None = None
) -> list[dict[str, Any]]:
    """The same rows as `read_step_points`, as the API's step dicts."""
    return [
        {"step": step, "epoch": epoch, "loss": loss}
        for step, loss, epoch in read_step_points(session, run_id, since_step, limit)
    ]


def epoch_summaries(session: Session, run_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Per run: val losses by epoch (for a sparkline) and mean seconds per epoch (for an ETA)."""
    summaries: dict[int, dict[str, Any]] = {
        run_id: {"val_loss": [], "epoch_seconds": None} for run_id in run_ids
    }
    rows = session.execute(
        select(EpochMetric.run_id, EpochMetric.val_loss, EpochMetric.seconds)
        .where(EpochMetric.run_id.in_(list(run_ids)))
        .order_by(EpochMetric.run_id, EpochMetric.epoch)
    )
    seconds: dict[int, list[float]] = {}
    # A null val loss (a script that reports none) stays in the list: the sparkline's gap.
    for run_id, val_loss, epoch_seconds in rows:
        summaries[run_id]["val_loss"].append(val_loss)
        seconds.setdefault(run_id, []).append(epoch_seconds)
    for run_id, values in seconds.items():
        summaries[run_id]["epoch_seconds"] = sum(values) / len(values)
    return summaries


def write_steps(session: Session, run_id: int, rows: list[dict[str, Any]]) -> None:
    """Insert step rows (step, epoch, loss) in one executemany (on PostgreSQL: one COPY).

    A Core insert on the table, not the ORM's bulk insert, which costs several times more per row.
    """
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        _copy_steps(session, run_id, rows)
    else:
        session.execute(StepMetric.__table__.insert(), [{"run_id": run_id, **row} for row in rows])
    update_rollups(session, run_id, rows)


def _copy_steps(session: Session, run_id: int, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL's COPY, in the session's transaction: an executemany sends one INSERT per row
    and wrote 17,000 points/s where SQLite writes 65,000 (bench/metric_writes.py)."""
    import psycopg

    statement = "COPY step_metrics (run_id, step, epoch, loss) FROM STDIN"
    driver = session.connection().connection.driver_connection
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row((run_id, row["step"], row["epoch"], row["loss"]))
    except psycopg.OperationalError as error:  # as SQLAlchemy's own: the worker retries those
        raise OperationalError(statement, None, error) from error


def write_steps_once(session: Session, run_id: int, rows: list[dict[str, Any]]) -> None:
    """`write_steps` for a batch the same transaction may have committed already (a retry after
    a lost acknowledgement): a batch is written whole or not at all, so its first step being
    stored means the whole batch, and its rollups, are; then nothing is written again."""
    if not rows:
        return
    first = session.scalar(
        select(StepMetric.step).where(
            StepMetric.run_id == run_id, StepMetric.step == rows[0]["step"]
        )
    )
    if first is None:
        write_steps(session, run_id, rows)


def write_epoch(session: Session, run_id: int, row: dict[str, Any]) -> None:
    session.execute(insert(EpochMetric).values(run_id=run_id, **row))


def replace_epoch(session: Session, run_id: int, row: dict[str, Any]) -> None:
    """Write an epoch row over any earlier row of the same epoch: a client that retries a report
    it got no answer to sends the epoch again, and the run keeps one row (the latest)."""
    session.execute(
        delete(EpochMetric).where(EpochMetric.run_id == run_id, EpochMetric.epoch == row["epoch"])
    )
    write_epoch(session, run_id, row)


def write_new_steps(session: Session, run_id: int, rows: list[dict[str, Any]]) -> int:
    """`write_steps` for the rows whose step the run does not have yet (a retried report's are
    skipped, not duplicated: a step is the table's key); returns how many were written."""
    if not rows:
        return 0
    steps = [row["step"] for row in rows]
    stored = set(
        session.scalars(
            select(StepMetric.step).where(
                StepMetric.run_id == run_id,
                StepMetric.step >= min(steps),
                StepMetric.step <= max(steps),
            )
        )
    )
    fresh: dict[int, dict[str, Any]] = {}
    for row in rows:
        if row["step"] not in stored:
            fresh.setdefault(row["step"], row)  # a step twice in one batch: its first row
    write_steps(session, run_id, sorted(fresh.values(), key=lambda row: row["step"]))
    return len(fresh)


def trim_to_epoch(session: Session, run_id: int, epoch: int) -> int:
    """Drop every row reported after `epoch`, which a process restarted from its checkpoint
    reports again; the last step kept."""
    kept = session.scalar(
        select(func.max(StepMetric.step)).where(
            StepMetric.run_id == run_id, StepMetric.epoch <= epoch
        )
    )
    step = int(kept or 0)
    trim_after(session, run_id, epoch, step)
    session.execute(delete(StepMetric).where(StepMetric.run_id == run_id, StepMetric.epoch > epoch))
    return step


def trim_after(session: Session, run_id: int, epoch: int, step: int) -> None:
    """Drop rows written after the checkpoint a run restarts from, so each stays unique."""
    session.execute(
        delete(EpochMetric).where(EpochMetric.run_id == run_id, EpochMetric.epoch > epoch)
    )
    session.execute(delete(StepMetric).where(StepMetric.run_id == run_id, StepMetric.step > step))
    trim_rollups(session, run_id, step)

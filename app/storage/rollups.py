"""Step-loss rollups: each run's step series pre-aggregated at write time, for fast chart reads.

A chart of a run with 100,000 steps needs about 2,000 points. Reading 100,000 rows to pick them
costs more than the whole answer may take, so every flush of step rows also keeps, for a few
bucket widths (16, 256 and 4,096 steps), the lowest and the highest loss of each bucket with their
steps. A chart read takes the widest width whose buckets still give at least the points it asks
for, merged into as many groups as fit the request, a few thousand rows at most;
the lowest and highest point of every bucket keep the series' peaks and dips (its shape). A
width whose buckets fit under the request would answer with a fraction of it: 80 points to a
chart asking for 320 of 10,000 steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from itertools import groupby
from typing import Any

from sqlalchemy import case, delete, func, select
from sqlalchemy.orm import Session

from app.storage.tables import StepMetric, StepRollup

WIDTHS = (16, 256, 4096)

# (step, loss, epoch), as `app.storage.metrics.read_step_points` gives them (a null loss: a step
# whose loss was not finite).
Point = tuple[int, float | None, int]


def update_rollups(session: Session, run_id: int, rows: Sequence[dict[str, Any]]) -> None:
    """Fold new step rows (in step order, past every stored step) into the run's buckets.

    One upsert for every width: a bucket already stored (only the first of each width can be,
    holding rows of an earlier flush) keeps its own lowest or highest point unless the new rows
    beat it. It runs at every flush of the worker's step rows, so it is kept to one statement.
    """
    if rows:
        values = [bucket for width in WIDTHS for bucket in _buckets(run_id, width, rows)]
        session.execute(_upsert(session.get_bind().dialect.name), values)


@cache
def _upsert(dialect: str) -> Any:
    """INSERT ... ON CONFLICT DO UPDATE, in SQLite's or PostgreSQL's words (the same ones)."""
    # Imported here, for the database in use: a server on SQLite never loads PostgreSQL's
    # dialect (about 25 modules and 2 MB resident).
    statement: Any
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        statement = postgresql_insert(StepRollup.__table__)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(StepRollup.__table__)
    new, old = statement.excluded, StepRollup.__table__.c

    def unless_beaten(columns: tuple[str, ...], beaten: Any) -> dict[str, Any]:
        return {column: case((beaten, new[column]), else_=old[column]) for column in columns}

    # A stored null (a bucket of null losses so far) is beaten by any number; a new null never
    # beats anything (a comparison with null is not true).
    lower = (new.min_loss < old.min_loss) | (old.min_loss.is_(None) & new.min_loss.is_not(None))
    higher = (new.max_loss > old.max_loss) | (old.max_loss.is_(None) & new.max_loss.is_not(None))
    return statement.on_conflict_do_update(
        index_elements=["run_id", "width", "bucket"],
        set_={  # ties keep the stored point, the earlier step
            **unless_beaten(("min_step", "min_loss", "min_epoch"), lower),
            **unless_beaten(("max_step", "max_loss", "max_epoch"), higher),
        },
    )


def _bucket(run_id: int, width: int, bucket: int, low: dict, high: dict) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "width": width,
        "bucket": bucket,
        "min_step": low["step"],
        "min_loss": low["loss"],
        "min_epoch": low["epoch"],
        "max_step": high["step"],
        "max_loss": high["loss"],
        "max_epoch": high["epoch"],
    }


def trim_rollups(session: Session, run_id: int, step: int) -> None:
    """After the step rows past `step` were deleted: rebuild the buckets that held them."""
    for width in WIDTHS:
        first_touched = step // width  # the bucket holding step + 1
        session.execute(
            delete(StepRollup).where(
                StepRollup.run_id == run_id,
                StepRollup.width == width,
                StepRollup.bucket >= first_touched,
            )
        )
    start = (step // WIDTHS[-1]) * WIDTHS[-1]  # the widest touched bucket's first step - 1
    kept = session.execute(
        select(StepMetric.step, StepMetric.loss, StepMetric.epoch)
        .where(StepMetric.run_id == run_id, StepMetric.step > start, StepMetric.step <= step)
        .order_by(StepMetric.step)
    ).all()
    rows: list[dict[str, Any]] = [{"step": s, "loss": loss, "epoch": e} for s, loss, e in kept]
    # Narrower buckets before `first_touched` are whole and still stored: fold in only the rest.
    for width in WIDTHS:
        tail = [row for row in rows if (row["step"] - 1) // width >= step // width]
        _insert_width(session, run_id, width, tail)


def _insert_width(session: Session, run_id: int, width: int, rows: list[dict[str, Any]]) -> None:
    values = _buckets(run_id, width, rows)
    if values:
        session.execute(StepRollup.__table__.insert(), values)


def _buckets(run_id: int, width: int, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The lowest and highest row of each bucket of `width` steps that `rows` (in order) touch."""
    buckets = []
    for bucket, members in groupby(rows, key=lambda row: (row["step"] - 1) // width):
        group = list(members)
        low = min(group, key=lambda row: _order(row["loss"]))
        high = max(group, key=lambda row: _order(row["loss"], nan_first=True))
        buckets.append(_bucket(run_id, width, bucket, low, high))
    return buckets


def _order(loss: float | None, nan_first: bool = False) -> tuple[bool, float]:
    """A sort key on the loss where a null or NaN (a diverged step) never wins as lowest or
    highest (NaN: a row PostgreSQL stored before such losses were stored as null)."""
    nan = loss is None or loss != loss
    return (not nan if nan_first else nan, 0.0 if nan or loss is None else loss)


def chart_points(session: Session, run_id: int, max_points: int) -> list[Point] | None:
    """About `max_points` points (never more) keeping the series' shape; None when the step
    rows themselves should be read (few enough that even the narrowest buckets would give fewer
    points, or written before rollups existed)."""
    last = session.scalar(select(func.max(StepMetric.step)).where(StepMetric.run_id == run_id))
    if last is None or last <= max_points:
        return None
    # Two points (lowest, highest) a bucket: the widest width with enough buckets reads fewest rows.
    enough = [w for w in WIDTHS if 2 * (last // w) >= max_points]
    if not enough:
        return None  # under 8 x max_points steps: the step rows are few enough to read
    width = enough[-1]
    rows = session.execute(
        select(
            StepRollup.min_step, StepRollup.min_loss, StepRollup.min_epoch,
            StepRollup.max_step, StepRollup.max_loss, StepRollup.max_epoch,
        )
        .where(StepRollup.run_id == run_id, StepRollup.width == width)
        .order_by(StepRollup.bucket)
    ).all()  # fmt: skip
    if len(rows) < last // width:  # written before rollups existed: read the step rows instead
        return None
    # Neighbouring buckets merged into max_points / 2 groups (lowest and highest of each): the
    # answer holds about max_points points, whatever the width's count.
    group = -(-len(rows) // max(1, max_points // 2))
    points: set[Point] = set()
    for start in range(0, len(rows), group):
        members = rows[start : start + group]
        low = min(members, key=lambda row: _order(row[1]))
        high = max(members, key=lambda row: _order(row[4], nan_first=True))
        points.add((low[0], low[1], low[2]))
        points.add((high[3], high[4], high[5]))
    return sorted(points)

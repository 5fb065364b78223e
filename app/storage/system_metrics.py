"""System metric rows: the worker's sampler writes them, the API and the event stream read them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.storage.tables import SystemMetric, utcnow

FIELDS = (
    "gpu",
    "cpu_percent",
    "rss_mb",
    "gpu_utilization_percent",
    "gpu_memory_used_mb",
    "gpu_memory_total_mb",
    "gpu_power_watts",
)


def write_samples(
    session: Session, run_id: int, rows: Sequence[dict[str, Any]], at: datetime | None = None
) -> None:
    """Insert one sample's rows (the processes row, then one per GPU) in one statement, all
    recorded `at` (now by default): the instant the run's cost was integrated at."""
    if rows:
        blank = dict.fromkeys(FIELDS)  # one shape for every row: a single executemany
        time = {"recorded_at": at if at is not None else utcnow()}
        session.execute(
            insert(SystemMetric), [{**blank, "run_id": run_id, **time, **row} for row in rows]
        )


def read_samples(
    session: Session, run_id: int, since_id: int = 0, limit: int | None = None
) -> list[dict[str, Any]]:
    """Rows after row id `since_id`, oldest first, as plain dicts (`time` in ISO 8601 UTC)."""
    query = (
        select(SystemMetric)
        .where(SystemMetric.run_id == run_id, SystemMetric.id > since_id)
        .order_by(SystemMetric.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return [
        {
            "id": row.id,
            "time": _iso_utc(row.recorded_at),
            **{name: getattr(row, name) for name in FIELDS},
        }
        for row in session.scalars(query)
    ]


def _iso_utc(at: datetime) -> str:
    """ISO 8601 in UTC with one zone mark: SQLite gives naive UTC, PostgreSQL a zone-aware time."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat() + "Z"

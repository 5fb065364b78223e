"""The system metrics of a run: CPU, memory and GPU samples of its worker, oldest first."""

from __future__ import annotations

from fastapi import APIRouter

from app.storage import system_metrics
from app.web.deps import ExistingRunId, QueryNumber, SessionDep
from app.web.error_handlers import errors
from app.web.shapes import SystemPublic, SystemSamplePublic

router = APIRouter(prefix="/api", tags=["system"])

MAX_SAMPLES_PER_READ = 10_000


@router.get(
    "/runs/{run_id}/system",
    summary="System metric rows (CPU %, memory, GPU use) after row id `since`",
    responses=errors(404, 422),
)
def read_system_metrics(
    run_id: ExistingRunId,
    session: SessionDep,
    since: QueryNumber = 0,  # only rows with a larger id (the last one seen)
) -> SystemPublic:
    rows = system_metrics.read_samples(session, run_id, since, limit=MAX_SAMPLES_PER_READ)
    return SystemPublic(samples=[SystemSamplePublic(**row) for row in rows])

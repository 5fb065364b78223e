"""Routes for a run's worker log: a chunk by byte offset, or a live Server-Sent Events stream."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Header, Request
from sse_starlette import EventSourceResponse

from app.runs import lifecycle
from app.runs.executors.ray_jobs import RayJobExecutor
from app.settings import Settings
from app.storage.engine import session_scope
from app.web.deps import (
    FILE_OFFSET_MAX,
    FileOffset,
    RowId,
    SessionDep,
    SettingsDep,
    header_number,
)
from app.web.error_handlers import errors
from app.web.log_stream import LogReader, log_stream, read_log_chunk, read_text_chunk
from app.web.shapes import LogChunk

router = APIRouter(prefix="/api/runs/{run_id}/log", tags=["logs"])


@router.get(
    "", summary="The worker log from byte `offset` (up to 64 KiB)", responses=errors(404, 422)
)
def read_log(
    run_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
    offset: FileOffset = 0,
) -> LogChunk:
    run = lifecycle.get_run(session, run_id)
    read = log_reader(settings, request.app.state.cluster, run_id, run.attempt, run.created_at)
    text, next_offset = read(offset)
    return LogChunk(text=text, offset=next_offset)


def log_reader(
    settings: Settings,
    cluster: RayJobExecutor | None,
    run_id: int,
    attempts: int,
    created_at: datetime,
) -> LogReader:
    """Where the run's log is read: its worker.log, or (a run that trained on the Ray cluster,
    which wrote none here) the logs Ray keeps of its jobs, its `attempts` in turn."""
    path = settings.worker_log(run_id)
    if cluster is not None and attempts > 0 and not path.exists():
        return lambda offset: read_text_chunk(cluster.job_log(run_id, attempts, created_at), offset)
    return lambda offset: read_log_chunk(path, offset)


@router.get(
    "/events",
    summary="Server-Sent Events: `log` events with new text; the event id is the byte offset",
    response_class=EventSourceResponse,
    responses=errors(404, 422),
)
def stream_log(
    run_id: RowId,
    settings: SettingsDep,
    request: Request,
    offset: FileOffset = 0,
    last_event_id: str | None = Header(None),
) -> EventSourceResponse:
    resumed = header_number(last_event_id, FILE_OFFSET_MAX) if last_event_id else None
    if resumed is not None:
        offset = resumed  # a reconnect resumes where it left off
    # A short session of its own: the stream must not hold a pooled connection while it lasts.
    with session_scope(request.app.state.session_factory) as session:
        run = lifecycle.get_run(session, run_id)
        attempts, created_at = run.attempt, run.created_at
    cluster = request.app.state.cluster
    read = log_reader(settings, cluster, run_id, attempts, created_at)
    # A Ray job's log is fetched whole from the cluster: look no more often than at its jobs.
    interval = settings.ray_poll_interval if cluster is not None else settings.event_poll_interval
    return EventSourceResponse(log_stream(read, offset, interval), ping=15)

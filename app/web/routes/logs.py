"""Routes for a run's worker log: a chunk by byte offset, or a live Server-Sent Events stream."""

from __future__ import annotations

from fastapi import APIRouter, Header
from sse_starlette import EventSourceResponse

from app.runs import lifecycle
from app.web.deps import ExistingRunId, QueryNumber, RowId, SessionDep, SettingsDep
from app.web.error_handlers import errors
from app.web.log_stream import log_stream, read_log_chunk
from app.web.shapes import LogChunk

router = APIRouter(prefix="/api/runs/{run_id}/log", tags=["logs"])


@router.get(
    "", summary="The worker log from byte `offset` (up to 64 KiB)", responses=errors(404, 422)
)
def read_log(
    run_id: RowId, session: SessionDep, settings: SettingsDep, offset: QueryNumber = 0
) -> LogChunk:
    lifecycle.get_run(session, run_id)
    text, next_offset = read_log_chunk(settings.worker_log(run_id), offset)
    return LogChunk(text=text, offset=next_offset)


@router.get(
    "/events",
    summary="Server-Sent Events: `log` events with new text; the event id is the byte offset",
    response_class=EventSourceResponse,
    responses=errors(404, 422),
)
def stream_log(
    run_id: ExistingRunId,
    settings: SettingsDep,
    offset: QueryNumber = 0,
    last_event_id: str | None = Header(None),
) -> EventSourceResponse:
    if last_event_id and last_event_id.isdigit():
        offset = int(last_event_id)  # a reconnect resumes where it left off
    return EventSourceResponse(
        log_stream(settings.worker_log(run_id), offset, settings.event_poll_interval), ping=15
    )

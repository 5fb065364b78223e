"""The Server-Sent Events route of a run."""

from __future__ import annotations

from fastapi import APIRouter, Header, Request
from sse_starlette import EventSourceResponse

from app.web.deps import ExistingRunId, QueryNumber
from app.web.error_handlers import errors
from app.web.event_stream import Cursor, EventHub

router = APIRouter(prefix="/api", tags=["events"])


@router.get(
    "/runs/{run_id}/events",
    summary="Server-Sent Events: new epoch rows, step rows, system metric rows, run changes",
    response_class=EventSourceResponse,
    responses=errors(404, 422),
)
def stream_run_events(
    run_id: ExistingRunId,
    request: Request,
    since_epoch: QueryNumber = 0,
    since_step: QueryNumber = 0,
    since_system: QueryNumber = 0,  # the last system metric row id seen
    last_event_id: str | None = Header(None),
) -> EventSourceResponse:
    hub: EventHub = request.app.state.event_hub
    cursor = Cursor.parse(last_event_id, since_epoch, since_step, since_system)
    return EventSourceResponse(hub.stream(run_id, cursor), ping=15)

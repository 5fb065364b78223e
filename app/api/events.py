"""The Server-Sent Events route of a run."""

from __future__ import annotations

from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse

from app import runs
from app.deps import SessionDep, SettingsDep
from app.events import Cursor, event_stream

router = APIRouter(prefix="/api", tags=["events"])


@router.get(
    "/runs/{run_id}/events",
    summary="Server-Sent Events: new epoch rows, step rows, run changes",
    response_class=EventSourceResponse,
)
def stream_run_events(
    run_id: int,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    since_epoch: int = Query(0, ge=0),
    since_step: int = Query(0, ge=0),
    last_event_id: str | None = Header(None),
) -> EventSourceResponse:
    runs.get_run(session, run_id)  # 404 before the stream opens
    cursor = Cursor.parse(last_event_id, since_epoch, since_step)
    factory = request.app.state.session_factory
    return EventSourceResponse(
        event_stream(factory, run_id, cursor, settings.event_poll_interval), ping=15
    )

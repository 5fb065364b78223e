"""The study routes: create, list, read (with trials and importances), steer, and watch."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.encoders import jsonable_encoder
from sqlalchemy import func, select
from sse_starlette import EventSourceResponse, ServerSentEvent

from app.storage.engine import session_scope
from app.storage.tables import Run, RunStudy
from app.studies import steering
from app.studies.reading import study_view
from app.web.deps import GpuLimitsDep, RowId, SessionDep, SettingsDep
from app.web.error_handlers import errors
from app.web.study_shapes import (
    StudiesPublic,
    StudyCreate,
    StudyDetail,
    StudyPublic,
    StudyStop,
    StudyUpdate,
    TrialsAdd,
)

router = APIRouter(prefix="/api", tags=["studies"])

# How often an event stream looks whether its study changed.
STUDY_EVENTS_SECONDS = 1.0


def _view(request: Request, session: Any, study: RunStudy, detail: bool) -> dict[str, Any]:
    settings = request.app.state.settings
    gpus = [gpu.index for gpu in request.app.state.gpus]
    parallelism = steering.effective_parallelism(study, gpus, settings.max_concurrent_runs)
    return study_view(session, settings.sqlalchemy_url, study, parallelism, detail=detail)


def _wake(request: Request) -> None:
    scheduler = getattr(request.app.state, "study_scheduler", None)
    if scheduler is not None:
        scheduler.wake()


@router.post(
    "/studies",
    status_code=status.HTTP_201_CREATED,
    summary="Start a study: Optuna searches the space, each trial a run",
    responses=errors(400, 422),
)
def create_study(
    body: StudyCreate,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    gpu_limits: GpuLimitsDep,
) -> StudyPublic:
    study = steering.create_study(
        session,
        settings.sqlalchemy_url,
        body.model_dump(mode="json", exclude_none=False),
        settings.allowed_data_roots,
        gpu_limits,
        scripts_dir=settings.scripts_path,
    )
    session.commit()
    _wake(request)
    return StudyPublic.model_validate(_view(request, session, study, detail=False))


@router.get("/studies", summary="Studies, newest first")
def read_studies(request: Request, session: SessionDep) -> StudiesPublic:
    studies = steering.list_studies(session)
    return StudiesPublic(
        studies=[
            StudyPublic.model_validate(_view(request, session, s, detail=False)) for s in studies
        ]
    )


@router.get(
    "/studies/{study_id}",
    summary="One study: progress, best trial, every trial, importances",
    responses=errors(404, 422),
)
def read_study(study_id: RowId, request: Request, session: SessionDep) -> StudyDetail:
    study = steering.get_study(session, study_id)
    return StudyDetail.model_validate(_view(request, session, study, detail=True))


@router.post(
    "/studies/{study_id}/trials",
    summary="Add n trials, or enqueue a point to try next",
    responses=errors(400, 404, 422),
)
def add_trials(
    study_id: RowId, body: TrialsAdd, request: Request, session: SessionDep, settings: SettingsDep
) -> StudyPublic:
    study = steering.add_trials(session, settings.sqlalchemy_url, study_id, body.n, body.params)
    session.commit()
    _wake(request)
    return StudyPublic.model_validate(_view(request, session, study, detail=False))


@router.post(
    "/studies/{study_id}/stop",
    summary="Stop asking for trials; queued trials are cancelled, running ones finish or not",
    responses=errors(400, 404, 409, 422),
)
def stop_study(
    study_id: RowId, request: Request, session: SessionDep, body: StudyStop | None = None
) -> StudyPublic:
    body = body or StudyStop()
    study = steering.stop_study(session, study_id, body.cancel_running)
    session.commit()
    _wake(request)
    return StudyPublic.model_validate(_view(request, session, study, detail=False))


@router.post(
    "/studies/{study_id}/resume",
    summary="Ask for trials again, up to the study's trial count",
    responses=errors(404, 409, 422),
)
def resume_study(study_id: RowId, request: Request, session: SessionDep) -> StudyPublic:
    study = steering.resume_study(session, study_id)
    session.commit()
    _wake(request)
    return StudyPublic.model_validate(_view(request, session, study, detail=False))


@router.patch(
    "/studies/{study_id}",
    summary="Change how many trials run at once, or the trial count",
    responses=errors(400, 404, 422),
)
def update_study(
    study_id: RowId, body: StudyUpdate, request: Request, session: SessionDep
) -> StudyPublic:
    # Absent and null differ for parallelism: null asks for the server's slots again.
    study = steering.update_study(
        session,
        study_id,
        body.n_trials,
        parallelism=body.parallelism,
        set_parallelism="parallelism" in body.model_fields_set,
    )
    session.commit()
    _wake(request)
    return StudyPublic.model_validate(_view(request, session, study, detail=False))


@router.get(
    "/studies/{study_id}/events",
    summary="Server-Sent Events: the study (as GET /api/studies/{id}) whenever it changes",
    response_class=EventSourceResponse,
    responses=errors(404, 422),
)
def stream_study_events(study_id: RowId, request: Request) -> EventSourceResponse:
    factory = request.app.state.session_factory
    with session_scope(factory) as session:
        steering.get_study(session, study_id)  # 404 first
    return EventSourceResponse(_study_events(request, study_id), ping=15)


async def _study_events(request: Request, study_id: int) -> AsyncIterator[ServerSentEvent]:
    """A `study` event with the whole study at once, then again after each change (its row,
    a trial run's status or epoch)."""
    factory = request.app.state.session_factory
    last: Any = None
    while not await request.is_disconnected():
        version, view = await asyncio.to_thread(_look, request, factory, study_id, last)
        if view is not None:
            last = version
            detail = StudyDetail.model_validate(view)
            yield ServerSentEvent(
                data=json.dumps(jsonable_encoder(detail)), event="study", id=str(version)
            )
        await asyncio.sleep(STUDY_EVENTS_SECONDS)


def _look(request: Request, factory: Any, study_id: int, last: Any) -> tuple[Any, Any]:
    """The study's version now, and its view if the version moved past `last`."""
    with session_scope(factory) as session:
        study = steering.get_study(session, study_id)
        runs = session.execute(
            select(func.count(Run.id), func.sum(Run.epoch), func.max(Run.finished_at)).where(
                Run.study_id == study_id
            )
        ).one()
        statuses = session.execute(
            select(Run.status, func.count(Run.id))
            .where(Run.study_id == study_id)
            .group_by(Run.status)
        ).all()
        version = hash(
            (
                study.status,
                study.n_trials,
                study.parallelism,
                tuple(runs),
                tuple(sorted(map(tuple, statuses))),
            )
        )
        if version == last:
            return last, None
        return version, _view(request, session, study, detail=True)

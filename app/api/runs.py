"""Routes for runs: create, list, read, cancel, resume, fork, metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, status

from app import metrics, runs
from app.checks import check_run_config, schema_with_plugins
from app.deps import DispatcherDep, SessionDep, SettingsDep
from app.errors import ConfigError, ConflictError
from app.models import RunStatus
from app.schemas import (
    EpochPublic,
    ForkRequest,
    MetricsPublic,
    ResumeRequest,
    RunPublic,
    RunsPublic,
    StepPublic,
)
from trainer.config import RunConfig, run_config_schema

router = APIRouter(prefix="/api", tags=["runs"])


@router.get("/schema/run-config", summary="JSON Schema of the run config")
def read_run_config_schema(settings: SettingsDep) -> dict:
    return schema_with_plugins(run_config_schema(), settings.plugins_path)


@router.post("/runs", status_code=status.HTTP_201_CREATED, summary="Queue a new run")
def create_run(
    config: RunConfig, session: SessionDep, settings: SettingsDep, dispatcher: DispatcherDep
) -> RunPublic:
    config = check_run_config(config, settings)
    run = runs.create_run(session, config)
    session.commit()
    if dispatcher is not None:
        dispatcher.wake()
    return RunPublic.of(run)


@router.get("/runs", summary="Runs, newest first")
def read_runs(
    session: SessionDep,
    status: RunStatus | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> RunsPublic:
    found, count = runs.list_runs(session, status, limit, offset)
    return RunsPublic(runs=[RunPublic.of(run) for run in found], count=count)


@router.get("/runs/{run_id}", summary="One run")
def read_run(run_id: int, session: SessionDep) -> RunPublic:
    return RunPublic.of(runs.get_run(session, run_id))


@router.get("/runs/{run_id}/metrics", summary="Epoch and step metrics, optionally only new ones")
def read_metrics(
    run_id: int,
    session: SessionDep,
    since_epoch: int = Query(0, ge=0),
    since_step: int = Query(0, ge=0),
) -> MetricsPublic:
    runs.get_run(session, run_id)
    return MetricsPublic(
        epochs=[
            EpochPublic.model_validate(row)
            for row in metrics.read_epochs(session, run_id, since_epoch)
        ],
        steps=[
            StepPublic.model_validate(row)
            for row in metrics.read_steps(session, run_id, since_step)
        ],
    )


@router.post("/runs/{run_id}/cancel", summary="Cancel: queued at once, running at the next batch")
def cancel_run(run_id: int, session: SessionDep) -> RunPublic:
    run = runs.cancel_run(session, run_id)
    session.commit()
    return RunPublic.of(run)


@router.post("/runs/{run_id}/resume", summary="Continue the same run from its last checkpoint")
def resume_run(
    run_id: int,
    session: SessionDep,
    dispatcher: DispatcherDep,
    request: Annotated[ResumeRequest, Body(default_factory=ResumeRequest)],
) -> RunPublic:
    run = runs.resume_run(session, run_id, request.max_epochs, request.fallback)
    session.commit()
    if dispatcher is not None:
        dispatcher.wake()
    return RunPublic.of(run)


@router.post(
    "/runs/{run_id}/fork",
    status_code=status.HTTP_201_CREATED,
    summary="A new run starting from one of this run's epoch checkpoints",
)
def fork_run(
    run_id: int,
    request: ForkRequest,
    session: SessionDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
) -> RunPublic:
    source = runs.get_run(session, run_id)
    checkpoint = metrics.find_checkpoint(session, run_id, request.epoch)
    if checkpoint is None or not checkpoint.complete:
        raise ConflictError(f"run {run_id} has no checkpoint of finished epoch {request.epoch}")
    config = RunConfig.model_validate(runs.with_overrides(source.config, request.overrides))
    if "name" not in request.overrides:
        config = config.model_copy(update={"name": f"{source.name} (fork @{request.epoch})"})
    config = check_run_config(config, settings)
    if config.max_epochs <= request.epoch:
        raise ConfigError.field(
            ("body", "overrides", "max_epochs"),
            f"max_epochs {config.max_epochs} leaves nothing to train after epoch {request.epoch}",
            config.max_epochs,
        )
    run = runs.create_run(
        session, config, parent_run_id=run_id, fork_epoch=request.epoch, epoch=request.epoch
    )
    session.commit()
    if dispatcher is not None:
        dispatcher.wake()
    return RunPublic.of(run)

"""Routes for runs: create, list, read, edit, delete, cancel, resume, fork, move in the queue,
sweeps, metrics."""

from __future__ import annotations

import shutil
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, status

from app.errors import ConfigError, ConflictError
from app.runs import lifecycle, queue, scripts, seed_groups, sweeps
from app.runs.cluster_placement import ClusterGpus
from app.runs.config_checks import check_run_config, gpu_problems
from app.runs.lifecycle import RunSortKey
from app.storage import checkpoint_rows, metrics, rollups
from app.storage.downsample import lttb
from app.storage.tables import Run, RunStatus
from app.web.deps import (
    DispatcherDep,
    FilesDep,
    GpuLimitsDep,
    QueryNumber,
    QueueLanesDep,
    RowId,
    SessionDep,
    SettingsDep,
)
from app.web.error_handlers import errors
from app.web.form_schema import schema_with_plugins
from app.web.run_create import ScriptRunCreate, parse_run_create
from app.web.shapes import (
    EpochPublic,
    ForkRequest,
    MetricsPublic,
    QueueMove,
    RepeatRequest,
    ResumeRequest,
    RunPublic,
    RunsPublic,
    RunUpdate,
    StepPublic,
    SweepPublic,
    SweepRequest,
)
from trainer.config import RunConfig, run_config_schema

router = APIRouter(prefix="/api", tags=["runs"])


def public_runs(session: SessionDep, lanes: QueueLanesDep, runs: list[Run]) -> list[RunPublic]:
    """The runs' public shapes, queued ones with their place in the queue and start estimate."""
    outlook = (
        queue.queue_outlook(session, lanes)
        if any(run.status == RunStatus.QUEUED for run in runs)
        else {}
    )
    return [RunPublic.of(run, outlook.get(run.id)) for run in runs]


def public_run(session: SessionDep, lanes: QueueLanesDep, run: Run) -> RunPublic:
    return public_runs(session, lanes, [run])[0]


@router.get("/schema/run-config", summary="JSON Schema of the run config")
def read_run_config_schema(settings: SettingsDep) -> dict:
    return schema_with_plugins(run_config_schema(), settings.plugins_path)


@router.post(
    "/runs",
    status_code=status.HTTP_201_CREATED,
    summary="Queue a new run",
    responses=errors(400, 422),
)
def create_run(
    body: Annotated[
        dict[str, Any],
        Body(
            description="A run config (the schema at GET /api/schema/run-config) plus `tags`, "
            "`notes`; or, with a `script` key, a script run: `{name, script: {path, args, env}, "
            "device, processes, max_epochs?, task?, monitor?, monitor_mode?, tags, notes}` "
            "(docs/api.md, docs/scripts.md)."
        ),
    ],
    session: SessionDep,
    settings: SettingsDep,
    lanes: QueueLanesDep,
    dispatcher: DispatcherDep,
    gpu_limits: GpuLimitsDep,
) -> RunPublic:
    request = parse_run_create(body)
    if isinstance(request, ScriptRunCreate):
        run = create_script_run(session, settings, request, gpu_limits)
    else:
        config = check_run_config(request.run_config(), settings, gpu_limits)
        run = lifecycle.create_run(
            session,
            config,
            tags=request.tags,
            notes=request.notes,
            estimated_epoch_seconds=request.estimated_epoch_seconds,
        )
    session.commit()
    # The answer is read before the dispatcher wakes: it is the run as queued, not as started.
    answer = public_run(session, lanes, lifecycle.get_run(session, run.id))
    if dispatcher is not None:
        dispatcher.wake()
    return answer


def create_script_run(
    session: SessionDep,
    settings: SettingsDep,
    request: ScriptRunCreate,
    gpus: list[int] | ClusterGpus | None,
) -> Run:
    """Queue a script run: its file inside the scripts folder, a device this server can give."""
    config = request.run_config()
    scripts.check_script_run(config, settings.scripts_path)
    if gpus is not None:
        problems = gpu_problems(config.model_dump(mode="json"), gpus)
        if problems:
            (loc, why), *_ = problems
            raise ConfigError.field(("body", *loc), why, None)
    return scripts.create_script_run(session, config, tags=request.tags, notes=request.notes)


@router.get("/runs", summary="A page of runs, newest first or sorted", responses=errors(422))
def read_runs(
    session: SessionDep,
    lanes: QueueLanesDep,
    status: RunStatus | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: QueryNumber = 0,
    q: str = Query("", max_length=200, description="Text in the run's name or sweep group."),
    tag: Annotated[
        list[Annotated[str, Query(max_length=40)]],
        Query(description="Only runs carrying this tag (repeat: all of them); case-insensitive."),
    ] = [],  # noqa: B006  (FastAPI copies a default, it is never shared)
    sort: Annotated[RunSortKey, Query(description="The column to sort on.")] = "id",
    order: Literal["asc", "desc"] = "desc",
) -> RunsPublic:
    found, count = lifecycle.list_runs(session, status, limit, offset, q, tag, sort, order)
    summaries = metrics.epoch_summaries(session, [run.id for run in found])
    return RunsPublic(
        runs=public_runs(session, lanes, list(found)),
        count=count,
        summaries=summaries,  # type: ignore[arg-type]
    )


@router.post(
    "/sweeps",
    status_code=status.HTTP_201_CREATED,
    summary="Queue a grid of runs in one group",
    responses=errors(400, 422),
)
def create_sweep(
    request: SweepRequest,
    session: SessionDep,
    settings: SettingsDep,
    lanes: QueueLanesDep,
    dispatcher: DispatcherDep,
    gpu_limits: GpuLimitsDep,
) -> SweepPublic:
    group, created = sweeps.create_sweep(
        session,
        request.config,
        request.grid,
        request.group_name,
        settings.allowed_data_roots,
        tags=request.tags,
        notes=request.notes,
        gpus=gpu_limits,
        seeds=request.seeds,
        scripts_dir=settings.scripts_path,
    )
    session.commit()
    runs = [lifecycle.get_run(session, run.id) for run in created]
    answer = SweepPublic(group_name=group, runs=public_runs(session, lanes, runs))
    if dispatcher is not None:
        dispatcher.wake()
    return answer


@router.get("/runs/{run_id}", summary="One run", responses=errors(404, 422))
def read_run(run_id: RowId, session: SessionDep, lanes: QueueLanesDep) -> RunPublic:
    return public_run(session, lanes, lifecycle.get_run(session, run_id))


@router.patch(
    "/runs/{run_id}",
    summary="Edit a run's notes and tags (in any state)",
    responses=errors(400, 404, 422),
)
def update_run(
    run_id: RowId, request: RunUpdate, session: SessionDep, lanes: QueueLanesDep
) -> RunPublic:
    run = lifecycle.annotate_run(session, run_id, notes=request.notes, tags=request.tags)
    session.commit()
    return public_run(session, lanes, run)


@router.post(
    "/runs/{run_id}/queue",
    summary="Move a queued run to the top or bottom of the queue",
    responses=errors(400, 404, 409, 422),
)
def move_run_in_queue(
    run_id: RowId,
    request: QueueMove,
    session: SessionDep,
    lanes: QueueLanesDep,
    dispatcher: DispatcherDep,
) -> RunPublic:
    queue.move_in_queue(session, run_id, request.position)
    session.commit()
    answer = public_run(session, lanes, lifecycle.get_run(session, run_id))
    if dispatcher is not None:
        dispatcher.wake()
    return answer


@router.get(
    "/runs/{run_id}/metrics",
    summary="Epoch and step metrics, optionally only new ones",
    responses=errors(404, 422),
)
def read_metrics(
    run_id: RowId,
    session: SessionDep,
    since_epoch: QueryNumber = 0,
    since_step: QueryNumber = 0,
    max_points: int | None = Query(
        None, ge=3, le=100_000, description="Downsample the steps (LTTB) to at most this many."
    ),
) -> MetricsPublic:
    lifecycle.get_run(session, run_id)
    points = None
    if max_points is not None and since_step == 0:
        points = rollups.chart_points(session, run_id, max_points)  # a few hundred rows read
    if points is None:
        points = metrics.read_step_points(session, run_id, since_step)
    if max_points is not None:
        points = lttb(points, max_points)
    return MetricsPublic(
        epochs=[
            EpochPublic.model_validate(row)
            for row in metrics.read_epochs(session, run_id, since_epoch)
        ],
        steps=[StepPublic(step=step, loss=loss, epoch=epoch) for step, loss, epoch in points],
    )


@router.delete(
    "/runs/{run_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a finished run: its rows and its files (409 while queued or running)",
    responses=errors(404, 409, 422),
)
def delete_run(run_id: RowId, session: SessionDep, settings: SettingsDep, files: FilesDep) -> None:
    lifecycle.delete_run(session, run_id)
    session.commit()
    files.remove_run(run_id)  # its checkpoints and evaluation, in the folder or the bucket
    shutil.rmtree(settings.run_dir(run_id), ignore_errors=True)  # its log, in <home>/runs


@router.post(
    "/runs/{run_id}/cancel",
    summary="Cancel: queued at once, running at the next batch",
    responses=errors(404, 409, 422),
)
def cancel_run(run_id: RowId, session: SessionDep) -> RunPublic:
    run = lifecycle.cancel_run(session, run_id)
    session.commit()
    return RunPublic.of(run)


@router.post(
    "/runs/{run_id}/resume",
    summary="Continue the same run from its last checkpoint",
    responses=errors(400, 404, 409, 422),
)
def resume_run(
    run_id: RowId,
    session: SessionDep,
    lanes: QueueLanesDep,
    dispatcher: DispatcherDep,
    request: Annotated[ResumeRequest, Body(default_factory=ResumeRequest)],
) -> RunPublic:
    run = lifecycle.resume_run(
        session, run_id, request.max_epochs, request.fallback, request.processes
    )
    session.commit()
    answer = public_run(session, lanes, run)
    if dispatcher is not None:
        dispatcher.wake()
    return answer


@router.post(
    "/runs/{run_id}/fork",
    status_code=status.HTTP_201_CREATED,
    summary="A new run starting from one of this run's epoch checkpoints",
    responses=errors(400, 404, 409, 422),
)
def fork_run(
    run_id: RowId,
    request: ForkRequest,
    session: SessionDep,
    settings: SettingsDep,
    lanes: QueueLanesDep,
    dispatcher: DispatcherDep,
    gpu_limits: GpuLimitsDep,
) -> RunPublic:
    source = lifecycle.get_run(session, run_id)
    if source.kind != "loop":
        raise ConflictError(
            f"run {run_id} is a {source.kind} run: only a loop run forks (resume it instead)"
        )
    checkpoint = checkpoint_rows.find_checkpoint(session, run_id, request.epoch)
    if checkpoint is None or not checkpoint.complete:
        raise ConflictError(f"run {run_id} has no checkpoint of finished epoch {request.epoch}")
    config = RunConfig.model_validate(lifecycle.with_overrides(source.config, request.overrides))
    if "name" not in request.overrides:
        config = config.model_copy(update={"name": f"{source.name} (fork @{request.epoch})"})
    config = check_run_config(config, settings, gpu_limits)
    if config.max_epochs <= request.epoch:
        raise ConfigError.field(
            ("body", "overrides", "max_epochs"),
            f"max_epochs {config.max_epochs} leaves nothing to train after epoch {request.epoch}",
            config.max_epochs,
        )
    run = lifecycle.create_run(
        session,
        config,
        parent_run_id=run_id,
        fork_epoch=request.epoch,
        epoch=request.epoch,
        tags=list(source.tags or []),  # a fork carries its source's labels and notes
        notes=source.notes,
    )
    session.commit()
    # The answer is read before the dispatcher wakes: it is the run as queued, not as started.
    answer = public_run(session, lanes, lifecycle.get_run(session, run.id))
    if dispatcher is not None:
        dispatcher.wake()
    return answer


@router.post(
    "/runs/{run_id}/repeat",
    status_code=status.HTTP_201_CREATED,
    summary="Queue copies of a run's config with new seeds, in one group (a seed group)",
    responses=errors(400, 404, 409, 422),
)
def repeat_run(
    run_id: RowId,
    request: RepeatRequest,
    session: SessionDep,
    settings: SettingsDep,
    lanes: QueueLanesDep,
    dispatcher: DispatcherDep,
    gpu_limits: GpuLimitsDep,
) -> SweepPublic:
    group, created = seed_groups.repeat_run(
        session, run_id, request.seeds, settings.allowed_data_roots, gpu_limits
    )
    session.commit()
    runs = [lifecycle.get_run(session, run.id) for run in created]
    answer = SweepPublic(group_name=group, runs=public_runs(session, lanes, runs))
    if dispatcher is not None:
        dispatcher.wake()
    return answer

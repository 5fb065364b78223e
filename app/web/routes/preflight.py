"""Route for preflight: check a run config in a worker before queueing it (nothing is stored)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from app.runs.config_checks import check_run_config
from app.runs.preflight import run_preflight
from app.web.deps import DispatcherDep, GpuLimitsDep, SettingsDep
from app.web.error_handlers import errors
from app.web.run_create import RunCreate
from app.web.shapes import PreflightPublic

router = APIRouter(prefix="/api", tags=["preflight"])


@router.post(
    "/preflight",
    summary="Build the run's data and model in a worker, time a few training steps; or 422",
    responses=errors(400, 422),
)
async def preflight_run(
    request: RunCreate, settings: SettingsDep, dispatcher: DispatcherDep, gpu_limits: GpuLimitsDep
) -> PreflightPublic:
    config = check_run_config(request.run_config(), settings, gpu_limits)
    # A warm worker of the dispatcher's executor when it has one idle (a cluster's has none).
    take_warm = getattr(dispatcher.executor, "take_warm_worker", None) if dispatcher else None
    # The wait for the worker happens on a thread: the event loop keeps serving meanwhile.
    report = await run_in_threadpool(run_preflight, config, settings, take_warm)
    return PreflightPublic.model_validate(report)

"""What a run cost: GPU-hours and energy, in all and per GPU (app/storage/run_costs.py)."""

from __future__ import annotations

from fastapi import APIRouter

from app.runs.lifecycle import get_run
from app.storage import run_costs
from app.web.cost_shapes import GpuCostPublic, RunCostPublic
from app.web.deps import ExistingRunId, SessionDep, SettingsDep
from app.web.error_handlers import errors

router = APIRouter(prefix="/api", tags=["runs"])


@router.get(
    "/runs/{run_id}/cost",
    summary="The run's GPU-hours and energy in watt-hours, per GPU",
    responses=errors(404),
)
def read_run_cost(
    run_id: ExistingRunId, session: SessionDep, settings: SettingsDep
) -> RunCostPublic:
    run = get_run(session, run_id)
    return RunCostPublic(
        run_id=run_id,
        gpu_hours=run.gpu_hours,
        energy_wh=run.energy_wh,
        cpu_energy_wh=run.cpu_energy_wh,
        sample_seconds=settings.system_sample_seconds,
        gpus=[
            GpuCostPublic(
                gpu=row.gpu,
                name=row.name,
                hours=row.hours,
                energy_wh=row.energy_wh,
                samples=row.samples,
            )
            for row in run_costs.read_gpu_costs(session, run_id)
        ],
    )

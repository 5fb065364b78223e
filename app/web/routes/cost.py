"""What runs cost: GPU-hours and energy of one run, in all and per GPU, and summed over a sweep
group, a study or a selection (app/storage/run_costs.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.errors import ConfigError
from app.runs.lifecycle import get_run
from app.storage import run_costs
from app.web.cost_shapes import CostTotalsPublic, GpuCostPublic, RunCostPublic
from app.web.deps import SQL_INT_MAX, ExistingRunId, SessionDep, SettingsDep
from app.web.error_handlers import errors

router = APIRouter(prefix="/api", tags=["runs"])

# A comma-separated list of run ids, as the compare page's `?ids=` writes it: a thousand ids of
# up to twelve digits at most, a bound on the IN list.
IdList = Annotated[
    str | None,
    Query(
        max_length=13_000,
        pattern=r"^\d{1,12}(,\d{1,12})*$",
        description="Comma-separated run ids.",
    ),
]


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


@router.get(
    "/costs",
    summary="GPU-hours and energy summed over a sweep group, a study or run ids",
    responses=errors(422),
)
def read_cost_totals(
    session: SessionDep,
    group: Annotated[str | None, Query(max_length=200, description="A sweep group.")] = None,
    study_id: Annotated[
        int | None, Query(ge=1, le=SQL_INT_MAX, description="A study's trials.")
    ] = None,
    ids: IdList = None,
) -> CostTotalsPublic:
    run_ids = None
    if ids is not None:
        run_ids = [int(part) for part in ids.split(",")]
        if max(run_ids) > SQL_INT_MAX:  # the pattern bounds digits, not the value
            raise ConfigError.field(
                ("query", "ids"), f"a run id is a whole number from 1 to {SQL_INT_MAX}", ids[:100]
            )
    totals = run_costs.sum_costs(session, group_name=group, study_id=study_id, run_ids=run_ids)
    return CostTotalsPublic(**vars(totals))

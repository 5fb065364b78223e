"""The cost of a run: GPU-hours and energy, kept as running totals the worker's sampler adds to.

Why totals and not a sum over `system_metrics` at read time: the runs list shows the cost of
every run on its page and sums it for a sweep or a study, and a run sampled every 5 s for a day
has 17,000 rows per GPU. Integrating them per run per read would make the list's cost grow with
the runs' lengths; the sampler integrates as it samples instead (app/worker/cost_meter.py), and
a list reads two columns of `runs`. A worker killed mid-run has still added up to its last
sample. Per GPU, `run_gpu_costs` holds the same figures (GET /api/runs/{id}/cost).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.storage.tables import Run, RunGpuCost, utcnow


@dataclass(frozen=True)
class GpuCostStep:
    """What one GPU added between two samples."""

    gpu: str
    name: str | None  # NVML's name, None where NVML does not report this GPU
    hours: float
    energy_wh: float  # 0 unless this and an earlier sample both read its power
    samples: int  # 1 if this sample read its power, else 0


@dataclass(frozen=True)
class CostStep:
    """What the run added between two samples: per GPU, and the CPU packages' energy (None:
    not measured this time)."""

    gpus: list[GpuCostStep] = field(default_factory=list)
    cpu_energy_wh: float | None = None

    def __bool__(self) -> bool:
        return bool(self.gpus) or self.cpu_energy_wh is not None


def add_cost(session: Session, run_id: int, step: CostStep) -> None:
    """Add one sample's step to the run's per-GPU rows and to its totals on `runs`."""
    values: dict[str, object] = {}
    if step.gpus:
        rows = {
            row.gpu: row
            for row in session.scalars(select(RunGpuCost).where(RunGpuCost.run_id == run_id))
        }
        for part in step.gpus:
            row = rows.get(part.gpu)
            if row is None:
                row = RunGpuCost(run_id=run_id, gpu=part.gpu, hours=0.0, energy_wh=None, samples=0)
                session.add(row)
                rows[part.gpu] = row
            row.name = part.name or row.name
            row.hours += part.hours
            row.samples += part.samples
            if part.samples:
                row.energy_wh = (row.energy_wh or 0.0) + part.energy_wh
        values["gpu_hours"] = sum(row.hours for row in rows.values())
        values["energy_wh"] = _energy(list(rows.values()))
    if step.cpu_energy_wh is not None:
        values["cpu_energy_wh"] = func.coalesce(Run.cpu_energy_wh, 0.0) + step.cpu_energy_wh
    if values:
        session.flush()
        session.execute(update(Run).where(Run.id == run_id).values(updated_at=utcnow(), **values))


def _energy(rows: list[RunGpuCost]) -> float | None:
    """The run's GPU energy: every GPU's summed, or None if one of them never read its power (a
    partial sum would pass for the whole run's)."""
    if any(row.energy_wh is None for row in rows):
        return None
    return sum(row.energy_wh or 0.0 for row in rows)


def read_gpu_costs(session: Session, run_id: int) -> list[RunGpuCost]:
    """The run's per-GPU rows, by GPU index."""
    rows = session.scalars(select(RunGpuCost).where(RunGpuCost.run_id == run_id)).all()
    # Numerically: GPU 10 after GPU 9 (a UUID, which TORCHDASH_GPUS may name, after indexes).
    return sorted(rows, key=lambda row: (not row.gpu.isdigit(), row.gpu.zfill(8)))


@dataclass(frozen=True)
class CostTotals:
    """The summed cost of a set of runs, and how many of them had each figure measured."""

    runs: int
    gpu_hours: float | None  # None when no run of the set has GPU-hours
    energy_wh: float | None
    runs_with_gpu_hours: int
    runs_with_energy: int


def sum_costs(
    session: Session,
    *,
    group_name: str | None = None,
    study_id: int | None = None,
    run_ids: list[int] | None = None,
) -> CostTotals:
    """The summed cost of the runs of a sweep group, of a study, or of some ids (all that are
    given must hold): one aggregate over the stored totals, on an index for each filter."""
    query = select(
        func.count(Run.id),
        func.sum(Run.gpu_hours),
        func.count(Run.gpu_hours),
        func.sum(Run.energy_wh),
        func.count(Run.energy_wh),
    )
    if group_name is not None:
        query = query.where(Run.group_name == group_name)
    if study_id is not None:
        query = query.where(Run.study_id == study_id)
    if run_ids is not None:
        query = query.where(Run.id.in_(run_ids))
    runs, gpu_hours, with_hours, energy_wh, with_energy = session.execute(query).one()
    return CostTotals(
        runs=runs,
        gpu_hours=gpu_hours,
        energy_wh=energy_wh,
        runs_with_gpu_hours=with_hours,
        runs_with_energy=with_energy,
    )

"""What `GET /api/runs/{id}/cost` returns: a run's GPU-hours and energy, in all and per GPU."""

from __future__ import annotations

from pydantic import Field

from app.web.shape_base import Shape


class GpuCostPublic(Shape):
    """One GPU the run trained on."""

    gpu: str = Field(description="NVML index of the GPU, as in the run's `assigned_gpus`.")
    name: str | None = Field(description="NVML's name of the board; null where NVML has none.")
    hours: float = Field(description="Hours the run trained on this GPU, resumes added up.")
    energy_wh: float | None = Field(
        description="Watt-hours integrated from its power readings; null if it reported none."
    )
    samples: int = Field(description="Power readings integrated.")


class RunCostPublic(Shape):
    run_id: int
    gpu_hours: float | None = Field(description="The GPUs' hours summed; null for a CPU run.")
    energy_wh: float | None = Field(
        description="The GPUs' watt-hours summed; null unless every GPU reported power."
    )
    cpu_energy_wh: float | None = Field(
        description="The CPU packages' watt-hours (Linux RAPL) while the run trained; null where "
        "the machine does not let them be read."
    )
    sample_seconds: float = Field(
        description="This server's interval between samples (TORCHDASH_SYSTEM_SAMPLE_SECONDS)."
    )
    gpus: list[GpuCostPublic]


class CostTotalsPublic(Shape):
    """`GET /api/costs`: the summed cost of a sweep group, a study or a selection of runs."""

    runs: int = Field(description="Runs that match.")
    gpu_hours: float | None = Field(description="Their GPU-hours summed; null if none has any.")
    energy_wh: float | None = Field(
        description="Their energy summed over the runs that have it; null if none has."
    )
    runs_with_gpu_hours: int
    runs_with_energy: int = Field(
        description="Fewer than `runs_with_gpu_hours`: some GPUs reported no power, and "
        "`energy_wh` leaves their runs out."
    )

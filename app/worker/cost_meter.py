"""A run's cost as its samples arrive: GPU-hours and energy, integrated sample by sample.

Each GPU's hours are the time between consecutive samples of this attempt of the run (the
sampler takes one when training starts and one when it ends), so the time a run waited in the
queue, or lay interrupted before a resume, is never counted: each attempt starts a new meter.
Energy is the trapezoid rule over consecutive power readings of a GPU: (P1 + P2) / 2 x (t2 - t1).
A sample where NVML gave no power is skipped, the next reading joins the last one read. The CPU
packages' energy is the difference of their RAPL counters between two samples
(app/hardware/rapl.py), where the machine lets them be read.
"""

from __future__ import annotations

from datetime import datetime

from app.hardware.nvml import GpuReading
from app.hardware.rapl import PackageCounter, joules_between
from app.storage.run_costs import CostStep, GpuCostStep

SECONDS_PER_HOUR = 3600.0


class CostMeter:
    """`step(at, readings, cpu)` at each sample gives what the run cost since the one before."""

    def __init__(self, gpus: list[str]) -> None:
        self.gpus = gpus
        self.last_at: datetime | None = None
        self.last_power: dict[str, tuple[datetime, float]] = {}
        self.last_cpu: list[PackageCounter] | None = None

    def step(
        self, at: datetime, readings: list[GpuReading], cpu: list[PackageCounter] | None
    ) -> CostStep:
        hours = 0.0 if self.last_at is None else (at - self.last_at).total_seconds()
        hours /= SECONDS_PER_HOUR
        self.last_at = at
        by_index = {str(reading.index): reading for reading in readings}
        return CostStep(
            gpus=[self._gpu_step(gpu, at, hours, by_index.get(gpu)) for gpu in self.gpus],
            cpu_energy_wh=self._cpu_step(cpu),
        )

    def _gpu_step(
        self, gpu: str, at: datetime, hours: float, reading: GpuReading | None
    ) -> GpuCostStep:
        power = reading.power_watts if reading is not None else None
        energy_wh = 0.0
        if power is not None:
            last = self.last_power.get(gpu)
            if last is not None:
                seconds = (at - last[0]).total_seconds()
                energy_wh = (last[1] + power) / 2 * seconds / SECONDS_PER_HOUR
            self.last_power[gpu] = (at, power)
        return GpuCostStep(
            gpu=gpu,
            name=reading.name if reading is not None else None,
            hours=hours,
            energy_wh=energy_wh,
            samples=int(power is not None),
        )

    def _cpu_step(self, cpu: list[PackageCounter] | None) -> float | None:
        if cpu is None:
            return None
        last, self.last_cpu = self.last_cpu, cpu
        joules = joules_between(last, cpu) if last is not None else None
        return joules / SECONDS_PER_HOUR if joules is not None else None

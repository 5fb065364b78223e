"""The GPUs torchdash may place runs on: NVML's, restricted by `TORCHDASH_GPUS`.

Unset, the set is every GPU NVML reports. A list (`0,2`, or UUIDs) is taken as given: an entry
NVML reports gets its name and memory, one it does not is still a GPU of the set, with unknown
name and memory. That second case is how a machine without GPUs (this project's tests, a CPU
box trying the placement) exercises the allocator; a worker placed on such a GPU simply finds no
CUDA device there.

An unreported UUID has no NVML index: it gets the lowest index no other GPU of the set uses, so
every GPU of the set has an index to be named by (`assigned_gpus`, `cuda:N`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from app.hardware import nvml
from app.hardware.nvml import GpuReading


@dataclass(frozen=True)
class Gpu:
    """A GPU of the set; the readings are None where NVML does not report it."""

    index: int
    uuid: str | None
    name: str | None
    memory_total_mb: float | None
    memory_used_mb: float | None
    utilization_percent: float | None

    @classmethod
    def of(cls, reading: GpuReading) -> Gpu:
        return cls(
            index=reading.index,
            uuid=reading.uuid,
            name=reading.name,
            memory_total_mb=reading.memory_total_mb,
            memory_used_mb=reading.memory_used_mb,
            utilization_percent=reading.utilization_percent,
        )

    @classmethod
    def configured(cls, index: int, uuid: str | None = None) -> Gpu:
        """A GPU of TORCHDASH_GPUS that NVML does not report."""
        return cls(index, uuid, None, None, None, None)


def gpu_inventory(selection: list[str] | None) -> list[Gpu]:
    """The GPUs of the set, by index; `selection` is `Settings.gpus` (None: all of NVML's)."""
    readings = nvml.read_gpus()  # through the module: the one seam tests may replace
    if selection is None:
        return [Gpu.of(reading) for reading in readings]
    by_index = {str(reading.index): reading for reading in readings}
    by_uuid = {reading.uuid: reading for reading in readings}
    found: dict[int, Gpu] = {}
    unknown_uuids = []
    for entry in selection:
        reading = by_index.get(entry) or by_uuid.get(entry)
        if reading is not None:
            found[reading.index] = Gpu.of(reading)
        elif entry.isdigit():
            found[int(entry)] = Gpu.configured(int(entry))
        else:
            unknown_uuids.append(entry)
    for uuid in unknown_uuids:
        index = next(i for i in range(len(found) + 1) if i not in found)
        found[index] = Gpu.configured(index, uuid)
    return [found[index] for index in sorted(found)]


def cpu_inventory() -> dict[str, int | None]:
    """The CPU this server's workers share."""
    page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else None
    pages = os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else None
    return {
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),  # this process may be pinned to fewer
        "memory_total_mb": page * pages // 2**20 if page and pages else None,
    }

"""The GPUs NVML reports, as plain readings: the one seam between torchdash and NVIDIA's library.

`pynvml` (the `nvidia-ml-py` package) is imported inside `read_gpus`, so a machine without it,
or without an NVIDIA driver, costs nothing until asked and then answers with no GPUs. Tests that
need GPUs on a machine with none replace `read_gpus` here, and only here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

# Each reason NVML cannot be read is logged once per process, not at every poll of a sampler.
_warned: set[str] = set()


@dataclass(frozen=True)
class GpuReading:
    """One GPU as NVML sees it now; `index` is NVML's (PCI bus order, as nvidia-smi numbers)."""

    index: int
    uuid: str
    name: str
    memory_total_mb: float
    memory_used_mb: float
    utilization_percent: float | None
    power_watts: float | None


def read_gpus() -> list[GpuReading]:
    """Every GPU NVML reports; [] when nvidia-ml-py is missing or NVML fails. Never raises."""
    try:
        import pynvml
    except ImportError:
        _warn_once("nvidia-ml-py is not installed: no GPUs are read")
        return []
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as error:
        _warn_once(f"NVML is not available ({error}): no GPUs are read")
        return []
    try:
        return [_reading(pynvml, index) for index in range(pynvml.nvmlDeviceGetCount())]
    except pynvml.NVMLError as error:
        _warn_once(f"NVML failed while reading GPUs ({error}): no GPUs are read")
        return []
    finally:
        try:
            pynvml.nvmlShutdown()
        except pynvml.NVMLError:
            pass  # nothing is left to release if shutting down fails


def _reading(pynvml: Any, index: int) -> GpuReading:
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
    return GpuReading(
        index=index,
        uuid=_text(pynvml.nvmlDeviceGetUUID(handle)),
        name=_text(pynvml.nvmlDeviceGetName(handle)),
        memory_total_mb=memory.total / 2**20,
        memory_used_mb=memory.used / 2**20,
        utilization_percent=_optional(
            pynvml, lambda: float(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
        ),
        # NVML gives milliwatts; some boards (and MIG slices) do not report power at all.
        power_watts=_optional(pynvml, lambda: pynvml.nvmlDeviceGetPowerUsage(handle) / 1000),
    )


def _optional(pynvml: Any, read: Any) -> float | None:
    """A reading some GPUs do not support: None rather than no GPU at all."""
    try:
        return read()
    except pynvml.NVMLError:
        return None


def _text(value: str | bytes) -> str:
    # Older nvidia-ml-py releases return bytes, newer ones str.
    return value.decode() if isinstance(value, bytes) else value


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        log.warning(message)

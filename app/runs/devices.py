"""What the server can dispatch to, now: each GPU of the set with its live readings and the run
holding it, and the CPU (`GET /api/devices`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.hardware.inventory import cpu_inventory, gpu_inventory
from app.settings import Settings
from app.storage.models import Run, RunStatus


def gpu_holders(session: Session) -> dict[int, int]:
    """GPU index -> the running run placed on it."""
    rows = session.execute(
        select(Run.id, Run.assigned_gpus).where(Run.status == RunStatus.RUNNING.value)
    ).all()
    return {int(gpu): run_id for run_id, gpus in rows for gpu in gpus or []}


def describe_devices(session: Session, settings: Settings) -> dict[str, Any]:
    """The GPUs (NVML read now, so memory and utilisation are current) and the CPU."""
    holders = gpu_holders(session)
    gpus = [
        {
            "index": gpu.index,
            "uuid": gpu.uuid,
            "name": gpu.name,
            "memory_total_mb": gpu.memory_total_mb,
            "memory_used_mb": gpu.memory_used_mb,
            "utilization_percent": gpu.utilization_percent,
            "reported_by_nvml": gpu.name is not None,
            "run_id": holders.get(gpu.index),
        }
        for gpu in gpu_inventory(settings.gpus)
    ]
    cpu = {**cpu_inventory(), "max_concurrent_runs": settings.max_concurrent_runs}
    return {"gpus": gpus, "cpu": cpu}

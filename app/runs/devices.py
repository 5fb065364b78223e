"""What the server can dispatch to, now: each GPU of the set with its live readings and the run
holding it, and the CPU (`GET /api/devices`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.hardware.inventory import cpu_inventory, gpu_inventory
from app.runs.cluster_placement import ClusterAllocator
from app.runs.executors.ray_jobs import RayJobExecutor
from app.settings import Settings
from app.storage.tables import Run, RunStatus


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


def describe_cluster(session: Session, executor: RayJobExecutor) -> dict[str, Any]:
    """The Ray cluster's nodes, what each has free, and the running runs on each."""
    _, unreachable = executor.nodes()
    rooms = executor.rooms()
    on_node: dict[str, list[int]] = {}
    rows = session.execute(
        select(Run.id, Run.node).where(Run.status == RunStatus.RUNNING.value, Run.node.is_not(None))
    ).all()
    for run_id, node in rows:
        assert node is not None  # the query keeps only runs on a node
        on_node.setdefault(node, []).append(run_id)
    return {
        "address": executor.settings.ray_address,
        "unreachable": unreachable,
        "largest_node_gpus": ClusterAllocator(rooms).gpus().largest_node,
        "nodes": [
            {
                "node_id": room.node_id,
                "name": room.name,
                "label": room.label,
                "alive": room.alive,
                "is_head": room.is_head,
                "gpus_total": room.gpus_total,
                "gpus_free": room.gpus_free if room.alive else 0,
                "cpus_total": room.cpus_total,
                "cpus_free": room.cpus_free if room.alive else 0,
                "run_ids": sorted(on_node.get(room.label, [])),
            }
            for room in rooms
        ],
    }

"""The GPUs a worker sees, and the device it trains on there.

The dispatcher placed the run (`runs.assigned_gpus`) and the executor started this process with
`CUDA_VISIBLE_DEVICES` naming exactly those GPUs, so the run trains on `cuda` — `cuda:0` of what
it sees, and the other ranks' GPUs after it for a DDP run — whatever device index its config
names. A run with no GPU was started with none visible: its `auto` finds no CUDA.
"""

from __future__ import annotations

import os

from app.worker.console import log
from trainer.config import RunConfig

PLACEMENT_VARIABLES = ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "TORCHDASH_ASSIGNED_GPUS")


def log_placement(run_id: int, assigned_gpus: list[str]) -> None:
    """Say in the run's log what this process was given, as it sees it."""
    seen = ", ".join(f"{name}={os.environ.get(name)!r}" for name in PLACEMENT_VARIABLES)
    on = f"GPUs {','.join(assigned_gpus)}" if assigned_gpus else "no GPU"
    log(f"run {run_id} placed on {on}: {seen}")


def config_for_worker(config: RunConfig, assigned_gpus: list[str], fake_on_cpu: bool) -> RunConfig:
    """The config with the device this worker trains on."""
    if not assigned_gpus:
        return config
    if fake_on_cpu:
        # THE GPU FAKE SEAM (TORCHDASH_FAKE_GPUS_TRAIN_ON_CPU, tests on machines without GPUs):
        # the placement, the environment and the allocator are real; only the training itself
        # runs on the CPU, since the GPUs it was given do not exist here.
        log("TORCHDASH_FAKE_GPUS_TRAIN_ON_CPU is set: training on the CPU instead (test seam)")
        return config.model_copy(update={"device": "cpu"})
    return config.model_copy(update={"device": "cuda"})

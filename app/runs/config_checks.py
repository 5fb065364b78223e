"""Everything checked on a run config beyond its schema, on submit and again in the worker:
data paths inside the data roots, plugins that exist with the args their classes take, choices
that fit together, and (on submit) a device this server's GPUs can give."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.errors import ConfigError
from app.runs.cluster_placement import ClusterGpus
from app.runs.data_paths import check_data_paths
from app.runs.placement import pinned_gpu, processes_of, trains_on_cuda
from app.runs.plugin_checks import plugin_problems
from app.runs.table_columns import check_table_columns, check_text_columns
from app.settings import Settings
from trainer.config import RunConfig, compatibility_problems


def check_run_config(
    config: RunConfig, settings: Settings, gpus: Sequence[int] | ClusterGpus | None = None
) -> RunConfig:
    """The config with its data paths resolved; ConfigError (422) names the bad fields.

    With `gpus` (on submit: the server's GPU set, or what the Ray cluster's nodes have) the
    device must be one it can give."""
    problems = [(problem, None) for problem in compatibility_problems(config)]
    if gpus is not None:
        problems += [
            (problem, None) for problem in gpu_problems(config.model_dump(mode="json"), gpus)
        ]
    problems += plugin_problems(config, settings.plugins_path)
    if problems:
        raise ConfigError(errors=[_error(loc, why, value) for (loc, why), value in problems])
    checked = check_data_paths(config, settings.allowed_data_roots)
    check_table_columns(checked)
    check_text_columns(checked)
    return checked


def _error(loc: Sequence[str | int], why: str, value: Any) -> dict[str, Any]:
    """One item of FastAPI's 422 list."""
    return {"loc": ["body", *loc], "msg": why, "type": "value_error", "input": value}


def gpu_problems(
    config: dict, gpus: Sequence[int] | ClusterGpus
) -> list[tuple[tuple[str, ...], str]]:
    """Why this server could never place the run: a GPU it does not have, or more of them."""
    if isinstance(gpus, ClusterGpus):
        return cluster_gpu_problems(config, gpus)
    device = config.get("device", "auto")
    processes = processes_of(config)
    have = ", ".join(map(str, sorted(gpus))) or "none"
    if not trains_on_cuda(device, bool(gpus)):
        return []
    if not gpus:
        return [(("device",), f"device '{device}' asks for a GPU, and this server has none")]
    pinned = pinned_gpu(device)
    if pinned is not None and pinned not in gpus:
        return [(("device",), f"GPU {pinned} is not one of this server's GPUs ({have})")]
    if pinned is not None and processes > 1:
        return [
            (
                ("device",),
                f"device '{device}' pins one GPU, and processes={processes} needs {processes}: "
                "choose 'cuda' or 'auto' to have them placed",
            )
        ]
    if processes > len(gpus):
        return [
            (
                ("processes",),
                f"processes={processes} needs {processes} GPUs, and this server has "
                f"{len(gpus)} ({have})",
            )
        ]
    return []


def cluster_gpu_problems(config: dict, cluster: ClusterGpus) -> list[tuple[tuple[str, ...], str]]:
    """Why the Ray cluster could not place the run now: a pinned GPU (Ray picks them), no GPU
    at all, or more GPUs than its largest node has (a DDP run does not span nodes)."""
    device = config.get("device", "auto")
    processes = processes_of(config)
    if not trains_on_cuda(device, cluster.total > 0):
        return []
    if pinned_gpu(device) is not None:
        return [
            (
                ("device",),
                f"device '{device}' pins a GPU of one machine; on the Ray cluster choose "
                "'cuda' (Ray picks the GPUs)",
            )
        ]
    if cluster.total == 0:
        return [(("device",), f"device '{device}' asks for a GPU, and the Ray cluster has none")]
    if processes > cluster.largest_node:
        return [
            (
                ("processes",),
                f"processes={processes} needs {processes} GPUs on one node, and the largest "
                f"node of the Ray cluster has {cluster.largest_node} (DDP across nodes is not "
                "supported)",
            )
        ]
    return []

"""Everything checked on a run config beyond its schema, on submit and again in the worker:
data paths inside the data roots, a plugin model that exists, choices that fit together, and (on
submit) a device this server's GPUs can give."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from app.errors import ConfigError
from app.runs.cluster_placement import ClusterGpus
from app.runs.data_paths import check_data_paths
from app.runs.placement import pinned_gpu, processes_of, trains_on_cuda
from app.settings import Settings
from trainer.config import PluginModel, RunConfig, compatibility_problems
from trainer.models.plugin_discovery import discover_plugin_models


def check_run_config(
    config: RunConfig, settings: Settings, gpus: Sequence[int] | ClusterGpus | None = None
) -> RunConfig:
    """The config with its data paths resolved; ConfigError (422) names the first bad field.

    With `gpus` (on submit: the server's GPU set, or what the Ray cluster's nodes have) the
    device must be one it can give."""
    problems = compatibility_problems(config)
    if gpus is not None:
        problems = [*problems, *gpu_problems(config.model_dump(mode="json"), gpus)]
    if problems:
        raise ConfigError(
            errors=[
                {"loc": ["body", *loc], "msg": why, "type": "value_error", "input": None}
                for loc, why in problems
            ]
        )
    check_plugin(config, settings.plugins_path)
    return check_data_paths(config, settings.allowed_data_roots)


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


def check_plugin(config: RunConfig, plugins_dir: Path) -> None:
    """A plugin model must name a class found in the plugins folder (read, never imported)."""
    if not isinstance(config.model, PluginModel):
        return
    found = discover_plugin_models(plugins_dir)
    if config.model.name not in found:
        raise ConfigError.field(
            ("body", "model", "name"),
            f"no nn.Module named '{config.model.name}' in the plugins folder '{plugins_dir}'"
            f" (found: {', '.join(sorted(found)) or 'none'})",
            config.model.name,
        )


def schema_with_plugins(schema: dict, plugins_dir: Path) -> dict:
    """The run-config schema with the plugin model's `name` limited to the classes found, so the
    form offers them in a list."""
    names = sorted(discover_plugin_models(plugins_dir))
    plugin = schema.get("$defs", {}).get("PluginModel")
    if plugin and names:
        plugin["properties"]["name"] = {
            **plugin["properties"]["name"],
            "enum": names,
            "default": names[0],
        }
        plugin["properties"]["name"].pop("pattern", None)
    return schema

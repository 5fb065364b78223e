"""Tasks: what a run's targets are, and so which losses serve it and which metrics it records.

- classification: one class index per sample (the default);
- multilabel: several 0/1 targets per sample;
- regression: one or more real-valued targets per sample.

Every epoch records each metric by name (`metric_names`); a run watches one of them (`monitor_of`)
for its best epoch, early stopping and the plateau scheduler. Torch-free: the server imports it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, Protocol

Task = Literal["classification", "multilabel", "regression"]
Mode = Literal["min", "max"]


class _Metric(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def mode(self) -> Mode: ...


class _Config(Protocol):
    """What these functions read of a `RunConfig` (a Protocol: run.py imports this module)."""

    @property
    def task(self) -> Task: ...
    @property
    def metrics(self) -> Sequence[_Metric]: ...
    @property
    def monitor(self) -> str | None: ...
    @property
    def monitor_mode(self) -> Mode | None: ...


TASKS: tuple[Task, ...] = ("classification", "multilabel", "regression")

_BUILTIN_METRICS: dict[Task, tuple[str, ...]] = {
    "classification": ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_f1_macro"),
    "multilabel": ("train_loss", "val_loss", "val_f1_micro", "val_f1_macro"),
    "regression": ("train_loss", "val_loss", "val_mae", "val_rmse", "val_r2"),
}

# The direction each built-in metric improves in, by its name without the split prefix.
_MODES: dict[str, Mode] = {
    "loss": "min",
    "mae": "min",
    "rmse": "min",
    "accuracy": "max",
    "f1_macro": "max",
    "f1_micro": "max",
    "r2": "max",
}

TASK_LOSSES: dict[Task, frozenset[str]] = {
    "classification": frozenset(
        {
            "cross_entropy",
            "nll",
            "bce",
            "bce_with_logits",
            "mse",
            "l1",
            "smooth_l1",
            "huber",
            "kl_div",
            "multi_margin",
            "plugin",
        }
    ),  # fmt: skip
    "multilabel": frozenset({"bce", "bce_with_logits", "mse", "plugin"}),
    "regression": frozenset({"mse", "l1", "smooth_l1", "huber", "plugin"}),
}

DEFAULT_MONITOR: dict[Task, tuple[str, Mode]] = {
    "classification": ("val_accuracy", "max"),
    "multilabel": ("val_loss", "min"),
    "regression": ("val_loss", "min"),
}


def builtin_metric_names(task: Task) -> list[str]:
    """The metrics every epoch of a `task` run records, before the user's own."""
    return list(_BUILTIN_METRICS[task])


def plugin_metric_name(name: str) -> str:
    """The name a metric plugin is recorded under: it is computed on the validation split."""
    return f"val_{name}"


def metric_names(config: _Config) -> list[str]:
    """Every metric name an epoch of this run records: the task's, then the user's own."""
    names = builtin_metric_names(config.task)
    names += [plugin_metric_name(metric.name) for metric in config.metrics]
    return names


def metric_mode(config: _Config, name: str) -> Mode:
    """Whether `name` improves by falling ("min") or rising ("max")."""
    for metric in config.metrics:
        if plugin_metric_name(metric.name) == name:
            return metric.mode
    base = name.removeprefix("train_").removeprefix("val_")
    return _MODES.get(base, "max")


def monitor_of(config: _Config) -> tuple[str, Mode]:
    """The metric the run's best epoch is judged by, and whether lower or higher is better."""
    default_name, default_mode = DEFAULT_MONITOR[config.task]
    if config.monitor is None:
        name = default_name
        mode = config.monitor_mode or default_mode
    else:
        name = config.monitor
        mode = config.monitor_mode or metric_mode(config, name)
    return name, mode


def improved(value: float, best: float | None, mode: Mode, min_delta: float = 0.0) -> bool:
    """True when `value` beats `best` by more than `min_delta` in direction `mode` (a NaN never
    does: it compares false with everything)."""
    if math.isnan(value):
        return False
    if best is None:
        return True
    if mode == "min":
        return value < best - min_delta
    return value > best + min_delta

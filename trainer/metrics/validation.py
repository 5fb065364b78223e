"""The validation metrics of a run: the task's own and the user's metric plugins, by name.

`evaluate` hands every batch's outputs and targets to `ValidationMetrics.update` and reads
`compute` once per epoch. Every metric is a torchmetrics `Metric` in a `MetricCollection` on the
run's device; with `processes > 1` each rank updates with its shard of the validation set and
`compute` gathers the states of every rank (torchmetrics syncs on compute whenever
torch.distributed is initialised, as trainer/distributed/ranks.py does for a DDP group).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torchmetrics import Metric, MetricCollection

from trainer.config.plugins import PluginMetric
from trainer.config.tasks import Task
from trainer.metrics.builtin import builtin_metrics
from trainer.optim.losses import TaskLoss


class ValidationMetrics:
    """Named validation metrics, fed batch by batch, computed once per epoch."""

    def __init__(
        self, loss_fn: TaskLoss, builtin: MetricCollection, plugins: MetricCollection | None
    ) -> None:
        self.loss_fn = loss_fn
        self.builtin = builtin
        self.plugins = plugins
        # The task's metrics see the whole split in one update at `compute`: a torchmetrics
        # update costs about 0.1 ms however small the batch, as much as a small model's
        # forward pass. The predictions stay on the device until then; they are small (a
        # class index, or one value per label or target, per item).
        self.predictions: list[torch.Tensor] = []
        self.targets: list[torch.Tensor] = []

    def update(self, output: torch.Tensor, targets: torch.Tensor) -> None:
        """One validation batch: the model's outputs and the batch's targets."""
        loss_fn = self.loss_fn
        if loss_fn.task == "classification":
            self.predictions.append(loss_fn.predict(output))
            self.targets.append(targets)
        elif loss_fn.task == "multilabel":
            self.predictions.append(loss_fn.predict(output))
            self.targets.append(loss_fn.shaped_targets(output, targets).long())
        else:
            self.predictions.append(output.float())
            self.targets.append(loss_fn.shaped_targets(output, targets).float())
        if self.plugins is not None:  # the user's metrics take the raw outputs and targets
            self.plugins.update(output, targets)

    def compute(self) -> dict[str, float]:
        """The epoch's value of every metric (over every rank's shard), then a fresh start."""
        if self.predictions:
            self.builtin.update(torch.cat(self.predictions), torch.cat(self.targets))
        values = dict(self.builtin.compute())
        if self.plugins is not None:
            values.update(self.plugins.compute())
        self.reset()
        # .item(): the epoch's metrics are reported from here. A per-target value (several
        # regression targets) is averaged over the targets.
        return {
            name: float(torch.as_tensor(value).double().mean().item())
            for name, value in values.items()
        }

    def reset(self) -> None:
        self.predictions.clear()
        self.targets.clear()
        self.builtin.reset()
        if self.plugins is not None:
            self.plugins.reset()


def build_validation_metrics(
    task: Task,
    loss_fn: TaskLoss,
    num_classes: int,
    num_outputs: int,
    device: torch.device,
    plugin_metrics: dict[str, Metric | MetricCollection] | None = None,
) -> ValidationMetrics:
    """The task's metrics and the user's (built by `build_plugin_metric`, by recorded name)."""
    builtin = MetricCollection(
        builtin_metrics(task, num_classes, num_outputs), compute_groups=False
    ).to(device)
    plugins = None
    if plugin_metrics:
        plugins = MetricCollection(plugin_metrics, compute_groups=False).to(device)
    return ValidationMetrics(loss_fn, builtin, plugins)


def build_plugin_metric(
    plugins_dir: Path | None, config: PluginMetric, num_classes: int, num_outputs: int
) -> Metric:
    """A metric plugin built from the plugins folder: a torchmetrics `Metric`."""
    # Imported here: only runs with metric plugins import the plugins machinery.
    from trainer.plugins.loading import build_plugin_metric as build

    return build(plugins_dir, config, num_classes, num_outputs)

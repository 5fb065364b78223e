"""Losses: each config kind becomes a `TaskLoss` taking (model outputs, targets) for the run's task.

Classification targets are class indices, which the loss adapts to what the torch criterion
expects: log-softmax for NLL and KL-divergence, sigmoid for BCE, one-hot targets for the
regression-style losses, and a single output with 0/1 targets for binary BCE. Multi-label targets
(0/1 per label) and regression targets (real values) go to the criterion as they are. A plugin
loss takes the outputs and targets as they are, whatever the task. `predict` turns outputs into
what the metrics compare with the targets.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from trainer.config.losses import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    LossConfig,
    MSELoss,
    MultiMarginLoss,
    NLLLoss,
    SmoothL1Loss,
)
from trainer.config.plugins import PluginLoss
from trainer.config.tasks import Task

ONE_HOT_LOSSES = (MSELoss, L1Loss, SmoothL1Loss, HuberLoss)


def is_binary(config: LossConfig) -> bool:
    return isinstance(config, BCELoss | BCEWithLogitsLoss) and config.targets == "binary"


def output_count(
    config: LossConfig,
    num_classes: int,
    task: Task = "classification",
    target_shape: tuple[int, ...] = (),
) -> int:
    """How many outputs the model needs for this loss and task.

    Classification: one per class (one for binary BCE); multi-label: one per label; regression:
    one per target (`target_shape` is one item's target: `()` for a scalar, `(k,)` for k).
    """
    if task != "classification":
        return math.prod(target_shape)
    if is_binary(config):
        if num_classes != 2:
            raise ValueError(
                f"loss.targets 'binary' needs a data set of 2 classes; this one has {num_classes}"
            )
        return 1
    return num_classes


class TaskLoss(nn.Module):
    """A torch criterion with its output and target adaptation for the run's task."""

    def __init__(
        self,
        config: LossConfig,
        criterion: nn.Module,
        num_classes: int,
        task: Task = "classification",
    ) -> None:
        super().__init__()
        self.config = config
        self.criterion = criterion
        self.num_classes = num_classes
        self.task = task

    def forward(self, output: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        config = self.config
        if isinstance(config, PluginLoss):
            return self.criterion(output, targets)
        if self.task != "classification":
            return self._forward_as_they_are(output, targets)
        if isinstance(config, NLLLoss):
            return self.criterion(F.log_softmax(output, dim=1), targets)
        if isinstance(config, BCELoss | BCEWithLogitsLoss):
            if config.targets == "binary":
                output, goal = output.squeeze(1), targets.float()
            else:
                goal = F.one_hot(targets, output.shape[1]).float()
            if isinstance(config, BCELoss):
                output = torch.sigmoid(output)
            return self.criterion(output, goal)
        if isinstance(config, KLDivLoss):
            goal = F.one_hot(targets, output.shape[1]).float()
            if config.log_target:
                goal = goal.clamp_min(1e-12).log()
            return self.criterion(F.log_softmax(output, dim=1), goal)
        if isinstance(config, ONE_HOT_LOSSES):
            return self.criterion(output, F.one_hot(targets, output.shape[1]).float())
        return self.criterion(output, targets)

    def _forward_as_they_are(self, output: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Multi-label and regression: the outputs against the targets, shaped alike."""
        goal = self.shaped_targets(output, targets)
        if isinstance(self.config, BCELoss):
            output = torch.sigmoid(output)
        return self.criterion(output, goal)

    def shaped_targets(self, output: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Targets in the outputs' shape and float type: a (B,) target against (B, 1) outputs
        (one scalar target per item) is reshaped; 0/1 label targets may come as integers."""
        if targets.shape != output.shape and targets.numel() == output.numel():
            targets = targets.reshape(output.shape)
        return targets.to(output.dtype)

    def predict(self, output: torch.Tensor) -> torch.Tensor:
        """What the metrics compare with the targets: classification, class indices;
        multi-label, 0/1 per label; regression, the outputs themselves."""
        if self.task == "regression":
            return output
        if self.task == "multilabel":
            # mse regresses the 0/1 targets themselves; the other losses take logits (BCE applies
            # the sigmoid itself), and sigmoid(x) > 0.5 is x > 0.
            threshold = 0.5 if isinstance(self.config, MSELoss) else 0.0
            return (output > threshold).long()
        if is_binary(self.config):
            return (output.squeeze(1) > 0).long()
        return output.argmax(dim=1)


def build_loss(
    config: LossConfig,
    num_classes: int,
    task: Task = "classification",
    num_outputs: int | None = None,
    plugins_dir: Path | None = None,
) -> TaskLoss:
    """Build the loss a config names for a `task` with `num_classes` classes (or label or target
    names) and `num_outputs` model outputs (None: `output_count` for classification)."""
    outputs = output_count(config, num_classes) if num_outputs is None else num_outputs
    if isinstance(config, PluginLoss):
        # Imported here: only plugin runs import the plugins machinery (and the user's file).
        from trainer.plugins.loading import build_plugin_loss

        criterion = build_plugin_loss(plugins_dir, config, num_classes, outputs)
    else:
        criterion = _criterion(config, num_classes, outputs)
    return TaskLoss(config, criterion, num_classes, task)


def _weights(values: list[float] | None, expected: int, field: str) -> torch.Tensor | None:
    if values is None:
        return None
    if len(values) != expected:
        raise ValueError(f"loss.{field} has {len(values)} values for {expected} outputs")
    return torch.tensor(values, dtype=torch.float32)


def _criterion(config: LossConfig, num_classes: int, outputs: int) -> nn.Module:
    if isinstance(config, CrossEntropyLoss):
        return nn.CrossEntropyLoss(
            weight=_weights(config.weight, num_classes, "weight"),
            ignore_index=config.ignore_index,
            label_smoothing=config.label_smoothing,
            reduction=config.reduction,
        )
    if isinstance(config, NLLLoss):
        return nn.NLLLoss(
            weight=_weights(config.weight, num_classes, "weight"),
            ignore_index=config.ignore_index,
            reduction=config.reduction,
        )
    if isinstance(config, BCELoss):
        return nn.BCELoss(reduction=config.reduction)
    if isinstance(config, BCEWithLogitsLoss):
        return nn.BCEWithLogitsLoss(
            pos_weight=_weights(config.pos_weight, outputs, "pos_weight"),
            reduction=config.reduction,
        )
    if isinstance(config, MSELoss):
        return nn.MSELoss(reduction=config.reduction)
    if isinstance(config, L1Loss):
        return nn.L1Loss(reduction=config.reduction)
    if isinstance(config, SmoothL1Loss):
        return nn.SmoothL1Loss(reduction=config.reduction, beta=config.beta)
    if isinstance(config, HuberLoss):
        return nn.HuberLoss(reduction=config.reduction, delta=config.delta)
    if isinstance(config, KLDivLoss):
        return nn.KLDivLoss(reduction=config.reduction, log_target=config.log_target)
    if isinstance(config, MultiMarginLoss):
        return nn.MultiMarginLoss(
            p=config.p,
            margin=config.margin,
            weight=_weights(config.weight, num_classes, "weight"),
            reduction=config.reduction,
        )
    raise TypeError(f"unknown loss config {config!r}")
